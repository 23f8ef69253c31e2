//! The outbox's fast path under concurrent writers: the changes of one project, made at
//! once from two nodes, reach a subscriber once each and in commit order, with no help
//! from the relay (a node's flushes share rounds, a project in one round at a time and
//! asked again meanwhile in the next; the nodes take turns under the project's publish
//! lock).

use crate::support::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

const WRITERS_PER_NODE: usize = 3;
const NOTES_EACH: usize = 30;

#[tokio::test]
async fn concurrent_changes_of_one_project_on_two_nodes_arrive_once_in_order_without_the_relay() {
    // The relay looks once a minute: every event must come by the fast path.
    let node_a = TestServer::start_with(|c| {
        c.outbox_relay_ms = 60_000;
        c.messages_per_second = 10_000;
        c.message_burst = 10_000;
    })
    .await;
    let node_b = node_a.peer().await;
    let mut owner = node_a.connect("alice").await;
    let project = owner.project_in_mode("Busy", "intake").await;
    let mut writers = Vec::new();
    for (node, name) in [(&node_a, "a"), (&node_b, "b")] {
        for k in 0..WRITERS_PER_NODE {
            let mut writer = node.connect("alice").await;
            writer
                .call_ok("assign_project_to_session", json!({"project_id": project}))
                .await;
            writer.configure(json!({"mode": "intake"})).await;
            writers.push((format!("{name}{k}"), writer));
        }
    }
    // Subscribed after the writers joined: their presence events come before `top`.
    let mut watcher = node_a.connect("alice").await;
    let subscribed = watcher
        .ws
        .request(json!({"type": "subscribe", "topic": format!("project:{project}")}))
        .await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
    let top = subscribed["offset"].as_u64().unwrap();

    let writing: Vec<_> = writers
        .into_iter()
        .map(|(name, mut writer)| {
            tokio::spawn(async move {
                for i in 0..NOTES_EACH {
                    writer
                        .call_ok("create_note", json!({"body": format!("{name} {i}")}))
                        .await;
                }
                writer
            })
        })
        .collect();
    let notes = 2 * WRITERS_PER_NODE * NOTES_EACH;
    let mut events: Vec<Value> = Vec::new();
    while events.len() < 2 * notes {
        events.push(watcher.ws.next_event().await);
    }
    // Kept connected until now: a writer leaving would be one more event.
    let _writers: Vec<_> = futures_util::future::join_all(writing).await;

    let offsets: Vec<u64> = events
        .iter()
        .map(|e| e["offset"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = (top + 1..=top + 2 * notes as u64).collect();
    assert_eq!(offsets, want, "every offset once, in order");
    // Each change's two events are consecutive: a project's rows go out in commit order.
    let mut seen: HashMap<String, Vec<usize>> = HashMap::new();
    for pair in events.chunks(2) {
        let kinds = [&pair[0]["event"]["kind"], &pair[1]["event"]["kind"]];
        assert_eq!(kinds, ["note.created", "operation.created"], "{pair:?}");
        let note = &pair[0]["event"]["note"];
        assert_eq!(pair[1]["event"]["operation"]["entity_id"], note["id"]);
        let body = note["body"].as_str().unwrap();
        let (writer, i) = body.split_once(' ').unwrap();
        seen.entry(writer.to_owned())
            .or_default()
            .push(i.parse().unwrap());
    }
    assert_eq!(seen.len(), 2 * WRITERS_PER_NODE);
    for (writer, got) in &seen {
        let want: Vec<usize> = (0..NOTES_EACH).collect();
        assert_eq!(
            got, &want,
            "writer {writer}'s notes, each once and in its order"
        );
    }
    watcher.ws.no_event_within(Duration::from_millis(300)).await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM event_outbox")
        .fetch_one(&node_a.db().await)
        .await
        .unwrap();
    assert_eq!(left, 0, "published rows are deleted by the flush itself");
}

const PROJECTS: usize = 6;

/// Rounds are shared between projects: with changes on many projects at once from two
/// nodes, each node's rounds take several projects and lock them together (in one order
/// on both nodes, or two rounds would wait on each other). Every project's events still
/// arrive once each and in commit order, and the outbox is left empty.
#[tokio::test]
async fn changes_of_many_projects_on_two_nodes_share_rounds_and_arrive_once_in_order() {
    let node_a = TestServer::start_with(|c| {
        c.outbox_relay_ms = 60_000;
        c.messages_per_second = 10_000;
        c.message_burst = 10_000;
    })
    .await;
    let node_b = node_a.peer().await;
    let mut watched = Vec::new();
    let mut writing = Vec::new();
    for p in 0..PROJECTS {
        let project = node_a
            .connect("alice")
            .await
            .project_in_mode(&format!("Busy {p}"), "intake")
            .await;
        let mut writers = Vec::new();
        for (node, name) in [(&node_a, "a"), (&node_b, "b")] {
            let mut writer = node.connect("alice").await;
            writer
                .call_ok("assign_project_to_session", json!({"project_id": project}))
                .await;
            writer.configure(json!({"mode": "intake"})).await;
            writers.push((format!("{name}{p}"), writer));
        }
        let mut watcher = node_a.connect("alice").await;
        let subscribed = watcher
            .ws
            .request(json!({"type": "subscribe", "topic": format!("project:{project}")}))
            .await;
        assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
        watched.push((watcher, subscribed["offset"].as_u64().unwrap()));
        writing.extend(writers);
    }
    let writing: Vec<_> = writing
        .into_iter()
        .map(|(name, mut writer)| {
            tokio::spawn(async move {
                for i in 0..NOTES_EACH {
                    writer
                        .call_ok("create_note", json!({"body": format!("{name} {i}")}))
                        .await;
                }
                writer
            })
        })
        .collect();
    for (p, (watcher, top)) in watched.iter_mut().enumerate() {
        let mut events: Vec<Value> = Vec::new();
        while events.len() < 2 * 2 * NOTES_EACH {
            events.push(watcher.ws.next_event().await);
        }
        let offsets: Vec<u64> = events
            .iter()
            .map(|e| e["offset"].as_u64().unwrap())
            .collect();
        let want: Vec<u64> = (*top + 1..=*top + 4 * NOTES_EACH as u64).collect();
        assert_eq!(offsets, want, "project {p}: every offset once, in order");
        let mut seen: HashMap<String, Vec<usize>> = HashMap::new();
        for pair in events.chunks(2) {
            let kinds = [&pair[0]["event"]["kind"], &pair[1]["event"]["kind"]];
            assert_eq!(kinds, ["note.created", "operation.created"], "{pair:?}");
            let body = pair[0]["event"]["note"]["body"].as_str().unwrap();
            let (writer, i) = body.split_once(' ').unwrap();
            assert!(
                writer.ends_with(&p.to_string()),
                "project {p} got {writer}'s note"
            );
            seen.entry(writer.to_owned())
                .or_default()
                .push(i.parse().unwrap());
        }
        let want: Vec<usize> = (0..NOTES_EACH).collect();
        assert_eq!(seen.len(), 2, "project {p}: {seen:?}");
        assert!(
            seen.values().all(|got| got == &want),
            "project {p}: {seen:?}"
        );
    }
    let _writers: Vec<_> = futures_util::future::join_all(writing).await;
    for (watcher, _) in &mut watched {
        watcher.ws.no_event_within(Duration::from_millis(100)).await;
    }
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM event_outbox")
        .fetch_one(&node_a.db().await)
        .await
        .unwrap();
    assert_eq!(left, 0, "published rows are deleted by the rounds");
}
