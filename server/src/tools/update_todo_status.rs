//! `update_todo_status`: mark a todo open, in progress, done or blocked.

use super::update_todo::{change_todo, todo_project};
use super::{Actor, Applied, Caller, Change};
use crate::focus::{focused, scope_todo};
use protocol::entities::{Entity, OperationKind};
use protocol::tools::args::UpdateTodoStatusArgs;
use protocol::{ErrorBody, ProjectId, TodoId};
use store::PgConnection;
use store::todos::TodoChanges;

pub(crate) struct UpdateTodoStatus;

impl Change for UpdateTodoStatus {
    type Args = UpdateTodoStatusArgs;
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
        let changes = TodoChanges {
            status: Some(args.status),
            ..Default::default()
        };
        change_todo(conn, actor, focused(args.todo_id)?, changes).await
    }
}
