//! `maintenance.prune`: deletes finished jobs (with their events) and old job events
//! after the retention period, in slices so a large backlog never holds a long lock.

use crate::handler::{Done, Handler, JobContext, JobError};
use futures_util::future::BoxFuture;
use std::time::Duration;

pub const KIND: store::jobs::JobKind = store::jobs::JobKind::MaintenancePrune;

/// Rows deleted per statement.
const SLICE: i64 = 5_000;

#[derive(Clone, Copy, Debug)]
pub struct Prune {
    pub retention: Duration,
}

impl Handler for Prune {
    fn run<'a>(&'a self, cx: &'a JobContext) -> BoxFuture<'a, Result<Done, JobError>> {
        Box::pin(async move {
            let retention = chrono::Duration::from_std(self.retention)
                .map_err(|e| JobError::Permanent(e.to_string()))?;
            let mut jobs = 0;
            let mut events = 0;
            loop {
                if cx.cancel.is_cancelled() {
                    return Err(JobError::Cancelled);
                }
                let mut conn = cx.store.acquire().await?;
                let j = store::jobs::prune(&mut conn, retention, SLICE).await?;
                let e = store::jobs::prune_events(&mut conn, retention, SLICE).await?;
                jobs += j;
                events += e;
                if j < SLICE as u64 && e < SLICE as u64 {
                    break;
                }
            }
            tracing::info!(jobs, events, "pruned");
            Ok(Done {
                result: Some(serde_json::json!({"jobs": jobs, "events": events})),
                ..Done::default()
            })
        })
    }
}
