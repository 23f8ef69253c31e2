//! Enqueueing: idempotency keys (per project, NULL project included), bulk enqueue with
//! duplicate keys, and delayed jobs that run only once due, dispatched by the scheduler.

use crate::support::*;
use protocol::entities::JobStatus;
use std::collections::HashSet;
use std::time::Duration;
use store::jobs::lifecycle::{self, Dispatchable, NewJob};
use worker::Registry;

fn keyed(key: &str, project: Option<protocol::ProjectId>, payload: i64) -> NewJob {
    let mut job = NewJob::new("test.noop", serde_json::json!({ "n": payload }));
    job.idempotency_key = Some(key.to_owned());
    job.project_id = project;
    job
}

#[tokio::test]
async fn the_same_key_answers_the_same_job_per_project() {
    let env = Env::new().await;
    let (p1, p2) = (env.project().await, env.project().await);
    let mut conn = env.store.acquire().await.unwrap();

    let first = lifecycle::enqueue(&mut conn, &keyed("k", Some(p1), 1))
        .await
        .unwrap();
    assert!(first.created);
    let again = lifecycle::enqueue(&mut conn, &keyed("k", Some(p1), 2))
        .await
        .unwrap();
    assert!(
        !again.created,
        "a second enqueue with the key creates nothing"
    );
    assert_eq!(again.job.id, first.job.id);
    assert_eq!(
        again.job.payload,
        serde_json::json!({"n": 1}),
        "the existing job is answered unchanged"
    );

    let other = lifecycle::enqueue(&mut conn, &keyed("k", Some(p2), 3))
        .await
        .unwrap();
    assert!(
        other.created,
        "the same key in another project is another job"
    );
    assert_ne!(other.job.id, first.job.id);

    let global = lifecycle::enqueue(&mut conn, &keyed("k", None, 4))
        .await
        .unwrap();
    assert!(global.created);
    assert_ne!(global.job.id, first.job.id);
    assert_ne!(global.job.id, other.job.id);
    let global_again = lifecycle::enqueue(&mut conn, &keyed("k", None, 5))
        .await
        .unwrap();
    assert!(
        !global_again.created,
        "keys without a project are unique too"
    );
    assert_eq!(global_again.job.id, global.job.id);
    drop(conn);

    assert_eq!(
        env.count("SELECT count(*) FROM jobs WHERE idempotency_key = 'k'")
            .await,
        3
    );
    assert_eq!(
        env.statuses(first.job.id).await,
        ["queued"],
        "a repeated enqueue logs nothing"
    );

    // Jobs without a key are never merged.
    let a = env.enqueue(noop_job()).await;
    let b = env.enqueue(noop_job()).await;
    assert_ne!(a.id, b.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_enqueues_with_one_key_make_one_job() {
    let env = Env::new().await;
    let project = env.project().await;
    let store = env.connect(12).await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut tx = store.begin().await.unwrap();
                let enqueued = lifecycle::enqueue(&mut tx, &keyed("once", Some(project), i))
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                enqueued
            })
        })
        .collect();
    let mut ids = HashSet::new();
    let mut created = 0;
    for task in tasks {
        let enqueued = task.await.unwrap();
        ids.insert(enqueued.job.id);
        created += usize::from(enqueued.created);
    }
    assert_eq!(ids.len(), 1, "every caller got the same job");
    assert_eq!(created, 1, "exactly one caller created it");
    assert_eq!(env.count("SELECT count(*) FROM jobs").await, 1);
}

#[tokio::test]
async fn enqueue_many_skips_duplicate_keys() {
    let env = Env::new().await;
    let project = env.project().await;
    // Exists before the batch.
    env.enqueue(keyed("bulk-0", Some(project), -1)).await;

    let mut jobs = Vec::new();
    // 980 keyed jobs; bulk-0 already exists, so 979 are new.
    for i in 0..980 {
        jobs.push(keyed(&format!("bulk-{i}"), Some(project), i));
    }
    // 10 repeats of keys earlier in the same batch (and of the existing one): none new.
    for i in 0..10 {
        jobs.push(keyed(&format!("bulk-{i}"), Some(project), 10_000 + i));
    }
    // 10 without a key, all new; two of them not due yet.
    for i in 0..10 {
        let mut job = NewJob::new("test.noop", serde_json::json!({ "free": i }));
        job.project_id = Some(project);
        if i < 2 {
            job.run_after = Some(chrono::Utc::now() + chrono::Duration::hours(1));
        }
        jobs.push(job);
    }
    assert_eq!(jobs.len(), 1_000);

    let mut conn = env.store.acquire().await.unwrap();
    let due: Vec<Dispatchable> = lifecycle::enqueue_many(&mut conn, &jobs).await.unwrap();
    drop(conn);
    let distinct: HashSet<_> = due.iter().map(|d| d.id).collect();
    assert_eq!(distinct.len(), due.len());
    assert_eq!(
        due.len(),
        979 + 8,
        "created jobs that are due come back to dispatch"
    );
    assert_eq!(env.count("SELECT count(*) FROM jobs").await, 1 + 979 + 10);
    assert_eq!(
        env.count("SELECT count(DISTINCT idempotency_key) FROM jobs")
            .await,
        980
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM jobs WHERE idempotency_key = 'bulk-0' AND payload = '{\"n\": -1}'"
        )
        .await,
        1,
        "the job that existed is kept as it was"
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM jobs WHERE idempotency_key = 'bulk-5' AND payload = '{\"n\": 5}'"
        )
        .await,
        1,
        "within a batch the first of a key wins"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM job_events WHERE message = 'queued'")
            .await,
        990,
        "one queued event per created job"
    );

    // Enqueueing the same batch again creates nothing.
    let mut conn = env.store.acquire().await.unwrap();
    let again = lifecycle::enqueue_many(&mut conn, &jobs[..990])
        .await
        .unwrap();
    assert!(again.is_empty());
    assert_eq!(env.count("SELECT count(*) FROM jobs").await, 990);
}

#[tokio::test]
async fn a_delayed_job_runs_once_due_after_the_scheduler_dispatches_it() {
    let env = Env::new().await;
    let counting = PerJob::default();
    let (stop, handle) = env.worker(
        fast_config(),
        Registry::new().register("test.noop", counting.clone()),
    );
    let mut job = noop_job();
    let due_at = chrono::Utc::now() + chrono::Duration::milliseconds(1_500);
    job.run_after = Some(due_at);
    let job = env.enqueue(job).await;
    // A premature dispatch entry: the worker reads it but must not claim the job.
    env.dispatch
        .send(&[Dispatchable {
            id: job.id,
            queue: job.queue.clone(),
        }])
        .await
        .unwrap();

    let scheduler = env.scheduler(fast_scheduler());
    let mut safety = None;
    // Until shortly before it is due: the scheduler does not dispatch it, no worker runs it.
    while chrono::Utc::now() < due_at - chrono::Duration::milliseconds(300) {
        scheduler.tick(&mut safety).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let waiting = env.job(job.id).await;
    assert_eq!(waiting.status, JobStatus::Queued);
    assert_eq!(waiting.attempts, 0);
    assert_eq!(counting.total(), 0, "a job was run before it was due");
    assert_eq!(
        env.count("SELECT count(*) FROM jobs WHERE dispatched_at IS NOT NULL")
            .await,
        0,
        "the scheduler dispatched a job that is not due"
    );

    // Once due, the scheduler dispatches it and the worker runs it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        scheduler.tick(&mut safety).await.unwrap();
        if env.job(job.id).await.status == JobStatus::Completed {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done = env.job(job.id).await;
    assert_eq!(done.attempts, 1);
    assert!(
        done.started_at.unwrap() >= done.run_after,
        "started before it was due"
    );
    assert_eq!(counting.runs().get(&job.id), Some(&1));
    stop.cancel();
    handle.await.unwrap();
}
