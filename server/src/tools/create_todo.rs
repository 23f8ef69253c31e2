//! `create_todo`: add a follow-up task.

use super::{Actor, Applied, Change};
use protocol::ErrorBody;
use protocol::entities::{Entity, OperationKind, Priority};
use protocol::event::Event;
use protocol::tools::args::CreateTodoArgs;
use protocol::tools::output::TodoOut;
use store::PgConnection;

pub(crate) struct CreateTodo;

impl Change for CreateTodo {
    type Args = CreateTodoArgs;
    const KIND: OperationKind = OperationKind::Create;
    const ENTITY: Entity = Entity::Todo;

    async fn apply(
        conn: &mut PgConnection,
        actor: &Actor,
        args: Self::Args,
    ) -> Result<Applied, ErrorBody> {
        let todo = store::todos::create(
            conn,
            actor.project()?,
            Some(actor.session_id),
            args.title.trim(),
            args.details.as_deref().unwrap_or("").trim(),
            args.priority.unwrap_or(Priority::Medium),
        )
        .await?;
        Ok(Applied::new(TodoOut { todo: todo.clone() }, todo.id)
            .after(&todo)
            .event(Event::TodoCreated { todo }))
    }
}
