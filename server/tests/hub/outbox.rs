//! The outbox's fast path under concurrent writers: the changes of one project, or of
//! many, made at once from two nodes, reach a subscriber once each and in commit order,
//! with no help from the relay (a node's flushes share rounds, a project in one round at
//! a time and asked again meanwhile in the next; the nodes take turns under each
//! project's publish lock, taken in one order).

use crate::support::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

const WRITERS_PER_NODE: usize = 3;
const NOTES_EACH: usize = 30;
const PROJECTS: usize = 6;

/// Two nodes whose relay looks once a minute: every event must come by the fast path.
async fn two_nodes() -> (TestServer, TestServer) {
    let node_a = TestServer::start_with(|c| {
        c.outbox_relay_ms = 60_000;
        c.messages_per_second = 10_000;
        c.message_burst = 10_000;
        // Each node's writers outnumber its places (its pool's five): on a loaded machine
        // a call may wait longer than the default 100 ms for one and be refused, which
        // is the subject of `limits.rs`, not of these tests.
        c.request_wait_ms = 10_000;
    })
    .await;
    let node_b = node_a.peer().await;
    (node_a, node_b)
}

/// A session of Alice's on `node`, in `project`, named `name` in its notes' bodies.
async fn writer(node: &TestServer, project: &str, name: String) -> (String, Client) {
    let mut writer = node.connect("alice").await;
    writer
        .call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;
    writer.configure(json!({"mode": "intake"})).await;
    (name, writer)
}

/// A subscriber of `project`'s topic, with the offset it starts after.
async fn watcher(node: &TestServer, project: &str) -> (Client, u64) {
    let mut watcher = node.connect("alice").await;
    let subscribed = watcher
        .ws
        .request(json!({"type": "subscribe", "topic": format!("project:{project}")}))
        .await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
    let top = subscribed["offset"].as_u64().unwrap();
    (watcher, top)
}

/// Every writer writes its notes, one call at a time; the writers run at once. Each
/// task gives its writer back: a writer leaving would be one more event.
fn write(writers: Vec<(String, Client)>) -> Vec<tokio::task::JoinHandle<Client>> {
    writers
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
        .collect()
}

/// Reads the events of `writers` writers' notes and checks them: every offset after
/// `top` once and in order, each change's two events consecutive (a project's rows go
/// out in commit order), and each writer's notes each once and in its order.
async fn check(watcher: &mut Client, top: u64, writers: usize, label: &str) {
    let events_due = 2 * writers * NOTES_EACH;
    let mut events: Vec<Value> = Vec::new();
    while events.len() < events_due {
        events.push(watcher.ws.next_event().await);
    }
    let offsets: Vec<u64> = events
        .iter()
        .map(|e| e["offset"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = (top + 1..=top + events_due as u64).collect();
    assert_eq!(offsets, want, "{label}: every offset once, in order");
    let mut seen: HashMap<String, Vec<usize>> = HashMap::new();
    for pair in events.chunks(2) {
        let kinds = [&pair[0]["event"]["kind"], &pair[1]["event"]["kind"]];
        assert_eq!(kinds, ["note.created", "operation.created"], "{pair:?}");
        let note = &pair[0]["event"]["note"];
        assert_eq!(pair[1]["event"]["operation"]["entity_id"], note["id"]);
        let (writer, i) = note["body"].as_str().unwrap().split_once(' ').unwrap();
        seen.entry(writer.to_owned())
            .or_default()
            .push(i.parse().unwrap());
    }
    assert_eq!(seen.len(), writers, "{label}: {seen:?}");
    let want: Vec<usize> = (0..NOTES_EACH).collect();
    for (writer, got) in &seen {
        assert!(writer.ends_with(label), "{label} got {writer}'s notes");
        assert_eq!(
            got, &want,
            "writer {writer}'s notes, each once and in its order"
        );
    }
}

async fn rows_left(node: &TestServer) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM event_outbox")
        .fetch_one(&node.db().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn concurrent_changes_of_one_project_on_two_nodes_arrive_once_in_order_without_the_relay() {
    let (node_a, node_b) = two_nodes().await;
    let mut owner = node_a.connect("alice").await;
    let project = owner.project_in_mode("Busy", "intake").await;
    let mut writers = Vec::new();
    for (node, name) in [(&node_a, "a"), (&node_b, "b")] {
        for k in 0..WRITERS_PER_NODE {
            writers.push(writer(node, &project, format!("{name}{k}-p")).await);
        }
    }
    // Subscribed after the writers joined: their presence events come before `top`.
    let (mut watcher, top) = watcher(&node_a, &project).await;
    let writing = write(writers);
    check(&mut watcher, top, 2 * WRITERS_PER_NODE, "-p").await;
    let _writers: Vec<_> = futures_util::future::join_all(writing).await;
    watcher.ws.no_event_within(Duration::from_millis(300)).await;
    assert_eq!(
        rows_left(&node_a).await,
        0,
        "published rows are deleted by the flush"
    );
}

/// Rounds are shared between projects: with changes on many projects at once from two
/// nodes, each node's rounds take several projects and lock them together (in one order
/// on both nodes, or two rounds would wait on each other). Every project's events still
/// arrive once each and in commit order, and the outbox is left empty.
#[tokio::test]
async fn changes_of_many_projects_on_two_nodes_share_rounds_and_arrive_once_in_order() {
    let (node_a, node_b) = two_nodes().await;
    let mut watched = Vec::new();
    let mut writers = Vec::new();
    for p in 0..PROJECTS {
        let project = node_a
            .connect("alice")
            .await
            .project_in_mode(&format!("Busy {p}"), "intake")
            .await;
        for (node, name) in [(&node_a, "a"), (&node_b, "b")] {
            writers.push(writer(node, &project, format!("{name}-p{p}")).await);
        }
        watched.push(watcher(&node_a, &project).await);
    }
    let writing = write(writers);
    for (p, (watcher, top)) in watched.iter_mut().enumerate() {
        check(watcher, *top, 2, &format!("-p{p}")).await;
    }
    let _writers: Vec<_> = futures_util::future::join_all(writing).await;
    for (watcher, _) in &mut watched {
        watcher.ws.no_event_within(Duration::from_millis(100)).await;
    }
    assert_eq!(
        rows_left(&node_a).await,
        0,
        "published rows are deleted by the rounds"
    );
}
