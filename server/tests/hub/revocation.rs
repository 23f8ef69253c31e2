//! Losing access takes effect at once on every node: a removed member's subscription
//! (on another node) gets a `forbidden` error, their SSE stream ends, their session
//! leaves the project and presence; a member lowered to viewer keeps reading and cannot
//! write. Tokens: a connection closes with 4001 when its token expires unless
//! `auth.refresh` handed over a fresh one of the same user; SSE streams end too.

use crate::support::*;
use serde_json::{Value, json};
use std::time::Duration;

/// The next message that is not an `event`.
async fn next_non_event(ws: &mut Ws) -> Value {
    loop {
        let message = ws.recv().await;
        if message["type"] != "event" {
            return message;
        }
    }
}

/// A client of `user` on `server` whose session is in `project` (mode intake) and that
/// subscribes to the project's topic.
async fn member_in(server: &TestServer, user: &str, project: &str) -> Client {
    let mut client = server.connect(user).await;
    client
        .call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;
    client.configure(json!({"mode": "intake"})).await;
    let subscribed = client
        .request(json!({"type": "subscribe", "topic": format!("project:{project}")}))
        .await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
    client
}

#[tokio::test]
async fn a_removed_member_loses_subscription_stream_session_and_presence_on_another_node() {
    let node_a = TestServer::start().await;
    let node_b = node_a.peer().await;
    let mut alice = node_a.connect("alice").await;
    let project = alice.project_in_mode("Shared", "intake").await;
    let topic = format!("project:{project}");
    let watching = alice
        .request(json!({"type": "subscribe", "topic": topic}))
        .await;
    assert_eq!(watching["type"], "subscribed", "{watching}");
    put_member(&node_a, "alice", &project, "bob", "editor").await;

    let mut bob = member_in(&node_b, "bob", &project).await;
    let bob_session = bob.session_id();
    let mut sse = Sse::new(Sse::open_with(&node_b, &node_b.token("bob"), &project, None, "").await);
    // Bob is present, as either node sees it.
    let mut joined = false;
    for _ in 0..100 {
        if present(&node_a, "alice", &project)
            .await
            .contains(&bob_session)
        {
            joined = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(joined, "bob joined the project's presence");

    let removed = node_a
        .http
        .delete(node_a.url(&format!("/v1/projects/{project}/members/bob")))
        .bearer_auth(node_a.token("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);

    // The subscription on the other node is dropped with an error, not a silent stop.
    let expected = json!({
        "type": "error",
        "code": "forbidden",
        "message": format!("access to {topic} was revoked"),
        "details": {"topic": topic},
    });
    assert_eq!(next_non_event(&mut bob.ws).await, expected);
    // The SSE stream says the same, then ends.
    let last = sse.next().await;
    assert_eq!(last.event.as_deref(), Some("error"), "{last:?}");
    assert_eq!(serde_json::from_str::<Value>(&last.data).unwrap(), expected);
    assert!(sse.ends().await, "the stream ends after its error");

    // Presence: alice sees bob leave, and the project no longer lists him.
    loop {
        let message = alice.ws.recv().await;
        if message["type"] == "event"
            && message["event"]["kind"] == "presence.left"
            && message["event"]["session_id"] == bob_session
        {
            break;
        }
    }
    assert!(
        !present(&node_a, "alice", &project)
            .await
            .contains(&bob_session)
    );

    // His session left the project, in Postgres and on the live connection.
    let db = node_a.db().await;
    let cleared = count(
        &db,
        "SELECT count(*) FROM sessions WHERE id = $1::uuid AND project_id IS NULL",
        &bob_session,
    )
    .await;
    assert_eq!(cleared, 1, "the session no longer has the project");
    let no_project = bob.call_err("create_note", json!({"body": "sneaky"})).await;
    assert_eq!(no_project["code"], "invalid_arguments", "{no_project}");
    let hidden = bob
        .call_err(
            "create_note",
            json!({"project_id": project, "body": "sneaky"}),
        )
        .await;
    assert_eq!(hidden["code"], "not_found", "{hidden}");

    // The connection itself stays open, and hears nothing more of the project.
    let pong = bob.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "pong");
    alice
        .call_ok("create_note", json!({"body": "after bob left"}))
        .await;
    bob.ws.no_event_within(Duration::from_millis(500)).await;
    let again = bob
        .request(json!({"type": "subscribe", "topic": topic}))
        .await;
    assert_eq!(again["code"], "not_found", "{again}");
}

#[tokio::test]
async fn a_member_lowered_to_viewer_keeps_reading_and_cannot_write_at_once() {
    let node_a = TestServer::start().await;
    let node_b = node_a.peer().await;
    let mut alice = node_a.connect("alice").await;
    let project = alice.project_in_mode("Shared", "intake").await;
    put_member(&node_a, "alice", &project, "bob", "editor").await;
    let mut bob = member_in(&node_b, "bob", &project).await;
    bob.call_ok("create_note", json!({"body": "while an editor"}))
        .await;

    put_member(&node_a, "alice", &project, "bob", "viewer").await;
    let refused = bob
        .call_err("create_note", json!({"body": "as a viewer"}))
        .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    alice
        .call_ok("create_note", json!({"body": "for everyone"}))
        .await;
    // Still subscribed: the viewer reads the new note.
    loop {
        let message = bob.ws.recv().await;
        assert_ne!(message["type"], "error", "{message}");
        if message["type"] == "event"
            && message["event"]["kind"] == "note.created"
            && message["event"]["note"]["body"] == "for everyone"
        {
            break;
        }
    }
}

#[tokio::test]
async fn a_connection_whose_token_expires_is_closed_with_4001() {
    let server = TestServer::start().await;
    let mut client = server.connect_with(&server.token_for("alice", 2)).await;
    let pong = client.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "pong");
    let error = client.ws.recv().await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["code"], "unauthorized", "{error}");
    assert!(error.get("re").is_none(), "{error}");
    assert_eq!(client.ws.closed().await.code, 4001);
}

#[tokio::test]
async fn auth_refresh_keeps_a_connection_open_past_the_first_token() {
    let server = TestServer::start().await;
    let mut client = server.connect_with(&server.token_for("alice", 3)).await;

    // Refused refreshes leave the connection open and its deadline where it was.
    let other = client
        .request(json!({"type": "auth.refresh", "token": server.token("bob")}))
        .await;
    assert_eq!(other["type"], "error", "{other}");
    assert_eq!(other["code"], "forbidden", "{other}");
    let garbage = client
        .request(json!({"type": "auth.refresh", "token": "not a token"}))
        .await;
    assert_eq!(garbage["code"], "unauthorized", "{garbage}");
    let expired = client
        .request(json!({"type": "auth.refresh", "token": server.token_for("alice", 0)}))
        .await;
    assert_eq!(expired["code"], "unauthorized", "{expired}");

    let fresh = client
        .request(json!({"type": "auth.refresh", "token": server.token("alice")}))
        .await;
    assert_eq!(fresh["type"], "ok", "{fresh}");
    let expires_at: chrono::DateTime<chrono::Utc> = fresh["data"]["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let left = expires_at - chrono::Utc::now();
    assert!(left > chrono::TimeDelta::minutes(50), "{fresh}");

    // Well past the first token's expiry, the connection still answers.
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    let pong = client.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "pong", "{pong}");
}

#[tokio::test]
async fn an_sse_stream_ends_when_its_token_expires() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Short", "intake").await;
    let token = server.token_for("alice", 2);
    let mut sse = Sse::new(Sse::open_with(&server, &token, &project, None, "").await);
    let last = sse.next().await;
    assert_eq!(last.event.as_deref(), Some("error"), "{last:?}");
    let body: Value = serde_json::from_str(&last.data).unwrap();
    assert_eq!(body["code"], "unauthorized", "{body}");
    assert!(sse.ends().await, "the stream ends after its error");
}

#[tokio::test]
async fn a_revocation_missed_while_the_control_connection_was_down_applies_after_it_returns() {
    let redis = PrivateRedis::start().await;
    let url = redis.url();
    let server = TestServer::start_with(|c| c.redis_url = url).await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Missed", "intake").await;
    put_member(&server, "alice", &project, "bob", "editor").await;
    let mut bob = member_in(&server, "bob", &project).await;

    // The membership goes without a control message (as if it was published while the
    // node was not listening), then the node's subscriber connections are cut.
    let db = server.db().await;
    sqlx::query("DELETE FROM project_members WHERE project_id = $1::uuid AND user_id = 'bob'")
        .bind(&project)
        .execute(&db)
        .await
        .unwrap();
    let killed: i64 = redis
        .cmd(redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub"))
        .await;
    assert_eq!(killed, 2, "events and control");

    // Back on its feet, the node re-checks what its connections hold.
    let error = next_non_event(&mut bob.ws).await;
    assert_eq!(error["code"], "forbidden", "{error}");
    assert_eq!(error["details"]["topic"], format!("project:{project}"));
    assert!(error.get("re").is_none(), "{error}");
    let cleared = count(
        &db,
        "SELECT count(*) FROM sessions WHERE id = $1::uuid AND project_id IS NULL",
        &bob.session_id(),
    )
    .await;
    assert_eq!(cleared, 1);
}
