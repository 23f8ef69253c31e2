//! `get_document`: the project's document with its sections, summary and version.

use super::{Caller, Query, conn, project_of, to_value};
use crate::access::{self, Need};
use crate::hub::Hub;
use protocol::ErrorBody;
use protocol::tools::args::{ProjectArgs, ToolArgs};
use protocol::tools::output::DocumentOut;
use serde_json::Value;

pub(crate) struct GetDocument;

impl Query for GetDocument {
    type Args = ProjectArgs;

    async fn run(hub: &Hub, caller: &mut Caller, args: Self::Args) -> Result<Value, ErrorBody> {
        let id = project_of(caller, args.project_id())?;
        let mut conn = conn(hub).await?;
        access::require(&mut conn, id, &caller.user, Need::Read).await?;
        let document = store::documents::get(&mut conn, id).await?;
        Ok(to_value(DocumentOut { document }))
    }
}
