//! What a job handler is: an async function of the job that answers `Done` (with the
//! writes to commit together with the completion) or a typed error that says whether a
//! retry can help. Handlers are registered by job kind.

use futures_util::future::BoxFuture;
use protocol::entities::{Job, JobStatus};
use protocol::event::Event;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use store::jobs::lifecycle::Lease;
use store::{PgConnection, Store};
use tokio_util::sync::CancellationToken;

/// What a handler sees of its job.
#[derive(Clone, Debug)]
pub struct JobContext {
    pub job: Job,
    pub lease: Lease,
    pub store: Store,
    /// Where the job publishes what it does (deltas, progress) as it runs.
    pub topics: store::topics::Topics,
    /// Cancelled when the lease is lost (reclaimed, cancelled by an admin) or the
    /// worker is draining past its deadline: stop and return.
    pub cancel: CancellationToken,
}

/// Writes a handler makes in the transaction that completes its job, so they commit
/// exactly when the completion does (and not at all when the lease was lost).
pub trait Writes: Send {
    fn apply<'a>(
        self: Box<Self>,
        conn: &'a mut PgConnection,
    ) -> BoxFuture<'a, Result<Written, JobError>>;
}

/// What the writes found out as they ran (a merge's conflicts, the version written).
#[derive(Debug, Default)]
pub struct Written {
    /// Published after the commit, after [`Done::events`].
    pub events: Vec<Event>,
    /// Replaces [`Done::result`] when given.
    pub result: Option<Value>,
}

/// A handler's success.
#[derive(Default)]
pub struct Done {
    pub result: Option<Value>,
    pub usage: Option<Value>,
    pub summary: Option<String>,
    pub writes: Option<Box<dyn Writes>>,
    /// Published on the job's project topic once the completion has committed (and not
    /// at all when the lease was lost).
    pub events: Vec<Event>,
}

impl std::fmt::Debug for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Done")
            .field("result", &self.result)
            .field("usage", &self.usage)
            .field("summary", &self.summary)
            .field("writes", &self.writes.is_some())
            .field("events", &self.events.len())
            .finish()
    }
}

impl Done {
    /// Nothing to write but the completion itself: such jobs are completed in batches.
    pub fn is_bare(&self) -> bool {
        self.result.is_none()
            && self.usage.is_none()
            && self.summary.is_none()
            && self.writes.is_none()
            && self.events.is_empty()
    }
}

/// A handler's failure.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A later attempt may succeed (a timeout, a rate limit, a lost connection).
    #[error("{0}")]
    Retryable(String),
    /// No attempt will succeed (bad payload, unknown kind): fail at once.
    #[error("{0}")]
    Permanent(String),
    /// The job was cancelled or its lease lost; nothing is recorded by this attempt.
    #[error("cancelled")]
    Cancelled,
}

impl From<store::StoreError> for JobError {
    fn from(e: store::StoreError) -> Self {
        match e {
            store::StoreError::NotFound { .. } | store::StoreError::Decode(_) => {
                JobError::Permanent(e.to_string())
            }
            _ => JobError::Retryable(e.to_string()),
        }
    }
}

/// A job handler.
pub trait Handler: Send + Sync {
    fn run<'a>(&'a self, cx: &'a JobContext) -> BoxFuture<'a, Result<Done, JobError>>;

    /// Called once an attempt's failure is recorded, with what became of the job
    /// (`Retrying` or `Failed`): a handler that narrates its work tells its clients, or
    /// raises an alert after the last attempt.
    fn failed<'a>(
        &'a self,
        cx: &'a JobContext,
        status: JobStatus,
        error: &'a str,
    ) -> BoxFuture<'a, ()> {
        let _ = (cx, status, error);
        Box::pin(async {})
    }
}

/// Handlers by job kind.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn Handler>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.handlers.keys()).finish()
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for `kind` (replacing any earlier one).
    pub fn register(mut self, kind: impl Into<String>, handler: impl Handler + 'static) -> Self {
        self.handlers.insert(kind.into(), Arc::new(handler));
        self
    }

    pub fn get(&self, kind: &str) -> Option<Arc<dyn Handler>> {
        self.handlers.get(kind).cloned()
    }

    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }
}
