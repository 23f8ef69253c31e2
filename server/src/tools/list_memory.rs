//! `list_memory`: what earlier conversations learned about the person and the project,
//! newest first.

use super::{Caller, Query, conn, project_of, to_value};
use crate::access::{self, Need};
use crate::hub::Hub;
use protocol::ErrorBody;
use protocol::tools::args::{ListMemoryArgs, ToolArgs};
use protocol::tools::output::MemoryListOut;
use serde_json::Value;

pub(crate) struct ListMemory;

impl Query for ListMemory {
    type Args = ListMemoryArgs;

    async fn run(hub: &Hub, caller: &mut Caller, args: Self::Args) -> Result<Value, ErrorBody> {
        let id = project_of(caller, args.project_id())?;
        let mut conn = conn(hub).await?;
        access::require(&mut conn, id, &caller.user, Need::Read).await?;
        let memory = store::memory::list(&mut conn, id, args.kind, store::memory::MAX_LIST).await?;
        Ok(to_value(MemoryListOut { memory }))
    }
}
