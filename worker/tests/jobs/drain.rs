//! Graceful drain on shutdown: running jobs finish within the drain timeout; past it they
//! are stopped and released back to the queue without counting the attempt.

use crate::support::*;
use protocol::entities::JobStatus;
use redis::AsyncCommands;
use redis::streams::StreamPendingReply;
use std::time::{Duration, Instant};
use worker::{Registry, WorkerConfig};

#[tokio::test]
async fn jobs_that_finish_within_the_drain_timeout_complete() {
    let env = Env::new().await;
    let handler = PerJob::pausing(Duration::from_millis(300));
    let config = WorkerConfig {
        concurrency: 4,
        drain_timeout_ms: 3_000,
        ..fast_config()
    };
    let (stop, worker) = env.worker(
        config,
        Registry::new().register("test.noop", handler.clone()),
    );

    let mut running = Vec::new();
    for _ in 0..4 {
        running.push(env.enqueue(noop_job()).await);
    }
    env.wait_until("four running jobs", Duration::from_secs(5), async || {
        handler.total() == 4
    })
    .await;
    // No free slot: these wait in the stream, and a draining worker must not take them.
    let waiting = [env.enqueue(noop_job()).await, env.enqueue(noop_job()).await];

    let at = Instant::now();
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), worker)
        .await
        .expect("the worker did not stop")
        .unwrap();
    assert!(
        at.elapsed() < Duration::from_secs(2),
        "drain took {:?}",
        at.elapsed()
    );

    for job in &running {
        let job = env.job(job.id).await;
        assert_eq!(job.status, JobStatus::Completed, "{job:?}");
        assert_eq!(job.attempts, 1);
    }
    for job in &waiting {
        let job = env.job(job.id).await;
        assert_eq!(
            job.status,
            JobStatus::Queued,
            "taken while draining: {job:?}"
        );
        assert_eq!(job.attempts, 0);
    }
    assert_eq!(handler.total(), 4);

    // Another worker takes the two that waited.
    let (stop, worker) = env.worker(
        fast_config(),
        Registry::new().register("test.noop", handler.clone()),
    );
    for job in &waiting {
        let done = env
            .wait_for(job.id, Duration::from_secs(5), |j| {
                j.status == JobStatus::Completed
            })
            .await;
        assert_eq!(done.attempts, 1);
    }
    assert_eq!(handler.total(), 6);
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn a_job_past_the_drain_timeout_is_released_and_runs_elsewhere() {
    let env = Env::new().await;
    let slow = PerJob::pausing(Duration::from_secs(5));
    let config = WorkerConfig {
        drain_timeout_ms: 300,
        ..fast_config()
    };
    let (stop, worker) = env.worker(config, Registry::new().register("test.noop", slow.clone()));
    let job = env.enqueue(noop_job()).await;
    env.wait_until("the job to start", Duration::from_secs(5), async || {
        slow.total() == 1
    })
    .await;
    let running = env.job(job.id).await;
    assert_eq!(running.status, JobStatus::Running);
    assert_eq!(running.attempts, 1);

    let at = Instant::now();
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(4), worker)
        .await
        .expect("the worker waited for the job past its drain timeout")
        .unwrap();
    assert!(
        at.elapsed() < Duration::from_secs(2),
        "drain took {:?}",
        at.elapsed()
    );

    let released = env.job(job.id).await;
    assert_eq!(released.status, JobStatus::Queued);
    assert_eq!(released.attempts, 0, "the released attempt was counted");
    assert_eq!(released.lease_owner, None);
    assert_eq!(env.lease_token(job.id).await, None);
    assert_eq!(env.statuses(job.id).await.last().unwrap(), "released");

    // The draining worker re-sent it. Entries left pending with the stopped worker only
    // move on once idle for a whole lease (XAUTOCLAIM).
    let mut redis = env.redis.get_multiplexed_async_connection().await.unwrap();
    let pending: StreamPendingReply = redis
        .xpending(env.dispatch.stream_key("default"), store::dispatch::GROUP)
        .await
        .unwrap();

    // Another worker (no scheduler runs) takes it at once, not after a lease, and
    // completes it.
    let fast = PerJob::default();
    let config = WorkerConfig {
        lease_ms: 10_000,
        ..fast_config()
    };
    let (stop, worker) = env.worker(config, Registry::new().register("test.noop", fast.clone()));
    let deadline = Instant::now() + Duration::from_secs(3);
    let done = loop {
        let job = env.job(job.id).await;
        if !matches!(job.status, JobStatus::Queued | JobStatus::Running) {
            break job;
        }
        assert!(
            Instant::now() < deadline,
            "the released job did not reach another worker: {job:?}; \
             entries pending with the stopped worker: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        pending.count(),
        0,
        "entries left pending with the stopped worker: {pending:?}"
    );
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.attempts, 1);
    assert_eq!(fast.runs().get(&job.id), Some(&1));
    assert_eq!(
        env.statuses(job.id).await,
        ["queued", "running", "released", "running", "completed"]
    );
    stop.cancel();
    worker.await.unwrap();
}
