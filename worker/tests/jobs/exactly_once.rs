//! Exactly-once execution: two workers racing on the same queue, and duplicate dispatch
//! entries, still run every job once.

use crate::support::*;
use redis::AsyncCommands;
use redis::streams::StreamInfoGroupsReply;
use std::time::Duration;
use store::jobs::lifecycle::Dispatchable;
use worker::{Registry, WorkerConfig};

fn config() -> WorkerConfig {
    WorkerConfig {
        concurrency: 8,
        ..fast_config()
    }
}

/// Waits until every entry of the default stream was delivered and acknowledged, so a
/// duplicate still waiting in Redis cannot run after the assertions.
async fn wait_for_empty_stream(env: &Env) {
    let key = env.dispatch.stream_key("default");
    let mut conn = env.redis.get_multiplexed_async_connection().await.unwrap();
    env.wait_until(
        "the stream to be consumed",
        Duration::from_secs(10),
        async || {
            let groups: StreamInfoGroupsReply = conn.xinfo_groups(&key).await.unwrap();
            groups
                .groups
                .iter()
                .all(|g| g.pending == 0 && g.lag == Some(0))
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_run_each_of_a_thousand_jobs_once() {
    let env = Env::new().await;
    let handler = PerJob::default();
    let registry = Registry::new().register("test.noop", handler.clone());
    let (stop_a, a) = env.worker_on(env.connect(6).await, config(), registry.clone());
    let (stop_b, b) = env.worker_on(env.connect(6).await, config(), registry);

    let due = env.enqueue_many(&noop_jobs(1_000)).await;
    assert_eq!(due.len(), 1_000);
    env.wait_until("1,000 completions", Duration::from_secs(30), async || {
        env.count("SELECT count(*) FROM jobs WHERE status = 'completed'")
            .await
            == 1_000
    })
    .await;
    wait_for_empty_stream(&env).await;
    assert_each_ran_once(&env, &handler, 1_000).await;

    stop_a.cancel();
    stop_b.cancel();
    a.await.unwrap();
    b.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_dispatch_entries_run_a_job_once() {
    let env = Env::new().await;
    let handler = PerJob::pausing(Duration::from_millis(2));
    let registry = Registry::new().register("test.noop", handler.clone());
    let (stop_a, a) = env.worker_on(env.connect(6).await, config(), registry.clone());
    let (stop_b, b) = env.worker_on(env.connect(6).await, config(), registry);

    let due = env.enqueue_many(&noop_jobs(300)).await;
    // Every id twice more, behind the first entries: by the time they are read, the job
    // may be queued, running or finished.
    let doubled: Vec<Dispatchable> = due.iter().flat_map(|d| [d.clone(), d.clone()]).collect();
    env.dispatch.send(&doubled).await.unwrap();

    env.wait_until("300 completions", Duration::from_secs(20), async || {
        env.count("SELECT count(*) FROM jobs WHERE status = 'completed'")
            .await
            == 300
    })
    .await;
    wait_for_empty_stream(&env).await;
    // Let anything a late duplicate started finish before counting.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_each_ran_once(&env, &handler, 300).await;

    stop_a.cancel();
    stop_b.cancel();
    a.await.unwrap();
    b.await.unwrap();
}

#[tokio::test]
async fn entries_a_dead_reader_took_are_taken_over() {
    let env = Env::new().await;
    env.dispatch.ensure_group("default").await.unwrap();
    for _ in 0..5 {
        env.enqueue(noop_job()).await;
    }
    // A worker read the entries, then died before claiming or acknowledging them.
    let mut conn = env.redis.get_multiplexed_async_connection().await.unwrap();
    let queues = ["default".to_owned()];
    let taken = store::dispatch::read(
        &mut conn,
        &env.dispatch,
        &queues,
        "worker-dead",
        10,
        Duration::from_millis(100),
    )
    .await
    .unwrap();
    assert_eq!(taken.len(), 5);

    // No scheduler runs: only taking the idle entries over brings the jobs to a worker.
    let handler = PerJob::default();
    let config = WorkerConfig {
        lease_ms: 600,
        ..fast_config()
    };
    let (stop, worker) = env.worker(
        config,
        Registry::new().register("test.noop", handler.clone()),
    );
    env.wait_until(
        "the taken-over jobs to complete",
        Duration::from_secs(5),
        async || {
            env.count("SELECT count(*) FROM jobs WHERE status = 'completed'")
                .await
                == 5
        },
    )
    .await;
    assert_each_ran_once(&env, &handler, 5).await;
    stop.cancel();
    worker.await.unwrap();
}
