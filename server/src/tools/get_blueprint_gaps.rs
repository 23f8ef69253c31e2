//! `get_blueprint_gaps`: the draft blueprint's missing fields, most important first,
//! and the one to ask next as the session's phase and open fields pick it.

use super::{Caller, Query, conn, project_of, to_value};
use crate::hub::Hub;
use protocol::ErrorBody;
use protocol::blueprint::{gaps, next_gap};
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
        // Read afresh: a filled field or another connection may have moved the phase.
        let session = store::sessions::get(&mut conn, caller.session.id).await?;
        let phase = session.metadata.phase.unwrap_or_default();
        let next = next_gap(
            &project.blueprint_draft,
            phase,
            &session.metadata.dimensions_open,
        );
        caller.session = session;
        Ok(to_value(GapsOut {
            gaps: gaps(&project.blueprint_draft),
            phase,
            next,
        }))
    }
}
