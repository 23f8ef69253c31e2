//! Bad input at volume, small: a few thousand malformed frames of every shape of
//! `loadtest malformed` from several connections, each answered with an error naming the
//! field at fault (or the documented close), while a neighbour keeps calling tools and
//! receiving its project's events undisturbed.

use crate::support::{Client, TestServer};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[path = "../../../loadtest/src/shapes.rs"]
mod shapes;

/// Connections sending malformed frames, and frames each: 3,120 in all, every shape
/// 120 times.
const FLOODERS: usize = 6;
const FRAMES_EACH: usize = 520;

/// A client in `update` mode on a project of its own.
async fn ready(server: &TestServer, user: &str, project: Option<&str>) -> (Client, String) {
    let mut client = server.connect(user).await;
    let project = match project {
        Some(id) => {
            client
                .call_ok("assign_project_to_session", json!({"project_id": id}))
                .await;
            client.configure(json!({"mode": "update"})).await;
            id.to_owned()
        }
        None => client.project_in_mode("flooded", "update").await,
    };
    client.configure(json!({"auto_accept": true})).await;
    (client, project)
}

/// Sends its share of shapes, reconnecting after each documented close; answers the
/// problems found.
async fn flood(server: &TestServer, n: usize) -> Vec<String> {
    let user = format!("flooder-{n}");
    let (mut client, project) = ready(server, &user, None).await;
    let max = server.config.max_frame_bytes;
    let mut problems = Vec::new();
    for k in 0..FRAMES_EACH {
        let shape = shapes::shape(n * FRAMES_EACH + k, max);
        let answer = shapes::exchange(&mut client.ws.ws, &shape).await;
        if let Err(problem) = shapes::check(&shape, &answer) {
            problems.push(problem);
        }
        if matches!(answer, shapes::Answer::Closed(_)) {
            client = ready(server, &user, Some(&project)).await.0;
        }
    }
    problems
}

/// Creates notes one after another, checking each call succeeds and its `note.created`
/// event arrives on the same connection; answers the slowest call-to-event time.
async fn neighbour(mut client: Client, project: String, calls: usize) -> Duration {
    let reply = client
        .request(json!({"type": "subscribe", "topic": format!("project:{project}")}))
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
    let mut slowest = Duration::ZERO;
    for i in 0..calls {
        let started = Instant::now();
        let id = format!("neighbour-{i}");
        client
            .ws
            .send(
                json!({"type": "tool.call", "id": id, "call_id": id, "name": "create_note",
                "arguments": {"body": format!("note {i}")}}),
            )
            .await;
        let (mut result, mut event) = (false, false);
        while !(result && event) {
            let message: Value = client.ws.recv().await;
            if message["re"] == id.as_str() {
                assert_eq!(message["ok"], true, "{message}");
                result = true;
            }
            if message["type"] == "event" && message["event"]["kind"] == "note.created" {
                event = true;
            }
        }
        slowest = slowest.max(started.elapsed());
    }
    slowest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_frames_get_clear_errors_and_leave_a_neighbour_alone() {
    let server = TestServer::start_with(|c| {
        // The flood is one user per connection, as fast as the hub answers: the
        // per-user rate would answer most frames `rate_limited` instead of checking them.
        c.messages_per_second = 1_000_000;
        c.message_burst = 1_000_000;
    })
    .await;
    let (client, project) = ready(&server, "neighbour", None).await;
    let calm = tokio::spawn(async move { neighbour(client, project, 40).await });
    let floods: Vec<_> = (0..FLOODERS).map(|n| flood(&server, n)).collect();
    let problems: Vec<String> = futures_util::future::join_all(floods)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert!(
        problems.is_empty(),
        "{} of {} frames were not answered as documented, e.g. {:?}",
        problems.len(),
        FLOODERS * FRAMES_EACH,
        &problems[..problems.len().min(5)]
    );
    let slowest = calm.await.unwrap();
    // A neighbour's tool call and its event stay interactive beside the flood.
    assert!(slowest < Duration::from_secs(5), "slowest call {slowest:?}");
}
