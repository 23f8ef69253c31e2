//! `debug.noop` and `debug.sleep`: jobs that do nothing (or wait), for smoke tests of a
//! deployment, the load harness, and the tests that kill a worker mid-job.

use crate::handler::{Done, Handler, JobContext, JobError};
use futures_util::future::BoxFuture;
use std::time::Duration;

pub const NOOP: store::jobs::JobKind = store::jobs::JobKind::DebugNoop;
pub const SLEEP: store::jobs::JobKind = store::jobs::JobKind::DebugSleep;

/// Longest pause a `debug.sleep` job may ask for.
const MAX_SLEEP: Duration = Duration::from_secs(600);

#[derive(Clone, Copy, Debug)]
pub struct Noop;

impl Handler for Noop {
    fn run<'a>(&'a self, _: &'a JobContext) -> BoxFuture<'a, Result<Done, JobError>> {
        Box::pin(async { Ok(Done::default()) })
    }
}

/// Sleeps `payload.ms` milliseconds (stopping early when cancelled).
#[derive(Clone, Copy, Debug)]
pub struct Sleep;

impl Handler for Sleep {
    fn run<'a>(&'a self, cx: &'a JobContext) -> BoxFuture<'a, Result<Done, JobError>> {
        Box::pin(async move {
            let ms = cx
                .job
                .payload
                .get("ms")
                .and_then(|v| v.as_u64())
                .ok_or_else(|| {
                    JobError::Permanent("payload.ms: a number of milliseconds is required".into())
                })?;
            let pause = Duration::from_millis(ms).min(MAX_SLEEP);
            tokio::select! {
                _ = tokio::time::sleep(pause) => Ok(Done {
                    result: Some(serde_json::json!({"slept_ms": pause.as_millis() as u64})),
                    ..Done::default()
                }),
                _ = cx.cancel.cancelled() => Err(JobError::Cancelled),
            }
        })
    }
}
