//! The cron table: however many schedulers tick (elected or not), and across a restart,
//! each entry enqueues one job per time bucket.

use crate::support::*;
use std::collections::BTreeMap;
use std::time::Duration;
use worker::{CronEntry, Schedule, Scheduler, SchedulerConfig};

const KIND: &str = "test.cron";

fn with_cron(schedule: Schedule) -> SchedulerConfig {
    SchedulerConfig {
        tick: Duration::from_millis(100),
        cron: vec![CronEntry {
            name: "beat".into(),
            kind: KIND.into(),
            schedule,
            payload: serde_json::json!({}),
        }],
        ..fast_scheduler()
    }
}

/// Cron jobs per idempotency key.
async fn per_key(env: &Env) -> BTreeMap<String, i64> {
    let rows: Vec<(Option<String>, i64)> = sqlx::query_as(
        "SELECT idempotency_key, count(*) FROM jobs WHERE kind = $1 GROUP BY 1 ORDER BY 1",
    )
    .bind(KIND)
    .fetch_all(&env.store.pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(key, n)| (key.expect("a cron job without a key"), n))
        .collect()
}

/// One job per bucket, and the buckets of ~3.5 s of one-second ticks.
async fn assert_once_per_bucket(env: &Env) {
    let keys = per_key(env).await;
    let repeated: Vec<_> = keys.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        repeated.is_empty(),
        "buckets enqueued more than once: {repeated:?}"
    );
    assert!(
        (3..=5).contains(&keys.len()),
        "{} buckets in ~3.5 s of a one-second schedule: {keys:?}",
        keys.len()
    );
    assert_eq!(
        env.count("SELECT count(*) FROM jobs").await,
        i64::try_from(keys.len()).unwrap()
    );
    // No bucket was skipped.
    let buckets: Vec<i64> = keys
        .keys()
        .filter_map(|k| k.rsplit(':').next()?.parse().ok())
        .collect();
    if buckets.len() == keys.len() {
        let mut sorted = buckets.clone();
        sorted.sort_unstable();
        assert!(
            sorted.windows(2).all(|w| w[1] == w[0] + 1),
            "buckets skipped: {sorted:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_ticking_directly_enqueue_once_per_bucket() {
    let env = Env::new().await;
    let config = with_cron(Schedule::Every(Duration::from_secs(1)));
    let mut tickers = Vec::new();
    for _ in 0..2 {
        // Each on a pool of its own, as two processes.
        let scheduler = Scheduler::new(env.connect(3).await, env.dispatch.clone(), config.clone());
        tickers.push(tokio::spawn(async move {
            let until = tokio::time::Instant::now() + Duration::from_millis(3_500);
            let mut safety = None;
            while tokio::time::Instant::now() < until {
                scheduler.tick(&mut safety).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    for ticker in tickers {
        ticker.await.unwrap();
    }
    assert_once_per_bucket(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_running_schedulers_enqueue_once_per_bucket() {
    let env = Env::new().await;
    let config = with_cron(Schedule::Every(Duration::from_secs(1)));
    let (stop_a, a) = env.run_scheduler(config.clone());
    let (stop_b, b) = env.run_scheduler(config);
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    stop_a.cancel();
    stop_b.cancel();
    a.await.unwrap();
    b.await.unwrap();
    assert_once_per_bucket(&env).await;
}

#[tokio::test]
async fn a_restarted_scheduler_does_not_fire_again_in_the_same_bucket() {
    let env = Env::new().await;
    let schedule = Schedule::Every(Duration::from_secs(3_600));
    // Should the hour turn between the two ticks, the bucket changed: try again.
    for _ in 0..3 {
        sqlx::query("DELETE FROM jobs")
            .execute(&env.store.pool)
            .await
            .unwrap();
        let before = schedule.bucket(chrono::Utc::now());
        env.scheduler(with_cron(schedule))
            .tick(&mut None)
            .await
            .unwrap();
        assert_eq!(
            per_key(&env).await.len(),
            1,
            "the first tick fires the entry"
        );
        // A new scheduler, fresh state, same bucket.
        env.scheduler(with_cron(schedule))
            .tick(&mut None)
            .await
            .unwrap();
        if schedule.bucket(chrono::Utc::now()) != before {
            continue;
        }
        let keys = per_key(&env).await;
        assert_eq!(keys.len(), 1, "{keys:?}");
        assert_eq!(keys.values().copied().collect::<Vec<_>>(), [1]);
        return;
    }
    panic!("the bucket kept changing");
}

/// Waits for the cron entry to fire in `more` buckets beyond the `seen` ones.
async fn wait_for_buckets(env: &Env, seen: usize, more: usize, why: &str) {
    env.wait_until(why, Duration::from_secs(4), async || {
        per_key(env).await.len() >= seen + more
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_scheduler_leads_once_the_leader_stops() {
    let env = Env::new().await;
    let config = with_cron(Schedule::Every(Duration::from_secs(1)));
    let (stop_a, a) = env.run_scheduler(config.clone());
    wait_for_buckets(&env, 0, 1, "the first scheduler to lead").await;
    let (stop_b, b) = env.run_scheduler(config);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop_a.cancel();
    a.await.unwrap();
    let seen = per_key(&env).await.len();
    wait_for_buckets(&env, seen, 2, "the second scheduler to take over").await;
    stop_b.cancel();
    b.await.unwrap();
    let keys = per_key(&env).await;
    assert!(keys.values().all(|n| *n == 1), "{keys:?}");
}

/// The leader's task dies (a panic, an abort) while its process, and its connection
/// pool, live on: the lock must not outlive the leader, or no scheduler anywhere leads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_task_dies_is_replaced() {
    let env = Env::new().await;
    let config = with_cron(Schedule::Every(Duration::from_secs(1)));
    let (_stop_a, a) = env.run_scheduler(config.clone());
    wait_for_buckets(&env, 0, 1, "the first scheduler to lead").await;
    a.abort();
    assert!(a.await.unwrap_err().is_cancelled());
    let seen = per_key(&env).await.len();

    // Another process: a pool of its own.
    let other = Scheduler::new(env.connect(3).await, env.dispatch.clone(), config);
    let stop_b = tokio_util::sync::CancellationToken::new();
    let b = tokio::spawn(other.run(stop_b.clone()));
    wait_for_buckets(
        &env,
        seen,
        2,
        "another scheduler to lead after the leader's task died",
    )
    .await;
    stop_b.cancel();
    b.await.unwrap();
}
