//! Redis losing its data mid-run (streams, groups, entries): the scheduler re-dispatches
//! from Postgres and every job still completes, exactly once.

use crate::support::*;
use std::time::Duration;
use worker::{Registry, SchedulerConfig, WorkerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_completes_once_after_redis_loses_its_data() {
    let env = Env::new().await;
    let handler = PerJob::pausing(Duration::from_millis(20));
    let registry = Registry::new().register("test.noop", handler.clone());
    let config = WorkerConfig {
        concurrency: 8,
        ..fast_config()
    };
    let (stop_a, a) = env.worker_on(env.connect(5).await, config.clone(), registry.clone());
    let (stop_b, b) = env.worker_on(env.connect(5).await, config, registry);
    let (stop_scheduler, scheduler) = env.run_scheduler(SchedulerConfig {
        tick: Duration::from_millis(100),
        stale: Duration::from_millis(300),
        safety_every: Duration::from_millis(300),
        ..fast_scheduler()
    });

    const JOBS: usize = 400;
    let completed = async || {
        env.count("SELECT count(*) FROM jobs WHERE status = 'completed'")
            .await
    };
    env.enqueue_many(&noop_jobs(JOBS)).await;
    env.wait_until(
        "the first completions",
        Duration::from_secs(10),
        async || completed().await >= 40,
    )
    .await;
    let deleted = env.lose_redis_data().await;
    assert!(deleted > 0, "nothing to lose");
    let at_loss = completed().await;
    assert!(
        at_loss < 300,
        "{at_loss} of {JOBS} jobs were done before Redis lost its data; the test proves nothing"
    );

    // Again, once the scheduler has rebuilt the streams.
    env.wait_until(
        "progress after the loss",
        Duration::from_secs(10),
        async || completed().await >= at_loss + 40,
    )
    .await;
    if completed().await < 360 {
        env.lose_redis_data().await;
    }

    env.wait_until(
        "every job to complete",
        Duration::from_secs(20),
        async || completed().await == JOBS as i64,
    )
    .await;
    // Re-dispatched duplicates still in the streams must not run anything again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_each_ran_once(&env, &handler, JOBS).await;

    stop_a.cancel();
    stop_b.cancel();
    stop_scheduler.cancel();
    a.await.unwrap();
    b.await.unwrap();
    scheduler.await.unwrap();
}
