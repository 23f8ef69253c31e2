//! `set_session_phase`: move the caller's conversation to another phase, or restate the
//! blueprint fields it covered and must come back to. It changes only the caller's
//! session (not an operation) and is published as `session.phase` on the session's
//! topic and its project's, so every client following the conversation sees it.

use super::get_session_phase::phase_out;
use super::{Caller, Query, to_value};
use crate::hub::Hub;
use protocol::ErrorBody;
use protocol::event::{Event, SessionPhase};
use protocol::tools::args::SetSessionPhaseArgs;
use serde_json::Value;

pub(crate) struct SetSessionPhase;

impl Query for SetSessionPhase {
    type Args = SetSessionPhaseArgs;

    async fn run(hub: &Hub, caller: &mut Caller, args: Self::Args) -> Result<Value, ErrorBody> {
        if args.phase.is_none()
            && args.dimensions_covered.is_none()
            && args.dimensions_open.is_none()
        {
            return Err(ErrorBody::invalid_field(
                "phase",
                "give at least one of phase, dimensions_covered or dimensions_open",
            ));
        }
        let dedup = |fields: Option<Vec<_>>| {
            fields.map(|mut fields: Vec<_>| {
                let mut seen = std::collections::HashSet::new();
                fields.retain(|f| seen.insert(*f));
                fields
            })
        };
        let covered = dedup(args.dimensions_covered);
        let open = dedup(args.dimensions_open);
        let mut tx = hub.store.begin().await?;
        let session = store::sessions::set_phase(
            &mut tx,
            caller.session.id,
            args.phase,
            covered.as_deref(),
            open.as_deref(),
        )
        .await?;
        let event = Event::SessionPhase(SessionPhase::of(&session));
        // On the project's topic (and the session's with it) in the project's order,
        // committed with the phase; a session without a project has only its own topic.
        if let Some(project) = session.project_id {
            store::outbox::record(&mut tx, project, std::slice::from_ref(&event)).await?;
        }
        tx.commit().await.map_err(store::StoreError::from)?;
        caller.session = session.clone();
        match session.project_id {
            Some(project) => hub.flush(Some(project)).await,
            None => hub.publish_session(session.id, &event).await,
        }
        Ok(to_value(phase_out(&session)))
    }
}
