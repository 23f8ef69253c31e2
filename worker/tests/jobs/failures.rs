//! Failures: retries with backoff up to `max_attempts`, permanent errors, unknown kinds,
//! typed failures (public message and error id stored, detail only logged, a cause's
//! own retry pause honoured), expired leases reclaimed and fenced, and an admin cancel
//! stopping a running job.

use crate::support::*;
use protocol::JobId;
use protocol::entities::{Job, JobStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use store::jobs::lifecycle::{self, Lease, NewJob};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use worker::{Done, Failure, JobError, Registry, SchedulerConfig, WorkerConfig};

/// The stored error: `message`, then the error id the log line carries.
fn assert_public(error: Option<&str>, message: &str) {
    let error = error.unwrap_or_default();
    let id = error
        .strip_prefix(message)
        .and_then(|rest| rest.strip_prefix(" (error "))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{error:?} is not {message:?} with an error id"));
    assert!(
        id.len() == 8 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{error:?}"
    );
}

/// Fails retryably until it has run `failures` times, then succeeds.
fn flaky(failures: usize, runs: Arc<AtomicUsize>) -> Registry {
    Registry::new().register(
        "test.flaky",
        FnHandler(move |_cx| {
            let runs = runs.clone();
            async move {
                let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
                if n <= failures {
                    Err(JobError::Retryable(format!("flaky {n}")))
                } else {
                    Ok(Done::default())
                }
            }
        }),
    )
}

/// A slow handler: hands the test its cancel token, then works for `work` unless
/// stopped, and counts the runs that got to the end.
struct Slow {
    started: mpsc::UnboundedReceiver<(JobId, CancellationToken)>,
    finished: Arc<AtomicUsize>,
}

fn slow(work: Duration, result: bool) -> (Registry, Slow) {
    let (tx, started) = mpsc::unbounded_channel();
    let finished = Arc::new(AtomicUsize::new(0));
    let done = finished.clone();
    let registry = Registry::new().register(
        "test.slow",
        FnHandler(move |cx: worker::JobContext| {
            let tx = tx.clone();
            let done = done.clone();
            async move {
                let _ = tx.send((cx.job.id, cx.cancel.clone()));
                tokio::time::sleep(work).await;
                done.fetch_add(1, Ordering::SeqCst);
                Ok(Done {
                    result: result.then(|| serde_json::json!({"from": "a stale worker"})),
                    ..Done::default()
                })
            }
        }),
    );
    (registry, Slow { started, finished })
}

fn job(kind: &str) -> NewJob {
    NewJob::new(kind, serde_json::Value::Null)
}

async fn settled(env: &Env, id: JobId, within: Duration) -> Job {
    env.wait_for(id, within, |j| {
        matches!(
            j.status,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        )
    })
    .await
}

#[tokio::test]
async fn a_retryable_error_is_retried_until_it_succeeds() {
    let env = Env::new().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let (stop, worker) = env.worker(fast_config(), flaky(2, runs.clone()));
    let (stop_scheduler, scheduler) = env.run_scheduler(fast_scheduler());

    let job = env.enqueue(job("test.flaky")).await;
    let done = settled(&env, job.id, Duration::from_secs(10)).await;
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.attempts, 3);
    assert_eq!(done.error, None, "a success clears the last error");
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(
        env.statuses(job.id).await,
        [
            "queued",
            "running",
            "retrying",
            "running",
            "retrying",
            "running",
            "completed"
        ]
    );

    stop.cancel();
    stop_scheduler.cancel();
    worker.await.unwrap();
    scheduler.await.unwrap();
}

#[tokio::test]
async fn retries_pause_by_the_backoff_and_then_the_job_fails() {
    let env = Env::new().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let backoff = [300_u64, 700];
    let config = WorkerConfig {
        backoff_ms: backoff.to_vec(),
        ..fast_config()
    };
    let (stop, worker) = env.worker(config, flaky(usize::MAX, runs.clone()));
    let (stop_scheduler, scheduler) = env.run_scheduler(fast_scheduler());

    let job = env.enqueue(job("test.flaky")).await;
    assert_eq!(job.max_attempts, 3);
    let failed = settled(&env, job.id, Duration::from_secs(10)).await;
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.attempts, 3);
    // The last error is kept.
    assert_public(failed.error.as_deref(), "flaky 3");
    assert!(failed.completed_at.is_some());
    // Nothing runs it again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 3);

    let events: Vec<_> = env
        .events(job.id)
        .await
        .into_iter()
        .filter(|e| e.kind == "status")
        .collect();
    let messages: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "queued", "running", "retrying", "running", "retrying", "running", "failed"
        ]
    );
    for (n, base) in backoff.iter().enumerate() {
        let retrying = &events[2 + 2 * n];
        let next_run = &events[3 + 2 * n];
        let data = retrying.data.as_ref().unwrap();
        let retry_in = data["retry_in_ms"].as_u64().unwrap();
        let (low, high) = (base * 8 / 10 - 1, base * 12 / 10 + 1);
        assert!(
            (low..=high).contains(&retry_in),
            "pause after attempt {}: {retry_in} ms, want {base} ms ± 20%",
            n + 1
        );
        let waited = (next_run.at - retrying.at).num_milliseconds();
        assert!(
            waited + 20 >= i64::try_from(retry_in).unwrap(),
            "attempt {} started {waited} ms after the failure, before its {retry_in} ms pause",
            n + 2
        );
        assert!(
            waited <= i64::try_from(retry_in).unwrap() + 1_500,
            "attempt {} started {waited} ms after the failure (pause {retry_in} ms)",
            n + 2
        );
    }
    assert_eq!(
        events[6].data.as_ref().unwrap()["retry_in_ms"],
        serde_json::Value::Null
    );

    stop.cancel();
    stop_scheduler.cancel();
    worker.await.unwrap();
    scheduler.await.unwrap();
}

#[tokio::test]
async fn a_permanent_error_fails_at_once() {
    let env = Env::new().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let registry = Registry::new().register(
        "test.broken",
        FnHandler(move |_cx| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Err::<Done, _>(JobError::Permanent("bad payload".into())) }
        }),
    );
    let (stop, worker) = env.worker(fast_config(), registry);
    let (stop_scheduler, scheduler) = env.run_scheduler(fast_scheduler());

    let job = env.enqueue(job("test.broken")).await;
    let failed = settled(&env, job.id, Duration::from_secs(10)).await;
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.attempts, 1);
    assert_public(failed.error.as_deref(), "bad payload");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(env.statuses(job.id).await, ["queued", "running", "failed"]);

    stop.cancel();
    stop_scheduler.cancel();
    worker.await.unwrap();
    scheduler.await.unwrap();
}

/// A typed failure (a provider's rate limit) is stored as its public message with an
/// error id, never its detail, and the next attempt waits for the cause's own pause
/// when that is longer than the backoff.
#[tokio::test]
async fn a_typed_failure_shows_its_public_message_and_waits_its_retry_after() {
    let env = Env::new().await;
    let registry = Registry::new().register(
        "test.limited",
        FnHandler(move |_cx| async {
            Err::<Done, _>(JobError::Failed(Failure {
                public: "the model provider is rate limiting requests".into(),
                detail: "HTTP 429: org-secret-42 is over its tokens per minute".into(),
                retryable: true,
                retry_after: Some(Duration::from_secs(20)),
            }))
        }),
    );
    let config = WorkerConfig {
        backoff_ms: vec![50],
        ..fast_config()
    };
    let (stop, worker) = env.worker(config, registry);
    let job = env.enqueue(job("test.limited")).await;
    let retrying = env
        .wait_for(job.id, Duration::from_secs(10), |j| {
            j.status == JobStatus::Queued && j.attempts == 1
        })
        .await;
    assert_public(
        retrying.error.as_deref(),
        "the model provider is rate limiting requests",
    );
    assert!(!retrying.error.unwrap_or_default().contains("org-secret-42"));
    let wait = retrying.run_after - chrono::Utc::now();
    assert!(
        wait > chrono::Duration::seconds(15),
        "the retry waits for Retry-After, not the 50 ms backoff: {wait}"
    );
    let events = env.events(job.id).await;
    assert!(
        events.iter().all(|e| !e
            .data
            .as_ref()
            .is_some_and(|d| d.to_string().contains("org-secret-42"))),
        "{events:?}"
    );
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn a_job_of_an_unknown_kind_fails_naming_it() {
    let env = Env::new().await;
    let (stop, worker) = env.worker(
        fast_config(),
        Registry::new().register("test.noop", Counting::default()),
    );
    let job = env.enqueue(job("test.nobody.handles")).await;
    let failed = settled(&env, job.id, Duration::from_secs(10)).await;
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.attempts, 1, "an unknown kind is not retried");
    let error = failed.error.unwrap_or_default();
    assert!(
        error.contains("test.nobody.handles"),
        "the error does not name the kind: {error:?}"
    );
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn an_expired_lease_is_reclaimed_and_the_old_holder_cannot_write() {
    let env = Env::new().await;
    // The lease is never extended: the heartbeat comes long after it expires.
    let config = WorkerConfig {
        concurrency: 1,
        lease_ms: 400,
        job_heartbeat_ms: 60_000,
        ..fast_config()
    };
    let (registry, mut slow) = slow(Duration::from_millis(1_500), true);
    let (stop, worker) = env.worker(config, registry);
    let job = env.enqueue(job("test.slow")).await;
    let (id, _) = tokio::time::timeout(Duration::from_secs(5), slow.started.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(id, job.id);
    let token = env
        .lease_token(job.id)
        .await
        .expect("a running job has a lease");
    let old = Lease { id: job.id, token };

    env.wait_until("the lease to expire", Duration::from_secs(5), async || {
        env.count("SELECT count(*) FROM jobs WHERE lease_expires_at < now()")
            .await
            == 1
    })
    .await;
    assert_eq!(env.job(job.id).await.status, JobStatus::Running);

    let scheduler = env.scheduler(SchedulerConfig {
        backoff: vec![Duration::from_secs(60)],
        ..fast_scheduler()
    });
    scheduler.tick(&mut None).await.unwrap();
    let reclaimed = env.job(job.id).await;
    assert_eq!(reclaimed.status, JobStatus::Queued, "attempts are left");
    assert_eq!(reclaimed.attempts, 1);
    assert_eq!(reclaimed.lease_owner, None);
    assert!(
        reclaimed
            .error
            .as_deref()
            .is_some_and(|e| e.contains("lease")),
        "{:?}",
        reclaimed.error
    );
    assert!(
        reclaimed.run_after > chrono::Utc::now() + chrono::Duration::seconds(40),
        "the retry waits for the backoff"
    );
    assert_eq!(env.lease_token(job.id).await, None);
    assert_eq!(env.statuses(job.id).await.last().unwrap(), "retrying");

    // The old lease holder is fenced off: completing or failing writes nothing.
    let events_before = env.events(job.id).await.len();
    let mut conn = env.store.acquire().await.unwrap();
    let done = lifecycle::Done {
        result: Some(serde_json::json!({"from": "a stale worker"})),
        ..lifecycle::Done::default()
    };
    assert!(!lifecycle::complete(&mut conn, old, &done).await.unwrap());
    assert_eq!(
        lifecycle::fail(&mut conn, old, "late", None).await.unwrap(),
        None
    );
    drop(conn);
    assert_eq!(env.job(job.id).await, reclaimed, "the stale lease wrote");
    assert_eq!(env.events(job.id).await.len(), events_before);

    // The stale worker's own completion, when its handler ends, is rejected too.
    env.wait_until(
        "the stale handler to end",
        Duration::from_secs(5),
        async || slow.finished.load(Ordering::SeqCst) == 1,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = env.job(job.id).await;
    assert_eq!(after.status, JobStatus::Queued);
    assert_eq!(after.result, None, "the stale worker's result was written");
    assert!(!env.statuses(job.id).await.iter().any(|s| s == "completed"));

    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn an_expired_lease_on_the_last_attempt_fails_the_job_and_stops_its_handler() {
    let env = Env::new().await;
    let (registry, mut slow) = slow(Duration::from_secs(30), false);
    // Heartbeat every 300 ms: it notices the lost lease and stops the handler.
    let (stop, worker) = env.worker(fast_config(), registry);
    let mut last = job("test.slow");
    last.max_attempts = 1;
    let job = env.enqueue(last).await;
    let (_, cancel) = tokio::time::timeout(Duration::from_secs(5), slow.started.recv())
        .await
        .unwrap()
        .unwrap();

    let scheduler = env.scheduler(fast_scheduler());
    // Expire the lease in SQL and sweep (again, should a heartbeat renew it in between).
    env.wait_until("the job to be reclaimed", Duration::from_secs(5), async || {
        sqlx::query("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1 AND status = 'running'")
            .bind(job.id)
            .execute(&env.store.pool)
            .await
            .unwrap();
        scheduler.tick(&mut None).await.unwrap();
        env.job(job.id).await.status != JobStatus::Running
    })
    .await;
    let failed = env.job(job.id).await;
    assert_eq!(failed.status, JobStatus::Failed, "no attempts were left");
    assert_eq!(failed.attempts, 1);
    assert!(failed.completed_at.is_some());
    assert!(failed.error.unwrap_or_default().contains("lease"));

    tokio::time::timeout(Duration::from_secs(2), cancel.cancelled())
        .await
        .expect("the worker did not stop a job whose lease was gone");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.job(job.id).await.status, JobStatus::Failed);
    assert_eq!(slow.finished.load(Ordering::SeqCst), 0);

    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn an_admin_cancel_stops_the_running_job() {
    let env = Env::new().await;
    let config = WorkerConfig {
        concurrency: 1,
        ..fast_config()
    };
    let heartbeat = config.heartbeat();
    let (registry, mut slow) = slow(Duration::from_secs(30), true);
    let counting = PerJob::default();
    let registry = registry.register("test.noop", counting.clone());
    let (stop, worker) = env.worker(config, registry);

    let job = env.enqueue(job("test.slow")).await;
    let (_, cancel) = tokio::time::timeout(Duration::from_secs(5), slow.started.recv())
        .await
        .unwrap()
        .unwrap();
    // Waits for the only slot.
    let next = env.enqueue(noop_job()).await;

    let mut conn = env.store.acquire().await.unwrap();
    let at = Instant::now();
    let cancelled = store::jobs::cancel(&mut conn, job.id).await.unwrap();
    drop(conn);
    assert_eq!(cancelled.status, JobStatus::Cancelled);

    tokio::time::timeout(heartbeat * 5, cancel.cancelled())
        .await
        .expect("the worker did not stop the cancelled job");
    let took = at.elapsed();
    assert!(
        took <= heartbeat * 3,
        "stopped {took:?} after the cancel (heartbeat {heartbeat:?})"
    );

    // Its slot is free again, and the cancelled job stays cancelled.
    let done = settled(&env, next.id, Duration::from_secs(5)).await;
    assert_eq!(done.status, JobStatus::Completed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = env.job(job.id).await;
    assert_eq!(after.status, JobStatus::Cancelled);
    assert_eq!(after.result, None);
    assert_eq!(slow.finished.load(Ordering::SeqCst), 0);
    assert_eq!(env.statuses(job.id).await.last().unwrap(), "cancelled");

    stop.cancel();
    worker.await.unwrap();
}
