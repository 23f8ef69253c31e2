//! `get_session_phase`: where the caller's conversation stands, read afresh (another
//! connection resuming the session, or a filled field, may have moved it).

use super::{Caller, Query, conn, to_value};
use crate::hub::Hub;
use protocol::ErrorBody;
use protocol::entities::Session;
use protocol::tools::args::GetSessionPhaseArgs;
use protocol::tools::output::PhaseOut;
use serde_json::Value;

pub(crate) struct GetSessionPhase;

/// The phase part of a session, as the phase tools answer it.
pub(crate) fn phase_out(session: &Session) -> PhaseOut {
    PhaseOut {
        phase: session.metadata.phase.unwrap_or_default(),
        dimensions_covered: session.metadata.dimensions_covered.clone(),
        dimensions_open: session.metadata.dimensions_open.clone(),
    }
}

impl Query for GetSessionPhase {
    type Args = GetSessionPhaseArgs;

    async fn run(hub: &Hub, caller: &mut Caller, _: Self::Args) -> Result<Value, ErrorBody> {
        let mut conn = conn(hub).await?;
        let session = store::sessions::get(&mut conn, caller.session.id).await?;
        caller.session = session.clone();
        Ok(to_value(phase_out(&session)))
    }
}
