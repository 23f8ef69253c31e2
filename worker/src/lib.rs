//! Draftline's job runtime. [`Worker`] reads job ids from the Redis streams, claims the
//! jobs in Postgres with a lease, runs their handlers under a concurrency limit, keeps
//! the leases alive, and completes or fails each job fenced by its lease token.
//! [`Scheduler`] (one leader at a time) reclaims expired leases, re-dispatches due jobs
//! Redis does not hold, and fires the cron table.

pub mod config;
pub mod draft;
pub mod handler;
pub mod handlers;
pub mod narrate;
pub mod runtime;
pub mod scheduler;

pub use config::WorkerConfig;
pub use handler::{
    Done, Failure, Handler, JobContext, JobError, Registry, Reported, Writes, Written,
};
pub use runtime::Worker;
pub use scheduler::{CronEntry, Schedule, Scheduler, SchedulerConfig};

/// Why a worker or scheduler stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("storage: {0}")]
    Store(#[from] store::StoreError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}
