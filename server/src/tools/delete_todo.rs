//! `delete_todo`: remove a todo; the operation keeps it as `before`.

use super::update_todo::todo_project;
use super::{Actor, Applied, Caller, Change};
use crate::focus::{focused, scope_todo};
use protocol::entities::{Entity, OperationKind};
use protocol::event::Event;
use protocol::tools::args::DeleteTodoArgs;
use protocol::tools::output::TodoOut;
use protocol::{ErrorBody, ProjectId, TodoId};
use store::PgConnection;

pub(crate) struct DeleteTodo;

impl Change for DeleteTodo {
    type Args = DeleteTodoArgs;
    const KIND: OperationKind = OperationKind::Delete;
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
        let todo = store::todos::delete(conn, actor.project()?, focused(args.todo_id)?).await?;
        Ok(Applied::new(TodoOut { todo: todo.clone() }, todo.id)
            .before(&todo)
            .event(Event::TodoDeleted { todo }))
    }
}
