//! A worker process killed with SIGKILL in the middle of a job: the job's lease expires,
//! the scheduler puts it back, another worker completes it once, and a late write with
//! the killed attempt's lease is rejected.
// clippy.toml allows unwrap/expect in `#[test]` functions only, not in the helpers a
// test crate is made of; allowed here once for the whole crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use testkit::{Database, Prefix, redis_url};

use futures_util::future::BoxFuture;
use protocol::entities::JobStatus;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use store::dispatch::Dispatch;
use store::jobs::lifecycle::{self, Lease, NewJob};
use tokio_util::sync::CancellationToken;
use worker::{Done, Handler, JobContext, JobError, Registry};

const BIN: &str = env!("CARGO_BIN_EXE_draftline");
const LEASE_MS: u64 = 1_500;

#[derive(Clone, Default)]
struct Quick(Arc<AtomicUsize>);

impl Handler for Quick {
    fn run<'a>(&'a self, _: &'a JobContext) -> BoxFuture<'a, Result<Done, JobError>> {
        Box::pin(async move {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Done {
                result: Some(serde_json::json!({"by": "survivor"})),
                ..Done::default()
            })
        })
    }
}

#[tokio::test]
async fn a_killed_workers_job_is_reclaimed_and_completed_once() {
    let db = Database::reserve("kill");
    let url = db.url.clone();
    let prefix = Prefix::new("kill");
    let migrate = Command::new(BIN)
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert!(migrate.status.success());

    let store = store::Store::connect(&url, 5).await.unwrap();
    let client = redis::Client::open(redis_url()).unwrap();
    let manager = redis::aio::ConnectionManager::new(client.clone())
        .await
        .unwrap();
    let dispatch = Dispatch::new(manager, prefix.prefix.clone());
    let queue = store::queue::Queue::new(store.clone(), dispatch.clone());
    dispatch.ensure_group("default").await.unwrap();
    let job = queue
        .enqueue(&NewJob::new(
            "debug.sleep",
            serde_json::json!({"ms": 60_000}),
        ))
        .await
        .unwrap()
        .job;

    let mut doomed = Command::new(BIN)
        .args(["worker", "--concurrency", "2"])
        .env("DATABASE_URL", &url)
        .env("REDIS_URL", redis_url())
        .env("DRAFTLINE_REDIS_PREFIX", prefix.as_str())
        .env("DRAFTLINE_LEASE_MS", LEASE_MS.to_string())
        .env("DRAFTLINE_JOB_HEARTBEAT_MS", "500")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // Wait for the doomed worker to hold the job, and note its lease.
    let pool = store.pool.clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    let old_token: uuid::Uuid = loop {
        let row: (String, Option<uuid::Uuid>) =
            sqlx::query_as("SELECT status, lease_token FROM jobs WHERE id = $1")
                .bind(job.id)
                .fetch_one(&pool)
                .await
                .unwrap();
        if let ("running", Some(token)) = (row.0.as_str(), row.1) {
            break token;
        }
        assert!(Instant::now() < deadline, "the worker never took the job");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Let a heartbeat or two pass, then kill it without any chance to clean up.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let killed = Command::new("kill")
        .args(["-KILL", &doomed.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let _ = doomed.wait();
    let killed_at = Instant::now();

    let stop = CancellationToken::new();
    let scheduler = worker::Scheduler::new(
        store.clone(),
        dispatch.clone(),
        worker::SchedulerConfig {
            tick: Duration::from_millis(100),
            backoff: vec![Duration::from_millis(10)],
            ..worker::SchedulerConfig::default()
        },
    );
    let scheduling = tokio::spawn(scheduler.run(stop.clone()));
    let runs = Quick::default();
    let survivor = worker::Worker::new(
        store.clone(),
        dispatch.clone(),
        client.clone(),
        worker::WorkerConfig {
            lease_ms: LEASE_MS,
            ..worker::WorkerConfig::default()
        },
        Registry::new().register("debug.sleep", runs.clone()),
    );
    let working = tokio::spawn(survivor.run(stop.clone()));

    let deadline = Instant::now() + Duration::from_secs(20);
    let finished = loop {
        let mut conn = store.acquire().await.unwrap();
        let current = store::jobs::get(&mut conn, job.id).await.unwrap();
        if current.status == JobStatus::Completed {
            break current;
        }
        assert!(Instant::now() < deadline, "never completed: {current:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let recovered_in = killed_at.elapsed();
    assert!(
        recovered_in < Duration::from_millis(LEASE_MS) + Duration::from_secs(3),
        "reclaimed within the lease (plus a tick): {recovered_in:?}"
    );
    assert_eq!(finished.attempts, 2);
    assert_eq!(finished.result, Some(serde_json::json!({"by": "survivor"})));
    assert_eq!(runs.0.load(Ordering::SeqCst), 1, "completed once");

    // The killed attempt's lease cannot write any more.
    let mut conn = store.acquire().await.unwrap();
    let late = Lease {
        id: job.id,
        token: old_token,
    };
    let done = lifecycle::Done {
        result: Some(serde_json::json!({"by": "zombie"})),
        ..lifecycle::Done::default()
    };
    assert!(!lifecycle::complete(&mut conn, late, &done).await.unwrap());
    assert_eq!(
        lifecycle::fail(&mut conn, late, "late", None)
            .await
            .unwrap(),
        None
    );
    let after = store::jobs::get(&mut conn, job.id).await.unwrap();
    assert_eq!(after.status, JobStatus::Completed);
    assert_eq!(after.result, Some(serde_json::json!({"by": "survivor"})));
    let events = store::jobs::events(&mut conn, job.id).await.unwrap();
    let statuses: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "status")
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(
        statuses,
        ["queued", "running", "retrying", "running", "completed"]
    );
    drop(conn);

    stop.cancel();
    working.await.unwrap().unwrap();
    scheduling.await.unwrap();
    store.pool.close().await;
    db.drop_now().await.unwrap();
}
