//! `get_blueprint_gaps`: the draft blueprint's missing fields, most important first.

use super::{Caller, Query, conn, project_of, to_value};
use crate::hub::Hub;
use protocol::ErrorBody;
use protocol::blueprint::gaps;
use protocol::tools::args::{ProjectArgs, ToolArgs};
use protocol::tools::output::GapsOut;
use serde_json::Value;

pub(crate) struct GetBlueprintGaps;

impl Query for GetBlueprintGaps {
    type Args = ProjectArgs;

    async fn run(hub: &Hub, caller: &mut Caller, args: Self::Args) -> Result<Value, ErrorBody> {
        let id = project_of(caller, args.project_id())?;
        let mut conn = conn(hub).await?;
        let project = store::projects::get_for(&mut conn, id, &caller.user).await?;
        Ok(to_value(GapsOut {
            gaps: gaps(&project.blueprint_draft),
        }))
    }
}
