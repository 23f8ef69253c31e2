//! Test harness for the job runtime: a fresh database and Redis key prefix per test,
//! and helpers to enqueue jobs and run workers and schedulers in-process.

use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use store::Store;
use store::dispatch::Dispatch;
use store::jobs::lifecycle::{self, NewJob};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use worker::{Done, Handler, JobContext, JobError, Registry, WorkerConfig};

pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    if query.is_empty() {
        format!("{host}/{name}")
    } else {
        format!("{host}/{name}?{query}")
    }
}

/// A database, Redis prefix and store of its own; dropped when the test ends.
pub struct Env {
    pub name: String,
    pub url: String,
    pub prefix: String,
    pub store: Store,
    pub dispatch: Dispatch,
    pub redis: redis::Client,
}

impl Env {
    pub async fn new() -> Self {
        let name = format!("dl_test_{}", uuid::Uuid::new_v4().simple());
        let url = with_database(&admin_url(), &name);
        Store::create_database_if_missing(&url)
            .await
            .expect("create database");
        let store = Store::connect(&url, 10).await.expect("connect");
        store.migrate().await.expect("migrate");
        let prefix = format!("dl:test:{}:", uuid::Uuid::new_v4().simple());
        let redis = redis::Client::open(redis_url()).expect("redis url");
        let manager = redis::aio::ConnectionManager::new(redis.clone())
            .await
            .expect("redis");
        let dispatch = Dispatch::new(manager, prefix.clone());
        Self {
            name,
            url,
            prefix,
            store,
            dispatch,
            redis,
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
        let shutdown = CancellationToken::new();
        let worker = worker::Worker::new(
            self.store.clone(),
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

impl Drop for Env {
    fn drop(&mut self) {
        let admin = with_database(&admin_url(), "postgres");
        let name = self.name.clone();
        let prefix = self.prefix.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::query(&sql).execute(&mut conn).await;
                }
                if let Ok(client) = redis::Client::open(redis_url())
                    && let Ok(mut conn) = client.get_multiplexed_async_connection().await
                {
                    let keys: Vec<String> = redis::cmd("KEYS")
                        .arg(format!("{prefix}*"))
                        .query_async(&mut conn)
                        .await
                        .unwrap_or_default();
                    if !keys.is_empty() {
                        let _: Result<(), _> =
                            redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
                    }
                }
            });
        })
        .join();
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
