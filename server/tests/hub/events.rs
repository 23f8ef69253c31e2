//! Topics end to end: events of a change reach subscribers on every node in order and
//! once; `subscribe` with `since` recovers what a client missed (or says it cannot);
//! `snapshot`; SSE with `Last-Event-ID`; slow subscribers; presence across nodes; the
//! node's Redis subscriber losing its connection.

use crate::support::*;
use futures_util::StreamExt;
use protocol::event::Event;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use store::topics::{Retention, Topics};

/// Subscribes; answers the `subscribed` reply (or the error).
async fn subscribe(ws: &mut Ws, topic: &str, since: Option<Value>) -> Value {
    let mut frame = json!({"type": "subscribe", "topic": topic});
    if let Some(since) = since {
        frame["since"] = since;
    }
    ws.request(frame).await
}

/// Events until `done` says the last one arrived.
async fn events_until(ws: &mut Ws, mut done: impl FnMut(&Value) -> bool) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let event = ws.next_event().await;
        let last = done(&event);
        events.push(event);
        if last {
            return events;
        }
    }
}

fn offsets(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e["offset"].as_u64().unwrap())
        .collect()
}

#[track_caller]
fn assert_consecutive(events: &[Value], after: u64) {
    let want: Vec<u64> = (after + 1..=after + events.len() as u64).collect();
    assert_eq!(
        offsets(events),
        want,
        "offsets must follow {after} without gap or repeat"
    );
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["event"]["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// A publisher on the node's Redis prefix, for load the tools cannot make quickly.
async fn topics_of(server: &TestServer) -> Topics {
    let client = redis::Client::open(server.config.redis_url.as_str()).unwrap();
    let manager = redis::aio::ConnectionManager::new(client).await.unwrap();
    Topics::new(
        manager,
        server.config.redis_prefix.clone(),
        Retention::default(),
    )
}

fn delta(seq: u64, text: String) -> Event {
    Event::DraftDelta(protocol::event::DraftDelta {
        job_id: protocol::JobId::new(),
        seq,
        text,
    })
}

/// A client that watches the project without being in it (no presence of its own).
async fn watcher(server: &TestServer, user: &str, project: &str) -> (Client, Value) {
    let mut client = server.connect(user).await;
    let subscribed = subscribe(&mut client.ws, &format!("project:{project}"), None).await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
    (client, subscribed)
}

#[tokio::test]
async fn a_client_on_one_node_sees_every_event_caused_on_another_in_order_and_once() {
    let node_a = TestServer::start().await;
    let node_b = node_a.peer().await;
    let mut owner = node_a.connect("alice").await;
    let project = owner.project_in_mode("Shared", "intake").await;
    let (mut a, subscribed) = watcher(&node_a, "alice", &project).await;
    assert_eq!(subscribed["recovered"], false);
    let top = subscribed["offset"].as_u64().unwrap();

    let mut b = node_b.connect("alice").await;
    assert_ne!(b.welcome["node_id"], a.welcome["node_id"]);
    b.call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;
    b.configure(json!({"mode": "intake"})).await;
    for i in 0..20 {
        b.call_ok("create_note", json!({"body": format!("note {i}")}))
            .await;
    }
    let mut notes = 0;
    let events = events_until(&mut a.ws, |e| {
        if e["event"]["kind"] == "note.created" {
            notes += 1;
        }
        // Each note is followed by its operation.
        notes == 20 && e["event"]["kind"] == "operation.created"
    })
    .await;
    assert_consecutive(&events, top);
    let bodies: Vec<&str> = events
        .iter()
        .filter(|e| e["event"]["kind"] == "note.created")
        .map(|e| e["event"]["note"]["body"].as_str().unwrap())
        .collect();
    let want: Vec<String> = (0..20).map(|i| format!("note {i}")).collect();
    assert_eq!(bodies, want);
    let kinds = kinds(&events);
    assert_eq!(
        kinds[0], "presence.joined",
        "b's session joined first: {kinds:?}"
    );
    assert_eq!(events[0]["event"]["session_id"], b.session_id());
    for pair in kinds[1..].chunks(2) {
        assert_eq!(pair, ["note.created", "operation.created"]);
    }
    assert!(
        events
            .iter()
            .all(|e| e["topic"] == format!("project:{project}"))
    );
    a.ws.no_event_within(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_client_that_missed_50_events_recovers_them_then_continues_live() {
    let server = TestServer::start().await;
    let mut writer = server.connect("alice").await;
    let project = writer.project_in_mode("Recover", "intake").await;
    let topic = format!("project:{project}");
    let (a, subscribed) = watcher(&server, "alice", &project).await;
    let epoch = subscribed["epoch"].clone();
    let seen = subscribed["offset"].as_u64().unwrap();
    drop(a);

    // 25 notes: 25 `note.created` and 25 `operation.created`.
    for i in 0..25 {
        writer
            .call_ok("create_note", json!({"body": format!("missed {i}")}))
            .await;
    }
    let mut a = server.connect("alice").await;
    let back = subscribe(
        &mut a.ws,
        &topic,
        Some(json!({"epoch": epoch, "offset": seen})),
    )
    .await;
    assert_eq!(back["type"], "subscribed", "{back}");
    assert_eq!(back["recovered"], true);
    assert_eq!(back["epoch"], epoch);
    let missed = back["publications"].as_array().unwrap();
    assert_eq!(missed.len(), 50);
    assert_consecutive(missed, seen);
    assert_eq!(back["offset"], seen + 50);
    assert_eq!(missed[0]["event"]["note"]["body"], "missed 0");
    assert_eq!(missed[48]["event"]["note"]["body"], "missed 24");

    writer.call_ok("create_note", json!({"body": "live"})).await;
    let live = a.ws.next_event().await;
    assert_eq!(live["offset"], seen + 51, "no gap after the recovered ones");
    assert_eq!(live["event"]["note"]["body"], "live");
    assert_eq!(a.ws.next_event().await["offset"], seen + 52);

    // A position the history cannot serve: another epoch, or the future.
    for since in [
        json!({"epoch": "0000", "offset": seen}),
        json!({"epoch": epoch, "offset": seen + 1000}),
    ] {
        let lost = subscribe(&mut a.ws, &topic, Some(since)).await;
        assert_eq!(lost["recovered"], false, "{lost}");
        assert_eq!(lost["publications"], json!([]));
        assert_eq!(lost["offset"], seen + 52);
    }
}

#[tokio::test]
async fn events_published_while_subscribing_arrive_without_gap_or_duplicate() {
    let server = TestServer::start().await;
    let mut owner = server.connect("alice").await;
    let project = owner.project_in_mode("Busy", "intake").await;
    let topic = format!("project:{project}");
    let bus = topics_of(&server).await;
    let first = bus
        .publish(&topic, &delta(0, "start".into()))
        .await
        .unwrap();
    const TOTAL: u64 = 600;
    let publisher = {
        let bus = bus.clone();
        let topic = topic.clone();
        tokio::spawn(async move {
            for seq in 1..TOTAL {
                bus.publish(&topic, &delta(seq, format!("d{seq}")))
                    .await
                    .unwrap();
                if seq % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        })
    };
    // Subscribers arriving at different moments, half of them recovering from the start.
    let mut checks = Vec::new();
    for i in 0..8u64 {
        tokio::time::sleep(Duration::from_millis(8)).await;
        let mut client = server.connect("alice").await;
        let topic = topic.clone();
        let since = (i % 2 == 0).then(|| json!({"epoch": first.epoch, "offset": first.offset}));
        let last = first.offset + TOTAL - 1;
        checks.push(tokio::spawn(async move {
            let reply = subscribe(&mut client.ws, &topic, since.clone()).await;
            assert_eq!(reply["type"], "subscribed", "{reply}");
            let mut got: Vec<Value> = reply["publications"].as_array().unwrap().clone();
            let start = if since.is_some() {
                assert_eq!(reply["recovered"], true);
                first.offset
            } else {
                reply["offset"].as_u64().unwrap()
            };
            if got
                .last()
                .and_then(|e| e["offset"].as_u64())
                .unwrap_or(start)
                < last
            {
                got.extend(events_until(&mut client.ws, |e| e["offset"] == last).await);
            }
            assert_consecutive(&got, start);
        }));
    }
    publisher.await.unwrap();
    for check in checks {
        check.await.unwrap();
    }
}

/// A client's answers are sent by a task of the reader's when the socket is free, its
/// events by the writer: on one socket flooded with events, the answers come in the
/// order asked and the events without gap or repeat.
#[tokio::test]
async fn answers_and_a_flood_of_events_share_one_socket_in_order() {
    let server = TestServer::start().await;
    let mut owner = server.connect("alice").await;
    let project = owner.project_in_mode("Busy", "intake").await;
    let topic = format!("project:{project}");
    let bus = topics_of(&server).await;
    let (mut client, subscribed) = watcher(&server, "alice", &project).await;
    let top = subscribed["offset"].as_u64().unwrap();
    const EVENTS: u64 = 2_000;
    // Within the user's burst of requests.
    const PINGS: u64 = 60;
    let publisher = tokio::spawn(async move {
        for seq in 0..EVENTS {
            bus.publish(&topic, &delta(seq, format!("d{seq}")))
                .await
                .unwrap();
        }
    });
    for id in 1..=PINGS {
        client.ws.send(json!({"type": "ping", "id": id})).await;
        if id % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let (mut answers, mut events) = (Vec::new(), Vec::new());
    while answers.len() < PINGS as usize || events.len() < EVENTS as usize {
        let message = client.ws.recv().await;
        match message["type"].as_str() {
            Some("event") => events.push(message),
            _ => answers.push(message),
        }
    }
    publisher.await.unwrap();
    let asked: Vec<Value> = (1..=PINGS).map(|id| json!(id)).collect();
    let answered: Vec<Value> = answers.iter().map(|a| a["re"].clone()).collect();
    assert_eq!(answered, asked, "answers in the order asked: {answers:?}");
    assert!(answers.iter().all(|a| a["type"] == "pong"), "{answers:?}");
    assert_consecutive(&events, top);
}

/// One round of issue-9 traffic: a client creates notes as fast as it can through one
/// node while 16 clients subscribe at staggered moments on two nodes, half live and half
/// recovering from the topic's first event. Each must see every offset after its own
/// start exactly once: a live subscriber never the offset its reply already covers.
async fn subscribers_join_a_busy_topic(node_a: &TestServer, node_b: &TestServer, round: u32) {
    let mut writer = node_a.connect("alice").await;
    let project = writer
        .project_in_mode(&format!("Busy {round}"), "intake")
        .await;
    let topic = format!("project:{project}");
    let bus = topics_of(node_a).await;
    let first = bus
        .publish(&topic, &delta(0, "start".into()))
        .await
        .unwrap();
    const NOTES: usize = 150;
    let writing = tokio::spawn(async move {
        for i in 0..NOTES {
            writer
                .call_ok("create_note", json!({"body": format!("n{i}")}))
                .await;
        }
        // Kept connected until the end: its leaving would be one more event.
        writer
    });
    let mut joined = Vec::new();
    for i in 0..16u64 {
        tokio::time::sleep(Duration::from_millis(3 + i % 5)).await;
        let node = if i % 2 == 0 { node_a } else { node_b };
        let mut client = node.connect("alice").await;
        let topic = topic.clone();
        let since = (i % 4 < 2).then(|| json!({"epoch": first.epoch, "offset": first.offset}));
        joined.push(tokio::spawn(async move {
            let reply = subscribe(&mut client.ws, &topic, since.clone()).await;
            assert_eq!(reply["type"], "subscribed", "{reply}");
            let start = if since.is_some() {
                assert_eq!(reply["recovered"], true, "{reply}");
                first.offset
            } else {
                reply["offset"].as_u64().unwrap()
            };
            let got: Vec<Value> = reply["publications"].as_array().unwrap().clone();
            (client, start, got)
        }));
    }
    let _writer = writing.await.unwrap();
    let last = bus.position(&topic).await.unwrap().offset;
    assert_eq!(last, first.offset + 2 * NOTES as u64, "two events per note");
    for (i, joined) in joined.into_iter().enumerate() {
        let (mut client, start, mut got) = joined.await.unwrap();
        let reached = |got: &[Value]| {
            got.last()
                .and_then(|e| e["offset"].as_u64())
                .unwrap_or(start)
        };
        if reached(&got) < last {
            let more = tokio::time::timeout(
                Duration::from_secs(20),
                events_until(&mut client.ws, |e| e["offset"].as_u64() >= Some(last)),
            )
            .await
            .unwrap_or_else(|_| panic!("subscriber {i} of round {round} stalled"));
            got.extend(more);
        }
        let got = offsets(&got);
        let want: Vec<u64> = (start + 1..=last).collect();
        if got != want {
            let at = got.iter().zip(&want).take_while(|(g, w)| g == w).count();
            let near = &got[at.saturating_sub(3)..(at + 3).min(got.len())];
            panic!(
                "round {round}, subscriber {i} starting after {start}: every offset once, in \
                 order; differs at index {at}: got ... {near:?} ... ({} offsets, want {})",
                got.len(),
                want.len()
            );
        }
        client.ws.no_event_within(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn subscribers_joining_a_busy_topic_on_two_nodes_see_each_offset_once() {
    // The writer calls as fast as it can: above the default message rate.
    let node_a = TestServer::start_with(|c| {
        c.messages_per_second = 10_000;
        c.message_burst = 10_000;
    })
    .await;
    let node_b = node_a.peer().await;
    for round in 0..4 {
        subscribers_join_a_busy_topic(&node_a, &node_b, round).await;
    }
}

#[tokio::test]
async fn after_redis_loses_everything_recovery_fails_and_a_snapshot_matches_postgres() {
    let redis = PrivateRedis::start().await;
    let url = redis.url();
    let server = TestServer::start_with(|c| c.redis_url = url).await;
    let mut writer = server.connect("alice").await;
    let project = writer.project_in_mode("Flushed", "intake").await;
    writer
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "audience", "value": "New parents"}),
        )
        .await;
    writer.call_ok("create_note", json!({"body": "kept"})).await;
    writer
        .call_ok(
            "record_transcript_pointer",
            json!({"item_id": "i-1", "label": "origin"}),
        )
        .await;
    let (mut a, subscribed) = watcher(&server, "alice", &project).await;
    let old = json!({"epoch": subscribed["epoch"], "offset": subscribed["offset"]});

    let _: () = redis.cmd(&redis::cmd("FLUSHALL")).await;
    // A change made while Redis holds nothing: Postgres has it, the event starts a new epoch.
    writer.configure(json!({"auto_accept": false})).await;
    let pending = writer
        .call_ok("create_todo", json!({"title": "Call the printer"}))
        .await;
    assert_eq!(pending["status"], "pending_approval");

    let topic = format!("project:{project}");
    let back = subscribe(&mut a.ws, &topic, Some(old.clone())).await;
    assert_eq!(back["recovered"], false, "{back}");
    assert_ne!(back["epoch"], old["epoch"], "a new epoch after the loss");

    let snapshot = a
        .request(json!({"type": "snapshot", "project_id": project}))
        .await;
    assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
    assert_eq!(snapshot["position"]["epoch"], back["epoch"]);
    assert_eq!(snapshot["position"]["offset"], back["offset"]);
    // The state is Postgres's.
    let db = server.db().await;
    let row = json_rows(
        &db,
        "SELECT jsonb_build_object('name', name, 'draft', blueprint_draft) FROM projects WHERE id = $1::uuid",
        &project,
    )
    .await;
    assert_eq!(snapshot["project"]["name"], row[0]["name"]);
    assert_eq!(
        snapshot["project"]["blueprint_draft"]["audience"],
        "New parents"
    );
    assert_eq!(snapshot["project"]["blueprint_draft"], row[0]["draft"]);
    let document = writer.call_ok("get_project", json!({})).await;
    assert_eq!(
        snapshot["project"]["blueprint_version"],
        document["project"]["blueprint_version"]
    );
    assert_eq!(snapshot["document"]["version"], 0);
    let ops = snapshot["operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0]["id"], pending["operation_id"]);
    assert_eq!(snapshot["jobs"], json!([]));
    // Notes, todos, transcript pointers and chat come from Postgres as well.
    let notes = snapshot["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{snapshot}");
    assert_eq!(notes[0]["body"], "kept");
    assert_eq!(snapshot["todos"], json!([]), "the todo waits for approval");
    let pointers = snapshot["transcript_pointers"].as_array().unwrap();
    assert_eq!(pointers.len(), 1, "{snapshot}");
    assert_eq!(pointers[0]["label"], "origin");
    assert_eq!(snapshot["chat"], json!([]));
    let present: Vec<&str> = snapshot["presence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["session_id"].as_str().unwrap())
        .collect();
    // The writer joined before the flush, and its node re-records it on its next refresh;
    // right after a flush the list may be empty, never wrong.
    assert!(
        present.iter().all(|s| *s == writer.session_id()),
        "{present:?}"
    );

    // Continuing from the snapshot's position: the next change arrives right after it.
    let resumed = subscribe(&mut a.ws, &topic, Some(snapshot["position"].clone())).await;
    assert_eq!(resumed["recovered"], true);
    writer
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "voice", "value": "Warm"}),
        )
        .await;
    let next = a.ws.next_event().await;
    assert_eq!(next["epoch"], snapshot["position"]["epoch"]);
    assert_eq!(
        next["offset"].as_u64().unwrap(),
        snapshot["position"]["offset"].as_u64().unwrap() + 1
    );
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_is_closed_with_4008_and_others_keep_receiving() {
    let server = TestServer::start_with(|c| {
        c.outbound_messages = 64;
        c.outbound_bytes = 256 * 1024;
        // The cut client reads its close frame only after the rest of the test: however
        // long a busy machine makes that, the hub must still be holding the frame.
        c.close_grace_ms = 120_000;
    })
    .await;
    let mut owner = server.connect("alice").await;
    let project = owner.project_in_mode("Firehose", "intake").await;
    let topic = format!("project:{project}");
    let (mut slow, _) = watcher(&server, "alice", &project).await;
    let (mut fast, subscribed) = watcher(&server, "alice", &project).await;
    let start = subscribed["offset"].as_u64().unwrap();
    let bus = topics_of(&server).await;
    const EVENTS: u64 = 3_000;
    // Events published and not yet read by the fast subscriber, at most: well inside
    // its outbound limits (64 frames, 256 KiB). The test reads it on the thread the
    // publisher runs on, so on a busy machine an unpaced publisher could make the fast
    // one the slow one.
    const AHEAD: u64 = 16;
    let text = "x".repeat(4_000);
    let read = Arc::new(AtomicU64::new(0));
    let publisher = {
        let topic = topic.clone();
        let read = read.clone();
        tokio::spawn(async move {
            for seq in 0..EVENTS {
                while seq >= read.load(Ordering::Acquire) + AHEAD {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                bus.publish(&topic, &delta(seq, text.clone()))
                    .await
                    .unwrap();
            }
        })
    };
    let got = events_until(&mut fast.ws, |e| {
        read.fetch_add(1, Ordering::Release);
        e["offset"] == start + EVENTS
    })
    .await;
    assert_consecutive(&got, start);
    publisher.await.unwrap();
    let closed = slow.ws.closed().await;
    assert_eq!(closed.code, 4008, "{closed:?}");
    // The fast one is still served.
    assert_eq!(fast.request(json!({"type": "ping"})).await["type"], "pong");
}

#[tokio::test]
async fn subscribing_checks_access_and_names_bad_topics() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Private", "intake").await;
    let mut bob = server.connect("bob").await;
    let denied = subscribe(&mut bob.ws, &format!("project:{project}"), None).await;
    assert_eq!(denied["type"], "error");
    assert_eq!(denied["code"], "not_found");
    let denied = subscribe(
        &mut bob.ws,
        &format!("session:{}", alice.session_id()),
        None,
    )
    .await;
    assert_eq!(denied["code"], "not_found");
    let own_topic = format!("session:{}", bob.session_id());
    let own = subscribe(&mut bob.ws, &own_topic, None).await;
    assert_eq!(own["type"], "subscribed", "{own}");
    for bad in ["project:not-a-uuid", "everything", "user:1"] {
        let reply = subscribe(&mut bob.ws, bad, None).await;
        assert_eq!(reply["code"], "bad_request", "{reply}");
        assert!(
            reply["message"].as_str().unwrap().starts_with("topic:"),
            "{reply}"
        );
    }
    let reply = bob
        .request(json!({"type": "subscribe", "topic": format!("project:{project}"), "since": {"epoch": "e"}}))
        .await;
    assert_eq!(reply["code"], "bad_request");
    assert!(
        reply["message"].as_str().unwrap().contains("since"),
        "{reply}"
    );
    let snapshot = bob
        .request(json!({"type": "snapshot", "project_id": project}))
        .await;
    assert_eq!(snapshot["code"], "not_found");
    // Unsubscribing ends delivery; doing it twice is fine.
    let topic = format!("project:{project}");
    subscribe(&mut alice.ws, &topic, None).await;
    for _ in 0..2 {
        let ok = alice
            .request(json!({"type": "unsubscribe", "topic": topic}))
            .await;
        assert_eq!(ok["type"], "ok", "{ok}");
    }
    alice
        .call_ok("create_note", json!({"body": "unheard"}))
        .await;
    alice.ws.no_event_within(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn every_kind_of_change_is_published() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Kinds", "intake").await;
    let (mut watch, _) = watcher(&server, "alice", &project).await;
    alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "summary", "value": "A cookbook"}),
        )
        .await;
    alice.call_ok("commit_blueprint", json!({})).await;
    let todo = alice
        .call_ok("create_todo", json!({"title": "Outline"}))
        .await;
    let todo_id = todo["todo"]["id"].clone();
    alice
        .call_ok(
            "update_todo_status",
            json!({"todo_id": todo_id, "status": "done"}),
        )
        .await;
    alice
        .call_ok(
            "record_transcript_pointer",
            json!({"item_id": "item-1", "label": "origin story"}),
        )
        .await;
    alice.configure(json!({"mode": "update"})).await;
    alice
        .call_ok(
            "apply_document_edits",
            json!({"base_version": 0, "markdown": "# Cookbook\n\nHello.\n"}),
        )
        .await;
    alice
        .call_ok("delete_todo", json!({"todo_id": todo_id}))
        .await;
    let events = events_until(&mut watch.ws, |e| {
        e["event"]["kind"] == "operation.created"
            && e["event"]["operation"]["tool"] == "delete_todo"
    })
    .await;
    let changes: Vec<String> = kinds(&events)
        .into_iter()
        .filter(|k| k != "operation.created")
        .collect();
    assert_eq!(
        changes,
        [
            "project.updated",
            // The field filled is a dimension the session covered.
            "session.phase",
            "project.updated",
            "todo.created",
            "todo.updated",
            "transcript.pointer",
            "document.updated",
            "todo.deleted"
        ]
    );
    let document = events
        .iter()
        .find(|e| e["event"]["kind"] == "document.updated")
        .unwrap();
    assert_eq!(document["event"]["version"], 1);
    assert_eq!(
        document["event"]["source"]["session_id"],
        alice.session_id()
    );
    assert_eq!(document["event"]["sections"][0]["title"], "Cookbook");
    // project.updated, session.phase and operation.created of the field, then the commit.
    let committed = &events[3];
    assert_eq!(committed["event"]["project"]["blueprint_version"], 1);

    // Approvals publish the operation's changes: created (pending), then updated.
    alice
        .configure(json!({"auto_accept": false, "mode": "intake"}))
        .await;
    let pending = alice.call_ok("create_note", json!({"body": "later"})).await;
    let created = watch.ws.next_event().await;
    assert_eq!(created["event"]["kind"], "operation.created");
    assert_eq!(created["event"]["operation"]["status"], "pending");
    let decided = alice
        .request(json!({"type": "operation.decide", "operation_ids": [pending["operation_id"]], "decision": "approve"}))
        .await;
    assert_eq!(decided["type"], "ok", "{decided}");
    let note = watch.ws.next_event().await;
    assert_eq!(note["event"]["kind"], "note.created");
    let updated = watch.ws.next_event().await;
    assert_eq!(updated["event"]["kind"], "operation.updated");
    assert_eq!(updated["event"]["operation"]["status"], "completed");
}

#[tokio::test]
async fn presence_shows_sessions_of_both_nodes_and_their_departures() {
    let node_a = TestServer::start().await;
    let node_b = node_a.peer().await;
    let mut a = node_a.connect("alice").await;
    let project = a.project_in_mode("Together", "intake").await;
    subscribe(&mut a.ws, &format!("project:{project}"), None).await;
    let mut b = node_b.connect("alice").await;
    b.call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;
    let joined = a.ws.next_event().await;
    assert_eq!(joined["event"]["kind"], "presence.joined");
    assert_eq!(joined["event"]["session_id"], b.session_id());
    assert_eq!(joined["event"]["user_id"], "alice");
    assert_eq!(joined["event"]["client"]["name"], "test");

    let on_a = present(&node_a, "alice", &project).await;
    let mut want = vec![a.session_id(), b.session_id()];
    want.sort();
    assert_eq!(on_a, want);
    assert_eq!(present(&node_b, "alice", &project).await, want);

    drop(b);
    let left = a.ws.next_event().await;
    assert_eq!(left["event"]["kind"], "presence.left");
    assert_eq!(
        left["event"]["session_id"],
        want.iter()
            .find(|s| **s != a.session_id())
            .unwrap()
            .as_str()
    );
    assert_eq!(
        present(&node_a, "alice", &project).await,
        vec![a.session_id()]
    );
}

#[tokio::test]
async fn a_lost_subscriber_connection_reconnects_and_delivers_what_it_missed() {
    let redis = PrivateRedis::start().await;
    let url = redis.url();
    let server = TestServer::start_with(|c| c.redis_url = url).await;
    let mut writer = server.connect("alice").await;
    let project = writer.project_in_mode("Cut", "intake").await;
    let (mut a, subscribed) = watcher(&server, "alice", &project).await;
    let start = subscribed["offset"].as_u64().unwrap();
    writer
        .call_ok("create_note", json!({"body": "before"}))
        .await;
    let before = events_until(&mut a.ws, |e| e["event"]["kind"] == "operation.created").await;
    assert_consecutive(&before, start);

    // Cut the node's subscriber connection; publish while it is away.
    let killed: i64 = redis
        .cmd(redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub"))
        .await;
    assert_eq!(
        killed, 2,
        "the node holds two subscriber connections: events and control"
    );
    for i in 0..5 {
        writer
            .call_ok("create_note", json!({"body": format!("while away {i}")}))
            .await;
    }
    let after = events_until(&mut a.ws, |e| {
        e["event"]["kind"] == "operation.created" && e["offset"] == start + 12
    })
    .await;
    assert_consecutive(&after, start + 2);
    a.ws.no_event_within(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn sse_streams_the_project_and_resumes_after_last_event_id() {
    let server = TestServer::start().await;
    let mut writer = server.connect("alice").await;
    let project = writer.project_in_mode("Browser", "intake").await;
    let mut sse = Sse::new(Sse::open(&server, &project, None, "").await);
    writer.call_ok("create_note", json!({"body": "one"})).await;
    let first = sse.next().await;
    assert_eq!(first.event.as_deref(), Some("note.created"));
    let frame: Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(frame["type"], "event");
    assert_eq!(frame["event"]["note"]["body"], "one");
    let id = first.id.clone().unwrap();
    assert_eq!(
        id,
        format!("{}:{}", frame["epoch"].as_str().unwrap(), frame["offset"])
    );
    drop(sse);

    writer.call_ok("create_note", json!({"body": "two"})).await;
    writer
        .call_ok("create_note", json!({"body": "three"}))
        .await;
    let mut resumed = Sse::new(Sse::open(&server, &project, Some(&id), "").await);
    let mut bodies = Vec::new();
    let mut offsets = Vec::new();
    for _ in 0..5 {
        let message = resumed.next().await;
        let frame: Value = serde_json::from_str(&message.data).unwrap();
        offsets.push(frame["offset"].as_u64().unwrap());
        if let Some(body) = frame["event"]["note"]["body"].as_str() {
            bodies.push(body.to_owned());
        }
    }
    let after = frame["offset"].as_u64().unwrap();
    assert_eq!(
        offsets,
        (after + 1..=after + 5).collect::<Vec<_>>(),
        "operation, two, op, three, op"
    );
    assert_eq!(bodies, ["two", "three"]);

    // `?since=` works the same; a lost position starts with `reset`.
    let mut lost = Sse::new(Sse::open(&server, &project, None, "?since=feed:3").await);
    let reset = lost.next().await;
    assert_eq!(reset.event.as_deref(), Some("reset"));
    let data: Value = serde_json::from_str(&reset.data).unwrap();
    assert_eq!(data["position"]["offset"], after + 5);
    writer.call_ok("create_note", json!({"body": "four"})).await;
    let live = lost.next().await;
    assert_eq!(live.event.as_deref(), Some("note.created"));

    // Bad input names the field; no token or another's project is refused.
    let bad = Sse::open(&server, &project, Some("nonsense"), "").await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Last-Event-ID:"),
        "{body}"
    );
    let anonymous = server
        .http
        .get(server.url(&format!("/v1/projects/{project}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let other = server
        .http
        .get(server.url(&format!("/v1/projects/{project}/events")))
        .bearer_auth(server.token("mallory"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn sse_sends_a_keepalive_comment() {
    let server = TestServer::start_with(|c| c.sse_keepalive_ms = 100).await;
    let mut writer = server.connect("alice").await;
    let project = writer.project_in_mode("Quiet", "intake").await;
    let response = Sse::open(&server, &project, None, "").await;
    let mut body = response.bytes_stream();
    let chunk = tokio::time::timeout(Duration::from_secs(2), body.next())
        .await
        .expect("a keep-alive in time")
        .unwrap()
        .unwrap();
    assert!(
        std::str::from_utf8(&chunk).unwrap().starts_with(':'),
        "{chunk:?}"
    );
}

#[tokio::test]
async fn history_keeps_the_last_1000_events_or_10_minutes_whichever_is_more() {
    let client = redis::Client::open(redis_url().as_str()).unwrap();
    let manager = redis::aio::ConnectionManager::new(client).await.unwrap();
    let prefix = format!("dl:test:{}:", uuid::Uuid::new_v4().simple());
    let topic = format!("project:{}", protocol::ProjectId::new());
    let start = |epoch: &str| protocol::client::Position {
        epoch: epoch.to_owned(),
        offset: 0,
    };

    // Defaults: 3,000 events in a burst are all younger than 10 minutes; all are kept.
    let keep = Topics::new(manager.clone(), prefix.clone(), Retention::default());
    let mut last = None;
    for seq in 0..3_000 {
        last = Some(keep.publish(&topic, &delta(seq, "x".into())).await.unwrap());
    }
    let last = last.unwrap();
    assert_eq!(last.offset, 3_000);
    let all = keep
        .since(&topic, &start(&last.epoch), u64::MAX)
        .await
        .unwrap();
    assert!(all.recovered);
    assert_eq!(all.events.len(), 3_000);
    assert_eq!(all.events[2_999].offset, 3_000);
    // Recovery is capped: further behind than `max`, the client takes a snapshot.
    let capped = keep
        .since(&topic, &start(&last.epoch), 2_000)
        .await
        .unwrap();
    assert!(!capped.recovered);

    // No age floor: older events go once the last 1,000 are newer (the age index has a
    // one-second grain, so trimming starts after a second).
    let counted = Topics::new(
        manager.clone(),
        prefix.clone(),
        Retention {
            min_events: 1_000,
            min_age: Duration::from_millis(1),
            idle_ttl: Duration::from_secs(3600),
        },
    );
    let other = format!("project:{}", protocol::ProjectId::new());
    for seq in 0..1_500 {
        counted
            .publish(&other, &delta(seq, "x".into()))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let mut last = None;
    for seq in 0..1_500 {
        last = Some(
            counted
                .publish(&other, &delta(seq, "x".into()))
                .await
                .unwrap(),
        );
    }
    let last = last.unwrap();
    let old = counted
        .since(&other, &start(&last.epoch), u64::MAX)
        .await
        .unwrap();
    assert!(!old.recovered, "the oldest events are gone");
    let recent = protocol::client::Position {
        epoch: last.epoch.clone(),
        offset: last.offset - 1_000,
    };
    let kept = counted.since(&other, &recent, u64::MAX).await.unwrap();
    assert!(kept.recovered, "the last 1,000 are kept");
    assert_eq!(kept.events.len(), 1_000);
    let mut conn = manager.clone();
    let len: u64 = redis::cmd("XLEN")
        .arg(format!("{prefix}topic:{{{other}}}:log"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((1_000..3_000).contains(&len), "trimmed to {len}");
    // Every key of the topic expires when it goes idle (renewed once a second).
    for key in ["meta", "log", "times"] {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(format!("{prefix}topic:{{{other}}}:{key}"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 3_000_000, "an idle topic's {key} expires: {ttl}");
    }
}
