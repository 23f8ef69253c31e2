//! `update_todo`: change a todo's title, details, priority or status.

use super::{Actor, Applied, Caller, Change};
use crate::access;
use crate::focus::{focused, scope_todo};
use protocol::entities::{Entity, OperationKind};
use protocol::event::Event;
use protocol::tools::args::UpdateTodoArgs;
use protocol::tools::output::TodoOut;
use protocol::{ErrorBody, ProjectId, TodoId};
use store::PgConnection;
use store::todos::TodoChanges;

pub(crate) struct UpdateTodo;

/// The project of a todo the caller may see, for the todo tools.
pub(crate) async fn todo_project(
    conn: &mut PgConnection,
    caller: &Caller,
    id: TodoId,
) -> Result<Option<ProjectId>, ErrorBody> {
    let todo = store::todos::get(conn, id).await?;
    let hidden = store::StoreError::not_found("todo", id);
    access::entity(conn, &caller.user, todo.project_id, hidden)
        .await
        .map(|grant| Some(grant.project))
}

/// Applies changes to a todo of the actor's project and answers it.
pub(crate) async fn change_todo(
    conn: &mut PgConnection,
    actor: &Actor,
    id: TodoId,
    changes: TodoChanges<'_>,
) -> Result<Applied, ErrorBody> {
    let (before, after) = store::todos::update(conn, actor.project()?, id, changes).await?;
    Ok(Applied::new(
        TodoOut {
            todo: after.clone(),
        },
        id,
    )
    .before(before)
    .after(&after)
    .event(Event::TodoUpdated { todo: after }))
}

impl Change for UpdateTodo {
    type Args = UpdateTodoArgs;
    const KIND: OperationKind = OperationKind::Update;
    const ENTITY: Entity = Entity::Todo;
    const LOCATOR: &'static str = "todo_id";

    fn focus(args: &mut Self::Args, todo: TodoId) -> Result<(), ErrorBody> {
        scope_todo(&mut args.todo_id, todo)
    }

    async fn project(
        conn: &mut PgConnection,
        caller: &Caller,
        args: &Self::Args,
    ) -> Result<Option<ProjectId>, ErrorBody> {
        todo_project(conn, caller, focused(args.todo_id)?).await
    }

    async fn apply(
        conn: &mut PgConnection,
        actor: &Actor,
        args: Self::Args,
    ) -> Result<Applied, ErrorBody> {
        if args.title.is_none()
            && args.details.is_none()
            && args.priority.is_none()
            && args.status.is_none()
        {
            return Err(ErrorBody::invalid_field(
                "title",
                "give at least one of title, details, priority or status",
            ));
        }
        let changes = TodoChanges {
            title: args.title.as_deref().map(str::trim),
            details: args.details.as_deref().map(str::trim),
            status: args.status,
            priority: args.priority,
        };
        change_todo(conn, actor, focused(args.todo_id)?, changes).await
    }
}
