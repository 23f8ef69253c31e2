//! The dedup rules of draft requests (`queue_draft_update`, docs/protocol.md section 9.5):
//! merge into a waiting job, throttle repeats, one follow-up behind a running job, and
//! at most one waiting job per project under concurrent requests.

use crate::support::*;
use protocol::entities::{Job, JobStatus, Urgency};
use protocol::tools::args::TranscriptAnchor;
use protocol::{JobId, ProjectId};
use redis::AsyncCommands;
use redis::streams::StreamInfoGroupsReply;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use store::Store;
use store::jobs::draft::{self, DraftOutcome, DraftPayload, DraftRequest};
use store::jobs::lifecycle::{self, Lease};
use worker::{Registry, SchedulerConfig};

/// docs/protocol.md section 9.5: the same project and summary within the last 90 s.
const THROTTLE: Duration = Duration::from_secs(90);

fn req(project: ProjectId, urgency: Urgency, summary: Option<&str>) -> DraftRequest {
    DraftRequest {
        project_id: project,
        session_id: None,
        urgency,
        summary: summary.map(str::to_owned),
        message_pointers: Vec::new(),
        transcript_anchors: Vec::new(),
        context: None,
    }
}

fn anchor(item: &str, quote: Option<&str>) -> TranscriptAnchor {
    TranscriptAnchor {
        item_id: item.to_owned(),
        quote: quote.map(str::to_owned),
    }
}

/// One request in a transaction of its own, as a tool call makes it.
async fn ask(store: &Store, req: &DraftRequest, throttle: Duration) -> (Job, DraftOutcome) {
    let mut tx = store.begin().await.unwrap();
    let answer = draft::request(&mut tx, req, throttle).await.unwrap();
    tx.commit().await.unwrap();
    answer
}

fn payload(job: &Job) -> DraftPayload {
    serde_json::from_value(job.payload.clone()).unwrap()
}

/// What a worker does when it takes the job.
async fn start(env: &Env, id: JobId) -> Lease {
    let mut conn = env.store.acquire().await.unwrap();
    let claimed = lifecycle::claim(&mut conn, &[id], "tester", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "the draft job could not be claimed");
    claimed[0].lease
}

async fn finish(env: &Env, lease: Lease) {
    let mut conn = env.store.acquire().await.unwrap();
    let done = lifecycle::Done::default();
    assert!(lifecycle::complete(&mut conn, lease, &done).await.unwrap());
}

async fn draft_jobs(env: &Env, project: ProjectId, status: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE project_id = $1 AND kind = 'draft.update' \
         AND ($2 = '' OR status = $2)",
    )
    .bind(project)
    .bind(status)
    .fetch_one(&env.store.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_waiting_job_absorbs_later_requests() {
    let env = Env::new().await;
    let project = env.project().await;

    let mut first = req(project, Urgency::Low, Some("Draft the intro"));
    first.message_pointers = vec!["m1".into()];
    first.transcript_anchors = vec![anchor("i1", Some("we met in 1999"))];
    let (job, outcome) = ask(&env.store, &first, THROTTLE).await;
    assert_eq!(outcome, DraftOutcome::Queued);
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.kind, "draft.update");
    assert_eq!(job.priority, Urgency::Low.priority());

    let mut second = req(project, Urgency::High, Some("Draft the intro and goals"));
    second.message_pointers = vec!["m1".into(), "m2".into()];
    second.transcript_anchors = vec![anchor("i1", Some("we met in 1999")), anchor("i2", None)];
    let (merged, outcome) = ask(&env.store, &second, THROTTLE).await;
    assert_eq!(outcome, DraftOutcome::Merged);
    assert_eq!(merged.id, job.id);
    let p = payload(&merged);
    assert_eq!(
        p.message_pointers,
        ["m1", "m2"],
        "pointers added without repeats"
    );
    assert_eq!(
        p.transcript_anchors,
        [anchor("i1", Some("we met in 1999")), anchor("i2", None)],
        "anchors added without repeats"
    );
    assert_eq!(p.urgency, Some(Urgency::High), "urgency raised");
    assert_eq!(p.summary.as_deref(), Some("Draft the intro and goals"));
    assert_eq!(merged.priority, Urgency::High.priority(), "priority raised");

    // A lower urgency does not lower it; a new summary replaces the old one.
    let mut third = req(project, Urgency::Low, Some("Only the goals"));
    third.message_pointers = vec!["m3".into()];
    let (merged, outcome) = ask(&env.store, &third, THROTTLE).await;
    assert_eq!(outcome, DraftOutcome::Merged);
    assert_eq!(merged.id, job.id);
    let p = payload(&merged);
    assert_eq!(p.urgency, Some(Urgency::High));
    assert_eq!(merged.priority, Urgency::High.priority());
    assert_eq!(p.summary.as_deref(), Some("Only the goals"));
    assert_eq!(p.message_pointers, ["m1", "m2", "m3"]);
    assert_eq!(p.requests, 3);

    assert_eq!(draft_jobs(&env, project, "").await, 1);
    // The stored row says the same as the answer.
    assert_eq!(env.job(job.id).await.payload, merged.payload);
}

#[tokio::test]
async fn a_repeat_within_the_window_is_throttled_unless_more_urgent() {
    let env = Env::new().await;
    let project = env.project().await;
    let (job, outcome) = ask(
        &env.store,
        &req(project, Urgency::Normal, Some("Draft the intro")),
        THROTTLE,
    )
    .await;
    assert_eq!(outcome, DraftOutcome::Queued);
    let lease = start(&env, job.id).await;

    // Running: the same summary (compared without case or extra spaces) is throttled.
    for (urgency, summary) in [
        (Urgency::Normal, "Draft the intro"),
        (Urgency::Normal, "  draft THE   intro "),
        (Urgency::Low, "Draft the intro"),
    ] {
        let (same, outcome) =
            ask(&env.store, &req(project, urgency, Some(summary)), THROTTLE).await;
        assert_eq!(
            outcome,
            DraftOutcome::Throttled,
            "{urgency:?} {summary:?} while running"
        );
        assert_eq!(same.id, job.id);
    }
    assert_eq!(draft_jobs(&env, project, "").await, 1);

    // Completed: still throttled within the window.
    finish(&env, lease).await;
    let (same, outcome) = ask(
        &env.store,
        &req(project, Urgency::Normal, Some("Draft the intro")),
        THROTTLE,
    )
    .await;
    assert_eq!(outcome, DraftOutcome::Throttled);
    assert_eq!(same.id, job.id);
    assert_eq!(draft_jobs(&env, project, "").await, 1);

    // A higher urgency is not throttled: a new job.
    let (urgent, outcome) = ask(
        &env.store,
        &req(project, Urgency::High, Some("Draft the intro")),
        THROTTLE,
    )
    .await;
    assert_eq!(outcome, DraftOutcome::Queued);
    assert_ne!(urgent.id, job.id);
    assert_eq!(urgent.status, JobStatus::Queued);
    assert_eq!(draft_jobs(&env, project, "").await, 2);
}

#[tokio::test]
async fn the_throttle_ends_with_its_window() {
    let env = Env::new().await;
    let project = env.project().await;
    let window = Duration::from_millis(400);
    let summary = Some("Draft the intro");
    let (job, _) = ask(&env.store, &req(project, Urgency::Normal, summary), window).await;
    let lease = start(&env, job.id).await;
    finish(&env, lease).await;
    let (same, outcome) = ask(&env.store, &req(project, Urgency::Normal, summary), window).await;
    assert_eq!(outcome, DraftOutcome::Throttled);
    assert_eq!(same.id, job.id);

    tokio::time::sleep(window + Duration::from_millis(150)).await;
    let (later, outcome) = ask(&env.store, &req(project, Urgency::Normal, summary), window).await;
    assert_eq!(outcome, DraftOutcome::Queued, "throttled after the window");
    assert_ne!(later.id, job.id);

    // Another summary is never throttled by the first.
    let (other, outcome) = ask(
        &env.store,
        &req(project, Urgency::Normal, Some("Draft the ending")),
        THROTTLE,
    )
    .await;
    assert_eq!(outcome, DraftOutcome::Merged, "merged into the waiting job");
    assert_eq!(other.id, later.id);
}

#[tokio::test]
async fn a_running_job_gets_one_follow_up() {
    let env = Env::new().await;
    let project = env.project().await;
    let (job, _) = ask(
        &env.store,
        &req(project, Urgency::Normal, Some("Draft the intro")),
        THROTTLE,
    )
    .await;
    let _lease = start(&env, job.id).await;

    let (follow_up, outcome) = ask(
        &env.store,
        &req(project, Urgency::Normal, Some("Add the goals")),
        THROTTLE,
    )
    .await;
    assert_eq!(
        outcome,
        DraftOutcome::Queued,
        "a follow-up behind the running job"
    );
    assert_ne!(follow_up.id, job.id);

    for (urgency, summary) in [
        (Urgency::Normal, Some("Add the audience")),
        (Urgency::High, Some("Add the voice")),
        (Urgency::Low, None),
    ] {
        let (again, outcome) = ask(&env.store, &req(project, urgency, summary), THROTTLE).await;
        assert_eq!(outcome, DraftOutcome::Merged, "{urgency:?} {summary:?}");
        assert_eq!(again.id, follow_up.id);
    }
    assert_eq!(draft_jobs(&env, project, "queued").await, 1);
    assert_eq!(draft_jobs(&env, project, "running").await, 1);
    let follow_up = env.job(follow_up.id).await;
    assert_eq!(payload(&follow_up).requests, 4);
    assert_eq!(payload(&follow_up).urgency, Some(Urgency::High));
}

/// 20 requests at once, each in its own transaction: one job is queued, the rest merge.
async fn stampede(env: &Env, store: &Store, project: ProjectId, round: usize) -> JobId {
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let mut r = req(
                    project,
                    Urgency::Normal,
                    Some(&format!("round {round} part {i}")),
                );
                r.message_pointers = vec![format!("r{round}-m{i}")];
                let mut tx = store.begin().await.unwrap();
                // Every transaction is open before any asks.
                barrier.wait().await;
                let answer = draft::request(&mut tx, &r, THROTTLE).await.unwrap();
                tx.commit().await.unwrap();
                answer
            })
        })
        .collect();
    let mut ids = HashSet::new();
    let mut queued = 0;
    for task in tasks {
        let (job, outcome) = task.await.unwrap();
        ids.insert(job.id);
        match outcome {
            DraftOutcome::Queued => queued += 1,
            DraftOutcome::Merged => {}
            DraftOutcome::Throttled => panic!("distinct summaries were throttled"),
        }
    }
    assert_eq!(queued, 1, "round {round}: jobs queued");
    assert_eq!(
        ids.len(),
        1,
        "round {round}: every request answered one job"
    );
    assert_eq!(
        draft_jobs(env, project, "queued").await,
        1,
        "round {round}: waiting jobs"
    );
    let id = ids.into_iter().next().unwrap();
    let p = payload(&env.job(id).await);
    assert_eq!(p.requests, 20);
    assert_eq!(p.message_pointers.len(), 20, "no request was lost");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_leave_at_most_one_waiting_job() {
    let env = Env::new().await;
    let project = env.project().await;
    let store = env.connect(25).await;
    let first = stampede(&env, &store, project, 1).await;
    assert_eq!(draft_jobs(&env, project, "").await, 1);

    // With that one running, the next stampede queues exactly one follow-up.
    let _lease = start(&env, first).await;
    let second = stampede(&env, &store, project, 2).await;
    assert_ne!(second, first);
    assert_eq!(draft_jobs(&env, project, "").await, 2);
}

/// A request merging into the waiting job holds its row for the rest of its transaction
/// (the tool call's). A worker taking that job meanwhile must still run it once the
/// merge commits, not leave it to the safety sweep (every 30 s, for jobs dispatched
/// 30 s ago).
#[tokio::test]
async fn a_merge_while_a_worker_takes_the_job_does_not_strand_it() {
    let env = Env::new().await;
    let project = env.project().await;
    let (job, _) = ask(
        &env.store,
        &req(project, Urgency::Normal, Some("Draft the intro")),
        THROTTLE,
    )
    .await;
    let handler = PerJob::default();
    let (stop, worker) = env.worker(
        fast_config(),
        Registry::new().register("draft.update", handler.clone()),
    );
    // The scheduler as deployed: sweeps every tick, safety re-dispatch every 30 s.
    let (stop_scheduler, scheduler) = env.run_scheduler(SchedulerConfig {
        tick: Duration::from_millis(100),
        cron: Vec::new(),
        ..SchedulerConfig::default()
    });

    let mut tx = env.store.begin().await.unwrap();
    let (merged, outcome) = draft::request(
        &mut tx,
        &req(project, Urgency::High, Some("Draft the intro and goals")),
        THROTTLE,
    )
    .await
    .unwrap();
    assert_eq!((merged.id, outcome), (job.id, DraftOutcome::Merged));
    // The first request's dispatch reaches the worker while the merge is not committed.
    env.dispatch
        .send(&[lifecycle::Dispatchable {
            id: job.id,
            queue: job.queue.clone(),
        }])
        .await
        .unwrap();
    let key = env.dispatch.stream_key("default");
    let mut redis = env.redis.get_multiplexed_async_connection().await.unwrap();
    env.wait_until(
        "the worker to read the entry",
        Duration::from_secs(5),
        async || {
            let groups: StreamInfoGroupsReply = redis.xinfo_groups(&key).await.unwrap();
            groups.groups.iter().any(|g| g.lag == Some(0))
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    tx.commit().await.unwrap();

    let done = env
        .wait_for(job.id, Duration::from_secs(4), |j| {
            j.status == JobStatus::Completed
        })
        .await;
    assert_eq!(done.attempts, 1);
    assert_eq!(payload(&done).requests, 2, "the merged request was run too");
    assert_eq!(handler.total(), 1);

    stop.cancel();
    stop_scheduler.cancel();
    worker.await.unwrap();
    scheduler.await.unwrap();
}
