//! The tools: every tool of the catalogue registered once, in [`handler`], one file per
//! tool. A tool that changes project data is a [`Change`], which the operations engine
//! records and runs (`crate::calls` hands it over); the others are [`Query`]s. Nothing
//! here depends on the operations engine.

mod apply_document_edits;
mod assign_project_to_session;
mod commit_blueprint;
mod create_note;
mod create_project;
mod create_todo;
mod delete_todo;
mod focus_todo;
mod forget_memory;
mod get_blueprint_gaps;
mod get_document;
mod get_draft_status;
mod get_project;
mod get_session_phase;
mod list_memory;
mod list_notes;
mod list_projects;
mod list_todos;
pub(crate) mod pending;
mod propose_recovery;
mod queue_draft_update;
mod record_transcript_pointer;
pub(crate) mod remember;
mod rollback_operation;
mod set_session_phase;
mod suggest_operations;
mod sync_blueprint_field;
mod update_note;
mod update_project;
mod update_todo;
mod update_todo_status;

use crate::hub::Hub;
use futures_util::future::BoxFuture;
use protocol::entities::{Entity, OperationKind, Session};
use protocol::tools::args::ToolArgs;
use protocol::tools::{ToolName, parse_args, validate_args};
use protocol::{ErrorBody, ErrorCode, ProjectId, SessionId, TodoId, UserId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::marker::PhantomData;
use store::PgConnection;

/// Who is calling: the token's user and their session as this connection knows it.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: UserId,
    pub session: Session,
}

/// How a tool is carried out.
pub(crate) enum Handler {
    Query(&'static dyn DynQuery),
    Change(&'static dyn DynChange),
}

/// The registry: every tool of the catalogue and its handler.
pub(crate) fn handler(tool: ToolName) -> Handler {
    use ToolName as T;
    match tool {
        T::ListProjects => query::<list_projects::ListProjects>(),
        T::CreateProject => change::<create_project::CreateProject>(),
        T::AssignProjectToSession => query::<assign_project_to_session::Assign>(),
        T::GetProject => query::<get_project::GetProject>(),
        T::UpdateProject => change::<update_project::UpdateProject>(),
        T::SyncBlueprintField => change::<sync_blueprint_field::SyncBlueprintField>(),
        T::GetBlueprintGaps => query::<get_blueprint_gaps::GetBlueprintGaps>(),
        T::CommitBlueprint => change::<commit_blueprint::CommitBlueprint>(),
        T::CreateNote => change::<create_note::CreateNote>(),
        T::UpdateNote => change::<update_note::UpdateNote>(),
        T::ListNotes => query::<list_notes::ListNotes>(),
        T::CreateTodo => change::<create_todo::CreateTodo>(),
        T::UpdateTodo => change::<update_todo::UpdateTodo>(),
        T::UpdateTodoStatus => change::<update_todo_status::UpdateTodoStatus>(),
        T::DeleteTodo => change::<delete_todo::DeleteTodo>(),
        T::ListTodos => query::<list_todos::ListTodos>(),
        T::RecordTranscriptPointer => change::<record_transcript_pointer::RecordPointer>(),
        T::GetDocument => query::<get_document::GetDocument>(),
        T::ApplyDocumentEdits => change::<apply_document_edits::ApplyDocumentEdits>(),
        T::QueueDraftUpdate => query::<queue_draft_update::QueueDraftUpdate>(),
        T::GetDraftStatus => query::<get_draft_status::GetDraftStatus>(),
        T::RollbackOperation => change::<rollback_operation::RollbackOperation>(),
        T::SuggestOperations => query::<suggest_operations::SuggestOperations>(),
        T::GetSessionPhase => query::<get_session_phase::GetSessionPhase>(),
        T::SetSessionPhase => query::<set_session_phase::SetSessionPhase>(),
        T::Remember => change::<remember::Remember>(),
        T::ListMemory => query::<list_memory::ListMemory>(),
        T::ForgetMemory => change::<forget_memory::ForgetMemory>(),
        T::FocusTodo => query::<focus_todo::FocusTodo>(),
        T::ProposeRecovery => query::<propose_recovery::ProposeRecovery>(),
    }
}

fn query<T: Query>() -> Handler {
    Handler::Query(&QueryHandler::<T>(PhantomData))
}

fn change<T: Change>() -> Handler {
    Handler::Change(&ChangeHandler::<T>(PhantomData))
}

/// Arguments every tool takes: parsed from JSON, checked by their `garde` rules.
pub(crate) trait Args:
    ToolArgs + DeserializeOwned + garde::Validate<Context = ()> + Send
{
}
impl<T: ToolArgs + DeserializeOwned + garde::Validate<Context = ()> + Send> Args for T {}

/// A tool that reads, or changes only the caller's session.
pub(crate) trait Query: Send + Sync + 'static {
    type Args: Args;
    fn run(
        hub: &Hub,
        caller: &mut Caller,
        args: Self::Args,
    ) -> impl Future<Output = Result<Value, ErrorBody>> + Send;
}

/// What a change did: the tool's output, and the entity before and after.
#[derive(Debug)]
pub(crate) struct Applied {
    pub output: Value,
    pub entity_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// The project, when the change created it.
    pub project_id: Option<ProjectId>,
    /// What to publish on the project's topic once the change has committed.
    pub events: Vec<protocol::event::Event>,
    /// What the change turned out to be, when its tool cannot say beforehand (a
    /// rollback's kind and entity are its target's inverse).
    pub kind: Option<OperationKind>,
    pub entity: Option<Entity>,
    /// The operation this change undoes.
    pub rollback_of: Option<protocol::OperationId>,
}

impl Applied {
    pub fn new(output: impl Serialize, entity_id: impl ToString) -> Self {
        Self {
            output: to_value(output),
            entity_id: Some(entity_id.to_string()),
            before: None,
            after: None,
            project_id: None,
            events: Vec::new(),
            kind: None,
            entity: None,
            rollback_of: None,
        }
    }

    pub fn event(mut self, event: protocol::event::Event) -> Self {
        self.events.push(event);
        self
    }

    pub fn before(mut self, before: impl Serialize) -> Self {
        self.before = Some(to_value(before));
        self
    }

    pub fn after(mut self, after: impl Serialize) -> Self {
        self.after = Some(to_value(after));
        self
    }
}

/// Who a change runs for: the session that proposed it and its user (the author), and
/// the project it was checked against.
#[derive(Clone, Debug)]
pub(crate) struct Actor {
    pub user: UserId,
    pub session_id: SessionId,
    pub project: Option<ProjectId>,
}

impl Actor {
    /// The project a project-scoped change works on.
    pub fn project(&self) -> Result<ProjectId, ErrorBody> {
        self.project
            .ok_or_else(|| ErrorBody::new(ErrorCode::Internal, "change without a project"))
    }
}

/// A tool that changes data: recorded as an operation, run at once (`auto_accept`) or
/// after a person approves it.
pub(crate) trait Change: Send + Sync + 'static {
    type Args: Args + Serialize + Sync;
    const KIND: OperationKind;
    const ENTITY: Entity;
    /// The argument [`Change::project`] resolves the project from, named when an
    /// approval edit points it elsewhere.
    const LOCATOR: &'static str = "project_id";

    /// The project the change belongs to: by default the one named in the arguments or
    /// the session's; entity tools look theirs up. `None` only for `create_project`.
    fn project(
        conn: &mut PgConnection,
        caller: &Caller,
        args: &Self::Args,
    ) -> impl Future<Output = Result<Option<ProjectId>, ErrorBody>> + Send {
        let _ = conn;
        let project = project_of(caller, args.project_id());
        async move { project.map(Some) }
    }

    /// Scopes the checked arguments to the todo the session is focused on (see
    /// `crate::focus`): by default they pass unchanged.
    fn focus(args: &mut Self::Args, todo: TodoId) -> Result<(), ErrorBody> {
        let _ = (args, todo);
        Ok(())
    }

    /// Carries the change out in the caller's transaction.
    fn apply(
        conn: &mut PgConnection,
        actor: &Actor,
        args: Self::Args,
    ) -> impl Future<Output = Result<Applied, ErrorBody>> + Send;
}

/// Object-safe face of a [`Query`], for the registry.
pub(crate) trait DynQuery: Send + Sync {
    fn run<'a>(
        &'a self,
        hub: &'a Hub,
        caller: &'a mut Caller,
        raw: Value,
    ) -> BoxFuture<'a, Result<Value, ErrorBody>>;
}

struct QueryHandler<T>(PhantomData<fn() -> T>);

impl<T: Query> DynQuery for QueryHandler<T> {
    fn run<'a>(
        &'a self,
        hub: &'a Hub,
        caller: &'a mut Caller,
        raw: Value,
    ) -> BoxFuture<'a, Result<Value, ErrorBody>> {
        Box::pin(async move {
            let args = parse_args::<T::Args>(raw)?;
            T::run(hub, caller, args).await
        })
    }
}

/// Object-safe face of a [`Change`], used by the operations engine both when a call
/// arrives and when a pending operation is approved.
pub(crate) trait DynChange: Send + Sync {
    fn kind(&self) -> OperationKind;
    fn entity(&self) -> Entity;
    fn locator(&self) -> &'static str;
    /// Parses and checks the arguments, once: a call's as it arrives, or an operation's
    /// stored `data` when it is approved.
    fn prepare(&self, raw: Value) -> Result<Box<dyn Prepared>, ErrorBody>;
}

/// A change with its arguments parsed and checked: the typed arguments, and the same
/// normalized (as stored in the operation's `data`).
pub(crate) trait Prepared: Send + Sync {
    /// The normalized arguments.
    fn data(&self) -> &Value;
    /// Scopes the arguments to the todo the session is focused on, if any (see
    /// [`Change::focus`]), and checks them again.
    fn focus(&mut self, session: &Session) -> Result<(), ErrorBody>;
    fn project<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<Option<ProjectId>, ErrorBody>>;
    fn apply<'a>(
        self: Box<Self>,
        conn: &'a mut PgConnection,
        actor: &'a Actor,
    ) -> BoxFuture<'a, Result<Applied, ErrorBody>>;
}

struct ChangeHandler<T>(PhantomData<fn() -> T>);

impl<T: Change> DynChange for ChangeHandler<T> {
    fn kind(&self) -> OperationKind {
        T::KIND
    }

    fn entity(&self) -> Entity {
        T::ENTITY
    }

    fn locator(&self) -> &'static str {
        T::LOCATOR
    }

    fn prepare(&self, raw: Value) -> Result<Box<dyn Prepared>, ErrorBody> {
        let args = parse_args::<T::Args>(raw)?;
        let data = to_value(&args);
        Ok(Box::new(PreparedChange::<T> { args, data }))
    }
}

struct PreparedChange<T: Change> {
    args: T::Args,
    data: Value,
}

impl<T: Change> Prepared for PreparedChange<T> {
    fn data(&self) -> &Value {
        &self.data
    }

    fn focus(&mut self, session: &Session) -> Result<(), ErrorBody> {
        let Some(todo) = session.metadata.todo_id else {
            return Ok(());
        };
        T::focus(&mut self.args, todo)?;
        validate_args(&self.args)?;
        self.data = to_value(&self.args);
        Ok(())
    }

    fn project<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<Option<ProjectId>, ErrorBody>> {
        Box::pin(T::project(conn, caller, &self.args))
    }

    fn apply<'a>(
        self: Box<Self>,
        conn: &'a mut PgConnection,
        actor: &'a Actor,
    ) -> BoxFuture<'a, Result<Applied, ErrorBody>> {
        Box::pin(T::apply(conn, actor, self.args))
    }
}

/// Serializes an output; our output types always serialize.
pub(crate) fn to_value(value: impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

pub(crate) use update_todo::todo_project;

/// The project named in the arguments, else the session's.
pub(crate) fn project_of(
    caller: &Caller,
    given: Option<ProjectId>,
) -> Result<ProjectId, ErrorBody> {
    given.or(caller.session.project_id).ok_or_else(|| {
        ErrorBody::invalid_field(
            "project_id",
            "required: this session has no project yet (call assign_project_to_session, or pass project_id)",
        )
    })
}

/// A pooled connection, or `unavailable`.
pub(crate) async fn conn(hub: &Hub) -> Result<store::Conn, ErrorBody> {
    Ok(hub.store.acquire().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn focused_on(todo: TodoId) -> Session {
        Session {
            id: SessionId::new(),
            user_id: UserId::from("someone"),
            project_id: Some(ProjectId::new()),
            mode: protocol::mode::Mode::Update,
            auto_accept: true,
            metadata: protocol::entities::SessionMetadata {
                todo_id: Some(todo),
                ..Default::default()
            },
            client: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn prepare(tool: ToolName, raw: Value) -> Box<dyn Prepared> {
        let Handler::Change(change) = handler(tool) else {
            panic!("{tool} is not a change");
        };
        change.prepare(raw).expect("arguments parse")
    }

    #[test]
    fn focus_fills_in_and_holds_the_todo() {
        let todo = TodoId::new();
        let session = focused_on(todo);
        let mut filled = prepare(ToolName::DeleteTodo, serde_json::json!({}));
        filled.focus(&session).expect("scoped");
        assert_eq!(filled.data(), &serde_json::json!({ "todo_id": todo }));

        let other = serde_json::json!({ "todo_id": TodoId::new(), "status": "done" });
        let Err(error) = prepare(ToolName::UpdateTodoStatus, other).focus(&session) else {
            panic!("another todo is refused");
        };
        assert_eq!(error.code, ErrorCode::InvalidArguments);
        assert_eq!(
            error.details,
            Some(serde_json::json!({ "field": "todo_id" }))
        );
    }

    #[test]
    fn focus_tags_a_note_once_and_checks_the_tags_again() {
        let todo = TodoId::new();
        let session = focused_on(todo);
        let tag = crate::focus::tag(todo);
        let mut note = prepare(ToolName::CreateNote, serde_json::json!({ "body": "b" }));
        note.focus(&session).expect("scoped");
        note.focus(&session).expect("scoped again");
        assert_eq!(note.data()["tags"], serde_json::json!([tag]));

        let full: Vec<String> = (0..protocol::tools::args::MAX_TAGS)
            .map(|i| format!("t{i}"))
            .collect();
        let raw = serde_json::json!({ "body": "b", "tags": full });
        let Err(error) = prepare(ToolName::CreateNote, raw).focus(&session) else {
            panic!("one tag too many is refused");
        };
        assert_eq!(error.code, ErrorCode::InvalidArguments);
        assert_eq!(error.details, Some(serde_json::json!({ "field": "tags" })));
    }

    #[test]
    fn registry_matches_the_catalogue() {
        for tool in ToolName::ALL {
            let is_change = matches!(handler(tool), Handler::Change(_));
            assert_eq!(is_change, tool.spec().changes, "{tool}");
        }
    }
}
