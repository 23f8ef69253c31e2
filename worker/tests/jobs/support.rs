//! Test harness for the job runtime: a fresh database and Redis key prefix per test
//! (from the shared test kit), and helpers to enqueue jobs and run workers and
//! schedulers in-process.

use futures_util::future::BoxFuture;
use protocol::entities::JobEvent;
use protocol::{JobId, ProjectId, UserId};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::Store;
use store::dispatch::Dispatch;
use store::jobs::lifecycle::{self, NewJob};
use testkit::{Database, Prefix};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use worker::{
    Done, Handler, JobContext, JobError, Registry, Scheduler, SchedulerConfig, WorkerConfig,
};

/// A database, Redis prefix and store of its own; dropped when the test ends.
pub struct Env {
    pub store: Store,
    pub dispatch: Dispatch,
    pub redis: redis::Client,
    // Declared last so they are dropped after the pool and connections above.
    pub prefix: Prefix,
    pub db: Database,
}

impl Env {
    pub async fn new() -> Self {
        let db = Database::create().await;
        let store = Store::connect(&db.url, 10).await.expect("connect");
        let prefix = Prefix::new("test");
        let redis = redis::Client::open(prefix.redis_url.as_str()).expect("redis url");
        let manager = redis::aio::ConnectionManager::new(redis.clone())
            .await
            .expect("redis");
        let dispatch = Dispatch::new(manager, prefix.prefix.clone());
        Self {
            store,
            dispatch,
            redis,
            prefix,
            db,
        }
    }

    /// Enqueues and dispatches one job.
    pub async fn enqueue(&self, job: NewJob) -> protocol::entities::Job {
        let mut conn = self.store.acquire().await.unwrap();
        let enqueued = lifecycle::enqueue(&mut conn, &job).await.unwrap();
        if enqueued.created && job.run_after.is_none() {
            self.dispatch
                .send(&[lifecycle::Dispatchable {
                    id: enqueued.job.id,
                    queue: enqueued.job.queue.clone(),
                }])
                .await
                .unwrap();
        }
        enqueued.job
    }

    pub async fn job(&self, id: protocol::JobId) -> protocol::entities::Job {
        let mut conn = self.store.acquire().await.unwrap();
        store::jobs::get(&mut conn, id).await.unwrap()
    }

    /// Starts a worker; stop it by cancelling the token and awaiting the handle.
    pub fn worker(
        &self,
        config: WorkerConfig,
        registry: Registry,
    ) -> (CancellationToken, JoinHandle<()>) {
        self.worker_on(self.store.clone(), config, registry)
    }

    /// Starts a worker on a store (connection pool) of its own, as another process would.
    pub fn worker_on(
        &self,
        store: Store,
        config: WorkerConfig,
        registry: Registry,
    ) -> (CancellationToken, JoinHandle<()>) {
        let shutdown = CancellationToken::new();
        let worker = worker::Worker::new(
            store,
            self.dispatch.clone(),
            self.redis.clone(),
            config,
            registry,
        );
        let token = shutdown.clone();
        let handle = tokio::spawn(async move {
            worker.run(token).await.expect("worker runs");
        });
        (shutdown, handle)
    }

    /// Waits until `check` holds for the job, or fails after `within`.
    pub async fn wait_for(
        &self,
        id: protocol::JobId,
        within: Duration,
        check: impl Fn(&protocol::entities::Job) -> bool,
    ) -> protocol::entities::Job {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let job = self.job(id).await;
            if check(&job) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out; job is {job:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A fast worker configuration for tests.
pub fn fast_config() -> WorkerConfig {
    WorkerConfig {
        concurrency: 4,
        lease_ms: 2_000,
        job_heartbeat_ms: 300,
        drain_timeout_ms: 2_000,
        backoff_ms: vec![50, 100, 200],
        ..WorkerConfig::default()
    }
}

/// Counts its runs per job id and succeeds.
#[derive(Clone, Default)]
pub struct Counting {
    pub runs: Arc<AtomicUsize>,
}

impl Handler for Counting {
    fn run<'a>(
        &'a self,
        _cx: &'a JobContext,
    ) -> futures_util::future::BoxFuture<'a, Result<Done, JobError>> {
        Box::pin(async move {
            self.runs.fetch_add(1, Ordering::SeqCst);
            Ok(Done::default())
        })
    }
}

pub fn noop_job() -> NewJob {
    NewJob::new("test.noop", Value::Null)
}

impl Env {
    /// Another pool on this test's database (a second worker or scheduler process).
    pub async fn connect(&self, max_connections: u32) -> Store {
        Store::connect(&self.db.url, max_connections)
            .await
            .expect("connect")
    }

    /// A project to own jobs.
    pub async fn project(&self) -> ProjectId {
        let mut conn = self.store.acquire().await.unwrap();
        store::projects::create(&mut conn, &UserId::from("tester"), "Test project", "")
            .await
            .unwrap()
            .id
    }

    /// Enqueues jobs in one statement and dispatches the created ones that are due.
    pub async fn enqueue_many(&self, jobs: &[NewJob]) -> Vec<lifecycle::Dispatchable> {
        let mut conn = self.store.acquire().await.unwrap();
        let due = lifecycle::enqueue_many(&mut conn, jobs).await.unwrap();
        self.dispatch.send(&due).await.unwrap();
        due
    }

    /// The job's log, oldest first.
    pub async fn events(&self, id: JobId) -> Vec<JobEvent> {
        let mut conn = self.store.acquire().await.unwrap();
        store::jobs::events(&mut conn, id).await.unwrap()
    }

    /// The `status` messages of the job's log, oldest first.
    pub async fn statuses(&self, id: JobId) -> Vec<String> {
        self.events(id)
            .await
            .into_iter()
            .filter(|e| e.kind == "status")
            .map(|e| e.message)
            .collect()
    }

    /// Runs a query that answers one number.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.store.pool)
            .await
            .unwrap()
    }

    /// Waits until `check` answers true, or fails after `within` naming `what`.
    pub async fn wait_until(
        &self,
        what: &str,
        within: Duration,
        mut check: impl AsyncFnMut() -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + within;
        while !check().await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A scheduler on this test's database and Redis prefix.
    pub fn scheduler(&self, config: SchedulerConfig) -> Scheduler {
        Scheduler::new(self.store.clone(), self.dispatch.clone(), config)
    }

    /// Runs a scheduler (election, then sweeps every tick) until the token is cancelled.
    pub fn run_scheduler(&self, config: SchedulerConfig) -> (CancellationToken, JoinHandle<()>) {
        let shutdown = CancellationToken::new();
        let scheduler = self.scheduler(config);
        let token = shutdown.clone();
        let handle = tokio::spawn(scheduler.run(token));
        (shutdown, handle)
    }

    /// Deletes every Redis key of this test's prefix (never anything else: other tests
    /// share the server), as if Redis had lost its data. Answers how many were deleted.
    pub async fn lose_redis_data(&self) -> usize {
        self.prefix.delete_keys().await.unwrap()
    }

    /// The lease token a running job holds now (internal: not part of [`Job`]).
    pub async fn lease_token(&self, id: JobId) -> Option<uuid::Uuid> {
        sqlx::query_scalar("SELECT lease_token FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&self.store.pool)
            .await
            .unwrap()
    }
}

/// A scheduler configuration for tests: quick sweeps, quick retries, no cron entries.
pub fn fast_scheduler() -> SchedulerConfig {
    SchedulerConfig {
        tick: Duration::from_millis(50),
        safety_every: Duration::from_secs(30),
        stale: Duration::from_secs(30),
        backoff: vec![
            Duration::from_millis(50),
            Duration::from_millis(100),
            Duration::from_millis(200),
        ],
        election_every: Duration::from_millis(200),
        cron: Vec::new(),
        ..SchedulerConfig::default()
    }
}

/// A handler made of an async function of the job's context.
pub struct FnHandler<F>(pub F);

impl<F, Fut> Handler for FnHandler<F>
where
    F: Fn(JobContext) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Done, JobError>> + Send + 'static,
{
    fn run<'a>(&'a self, cx: &'a JobContext) -> BoxFuture<'a, Result<Done, JobError>> {
        Box::pin((self.0)(cx.clone()))
    }
}

/// Counts its runs per job id, optionally pausing first, and succeeds.
#[derive(Clone, Default)]
pub struct PerJob {
    pub runs: Arc<Mutex<HashMap<JobId, usize>>>,
    pub pause: Duration,
}

impl PerJob {
    pub fn pausing(pause: Duration) -> Self {
        Self {
            pause,
            ..Self::default()
        }
    }

    pub fn runs(&self) -> HashMap<JobId, usize> {
        self.runs.lock().unwrap().clone()
    }

    pub fn total(&self) -> usize {
        self.runs.lock().unwrap().values().sum()
    }
}

impl Handler for PerJob {
    fn run<'a>(&'a self, cx: &'a JobContext) -> BoxFuture<'a, Result<Done, JobError>> {
        Box::pin(async move {
            *self.runs.lock().unwrap().entry(cx.job.id).or_default() += 1;
            if !self.pause.is_zero() {
                tokio::time::sleep(self.pause).await;
            }
            Ok(Done::default())
        })
    }
}

/// `n` no-op jobs with no key.
pub fn noop_jobs(n: usize) -> Vec<NewJob> {
    (0..n).map(|_| noop_job()).collect()
}

/// Asserts every job of the database completed on its first attempt, claimed once, and
/// that `handler` ran each of them exactly once.
pub async fn assert_each_ran_once(env: &Env, handler: &PerJob, jobs: usize) {
    let runs = handler.runs();
    assert_eq!(runs.len(), jobs, "jobs that ran");
    let repeated: Vec<_> = runs.iter().filter(|(_, n)| **n != 1).collect();
    assert!(repeated.is_empty(), "jobs run more than once: {repeated:?}");
    let n = i64::try_from(jobs).unwrap();
    let done = env
        .count("SELECT count(*) FROM jobs WHERE status = 'completed' AND attempts = 1")
        .await;
    assert_eq!(done, n, "jobs completed on their first attempt");
    let claims = env
        .count("SELECT count(*) FROM job_events WHERE kind = 'status' AND message = 'running'")
        .await;
    assert_eq!(claims, n, "claims (running events)");
    let completions = env
        .count("SELECT count(*) FROM job_events WHERE kind = 'status' AND message = 'completed'")
        .await;
    assert_eq!(completions, n, "completed events");
}
