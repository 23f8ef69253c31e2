//! The worker loop. Reads job ids from Redis (at most the free capacity), claims them in
//! Postgres in one round trip, acknowledges the entries, and runs each claimed job on a
//! task of its own under the concurrency limit. A heartbeat task extends the leases of
//! running jobs and cancels the ones whose lease is gone; a completer task completes
//! bare jobs in batches. SIGTERM stops reading, lets running jobs finish within the
//! drain timeout, and puts the rest back in the queue.

use crate::WorkerError;
use crate::config::WorkerConfig;
use crate::handler::{Done, JobContext, JobError, Registry, Reported};
use protocol::JobId;
use protocol::ProjectId;
use protocol::entities::{Job, JobStatus};
use protocol::event::JobStatusEvent;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::Store;
use store::dispatch::{self, Dispatch, Entry};
use store::jobs::lifecycle::{self, Dispatchable, Lease};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// How long one read waits on Redis for new entries before looking around again.
const READ_BLOCK: Duration = Duration::from_secs(1);
/// Attempts started, by job kind.
pub const JOB_ATTEMPTS: &str = "draftline_job_attempts_total";
/// Time an attempt took, by job kind and outcome (`completed`, `retrying`, `failed`,
/// `cancelled`, `lost`).
pub const JOB_SECONDS: &str = "draftline_job_duration_seconds";

/// How long a busy worker waits for more free slots before reading, so it claims jobs
/// in batches rather than one at a time.
const GATHER: Duration = Duration::from_millis(2);
/// Bare completions written per statement.
const COMPLETE_BATCH: usize = 512;

/// A running job's lease and the token that stops its handler.
#[derive(Clone, Debug)]
struct Running {
    lease: Lease,
    queue: String,
    cancel: CancellationToken,
}

type RunningSet = Arc<Mutex<HashMap<JobId, Running>>>;

/// One worker process's job runtime.
#[derive(Clone, Debug)]
pub struct Worker {
    pub id: String,
    store: Store,
    dispatch: Dispatch,
    redis: redis::Client,
    topics: store::topics::Topics,
    /// The events of completed and failed jobs, published from Postgres.
    outbox: store::outbox::Outbox,
    config: WorkerConfig,
    registry: Arc<Registry>,
}

impl Worker {
    pub fn new(
        store: Store,
        dispatch: Dispatch,
        redis: redis::Client,
        config: WorkerConfig,
        registry: Registry,
    ) -> Self {
        let id = format!("worker-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let topics = dispatch.topics(store::topics::Retention::default());
        let outbox = store::outbox::Outbox::new(store.clone(), topics.clone());
        Self {
            id,
            store,
            topics,
            outbox,
            dispatch,
            redis,
            config,
            registry: Arc::new(registry),
        }
    }

    /// Runs until `shutdown` is cancelled, then drains.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let span = tracing::info_span!("worker", worker = %self.id);
        self.run_inner(shutdown).instrument(span).await
    }

    async fn run_inner(self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        for queue in &self.config.queues {
            self.dispatch.ensure_group(queue).await?;
        }
        let config = &self.config;
        let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
        let running: RunningSet = Arc::default();
        let jobs = TaskTracker::new();
        // Bounded: a completion waits here at most one batch; the bound keeps a stalled
        // database from piling up finished jobs in memory.
        let (done_tx, done_rx) = mpsc::channel::<Lease>(COMPLETE_BATCH * 2);
        let completer =
            tokio::spawn(complete_batches(self.store.clone(), done_rx).in_current_span());
        let stop_heartbeat = CancellationToken::new();
        let heartbeat = tokio::spawn(
            heartbeat_loop(self.clone(), running.clone(), stop_heartbeat.clone()).in_current_span(),
        );
        tracing::info!(concurrency = config.concurrency, queues = ?config.queues, "worker started");

        let mut reader = None;
        let mut last_autoclaim = Instant::now();
        while !shutdown.is_cancelled() {
            // Wait for room before reading, so entries are only taken when they can run.
            let room = tokio::select! {
                permit = permits.clone().acquire_owned() => permit,
                _ = shutdown.cancelled() => break,
            };
            let Ok(room) = room else { break };
            drop(room);
            // Under load, jobs finish one by one: claiming as soon as one slot frees would
            // claim one job per round trip. Wait a moment for more room when little is
            // free; an idle worker (all free) reads at once.
            let batch = config.read_batch.clamp(1, config.concurrency.max(1));
            if permits.available_permits() < batch / 4 {
                tokio::time::sleep(GATHER).await;
            }
            let count = permits.available_permits().clamp(1, batch);

            let mut entries = Vec::new();
            if last_autoclaim.elapsed() >= config.lease() / 2 {
                last_autoclaim = Instant::now();
                for queue in &config.queues {
                    match self
                        .dispatch
                        .autoclaim(queue, &self.id, config.lease(), count)
                        .await
                    {
                        Ok(found) => entries.extend(found),
                        Err(e) => tracing::warn!(error = %e, "autoclaim failed"),
                    }
                }
            }
            if entries.is_empty() {
                entries = tokio::select! {
                    read = self.read(&mut reader, count) => read,
                    _ = shutdown.cancelled() => break,
                };
            }
            if entries.is_empty() {
                continue;
            }
            self.start(entries, &permits, &running, &jobs, &done_tx)
                .await;
        }

        // Close the reader first: Redis would otherwise keep delivering entries (the
        // jobs this drain re-sends among them) to a consumer that no longer reads.
        drop(reader);
        self.drain(&running, &jobs).await;
        if !self.outbox.settle(self.config.drain_timeout()).await {
            tracing::warn!(
                "outbox rounds still running at the drain deadline; the relay sends the rest"
            );
        }
        for queue in &config.queues {
            match self.dispatch.hand_back(queue, &self.id).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(queue = %queue, jobs = n, "handed back undelivered entries")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "handing back entries failed; they are taken over once idle")
                }
            }
        }
        drop(done_tx);
        let _ = completer.await;
        stop_heartbeat.cancel();
        let _ = heartbeat.await;
        if let Err(e) = self.dispatch.forget_worker(&self.id).await {
            tracing::debug!(error = %e, "could not deregister");
        }
        tracing::info!("worker stopped");
        Ok(())
    }

    /// Reads entries on the worker's own connection (a blocking read would stall a
    /// shared one), reconnecting after errors and recreating groups Redis lost.
    async fn read(
        &self,
        reader: &mut Option<redis::aio::MultiplexedConnection>,
        count: usize,
    ) -> Vec<Entry> {
        if reader.is_none() {
            let config = redis::AsyncConnectionConfig::new()
                .set_response_timeout(Some(READ_BLOCK + Duration::from_secs(5)));
            match self
                .redis
                .get_multiplexed_async_connection_with_config(&config)
                .await
            {
                Ok(conn) => *reader = Some(conn),
                Err(e) => {
                    tracing::warn!(error = %e, "redis unreachable; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    return Vec::new();
                }
            }
        }
        let Some(conn) = reader.as_mut() else {
            return Vec::new();
        };
        let queues = &self.config.queues;
        match dispatch::read(conn, &self.dispatch, queues, &self.id, count, READ_BLOCK).await {
            Ok(entries) => entries,
            Err(e) => {
                if e.code() == Some("NOGROUP") {
                    tracing::warn!("consumer group missing (Redis lost its data); recreating");
                    for queue in queues {
                        if let Err(e) = self.dispatch.ensure_group(queue).await {
                            tracing::warn!(error = %e, "could not recreate the group");
                        }
                    }
                } else {
                    tracing::warn!(error = %e, "reading the job streams failed");
                    *reader = None;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Vec::new()
            }
        }
    }

    /// Claims the entries' jobs, acknowledges the entries, and starts the claimed jobs.
    async fn start(
        &self,
        entries: Vec<Entry>,
        permits: &Arc<Semaphore>,
        running: &RunningSet,
        jobs: &TaskTracker,
        done_tx: &mpsc::Sender<Lease>,
    ) {
        let ids: Vec<JobId> = entries.iter().filter_map(|e| e.job).collect();
        let claiming = Instant::now();
        let claimed = match self.store.acquire().await {
            Ok(mut conn) => lifecycle::claim(&mut conn, &ids, &self.id, self.config.lease()).await,
            Err(e) => Err(e),
        };
        let claimed = match claimed {
            Ok(claimed) => claimed,
            Err(e) => {
                // Leave the entries unacknowledged: they are taken over once idle.
                tracing::warn!(error = %e, "claiming jobs failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
                return;
            }
        };
        tracing::debug!(
            entries = entries.len(),
            claimed = claimed.len(),
            elapsed_us = claiming.elapsed().as_micros() as u64,
            "claimed"
        );
        for claimed in claimed {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let cancel = CancellationToken::new();
            let lease = claimed.lease;
            if let Ok(mut map) = running.lock() {
                map.insert(
                    lease.id,
                    Running {
                        lease,
                        queue: claimed.job.queue.clone(),
                        cancel: cancel.clone(),
                    },
                );
            }
            let worker = self.clone();
            let running = running.clone();
            let done_tx = done_tx.clone();
            let span = tracing::info_span!("job", job_id = %lease.id, kind = %claimed.job.kind);
            jobs.spawn(
                async move {
                    worker
                        .execute(claimed.job, lease, cancel, done_tx, &running)
                        .await;
                    leave(&running, lease.id);
                    drop(permit);
                }
                .instrument(span),
            );
        }
        // Acknowledged after the jobs started (one round trip less before they run).
        // Every entry is done with: claimed ones are now leased in Postgres; the others
        // were duplicates, not due yet, or finished (the scheduler re-sends due jobs).
        let mut by_queue: HashMap<&str, Vec<String>> = HashMap::new();
        for entry in &entries {
            by_queue
                .entry(&entry.queue)
                .or_default()
                .push(entry.entry_id.clone());
        }
        for (queue, ids) in by_queue {
            if let Err(e) = self.dispatch.ack(queue, &ids).await {
                tracing::warn!(error = %e, "acknowledging entries failed");
            }
        }
    }

    /// Runs one job's handler and records how it ended.
    async fn execute(
        &self,
        job: Job,
        lease: Lease,
        cancel: CancellationToken,
        done_tx: mpsc::Sender<Lease>,
        running: &RunningSet,
    ) {
        let started = Instant::now();
        let attempt = job.attempts;
        let max_attempts = job.max_attempts;
        let kind = job.kind.clone();
        metrics::counter!(JOB_ATTEMPTS, "kind" => kind.clone()).increment(1);
        let finished = |outcome: &'static str| {
            metrics::histogram!(JOB_SECONDS, "kind" => kind.clone(), "outcome" => outcome)
                .record(started.elapsed().as_secs_f64());
        };
        let handler = self.registry.get(&job.kind);
        let cx = JobContext {
            job,
            lease,
            store: self.store.clone(),
            topics: self.topics.clone(),
            cancel: cancel.clone(),
        };
        self.announce(&cx.job, JobStatus::Running).await;
        let outcome = match &handler {
            None => Err(JobError::Permanent(format!(
                "no handler for job kind `{}`",
                cx.job.kind
            ))),
            Some(handler) => {
                tokio::select! {
                    result = handler.run(&cx) => result,
                    _ = cancel.cancelled() => Err(JobError::Cancelled),
                }
            }
        };
        let outcome = match outcome {
            Ok(done) if done.is_bare() && cx.job.project_id.is_none() => {
                // Completed in a batch by the completer task.
                finished("completed");
                let _ = done_tx.send(lease).await;
                return;
            }
            Ok(done) => match self.complete(&cx.job, lease, done).await {
                Ok(Some(())) => {
                    // Committed: the lease is gone with the job, so the heartbeat must
                    // not miss it while the outbox is flushed.
                    leave(running, lease.id);
                    self.flush(cx.job.project_id).await;
                    Ok(())
                }
                Ok(None) => {
                    finished("lost");
                    tracing::warn!("lease lost before completion; the result was discarded");
                    return;
                }
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(()) => {
                finished("completed");
                tracing::debug!(elapsed_ms, attempt, "job completed")
            }
            Err(JobError::Cancelled) => {
                finished("cancelled");
                tracing::info!("job stopped: lease lost or draining")
            }
            Err(error) => {
                let retry = error.retryable() && attempt < max_attempts;
                // The cause's own pause (a rate limit's Retry-After) when it is longer
                // than the backoff: an earlier attempt would only be refused again.
                let retry_in = retry.then(|| {
                    let backoff = self.config.retry_delay(attempt);
                    error
                        .retry_after()
                        .map_or(backoff, |after| after.max(backoff))
                });
                // Clients see the public message and this id; the log has the detail
                // under the same id, so a report from a client finds its log line.
                let error_id = error_id();
                let reported = Reported {
                    message: format!("{} (error {error_id})", error.public_message()),
                    detail: error.detail().to_owned(),
                    error_id,
                };
                let status = if retry_in.is_some() {
                    JobStatus::Retrying
                } else {
                    JobStatus::Failed
                };
                // The failure and its `job.status` commit together (the outbox).
                let result = async {
                    let mut tx = self.store.begin().await?;
                    let failed =
                        lifecycle::fail(&mut tx, lease, &reported.message, retry_in).await?;
                    if failed.is_some()
                        && let Some(project) = cx.job.project_id
                    {
                        let event = JobStatusEvent::of(&cx.job, project, status);
                        store::outbox::record(&mut tx, project, &[event]).await?;
                    }
                    tx.commit().await.map_err(store::StoreError::from)?;
                    Ok::<_, store::StoreError>(failed)
                }
                .await;
                finished(if retry_in.is_some() {
                    "retrying"
                } else {
                    "failed"
                });
                match result {
                    Ok(Some(stored)) => {
                        // As after a completion: the lease ended with this commit.
                        leave(running, lease.id);
                        tracing::warn!(
                            error_id = %reported.error_id,
                            error = %reported.detail,
                            attempt,
                            status = ?stored,
                            elapsed_ms,
                            retry_in_ms = retry_in.map(|d| d.as_millis() as u64),
                            "job failed"
                        );
                        self.flush(cx.job.project_id).await;
                        if let Some(handler) = &handler {
                            handler.failed(&cx, status, &reported).await;
                        }
                    }
                    Ok(None) => tracing::warn!(
                        error_id = %reported.error_id,
                        error = %reported.detail,
                        "lease lost before recording the failure"
                    ),
                    Err(e) => tracing::warn!(
                        error_id = %reported.error_id,
                        error = %reported.detail,
                        store_error = %e,
                        "recording the failure failed"
                    ),
                }
            }
        }
    }

    /// Publishes `job.status` running on the job's project topic, directly: the claim
    /// that made it running commits in a batch of claims, and the job's next status
    /// (completed, retrying, failed), which goes through the outbox, supersedes it.
    /// Jobs without a project have no audience.
    async fn announce(&self, job: &Job, status: JobStatus) {
        let Some(project) = job.project_id else {
            return;
        };
        let event = JobStatusEvent::of(job, project, status);
        self.topics
            .publish_project(project, std::slice::from_ref(&event))
            .await;
    }

    /// Publishes the outbox rows of a job's project after its transaction committed; a
    /// failure leaves them to the hub's relay.
    async fn flush(&self, project: Option<ProjectId>) {
        let Some(project) = project else {
            return;
        };
        if let Err(e) = self.outbox.flush(project).await {
            tracing::warn!(%project, error = %e, "events left in the outbox for the relay");
        }
    }

    /// Commits the handler's writes and the completion in one transaction, fenced by the
    /// lease; answers the events to publish, `None` (and nothing of it stays) when the
    /// lease is gone.
    async fn complete(&self, job: &Job, lease: Lease, done: Done) -> Result<Option<()>, JobError> {
        let mut tx = self.store.begin().await?;
        let mut events = done.events;
        let mut result = done.result;
        if let Some(writes) = done.writes {
            let written = writes.apply(&mut tx).await?;
            events.extend(written.events);
            result = written.result.or(result);
        }
        let finished = store::jobs::lifecycle::Done {
            result,
            usage: done.usage,
            summary: done.summary,
        };
        if !lifecycle::complete(&mut tx, lease, &finished).await? {
            return Ok(None);
        }
        if let Some(project) = job.project_id {
            // `job.status` completed first, then what the handler reports.
            events.insert(0, JobStatusEvent::of(job, project, JobStatus::Completed));
            store::outbox::record(&mut tx, project, &events).await?;
        }
        tx.commit().await.map_err(store::StoreError::from)?;
        Ok(Some(()))
    }

    /// After shutdown: running jobs get the drain timeout to finish; the rest are
    /// stopped and put back in the queue (without counting the attempt) and re-sent.
    async fn drain(&self, running: &RunningSet, jobs: &TaskTracker) {
        jobs.close();
        let timeout = self.config.drain_timeout();
        if tokio::time::timeout(timeout, jobs.wait()).await.is_ok() {
            return;
        }
        let left: Vec<Running> = running
            .lock()
            .map(|map| map.values().cloned().collect())
            .unwrap_or_default();
        for job in &left {
            job.cancel.cancel();
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), jobs.wait()).await;
        let leases: Vec<Lease> = left.iter().map(|r| r.lease).collect();
        let released = async {
            let mut conn = self.store.acquire().await?;
            lifecycle::release(&mut conn, &leases).await
        }
        .await;
        match released {
            Ok(ids) => {
                tracing::info!(
                    released = ids.len(),
                    "put unfinished jobs back in the queue"
                );
                let again: Vec<Dispatchable> = left
                    .iter()
                    .filter(|r| ids.contains(&r.lease.id))
                    .map(|r| Dispatchable {
                        id: r.lease.id,
                        queue: r.queue.clone(),
                    })
                    .collect();
                if let Err(e) = self.dispatch.send(&again).await {
                    tracing::warn!(error = %e, "re-sending released jobs failed; the scheduler will");
                }
            }
            Err(e) => tracing::warn!(error = %e, "releasing jobs failed; their leases will expire"),
        }
    }
}

/// Extends the leases of running jobs every heartbeat, cancels jobs whose lease is gone,
/// and reports the worker alive.
async fn heartbeat_loop(worker: Worker, running: RunningSet, stop: CancellationToken) {
    let mut tick = tokio::time::interval(worker.config.heartbeat());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        if let Err(e) = worker.dispatch.report_worker(&worker.id).await {
            tracing::debug!(error = %e, "could not report the worker");
        }
        let held: Vec<Running> = running
            .lock()
            .map(|map| map.values().cloned().collect())
            .unwrap_or_default();
        if held.is_empty() {
            continue;
        }
        let leases: Vec<Lease> = held.iter().map(|r| r.lease).collect();
        let extended = async {
            let mut conn = worker.store.acquire().await?;
            lifecycle::heartbeat(&mut conn, &leases, worker.config.lease()).await
        }
        .await;
        match extended {
            Ok(ids) => {
                // A job whose completion (or failure) committed while this heartbeat was
                // on its way left the running set right after that commit: its lease
                // went with it, which is no news. One still in the set lost its lease
                // (reclaimed or cancelled) and must stop.
                let still_running = |id: &JobId| {
                    running
                        .lock()
                        .map(|map| map.contains_key(id))
                        .unwrap_or(true)
                };
                for job in held.iter().filter(|r| !ids.contains(&r.lease.id)) {
                    if still_running(&job.lease.id) {
                        tracing::warn!(job_id = %job.lease.id, "lease gone; stopping the job");
                    }
                    job.cancel.cancel();
                }
            }
            Err(e) => tracing::warn!(error = %e, "heartbeat failed; leases may expire"),
        }
    }
}

/// Takes a job out of the running set: the heartbeat no longer extends its lease.
fn leave(running: &RunningSet, id: JobId) {
    if let Ok(mut map) = running.lock() {
        map.remove(&id);
    }
}

/// Completes bare jobs in batches: one statement per batch of finished jobs.
async fn complete_batches(store: Store, mut done: mpsc::Receiver<Lease>) {
    let mut batch = Vec::with_capacity(COMPLETE_BATCH);
    while done.recv_many(&mut batch, COMPLETE_BATCH).await > 0 {
        let completing = Instant::now();
        let result = async {
            let mut conn = store.acquire().await?;
            lifecycle::complete_many(&mut conn, &batch).await
        }
        .await;
        match result {
            Ok(ids) if ids.len() < batch.len() => {
                tracing::warn!(
                    lost = batch.len() - ids.len(),
                    "completions rejected: leases lost"
                );
            }
            Ok(_) => tracing::debug!(
                jobs = batch.len(),
                elapsed_us = completing.elapsed().as_micros() as u64,
                "completed a batch"
            ),
            Err(e) => {
                tracing::warn!(error = %e, jobs = batch.len(), "batch completion failed; the jobs will be reclaimed")
            }
        }
        batch.clear();
    }
}

/// A short random id for one failure: eight hex digits are enough to find a log line
/// among a day's failures, and short enough to read out from a client's screen.
fn error_id() -> String {
    format!("{:08x}", rand::random::<u32>())
}
