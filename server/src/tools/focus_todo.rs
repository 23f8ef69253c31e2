//! `focus_todo`: the session works on one todo (or, without one, moves on). It changes
//! only the caller's session, like `session.configure` with `todo_id`, and answers the
//! todo with its context.

use super::{Caller, Query, conn, to_value};
use crate::focus;
use crate::hub::Hub;
use protocol::ErrorBody;
use protocol::tools::args::FocusTodoArgs;
use protocol::tools::output::FocusOut;
use serde_json::Value;

pub(crate) struct FocusTodo;

impl Query for FocusTodo {
    type Args = FocusTodoArgs;

    async fn run(hub: &Hub, caller: &mut Caller, args: Self::Args) -> Result<Value, ErrorBody> {
        let mut conn = conn(hub).await?;
        let Some(todo_id) = args.todo_id else {
            caller.session = store::sessions::set_focus(&mut conn, caller.session.id, None).await?;
            return Ok(to_value(FocusOut {
                todo: None,
                notes: Vec::new(),
                transcript: Vec::new(),
            }));
        };
        let todo = focus::check_todo(&mut conn, caller, todo_id).await?;
        caller.session =
            store::sessions::set_focus(&mut conn, caller.session.id, Some(todo_id)).await?;
        let (notes, transcript) = focus::context(&mut conn, &todo).await?;
        Ok(to_value(FocusOut {
            todo: Some(todo),
            notes,
            transcript,
        }))
    }
}
