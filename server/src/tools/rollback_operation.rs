//! `rollback_operation`: undo a completed change to a todo or note with an operation of
//! its own. A creation is deleted, an update restores `before`, a deletion re-creates
//! `before`; each only while the entity is exactly as the operation left it (`after`),
//! so a rollback never overwrites what someone changed since.

use super::{Actor, Applied, Caller, Change, to_value};
use crate::access;
use protocol::entities::{Entity, Note, Operation, OperationKind, OperationStatus, Todo};
use protocol::event::Event;
use protocol::tools::args::RollbackOperationArgs;
use protocol::tools::output::RolledBackOut;
use protocol::{ErrorBody, ErrorCode, NoteId, ProjectId, TodoId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use store::PgConnection;
use store::todos::TodoChanges;

pub(crate) struct RollbackOperation;

impl Change for RollbackOperation {
    type Args = RollbackOperationArgs;
    // Recorded as the change it makes once it runs (see `Applied::kind`); while it
    // waits for approval, it is an update of the operation it undoes.
    const KIND: OperationKind = OperationKind::Update;
    const ENTITY: Entity = Entity::Operation;
    const LOCATOR: &'static str = "operation_id";

    async fn project(
        conn: &mut PgConnection,
        caller: &Caller,
        args: &Self::Args,
    ) -> Result<Option<ProjectId>, ErrorBody> {
        let hidden = || store::StoreError::not_found("operation", args.operation_id);
        let target = store::operations::get(conn, args.operation_id).await?;
        match target.project_id {
            Some(project) => access::entity(conn, &caller.user, project, hidden())
                .await
                .map(|grant| Some(grant.project)),
            // A proposed project that never ran changed nothing of any project.
            None => Err(hidden().into()),
        }
    }

    async fn apply(
        conn: &mut PgConnection,
        actor: &Actor,
        args: Self::Args,
    ) -> Result<Applied, ErrorBody> {
        let project = actor.project()?;
        let target = store::operations::lock(conn, project, args.operation_id).await?;
        if target.status != OperationStatus::Completed {
            let status = target.status;
            return Err(ErrorBody::new(
                ErrorCode::Conflict,
                format!(
                    "operation {} is {status}: only a completed operation can be rolled back",
                    target.id
                ),
            )
            .with_details(serde_json::json!({ "operation_id": target.id })));
        }
        let undo = match target.entity {
            Entity::Todo => undo_todo(conn, project, &target).await?,
            Entity::Note => undo_note(conn, project, &target).await?,
            other => {
                let entity = serde_json::to_value(other).unwrap_or(Value::Null);
                return Err(ErrorBody::invalid_field(
                    "operation_id",
                    format!(
                        "operation {} changed a {}; only changes to todos and notes can be rolled back",
                        target.id,
                        entity.as_str().unwrap_or("entity")
                    ),
                ));
            }
        };
        let undone = store::operations::mark_rolled_back(conn, project, target.id, &actor.user)
            .await?
            .ok_or_else(|| {
                ErrorBody::new(
                    ErrorCode::Conflict,
                    format!("operation {} was rolled back meanwhile", target.id),
                )
            })?;
        let mut applied = Applied::new(
            RolledBackOut {
                rolled_back: undone.clone(),
                entity: undo.entity.clone(),
            },
            undo.entity_id,
        );
        applied.before = undo.before;
        applied.after = undo.after;
        applied.kind = Some(undo.kind);
        applied.entity = Some(target.entity);
        applied.rollback_of = Some(target.id);
        Ok(applied
            .event(undo.event)
            .event(Event::OperationUpdated { operation: undone }))
    }
}

/// What undoing one operation did to its entity.
struct Undo {
    kind: OperationKind,
    entity_id: String,
    /// The entity as the rollback leaves it (as it was removed, for a deletion).
    entity: Value,
    before: Option<Value>,
    after: Option<Value>,
    event: Event,
}

impl Undo {
    fn deleted(entity: impl Serialize, id: String, event: Event) -> Self {
        let value = to_value(entity);
        Self {
            kind: OperationKind::Delete,
            entity_id: id,
            entity: value.clone(),
            before: Some(value),
            after: None,
            event,
        }
    }

    fn restored(
        current: impl Serialize,
        restored: impl Serialize,
        id: String,
        event: Event,
    ) -> Self {
        let value = to_value(restored);
        Self {
            kind: OperationKind::Update,
            entity_id: id,
            entity: value.clone(),
            before: Some(to_value(current)),
            after: Some(value),
            event,
        }
    }

    fn recreated(entity: impl Serialize, id: String, event: Event) -> Self {
        let value = to_value(entity);
        Self {
            kind: OperationKind::Create,
            entity_id: id,
            entity: value.clone(),
            before: None,
            after: Some(value),
            event,
        }
    }
}

async fn undo_todo(
    conn: &mut PgConnection,
    project: ProjectId,
    target: &Operation,
) -> Result<Undo, ErrorBody> {
    let id: TodoId = entity_id(target)?;
    let current = store::todos::lock(conn, project, id).await?;
    let name = id.to_string();
    Ok(match target.kind {
        OperationKind::Create => {
            unchanged(target, "todo", &name, current.as_ref())?;
            let todo = store::todos::delete(conn, project, id).await?;
            Undo::deleted(to_value(&todo), name, Event::TodoDeleted { todo })
        }
        OperationKind::Update => {
            let current = unchanged(target, "todo", &name, current.as_ref())?.clone();
            let before: Todo = recorded(target, target.before.as_ref())?;
            let changes = TodoChanges {
                title: Some(&before.title),
                details: Some(&before.details),
                status: Some(before.status),
                priority: Some(before.priority),
            };
            let (_, todo) = store::todos::update(conn, project, id, changes).await?;
            Undo::restored(current, to_value(&todo), name, Event::TodoUpdated { todo })
        }
        OperationKind::Delete => {
            let before: Todo = recorded(target, target.before.as_ref())?;
            let todo = match current {
                Some(_) => None,
                None => store::todos::reinsert(conn, project, &before).await?,
            }
            .ok_or_else(|| changed(target, "todo", &name, "is there again"))?;
            Undo::recreated(to_value(&todo), name, Event::TodoCreated { todo })
        }
    })
}

async fn undo_note(
    conn: &mut PgConnection,
    project: ProjectId,
    target: &Operation,
) -> Result<Undo, ErrorBody> {
    let id: NoteId = entity_id(target)?;
    let current = store::notes::lock(conn, project, id).await?;
    let name = id.to_string();
    Ok(match target.kind {
        OperationKind::Create => {
            unchanged(target, "note", &name, current.as_ref())?;
            let note = store::notes::delete(conn, project, id).await?;
            Undo::deleted(to_value(&note), name, Event::NoteDeleted { note })
        }
        OperationKind::Update => {
            let current = unchanged(target, "note", &name, current.as_ref())?.clone();
            let before: Note = recorded(target, target.before.as_ref())?;
            let (_, note) =
                store::notes::update(conn, project, id, Some(&before.body), Some(&before.tags))
                    .await?;
            Undo::restored(current, to_value(&note), name, Event::NoteUpdated { note })
        }
        OperationKind::Delete => {
            let before: Note = recorded(target, target.before.as_ref())?;
            let note = match current {
                Some(_) => None,
                None => store::notes::reinsert(conn, project, &before).await?,
            }
            .ok_or_else(|| changed(target, "note", &name, "is there again"))?;
            Undo::recreated(to_value(&note), name, Event::NoteCreated { note })
        }
    })
}

/// The entity as it is, when it is exactly as the operation left it; else `conflict`
/// naming it.
fn unchanged<'a, T: Serialize>(
    target: &Operation,
    entity: &str,
    id: &str,
    current: Option<&'a T>,
) -> Result<&'a T, ErrorBody> {
    let Some(current) = current else {
        return Err(changed(target, entity, id, "was deleted"));
    };
    if Some(to_value(current)) == target.after {
        Ok(current)
    } else {
        Err(changed(target, entity, id, "was changed"))
    }
}

fn changed(target: &Operation, entity: &str, id: &str, how: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Conflict,
        format!(
            "{entity} {id} {how} since operation {}; nothing was rolled back",
            target.id
        ),
    )
    .with_details(serde_json::json!({
        "entity": entity,
        "entity_id": id,
        "operation_id": target.id,
    }))
}

fn entity_id<T: std::str::FromStr>(target: &Operation) -> Result<T, ErrorBody> {
    target
        .entity_id
        .as_deref()
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| {
            ErrorBody::invalid_field(
                "operation_id",
                format!("operation {} names no entity to roll back", target.id),
            )
        })
}

/// The entity as the operation recorded it (`before`), which every todo and note
/// change keeps.
fn recorded<T: DeserializeOwned>(
    target: &Operation,
    value: Option<&Value>,
) -> Result<T, ErrorBody> {
    value
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .ok_or_else(|| {
            tracing::error!(operation_id = %target.id, "operation without a readable before");
            ErrorBody::new(
                ErrorCode::Internal,
                format!("operation {} cannot be rolled back", target.id),
            )
        })
}
