//! `list_todos`: the project's todos, unfinished and most important first.

use super::{Caller, Query, conn, project_of, to_value};
use crate::access::{self, Need};
use crate::hub::Hub;
use protocol::ErrorBody;
use protocol::tools::args::{ListTodosArgs, ToolArgs};
use protocol::tools::output::TodosOut;
use serde_json::Value;

pub(crate) struct ListTodos;

impl Query for ListTodos {
    type Args = ListTodosArgs;

    async fn run(hub: &Hub, caller: &mut Caller, args: Self::Args) -> Result<Value, ErrorBody> {
        let id = project_of(caller, args.project_id())?;
        let mut conn = conn(hub).await?;
        access::require(&mut conn, id, &caller.user, Need::Read).await?;
        let todos = store::todos::list(&mut conn, id, args.status).await?;
        Ok(to_value(TodosOut { todos }))
    }
}
