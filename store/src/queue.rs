//! The job queue as callers outside the worker use it: enqueue (and dispatch after the
//! commit), and the admin actions (retry, cancel, drain, stats), so the HTTP API and the
//! command line share one implementation.
//!
//! Enqueue calls made at the same time share a statement and a commit (group commit): a
//! committer task takes every call waiting, inserts them in one statement, dispatches
//! them in one round trip, and answers each call once its own job is committed. A call
//! that arrives alone goes through at once, without waiting for company.

use crate::dispatch::Dispatch;
use crate::jobs::lifecycle::{self, Dispatchable, Enqueued, NewJob};
use crate::jobs::{self, Depth};
use crate::{Store, StoreError};
use protocol::JobId;
use protocol::entities::Job;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, oneshot};

/// Most jobs one drain dispatches, so a drain call stays bounded.
pub const DRAIN_CAP: i64 = 10_000;

/// How recently a worker must have reported to count as seen (three heartbeats).
const WORKER_SEEN: Duration = Duration::from_secs(30);

/// Enqueue calls waiting for a committer. Bounded: callers wait (backpressure) rather
/// than pile up when the database falls behind; 4,096 is far above the calls one node
/// has in flight.
const PENDING_CALLS: usize = 4_096;
/// Most jobs one group commit writes.
const GROUP_MAX: usize = 1_000;
/// Committers working at once: one writes while the next gathers the calls that arrived
/// meanwhile.
const COMMITTERS: usize = 2;

type Call = (NewJob, oneshot::Sender<Result<Enqueued, StoreError>>);

#[derive(Clone, Debug)]
pub struct Queue {
    pub store: Store,
    pub dispatch: Dispatch,
    calls: mpsc::Sender<Call>,
}

/// Queue depth and workers, for `/v1/admin/stats` and `draftline admin jobs stats`.
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    pub depth: Vec<Depth>,
    /// Worker id → last seen (Unix ms).
    pub workers: BTreeMap<String, i64>,
}

impl Queue {
    /// A queue with its committer tasks; call from within a Tokio runtime. The tasks end
    /// when the last clone of the queue is dropped.
    pub fn new(store: Store, dispatch: Dispatch) -> Self {
        let (calls, waiting) = mpsc::channel(PENDING_CALLS);
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..COMMITTERS {
            tokio::spawn(commit_calls(
                store.clone(),
                dispatch.clone(),
                waiting.clone(),
            ));
        }
        Self {
            store,
            dispatch,
            calls,
        }
    }

    /// Enqueues one job (committed on its own, or with the calls made at the same time)
    /// and dispatches it. A failed dispatch is only logged: the job is committed and the
    /// scheduler sends it later. To enqueue inside a transaction of your own, use
    /// [`lifecycle::enqueue`] and [`Queue::after_commit`].
    pub async fn enqueue(&self, job: &NewJob) -> Result<Enqueued, StoreError> {
        let (answer, answered) = oneshot::channel();
        let closed = || StoreError::Unavailable("the job queue is shut down".into());
        self.calls
            .send((job.clone(), answer))
            .await
            .map_err(|_| closed())?;
        answered.await.map_err(|_| closed())?
    }

    /// Dispatches jobs whose enqueue has committed. Jobs not yet due are left to the
    /// scheduler, which dispatches them when they are.
    pub async fn after_commit(&self, jobs: &[Dispatchable]) {
        if let Err(e) = self.dispatch.send(jobs).await {
            tracing::warn!(error = %e, jobs = jobs.len(), "dispatch failed; the scheduler will re-send");
            let ids: Vec<JobId> = jobs.iter().map(|j| j.id).collect();
            let undone = async {
                let mut conn = self.store.acquire().await?;
                lifecycle::undispatch(&mut conn, &ids).await
            }
            .await;
            if let Err(e) = undone {
                tracing::warn!(error = %e, "could not mark the jobs undispatched; the safety sweep will re-send");
            }
        }
    }

    pub async fn retry(&self, id: JobId) -> Result<Job, StoreError> {
        let mut conn = self.store.acquire().await?;
        let job = jobs::retry(&mut conn, id).await?;
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

/// A committer: takes every waiting call (at least one), writes them in one statement,
/// dispatches the due ones, answers each caller.
async fn commit_calls(store: Store, dispatch: Dispatch, waiting: Arc<Mutex<mpsc::Receiver<Call>>>) {
    loop {
        let mut calls = Vec::new();
        {
            let mut waiting = waiting.lock().await;
            if waiting.recv_many(&mut calls, GROUP_MAX).await == 0 {
                return;
            }
        }
        let (jobs, answers): (Vec<NewJob>, Vec<_>) = calls.into_iter().unzip();
        let started = std::time::Instant::now();
        let results = match insert_group(&store, &jobs).await {
            Ok(results) => results.into_iter().map(Ok).collect(),
            // One bad job must not fail the others: retry them one by one.
            Err(e) if jobs.len() > 1 => {
                tracing::debug!(error = %e, "group enqueue failed; enqueueing one by one");
                let mut results = Vec::with_capacity(jobs.len());
                for job in &jobs {
                    results.push(
                        insert_group(&store, std::slice::from_ref(job))
                            .await
                            .and_then(|mut r| {
                                r.pop()
                                    .ok_or_else(|| StoreError::Decode("no enqueue result".into()))
                            }),
                    );
                }
                results
            }
            Err(e) => vec![Err(e)],
        };
        let due: Vec<Dispatchable> = results
            .iter()
            .zip(&jobs)
            .filter_map(|(result, new)| match result {
                Ok(enqueued)
                    if enqueued.created
                        && new.run_after.is_none_or(|at| at <= chrono::Utc::now()) =>
                {
                    Some(Dispatchable {
                        id: enqueued.job.id,
                        queue: enqueued.job.queue.clone(),
                    })
                }
                _ => None,
            })
            .collect();
        let inserted_us = started.elapsed().as_micros() as u64;
        if let Err(e) = dispatch.send(&due).await {
            tracing::warn!(error = %e, jobs = due.len(), "dispatch failed; the scheduler will re-send");
        }
        tracing::debug!(
            jobs = jobs.len(),
            inserted_us,
            dispatched_us = started.elapsed().as_micros() as u64 - inserted_us,
            "group enqueued"
        );
        for (answer, result) in answers.into_iter().zip(results) {
            let _ = answer.send(result);
        }
    }
}

/// One statement (atomic on its own), so no explicit transaction: a round trip less.
async fn insert_group(store: &Store, jobs: &[NewJob]) -> Result<Vec<Enqueued>, StoreError> {
    let mut conn = store.acquire().await?;
    match jobs {
        // Alone, the plain statement plans and runs faster than the array one.
        [job] => Ok(vec![lifecycle::enqueue(&mut conn, job).await?]),
        jobs => lifecycle::enqueue_each(&mut conn, jobs).await,
    }
}
