//! Dependencies failing and coming back, against real processes: a private
//! `redis-server` killed and restarted mid-run, Postgres connections terminated, a
//! private Postgres server stopped and started again. Each
//! test counts what users would see afterwards: answers in time, every committed change
//! delivered once by offset, every job completed once, no acknowledged write lost.

use crate::drafting::Jobs;
use crate::private_postgres::PrivatePostgres;
use crate::support::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long a tool call may take while a dependency is down (the issue: "within a second
/// or two"); generous over the ~1 s the Redis timeouts allow, so a loaded machine does
/// not fail the test.
const OUTAGE_ANSWER: Duration = Duration::from_millis(2_500);
/// How long the system gets to deliver everything once the dependency is back.
const CATCH_UP: Duration = Duration::from_secs(60);

/// A client subscribed to the project's topic; answers it and the offset it starts after.
async fn subscriber(server: &TestServer, project: &str) -> (Client, Value) {
    let mut client = server.connect("alice").await;
    let reply = client
        .request(json!({"type": "subscribe", "topic": format!("project:{project}")}))
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
    (client, reply)
}

/// What a subscriber received, checked as it arrives: one epoch, offsets consecutive
/// from where it subscribed (no gap, no repeat).
struct Received {
    epoch: Value,
    last: u64,
    events: Vec<Value>,
}

impl Received {
    fn new(subscribed: &Value) -> Self {
        Self {
            epoch: subscribed["epoch"].clone(),
            last: subscribed["offset"].as_u64().unwrap(),
            events: Vec::new(),
        }
    }

    /// Reads events until `done` holds over all received so far, or fails after
    /// [`CATCH_UP`].
    async fn until(&mut self, ws: &mut Ws, done: impl Fn(&[Value]) -> bool) {
        let deadline = Instant::now() + CATCH_UP;
        while !done(&self.events) {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(message) = ws.recv_within(left).await else {
                let kinds: Vec<&Value> = self.events.iter().map(|e| &e["kind"]).collect();
                panic!("not everything arrived in time; got {kinds:?}");
            };
            if message["type"] != "event" {
                continue;
            }
            assert_eq!(message["epoch"], self.epoch, "one epoch: {message}");
            let offset = message["offset"].as_u64().unwrap();
            assert_eq!(offset, self.last + 1, "no gap, no repeat: {message}");
            self.last = offset;
            self.events.push(message["event"].clone());
        }
    }

    /// The ids of `kind` events by their `field` object, with how often each came.
    fn ids(&self, kind: &str, field: &str) -> BTreeMap<String, usize> {
        let mut ids = BTreeMap::new();
        for event in self.events.iter().filter(|e| e["kind"] == kind) {
            let id = event[field]["id"].as_str().unwrap().to_owned();
            *ids.entry(id).or_default() += 1;
        }
        ids
    }

    fn completed_jobs(&self) -> BTreeMap<String, usize> {
        let mut ids = BTreeMap::new();
        for event in self
            .events
            .iter()
            .filter(|e| e["kind"] == "job.status" && e["status"] == "completed")
        {
            *ids.entry(event["job_id"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        ids
    }
}

async fn chat(client: &mut Client, project: &str, text: &str) -> Value {
    client
        .request(json!({"type": "chat.send", "project_id": project, "text": text}))
        .await
}

async fn note_ids(db: &sqlx::PgPool, project: &str) -> BTreeSet<String> {
    sqlx::query_scalar::<_, String>("SELECT id::text FROM notes WHERE project_id = $1::uuid")
        .bind(project)
        .fetch_all(db)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

#[tokio::test]
async fn redis_restarted_mid_run_answers_calls_in_time_and_publishes_every_change_once() {
    let mut redis = PrivateRedis::start_persistent().await;
    let url = redis.url();
    let server = TestServer::start_with(|c| {
        c.redis_url = url;
        c.outbox_relay_ms = 100;
    })
    .await;
    let peer = server.peer().await;
    let _jobs = Jobs::start(&server, |_| {}).await;
    let mut writer = server.connect("alice").await;
    let project = writer.project_in_mode("Outage", "intake").await;
    let (mut here, subscribed_here) = subscriber(&server, &project).await;
    let (mut there, subscribed_there) = subscriber(&peer, &project).await;
    let mut seen_here = Received::new(&subscribed_here);
    let mut seen_there = Received::new(&subscribed_there);

    for i in 0..3 {
        writer
            .call_ok("create_note", json!({"body": format!("before {i}")}))
            .await;
    }
    let mut jobs = BTreeSet::new();
    let reply = chat(&mut writer, &project, "before").await;
    assert_eq!(reply["type"], "ok", "{reply}");
    jobs.insert(reply["data"]["job_id"].as_str().unwrap().to_owned());

    redis.kill();
    let mut answered_ok = 0;
    let mut slowest = Duration::ZERO;
    for i in 0..8 {
        let started = Instant::now();
        let reply = writer
            .call("create_note", json!({"body": format!("during {i}")}))
            .await;
        let took = started.elapsed();
        slowest = slowest.max(took);
        assert!(took < OUTAGE_ANSWER, "create_note took {took:?}: {reply}");
        if reply["ok"] == true {
            answered_ok += 1;
        } else {
            assert_eq!(reply["error"]["code"], "unavailable", "{reply}");
        }
    }
    for i in 0..2 {
        let started = Instant::now();
        let reply = chat(&mut writer, &project, &format!("during {i}")).await;
        let took = started.elapsed();
        slowest = slowest.max(took);
        assert!(took < OUTAGE_ANSWER, "chat.send took {took:?}: {reply}");
        assert_eq!(reply["type"], "ok", "Postgres is the truth: {reply}");
        jobs.insert(reply["data"]["job_id"].as_str().unwrap().to_owned());
    }
    println!("slowest answer during the outage: {slowest:?}; {answered_ok} of 8 notes ok");
    assert_eq!(answered_ok, 8, "Postgres is up: every note commits");
    let db = server.db().await;
    let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM event_outbox")
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(waiting > 0, "the outage's events wait in the outbox");

    redis.restart().await;
    for i in 0..3 {
        writer
            .call_ok("create_note", json!({"body": format!("after {i}")}))
            .await;
    }
    let notes = note_ids(&db, &project).await;
    assert_eq!(notes.len(), 14);
    let all_arrived = |events: &[Value]| {
        let notes_seen: BTreeSet<&str> = events
            .iter()
            .filter(|e| e["kind"] == "note.created")
            .map(|e| e["note"]["id"].as_str().unwrap())
            .collect();
        let jobs_done: BTreeSet<&str> = events
            .iter()
            .filter(|e| e["kind"] == "job.status" && e["status"] == "completed")
            .map(|e| e["job_id"].as_str().unwrap())
            .collect();
        notes_seen.len() == notes.len() && jobs_done.len() == jobs.len()
    };
    let back = Instant::now();
    let n = notes.len();
    seen_here
        .until(&mut here.ws, |events| {
            events
                .iter()
                .filter(|e| e["kind"] == "note.created")
                .count()
                == n
        })
        .await;
    println!("notes arrived {:?} after Redis came back", back.elapsed());
    seen_here.until(&mut here.ws, all_arrived).await;
    println!("all arrived {:?} after Redis came back", back.elapsed());
    seen_there.until(&mut there.ws, all_arrived).await;

    for seen in [&seen_here, &seen_there] {
        let delivered = seen.ids("note.created", "note");
        assert_eq!(delivered.keys().cloned().collect::<BTreeSet<_>>(), notes);
        assert!(delivered.values().all(|n| *n == 1), "{delivered:?}");
        let completed = seen.completed_jobs();
        assert_eq!(completed.keys().cloned().collect::<BTreeSet<_>>(), jobs);
        assert!(completed.values().all(|n| *n == 1), "{completed:?}");
    }
    // Commit order per project: the notes arrive in the order they were made.
    let bodies: Vec<&str> = seen_here
        .events
        .iter()
        .filter(|e| e["kind"] == "note.created")
        .map(|e| e["note"]["body"].as_str().unwrap())
        .collect();
    let mut made: Vec<String> = (0..3).map(|i| format!("before {i}")).collect();
    made.extend((0..8).map(|i| format!("during {i}")));
    made.extend((0..3).map(|i| format!("after {i}")));
    assert_eq!(bodies, made);
    // Every job ran once and the outbox is empty again.
    for job in &jobs {
        let row = json_rows(
            &db,
            "SELECT jsonb_build_object('status', status, 'attempts', attempts) FROM jobs WHERE id = $1::uuid",
            job,
        )
        .await;
        assert_eq!(row[0]["status"], "completed", "{job}: {row:?}");
        assert_eq!(row[0]["attempts"], 1, "{job}: {row:?}");
    }
    testkit::database::until_outbox_empty(&db, CATCH_UP).await;
    // The backlog and the failed publishes are visible to operators.
    let metrics = server.metrics().await;
    assert!(metrics.contains("draftline_outbox_rows"), "{metrics}");
    assert!(
        metrics.contains("draftline_events_publish_failures_total"),
        "{metrics}"
    );
}

/// Terminates every backend of the test's database but the caller's own: what a
/// Postgres failover or an administrator does to the node's pool.
async fn terminate_backends(admin: &sqlx::PgPool, database: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = $1 AND pid <> pg_backend_pid()) t",
    )
    .bind(database)
    .fetch_one(admin)
    .await
    .unwrap()
}

#[tokio::test]
async fn postgres_connections_killed_mid_run_answer_unavailable_then_recover_losing_nothing() {
    let server = TestServer::start_with(|c| c.outbox_relay_ms = 100).await;
    let mut writer = server.connect("alice").await;
    let project = writer.project_in_mode("Terminated", "intake").await;
    let (mut watcher, subscribed) = subscriber(&server, &project).await;
    let mut seen = Received::new(&subscribed);
    // A pool of its own on the server's Postgres, outside the test database, so the
    // terminations never hit it.
    let admin = sqlx::PgPool::connect(&store::with_database(&server.db.url, "postgres"))
        .await
        .unwrap();

    let mut acknowledged = BTreeSet::new();
    let mut unavailable = 0;
    let mut terminated = 0;
    for i in 0..40 {
        if i % 5 == 0 {
            terminated += terminate_backends(&admin, &server.db.name).await;
        }
        let started = Instant::now();
        let reply = writer
            .call("create_note", json!({"body": format!("note {i}")}))
            .await;
        let took = started.elapsed();
        assert!(took < OUTAGE_ANSWER, "create_note took {took:?}: {reply}");
        if reply["ok"] == true {
            acknowledged.insert(reply["output"]["note"]["id"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(
                reply["error"]["code"], "unavailable",
                "a clean error: {reply}"
            );
            unavailable += 1;
        }
    }
    println!(
        "terminated {terminated} backends; {} acknowledged, {unavailable} unavailable",
        acknowledged.len()
    );
    assert!(terminated > 0, "the node's connections were terminated");
    assert!(!acknowledged.is_empty());

    // Recovery without a restart: the node answers again, and nothing acknowledged is lost.
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let reply = writer.call("create_note", json!({"body": "after"})).await;
        if reply["ok"] == true {
            acknowledged.insert(reply["output"]["note"]["id"].as_str().unwrap().to_owned());
            break;
        }
        assert_eq!(reply["error"]["code"], "unavailable", "{reply}");
        assert!(Instant::now() < deadline, "the node did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let db = server.db().await;
    let stored = note_ids(&db, &project).await;
    assert!(
        acknowledged.is_subset(&stored),
        "acknowledged notes missing: {:?}",
        acknowledged.difference(&stored).collect::<Vec<_>>()
    );
    // Every committed note reaches the subscriber once, in order (the relay publishes
    // what a failed fast path left behind).
    let n = stored.len();
    seen.until(&mut watcher.ws, |events| {
        events
            .iter()
            .filter(|e| e["kind"] == "note.created")
            .count()
            == n
    })
    .await;
    let delivered = seen.ids("note.created", "note");
    assert_eq!(delivered.keys().cloned().collect::<BTreeSet<_>>(), stored);
    assert!(delivered.values().all(|c| *c == 1), "{delivered:?}");
}

/// One `create_note` call made while Postgres went away and came back.
struct Attempt {
    started: Instant,
    took: Duration,
    /// The note's id when the call was acknowledged.
    note: Option<String>,
    reply: Value,
}

#[tokio::test]
async fn postgres_restarted_mid_run_answers_unavailable_in_time_then_recovers_losing_nothing() {
    let pg = PrivatePostgres::start().await;
    let server = TestServer::start_on(&pg.url("postgres"), |c| c.outbox_relay_ms = 100).await;
    let mut writer = server.connect("alice").await;
    let project = writer.project_in_mode("Restarted", "intake").await;
    let (mut watcher, subscribed) = subscriber(&server, &project).await;
    let mut seen = Received::new(&subscribed);

    // A client writes continuously (about 20 calls a second) on one connection
    // through the outage; every call is reported with its time and answer.
    let stop = CancellationToken::new();
    // Bounded by the run: at most a few hundred calls in a minute.
    let (report, mut attempts) = tokio::sync::mpsc::channel::<Attempt>(4_096);
    let writing = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut i = 0;
            while !stop.is_cancelled() {
                let started = Instant::now();
                let reply = writer
                    .call("create_note", json!({"body": format!("note {i}")}))
                    .await;
                i += 1;
                let note = (reply["ok"] == true)
                    .then(|| reply["output"]["note"]["id"].as_str().unwrap().to_owned());
                let took = started.elapsed();
                let attempt = Attempt {
                    started,
                    took,
                    note,
                    reply,
                };
                if report.send(attempt).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });

    tokio::time::sleep(Duration::from_secs(1)).await;
    let stopped = Instant::now();
    pg.stop().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    pg.start_again().await;
    let restarted = Instant::now();
    println!("Postgres stopped for {:?}", restarted - stopped);
    // Recovery without restarting the node: acknowledged calls again, on the same
    // connection.
    let mut all = Vec::new();
    let deadline = restarted + CATCH_UP;
    while all
        .iter()
        .filter(|a: &&Attempt| a.started >= restarted && a.note.is_some())
        .count()
        < 10
    {
        let left = deadline.saturating_duration_since(Instant::now());
        let attempt = tokio::time::timeout(left, attempts.recv())
            .await
            .expect("the node recovers in time")
            .expect("the writer runs");
        all.push(attempt);
    }
    stop.cancel();
    writing.await.unwrap();
    while let Some(attempt) = attempts.recv().await {
        all.push(attempt);
    }

    let mut acknowledged = BTreeSet::new();
    let mut unavailable_during = 0;
    let mut slowest = Duration::ZERO;
    for attempt in &all {
        slowest = slowest.max(attempt.took);
        assert!(
            attempt.took < OUTAGE_ANSWER,
            "create_note took {:?}: {}",
            attempt.took,
            attempt.reply
        );
        match &attempt.note {
            Some(id) => {
                acknowledged.insert(id.clone());
            }
            None => {
                assert_eq!(
                    attempt.reply["error"]["code"], "unavailable",
                    "a clean error: {}",
                    attempt.reply
                );
                if (stopped..restarted).contains(&attempt.started) {
                    unavailable_during += 1;
                }
            }
        }
    }
    let first_ok = all
        .iter()
        .filter(|a| a.started >= restarted && a.note.is_some())
        .map(|a| a.started + a.took - restarted)
        .min()
        .unwrap();
    println!(
        "{} calls: {} acknowledged, {} unavailable ({unavailable_during} while Postgres was down); \
         slowest answer {slowest:?}; first acknowledged {first_ok:?} after Postgres accepted connections",
        all.len(),
        acknowledged.len(),
        all.len() - acknowledged.len(),
    );
    assert!(unavailable_during > 0, "the calls saw the outage");

    // No acknowledged write lost, and every committed note reaches the subscriber once.
    let db = server.db().await;
    let stored = note_ids(&db, &project).await;
    println!("{} notes stored", stored.len());
    assert!(
        acknowledged.is_subset(&stored),
        "acknowledged notes missing: {:?}",
        acknowledged.difference(&stored).collect::<Vec<_>>()
    );
    let n = stored.len();
    seen.until(&mut watcher.ws, |events| {
        events
            .iter()
            .filter(|e| e["kind"] == "note.created")
            .count()
            == n
    })
    .await;
    let delivered = seen.ids("note.created", "note");
    assert_eq!(delivered.keys().cloned().collect::<BTreeSet<_>>(), stored);
    assert!(delivered.values().all(|c| *c == 1), "{delivered:?}");
    db.close().await;
    // Nothing panicked: the node's task ends cleanly when asked to stop.
    let mut server = server;
    server.stop().await;
}

#[tokio::test]
async fn rows_left_by_a_crashed_publisher_are_published_once_by_the_surviving_nodes_relay() {
    // Two nodes, both in the relay's election (the first started most likely leads); the
    // first dies, so whichever led, the survivor's relay is the one left.
    let mut first = TestServer::start_with(|c| c.outbox_relay_ms = 100).await;
    let second = first.peer().await;
    let mut writer = second.connect("alice").await;
    let project = writer.project_in_mode("Crash", "intake").await;
    let (mut watcher, subscribed) = subscriber(&second, &project).await;
    let mut seen = Received::new(&subscribed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.stop().await;

    // A change committed with its events, whose process published the first of them
    // and died before deleting it (and before publishing the rest).
    let store = store::Store::connect(&second.db.url, 2).await.unwrap();
    let project_id: protocol::ProjectId = project.parse().unwrap();
    let job = protocol::JobId::new();
    let events: Vec<protocol::event::Event> = (0..5)
        .map(|seq| {
            protocol::event::Event::DraftDelta(protocol::event::DraftDelta {
                job_id: job,
                seq,
                text: format!("piece {seq}"),
            })
        })
        .collect();
    let mut tx = store.begin().await.unwrap();
    store::outbox::record(&mut tx, project_id, &events)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (id, topic, kind, head, tail): (i64, String, String, String, String) = sqlx::query_as(
        "SELECT id, topic, kind, head, tail FROM event_outbox WHERE project_id = $1 ORDER BY id LIMIT 1",
    )
    .bind(project_id)
    .fetch_one(&store.pool)
    .await
    .unwrap();
    let redis = redis::Client::open(second.config.redis_url.as_str()).unwrap();
    let manager = redis::aio::ConnectionManager::new(redis).await.unwrap();
    let topics = store::topics::Topics::new(
        manager,
        second.config.redis_prefix.clone(),
        store::topics::Retention::default(),
    );
    let published = topics
        .publish_once(&topic, project_id, id, (&kind, &head, &tail))
        .await
        .unwrap();
    assert!(published.is_some());

    // The surviving node's relay takes the lead and publishes the rest; the row Redis
    // already took is skipped, not published again.
    seen.until(&mut watcher.ws, |events| {
        events.iter().filter(|e| e["kind"] == "draft.delta").count() >= 5
    })
    .await;
    let seqs: Vec<u64> = seen
        .events
        .iter()
        .filter(|e| e["kind"] == "draft.delta")
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4], "each once, in order");
    // Nothing more comes: the replayed row took no second position.
    let quiet = watcher.ws.recv_within(Duration::from_millis(1_500)).await;
    assert!(
        quiet.as_ref().is_none_or(|m| m["type"] != "event"),
        "{quiet:?}"
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM event_outbox")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "published rows are deleted");
}

/// A subscriber that resumes like the SDK: on a closed connection it connects to a live
/// node and subscribes again with `since` its last position, expecting `recovered: true`.
struct Resumer {
    client: Client,
    seen: Received,
    topic: String,
}

impl Resumer {
    async fn join(server: &TestServer, project: &str) -> Self {
        let (client, subscribed) = subscriber(server, project).await;
        Self {
            client,
            seen: Received::new(&subscribed),
            topic: format!("project:{project}"),
        }
    }

    /// Reads what arrived before the connection closed (the node stopped).
    async fn until_closed(&mut self) {
        while let Some(message) = self.client.ws.recv_or_closed().await {
            self.take(message);
        }
    }

    fn take(&mut self, message: Value) {
        if message["type"] != "event" {
            return;
        }
        assert_eq!(message["epoch"], self.seen.epoch, "one epoch: {message}");
        let offset = message["offset"].as_u64().unwrap();
        assert_eq!(offset, self.seen.last + 1, "no gap, no repeat: {message}");
        self.seen.last = offset;
        self.seen.events.push(message["event"].clone());
    }

    /// Connects to `server` and resumes from the last position seen.
    async fn resume(&mut self, server: &TestServer) {
        self.client = server.connect("alice").await;
        let since = json!({"epoch": self.seen.epoch, "offset": self.seen.last});
        let reply = self
            .client
            .request(json!({"type": "subscribe", "topic": self.topic, "since": since}))
            .await;
        assert_eq!(reply["type"], "subscribed", "{reply}");
        assert_eq!(reply["recovered"], true, "{reply}");
        for publication in reply["publications"].as_array().unwrap().clone() {
            self.take(publication);
        }
    }
}

#[tokio::test]
async fn a_rolling_restart_of_two_nodes_under_resuming_subscribers_misses_and_doubles_nothing() {
    const PER_NODE: usize = 40;
    const NOTES: usize = 60;
    let mut node_a = TestServer::start_with(|c| {
        c.messages_per_second = 10_000;
        c.message_burst = 10_000;
        // One user holds every subscriber here; a stopped node's share lingers until
        // it expires.
        c.max_connections_per_user = 1_000;
    })
    .await;
    let mut node_b = node_a.peer().await;
    // The writer's node stays up through the restarts.
    let node_c = node_a.peer().await;
    let mut writer = node_c.connect("alice").await;
    let project = writer.project_in_mode("Rolling", "intake").await;
    let mut on_a = Vec::new();
    let mut on_b = Vec::new();
    for _ in 0..PER_NODE {
        on_a.push(Resumer::join(&node_a, &project).await);
        on_b.push(Resumer::join(&node_b, &project).await);
    }

    // Notes keep coming while the nodes restart one after the other.
    let writing = tokio::spawn(async move {
        for i in 0..NOTES {
            writer
                .call_ok("create_note", json!({"body": format!("rolling {i}")}))
                .await;
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    node_a.stop().await;
    for resumer in &mut on_a {
        resumer.until_closed().await;
        resumer.resume(&node_b).await;
    }
    let node_a2 = node_b.peer().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    node_b.stop().await;
    for resumer in on_a.iter_mut().chain(on_b.iter_mut()) {
        resumer.until_closed().await;
        resumer.resume(&node_a2).await;
    }
    writing.await.unwrap();

    let db = node_c.db().await;
    let notes = note_ids(&db, &project).await;
    assert_eq!(notes.len(), NOTES);
    for resumer in on_a.iter_mut().chain(on_b.iter_mut()) {
        resumer
            .seen
            .until(&mut resumer.client.ws, |events| {
                events
                    .iter()
                    .filter(|e| e["kind"] == "note.created")
                    .count()
                    >= NOTES
            })
            .await;
        let delivered = resumer.seen.ids("note.created", "note");
        assert_eq!(delivered.keys().cloned().collect::<BTreeSet<_>>(), notes);
        assert!(delivered.values().all(|n| *n == 1), "{delivered:?}");
    }
}
