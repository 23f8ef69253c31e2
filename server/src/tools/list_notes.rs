//! `list_notes`: the project's notes, newest first.

use super::{Caller, Query, conn, project_of, to_value};
use crate::access::{self, Need};
use crate::hub::Hub;
use protocol::ErrorBody;
use protocol::tools::args::{ProjectArgs, ToolArgs};
use protocol::tools::output::NotesOut;
use serde_json::Value;

pub(crate) struct ListNotes;

impl Query for ListNotes {
    type Args = ProjectArgs;

    async fn run(hub: &Hub, caller: &mut Caller, args: Self::Args) -> Result<Value, ErrorBody> {
        let id = project_of(caller, args.project_id())?;
        let mut conn = conn(hub).await?;
        access::require(&mut conn, id, &caller.user, Need::Read).await?;
        let notes = store::notes::list(&mut conn, id).await?;
        Ok(to_value(NotesOut { notes }))
    }
}
