//! The job queue as callers outside the worker use it: enqueue (and dispatch after the
//! commit), and the admin actions (retry, cancel, drain, stats), so the HTTP API and the
//! command line share one implementation.

use crate::dispatch::Dispatch;
use crate::jobs::lifecycle::{self, Dispatchable, Enqueued, NewJob};
use crate::jobs::{self, Depth};
use crate::{Store, StoreError};
use protocol::JobId;
use protocol::entities::Job;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Most jobs one drain dispatches, so a drain call stays bounded.
pub const DRAIN_CAP: i64 = 10_000;

/// How recently a worker must have reported to count as seen (three heartbeats).
const WORKER_SEEN: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct Queue {
    pub store: Store,
    pub dispatch: Dispatch,
}

/// Queue depth and workers, for `/v1/admin/stats` and `draftline admin jobs stats`.
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    pub depth: Vec<Depth>,
    /// Worker id → last seen (Unix ms).
    pub workers: BTreeMap<String, i64>,
}

impl Queue {
    pub fn new(store: Store, dispatch: Dispatch) -> Self {
        Self { store, dispatch }
    }

    /// Enqueues one job in its own transaction and dispatches it. A failed dispatch is
    /// only logged: the job is committed and the scheduler sends it later.
    pub async fn enqueue(&self, job: &NewJob) -> Result<Enqueued, StoreError> {
        let mut conn = self.store.acquire().await?;
        let enqueued = lifecycle::enqueue(&mut conn, job).await?;
        drop(conn);
        if enqueued.created {
            self.after_commit(&[Dispatchable {
                id: enqueued.job.id,
                queue: enqueued.job.queue.clone(),
            }])
            .await;
        }
        Ok(enqueued)
    }

    /// Dispatches jobs whose enqueue has committed. Jobs not yet due are left to the
    /// scheduler, which dispatches them when they are.
    pub async fn after_commit(&self, jobs: &[Dispatchable]) {
        if let Err(e) = self.dispatch.send(jobs).await {
            tracing::warn!(error = %e, jobs = jobs.len(), "dispatch failed; the scheduler will re-send");
        }
    }

    pub async fn retry(&self, id: JobId) -> Result<Job, StoreError> {
        let mut conn = self.store.acquire().await?;
        let job = jobs::retry(&mut conn, id).await?;
        sqlx::query("UPDATE jobs SET dispatched_at = now() WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        drop(conn);
        self.after_commit(&[Dispatchable {
            id,
            queue: job.queue.clone(),
        }])
        .await;
        Ok(job)
    }

    pub async fn cancel(&self, id: JobId) -> Result<Job, StoreError> {
        let mut conn = self.store.acquire().await?;
        jobs::cancel(&mut conn, id).await
    }

    /// Dispatches every due queued job now, whatever its last dispatch (the manual
    /// runner). Answers how many were sent.
    pub async fn drain(&self) -> Result<usize, StoreError> {
        let mut conn = self.store.acquire().await?;
        let due = lifecycle::due(&mut conn, Some(Duration::ZERO), DRAIN_CAP).await?;
        drop(conn);
        let mut queues: Vec<&str> = due.iter().map(|d| d.queue.as_str()).collect();
        queues.sort_unstable();
        queues.dedup();
        for queue in queues {
            if let Err(e) = self.dispatch.ensure_group(queue).await {
                tracing::warn!(error = %e, "could not create the consumer group");
            }
        }
        self.after_commit(&due).await;
        Ok(due.len())
    }

    pub async fn stats(&self) -> Result<Stats, StoreError> {
        let mut conn = self.store.acquire().await?;
        let depth = jobs::depth(&mut conn).await?;
        let workers = self
            .dispatch
            .workers(WORKER_SEEN)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "could not read the worker registry");
                BTreeMap::new()
            });
        Ok(Stats { depth, workers })
    }
}
