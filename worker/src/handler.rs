//! What a job handler is: an async function of the job that answers `Done` (with the
//! writes to commit together with the completion) or a typed error that says whether a
//! retry can help. Handlers are registered by job kind.

use futures_util::future::BoxFuture;
use protocol::entities::{Job, JobStatus};
use protocol::event::Event;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
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
    /// A later attempt may succeed (a timeout, a rate limit, a lost connection). The
    /// text is stored on the job and shown to clients: say what happened, not how.
    #[error("{0}")]
    Retryable(String),
    /// No attempt will succeed (bad payload, unknown kind): fail at once. The text is
    /// shown to clients, like [`JobError::Retryable`]'s.
    #[error("{0}")]
    Permanent(String),
    /// A failure whose detail (a provider's answer, a database error) stays in the log,
    /// while clients get its public message.
    #[error("{0}")]
    Failed(Failure),
    /// The job was cancelled or its lease lost; nothing is recorded by this attempt.
    #[error("cancelled")]
    Cancelled,
}

/// A typed failure: what clients may see, what only the log gets, and when to retry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{public}")]
pub struct Failure {
    /// Stored on the job and published in `tool.progress`.
    pub public: String,
    /// Logged with the error id, never published.
    pub detail: String,
    pub retryable: bool,
    /// The earliest the next attempt should start (a rate limit's `Retry-After`); the
    /// job's own backoff applies when it is longer.
    pub retry_after: Option<Duration>,
}

impl JobError {
    /// Whether another attempt may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Retryable(_) => true,
            Self::Failed(f) => f.retryable,
            Self::Permanent(_) | Self::Cancelled => false,
        }
    }

    /// What clients see of the failure.
    pub fn public_message(&self) -> &str {
        match self {
            Self::Retryable(m) | Self::Permanent(m) => m,
            Self::Failed(f) => &f.public,
            Self::Cancelled => "cancelled",
        }
    }

    /// What the log gets: the detail when there is one, else the public message.
    pub fn detail(&self) -> &str {
        match self {
            Self::Failed(f) if !f.detail.is_empty() => &f.detail,
            other => other.public_message(),
        }
    }

    /// The pause the cause asked for before the next attempt, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Failed(f) => f.retry_after,
            _ => None,
        }
    }
}

impl From<store::StoreError> for JobError {
    fn from(e: store::StoreError) -> Self {
        // The store's messages name tables, ids and SQL errors: the log's business.
        let (public, retryable) = match &e {
            store::StoreError::NotFound { .. } => {
                ("something the job needs no longer exists", false)
            }
            store::StoreError::Decode(_) => ("the job's stored data could not be read", false),
            _ => ("a storage error interrupted the job", true),
        };
        JobError::Failed(Failure {
            public: public.to_owned(),
            detail: e.to_string(),
            retryable,
            retry_after: None,
        })
    }
}

/// A failed attempt as the runtime recorded it, for a handler's [`Handler::failed`].
#[derive(Clone, Debug)]
pub struct Reported {
    /// The public message with its error id, as stored on the job.
    pub message: String,
    /// The detail that went to the log (for people on call, never for clients).
    pub detail: String,
    /// The id the log line and the stored message share.
    pub error_id: String,
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
        error: &'a Reported,
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
