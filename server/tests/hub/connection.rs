//! The WebSocket connection: handshake, authentication, sessions resumed, bad input,
//! and every limit with its close code.

use crate::support::*;
use futures_util::SinkExt;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

fn hello(token: Option<&str>) -> serde_json::Value {
    let mut frame = json!({"type": "hello", "client": {"name": "test", "version": "1"}});
    if let Some(token) = token {
        frame["token"] = json!(token);
    }
    frame
}

#[tokio::test]
async fn hello_answers_welcome_with_a_new_selection_session() {
    let server = TestServer::start().await;
    let client = server.connect("alice").await;
    let w = &client.welcome;
    assert_eq!(w["protocol"], 1);
    assert_eq!(w["heartbeat_ms"], 20_000);
    assert_eq!(w["limits"]["max_frame_bytes"], 65_536);
    assert!(w["node_id"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(w["connection_id"].as_str().is_some());
    assert_eq!(w["session"]["id"], w["session_id"]);
    assert_eq!(w["session"]["mode"], "selection");
    assert_eq!(w["session"]["auto_accept"], true);
    assert_eq!(w["session"]["user_id"], "alice");

    let db = server.db().await;
    let (user, mode): (String, String) =
        sqlx::query_as("SELECT user_id, mode FROM sessions WHERE id = $1::uuid")
            .bind(client.session_id())
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!((user.as_str(), mode.as_str()), ("alice", "selection"));
}

#[tokio::test]
async fn token_may_come_with_the_upgrade_as_header_or_query() {
    let server = TestServer::start().await;
    let token = server.token("bob");
    let mut by_header = server.raw_with("", Some(&token)).await.unwrap();
    let reply = by_header.request(hello(None)).await;
    assert_eq!(reply["type"], "welcome");
    assert_eq!(reply["session"]["user_id"], "bob");

    let mut by_query = server.raw(&format!("?access_token={token}")).await;
    let reply = by_query.request(hello(None)).await;
    assert_eq!(reply["session"]["user_id"], "bob");
}

#[tokio::test]
async fn an_invalid_upgrade_token_is_refused_with_401() {
    let server = TestServer::start().await;
    let refused = server.raw_with("", Some("not-a-token")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
        }
        other => panic!("expected HTTP 401, got {:?}", other.map(|_| "an upgrade")),
    }
}

#[tokio::test]
async fn hello_without_a_valid_token_closes_with_4001() {
    let server = TestServer::start().await;
    let mut ws = server.raw("").await;
    let reply = ws.request(hello(None)).await;
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["code"], "unauthorized");
    assert_eq!(ws.closed().await.code, 4001);

    let mut ws = server.raw("").await;
    let forged = server::auth::Auth::new("other-secret")
        .issue("alice", false, 60)
        .unwrap();
    let reply = ws.request(hello(Some(&forged))).await;
    assert_eq!(reply["code"], "unauthorized");
    assert_eq!(ws.closed().await.code, 4001);
}

#[tokio::test]
async fn no_hello_in_time_closes_with_1008() {
    let server = TestServer::start_with(|c| c.hello_timeout_ms = 300).await;
    let mut ws = server.raw("").await;
    let closed = ws.closed().await;
    assert_eq!(closed.code, 1008);
}

#[tokio::test]
async fn another_message_before_hello_closes_with_1008() {
    let server = TestServer::start().await;
    let mut ws = server.raw("").await;
    let reply = ws.request(json!({"type": "ping"})).await;
    assert_eq!(reply["code"], "bad_request");
    assert_eq!(ws.closed().await.code, 1008);

    let mut ws = server.raw("").await;
    ws.send_text("{not json").await;
    assert_eq!(ws.closed().await.code, 1008);
}

#[tokio::test]
async fn bad_input_gets_bad_request_and_the_connection_stays_open() {
    let server = TestServer::start().await;
    let mut client = server.connect("alice").await;
    let ws = &mut client.ws;

    ws.send_text("{this is not json").await;
    let reply = ws.recv().await;
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["code"], "bad_request");
    assert!(reply.get("re").is_none());

    let reply = ws.request(json!({"type": "no.such.type"})).await;
    assert_eq!(reply["code"], "bad_request");
    assert!(
        reply["message"].as_str().unwrap().contains("no.such.type"),
        "{reply}"
    );

    let reply = ws.request(json!({"type": "ping", "extra": true})).await;
    assert_eq!(reply["code"], "bad_request");
    assert!(
        reply["message"].as_str().unwrap().contains("extra"),
        "{reply}"
    );

    let reply = ws
        .request(json!({"type": "session.configure", "auto_accept": "yes"}))
        .await;
    assert_eq!(reply["code"], "bad_request");

    let reply = ws
        .request(json!({"type": "hello", "client": {"name": "a", "version": "1"}}))
        .await;
    assert_eq!(reply["code"], "bad_request", "a second hello is refused");

    ws.ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    let reply = ws.recv().await;
    assert_eq!(reply["code"], "bad_request");

    let reply = ws.request(json!({"type": "ping"})).await;
    assert_eq!(reply["type"], "pong", "still open after all of that");
}

#[tokio::test]
async fn a_frame_over_the_limit_closes_with_1009_and_others_are_unaffected() {
    let server = TestServer::start().await;
    let mut bystander = server.connect("bob").await;
    let mut client = server.connect("alice").await;
    let big = "x".repeat(70 * 1024);
    client
        .ws
        .send(json!({"type": "ping", "id": 1, "pad": big}))
        .await;
    assert_eq!(client.ws.closed().await.code, 1009);
    let reply = bystander.request(json!({"type": "ping"})).await;
    assert_eq!(reply["type"], "pong");
}

#[tokio::test]
async fn sessions_resume_for_their_user_only() {
    let server = TestServer::start().await;
    let mut first = server.connect("alice").await;
    let session = first.session_id();
    first
        .configure(json!({"mode": "intake", "auto_accept": false}))
        .await;

    let (_ws, reply) = server.resume("alice", &session).await;
    assert_eq!(reply["type"], "welcome");
    assert_eq!(reply["session_id"], session.as_str());
    assert_eq!(reply["session"]["mode"], "intake");
    assert_eq!(reply["session"]["auto_accept"], false);

    let (mut ws, reply) = server.resume("mallory", &session).await;
    assert_eq!(reply["code"], "forbidden");
    assert_eq!(ws.closed().await.code, 4003);

    let (mut ws, reply) = server
        .resume("alice", &uuid::Uuid::new_v4().to_string())
        .await;
    assert_eq!(reply["code"], "not_found");
    assert_eq!(ws.closed().await.code, 1008);
}

#[tokio::test]
async fn connections_per_user_are_limited_with_4009() {
    let server = TestServer::start_with(|c| c.max_connections_per_user = 2).await;
    let first = server.connect("alice").await;
    let _second = server.connect("alice").await;
    let mut third = server.raw("").await;
    let reply = third.request(hello(Some(&server.token("alice")))).await;
    assert_eq!(reply["type"], "error");
    assert_eq!(third.closed().await.code, 4009);

    let _other_user = server.connect("bob").await;
    drop(first);
    // The freed place is taken back once the server has seen the close.
    let mut again = None;
    for _ in 0..50 {
        let mut ws = server.raw("").await;
        let reply = ws.request(hello(Some(&server.token("alice")))).await;
        if reply["type"] == "welcome" {
            again = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "a closed connection frees its place");
}

#[tokio::test]
async fn messages_over_the_rate_get_rate_limited_then_4029() {
    let server = TestServer::start_with(|c| {
        c.messages_per_second = 1;
        c.message_burst = 3;
        c.rate_limit_strikes = 5;
    })
    .await;
    let mut client = server.connect("alice").await;
    for _ in 0..3 {
        assert_eq!(
            client.request(json!({"type": "ping"})).await["type"],
            "pong"
        );
    }
    let limited = client.request(json!({"type": "ping"})).await;
    assert_eq!(limited["type"], "error");
    assert_eq!(limited["code"], "rate_limited");
    let retry = limited["retry_after_ms"].as_u64().unwrap();
    assert!((1..=1000).contains(&retry), "{limited}");
    for i in 0..4 {
        client.ws.send(json!({"type": "ping", "id": 100 + i})).await;
    }
    assert_eq!(client.ws.closed().await.code, 4029);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_4008_and_others_keep_going() {
    let server = TestServer::start_with(|c| {
        c.outbound_messages = 8;
        c.outbound_bytes = 256 * 1024;
        // The cut client reads its close frame only after the rest of the test: however
        // long a busy machine makes that, the hub must still be holding the frame.
        c.close_grace_ms = 120_000;
        c.messages_per_second = 100_000;
        c.message_burst = 100_000;
        c.rate_limit_strikes = u32::MAX;
    })
    .await;
    let mut bystander = server.connect("bob").await;
    let mut slow = server.connect("alice").await;
    let description = "d".repeat(19_000);
    slow.call_ok(
        "create_project",
        json!({"name": "big", "description": description}),
    )
    .await;
    // Each reply is ~19 KB: a few hundred of them fill the socket buffers, then the
    // outbox, while this client reads nothing.
    for i in 0..600 {
        let frame = json!({"type": "tool.call", "id": 1000 + i, "call_id": "c", "name": "list_projects", "arguments": {}});
        if slow
            .ws
            .ws
            .send(Message::text(frame.to_string()))
            .await
            .is_err()
        {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pong = bystander.request(json!({"type": "ping"})).await;
    assert_eq!(
        pong["type"], "pong",
        "the slow client does not hold others up"
    );
    assert_eq!(slow.ws.closed().await.code, 4008);
    let pong = bystander.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "pong");
}

#[tokio::test]
async fn a_silent_peer_is_dropped_after_three_heartbeats() {
    let server = TestServer::start_with(|c| {
        c.heartbeat_ms = 100;
        c.max_connections_per_user = 1;
    })
    .await;
    let mut live = server.connect("bob").await;
    let silent = server.connect("alice").await;
    // The live client keeps reading (and so answers pings); the silent one does not.
    let keep_reading = async {
        for _ in 0..8 {
            assert_eq!(live.request(json!({"type": "ping"})).await["type"], "pong");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        live
    };
    let mut live = keep_reading.await;
    assert_eq!(live.request(json!({"type": "ping"})).await["type"], "pong");
    // The silent connection no longer holds alice's only place. (It cannot read the
    // 1001 close frame reliably: it never answered the pings, so the socket is gone.)
    let mut again = server.raw("").await;
    let reply = again.request(hello(Some(&server.token("alice")))).await;
    assert_eq!(reply["type"], "welcome", "{reply}");
    drop(silent);
}

#[tokio::test]
async fn shutdown_closes_connections_with_1012() {
    let mut server = TestServer::start().await;
    let mut a = server.connect("alice").await;
    let mut b = server.connect("bob").await;
    server.stop().await;
    assert_eq!(a.ws.closed().await.code, 1012);
    assert_eq!(b.ws.closed().await.code, 1012);
}

#[tokio::test]
async fn transcript_items_append_once_in_order() {
    let server = TestServer::start().await;
    let mut client = server.connect("alice").await;
    let items = json!([
        {"item_id": "i1", "role": "user", "text": "Hello", "at": "2026-11-22T10:00:00Z"},
        {"item_id": "i2", "role": "assistant", "text": "Hi!", "at": "2026-11-22T10:00:01Z"},
    ]);
    let reply = client
        .request(json!({"type": "transcript.append", "items": items}))
        .await;
    assert_eq!(reply["type"], "ok");
    assert_eq!(reply["data"]["appended"], 2);
    // A resend after a reconnect plus one new item: only the new one counts.
    let reply = client
        .request(json!({"type": "transcript.append", "items": [
            {"item_id": "i2", "role": "assistant", "text": "Hi!", "at": "2026-11-22T10:00:01Z"},
            {"item_id": "i3", "role": "user", "text": "Let's write.", "at": "2026-11-22T10:00:02Z"},
            {"item_id": "i3", "role": "user", "text": "duplicate in one batch", "at": "2026-11-22T10:00:02Z"},
        ]}))
        .await;
    assert_eq!(reply["data"]["appended"], 1);
    let db = server.db().await;
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT seq, item_id, text FROM transcript_items WHERE session_id = $1::uuid ORDER BY seq",
    )
    .bind(client.session_id())
    .fetch_all(&db)
    .await
    .unwrap();
    let expected = vec![
        (1, "i1".to_owned(), "Hello".to_owned()),
        (2, "i2".to_owned(), "Hi!".to_owned()),
        (3, "i3".to_owned(), "Let's write.".to_owned()),
    ];
    assert_eq!(rows, expected);

    let reply = client
        .request(json!({"type": "transcript.append", "items": [
            {"item_id": "", "role": "user", "text": "x", "at": "2026-11-22T10:00:03Z"}
        ]}))
        .await;
    assert_eq!(reply["code"], "bad_request");
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("items[0].item_id")
    );
    let reply = client
        .request(json!({"type": "transcript.append", "items": [
            {"item_id": "x", "role": "narrator", "text": "x", "at": "2026-11-22T10:00:03Z"}
        ]}))
        .await;
    assert_eq!(reply["code"], "bad_request");
}
