//! `queue_draft_update`: ask for the document to be redrafted in the background. Answers
//! at once with the job (new, merged into the one waiting, or throttled as a repeat);
//! the draft's progress, text and result arrive as events on the project's topic. Not
//! an operation: it changes no project data itself; the draft's document version records
//! the job as its source.

use super::{Caller, Query, project_of, to_value};
use crate::access::{self, Need};
use crate::hub::Hub;
use protocol::ErrorBody;
use protocol::entities::JobStatus;
use protocol::event::{Event, JobStatusEvent, ToolProgress};
use protocol::tools::args::{QueueDraftUpdateArgs, ToolArgs};
use protocol::tools::output::DraftQueuedOut;
use serde_json::{Value, json};
use std::time::Duration;
use store::jobs::draft::{DraftOutcome, DraftRequest};
use store::jobs::lifecycle::Dispatchable;

/// The same summary within this window, at no higher urgency, is a repeat (docs/protocol.md
/// section 9.5: 90 s).
const THROTTLE: Duration = Duration::from_secs(90);

pub(crate) struct QueueDraftUpdate;

impl Query for QueueDraftUpdate {
    type Args = QueueDraftUpdateArgs;

    async fn run(hub: &Hub, caller: &mut Caller, args: Self::Args) -> Result<Value, ErrorBody> {
        let project = project_of(caller, args.project_id())?;
        let mut tx = hub.store.begin().await?;
        access::require(&mut tx, project, &caller.user, Need::Write).await?;
        // A draft costs a model call: counted against the user's quota (merged and
        // throttled requests too, which a client cannot tell apart in advance).
        hub.limits.job(&caller.user)?;
        let document = store::documents::get(&mut tx, project).await?;
        let session = &caller.session;
        let request = DraftRequest {
            project_id: project,
            session_id: Some(session.id),
            urgency: args.urgency,
            summary: args
                .summary
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            message_pointers: args.message_pointers.unwrap_or_default(),
            transcript_anchors: args.transcript_anchors.unwrap_or_default(),
            context: Some(json!({
                "mode": session.mode,
                "phase": session.metadata.phase,
                "dimensions_covered": session.metadata.dimensions_covered,
                "document_version": document.version,
            })),
        };
        let (job, outcome) = store::jobs::draft::request(&mut tx, &request, THROTTLE).await?;
        let queued = outcome == DraftOutcome::Queued;
        if queued {
            let events = [
                JobStatusEvent::of(&job, project, JobStatus::Queued),
                Event::ToolProgress(ToolProgress {
                    job_id: job.id,
                    project_id: project,
                    session_id: Some(session.id),
                    status: JobStatus::Queued,
                    summary: request.summary.clone(),
                    error: None,
                    sections: None,
                    narration: Some(crate::narrate::draft_requested()),
                }),
            ];
            store::outbox::record(&mut tx, project, &events).await?;
        }
        tx.commit().await.map_err(store::StoreError::from)?;
        if queued {
            hub.queue
                .after_commit(&[Dispatchable {
                    id: job.id,
                    queue: job.queue.clone(),
                }])
                .await;
            hub.flush(Some(project)).await;
        }
        Ok(to_value(DraftQueuedOut {
            job_id: job.id,
            status: outcome,
        }))
    }
}
