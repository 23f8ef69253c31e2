//! Limits are per user, not per connection: several connections share one rate (with
//! HTTP too), the connection limit counts SSE streams and holds across nodes, jobs that
//! cost money have a quota per minute, and connections that have not said `hello` are
//! capped per source address. Per node, work in Postgres has a bounded number of places
//! and a bounded wait for one.

use crate::support::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::test]
async fn connections_of_one_user_share_one_rate_with_http() {
    let server = TestServer::start_with(|c| {
        c.messages_per_second = 1;
        c.message_burst = 4;
        c.rate_limit_strikes = u32::MAX;
    })
    .await;
    let mut first = server.connect("alice").await;
    let mut second = server.connect("alice").await;
    let started = Instant::now();
    let mut pongs = 0u64;
    let mut limited = Vec::new();
    for _ in 0..5 {
        for client in [&mut first, &mut second] {
            let reply = client.request(json!({"type": "ping"})).await;
            match reply["type"].as_str() {
                Some("pong") => pongs += 1,
                Some("error") => limited.push(reply),
                _ => panic!("{reply}"),
            }
        }
    }
    // One connection alone may have the burst plus what refilled meanwhile; two get no
    // more than that between them.
    let allowed = 4 + started.elapsed().as_secs() + 1;
    assert!(pongs <= allowed, "{pongs} pongs, at most {allowed} allowed");
    assert!(
        !limited.is_empty(),
        "ten pings at once exceed a burst of four"
    );
    for reply in &limited {
        assert_eq!(reply["code"], "rate_limited", "{reply}");
        let wait = reply["retry_after_ms"].as_u64().unwrap();
        assert!((1..=1000).contains(&wait), "{reply}");
    }
    // HTTP draws on the same rate (a few tries: the bucket refills while they run).
    let mut response = None;
    for _ in 0..10 {
        let reply = server
            .http
            .get(server.url(&format!("/v1/sessions/{}", first.session_id())))
            .bearer_auth(server.token("alice"))
            .send()
            .await
            .unwrap();
        if reply.status() == 429 {
            response = Some(reply);
            break;
        }
    }
    let response = response.expect("HTTP requests are limited with the same rate");
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited", "{body}");

    // Another user has a rate of their own.
    let mut bob = server.connect("bob").await;
    assert_eq!(bob.request(json!({"type": "ping"})).await["type"], "pong");
}

/// A `hello` for `user` on a fresh connection; answers the reply and the socket.
async fn hello(server: &TestServer, user: &str) -> (Ws, Value) {
    let mut ws = server.raw("").await;
    let reply = ws.request(hello_frame(server, user)).await;
    (ws, reply)
}

#[tokio::test]
async fn the_connection_limit_counts_sse_and_holds_across_nodes() {
    let node_a = TestServer::start_with(|c| {
        c.max_connections_per_user = 3;
        // A closed stream is noticed at the next write: keep-alives come often.
        c.sse_keepalive_ms = 200;
    })
    .await;
    let node_b = node_a.peer().await;
    let mut alice = node_a.connect("alice").await;
    let project = alice.project_in_mode("Limited", "intake").await;
    let on_b = node_b.connect("alice").await;
    let stream = Sse::new(Sse::open(&node_b, &project, None, "").await);

    // Two WebSocket connections and a stream, on two nodes: the fourth is refused.
    let (mut ws, refused) = hello(&node_a, "alice").await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert_eq!(ws.closed().await.code, 4009);
    let (mut ws, refused) = hello(&node_b, "alice").await;
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert_eq!(ws.closed().await.code, 4009);
    let response = Sse::open(&node_a, &project, None, "").await;
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited", "{body}");
    // Bob is counted on his own.
    let _bob = node_b.connect("bob").await;

    // A closed connection (or stream) on one node frees a place on the other.
    drop(on_b);
    drop(stream);
    let mut again = Vec::new();
    for _ in 0..100 {
        let (ws, reply) = hello(&node_a, "alice").await;
        if reply["type"] == "welcome" {
            again.push(ws);
            if again.len() == 2 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(again.len(), 2, "both places came back");
}

#[tokio::test]
async fn a_dead_nodes_connections_stop_counting_once_they_expire() {
    let server = TestServer::start_with(|c| c.max_connections_per_user = 2).await;
    let client = redis::Client::open(server.config.redis_url.as_str()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}conns:alice", server.config.redis_prefix);
    let now_ms = chrono::Utc::now().timestamp_millis();
    // A live node holds both of alice's places...
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("node-live")
        .arg(format!("2:{}", now_ms + 60_000))
        .query_async(&mut redis)
        .await
        .unwrap();
    let (mut ws, refused) = hello(&server, "alice").await;
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert_eq!(ws.closed().await.code, 4009);
    // ...until its entry has expired (it stopped refreshing): swept, not counted.
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("node-live")
        .arg(format!("2:{}", now_ms - 1))
        .query_async(&mut redis)
        .await
        .unwrap();
    let (_ws, welcome) = hello(&server, "alice").await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let dead: bool = redis::cmd("HEXISTS")
        .arg(&key)
        .arg("node-live")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(!dead, "the dead node's entry was swept");
}

#[tokio::test]
async fn jobs_that_cost_money_have_a_per_user_quota() {
    let server = TestServer::start_with(|c| c.jobs_per_minute = 2).await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Quota", "ghostwriting").await;
    alice
        .call_ok("queue_draft_update", json!({"urgency": "normal"}))
        .await;
    let reply = alice
        .request(json!({"type": "chat.send", "project_id": project, "text": "hello"}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");

    // The quota is used up: the tool, the WebSocket chat and the HTTP chat all say so.
    let error = alice
        .call_err("queue_draft_update", json!({"urgency": "high"}))
        .await;
    assert_eq!(error["code"], "rate_limited", "{error}");
    // 2 a minute: the next one refills within 30 s.
    let wait = error["retry_after_ms"].as_u64().unwrap();
    assert!((1..=30_000).contains(&wait), "{error}");
    let reply = alice
        .request(json!({"type": "chat.send", "project_id": project, "text": "again"}))
        .await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "rate_limited", "{reply}");
    assert!(reply["retry_after_ms"].as_u64().is_some(), "{reply}");
    let response = server
        .http
        .post(server.url(&format!("/v1/projects/{project}/chat")))
        .bearer_auth(server.token("alice"))
        .json(&json!({"text": "over http"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited", "{body}");

    // Nothing was stored for the refused requests: one chat message, one reply job.
    let db = server.db().await;
    let messages = count(
        &db,
        "SELECT count(*) FROM chat_messages WHERE project_id = $1::uuid",
        &project,
    )
    .await;
    assert_eq!(messages, 1);

    // Another member has a quota of their own.
    let response = server
        .http
        .put(server.url(&format!("/v1/projects/{project}/members/bob")))
        .bearer_auth(server.token("alice"))
        .json(&json!({"role": "editor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = server
        .http
        .post(server.url(&format!("/v1/projects/{project}/chat")))
        .bearer_auth(server.token("bob"))
        .json(&json!({"text": "my turn"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn connections_waiting_for_hello_are_capped_per_address() {
    let server = TestServer::start_with(|c| c.max_handshakes_per_address = 2).await;
    let mut first = server.raw("").await;
    let _second = server.raw("").await;
    match server.raw_with("", None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
        }
        Err(e) => panic!("refused otherwise: {e}"),
        Ok(_) => panic!("a third connection waiting for hello was accepted"),
    }
    // Saying hello frees the place.
    let welcome = first.request(hello_frame(&server, "alice")).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let third = server.raw_with("", None).await;
    assert!(third.is_ok(), "a place was freed by hello");
}

/// Waits until a statement of the test database waits for a table's lock (not an
/// advisory one, which the node's relay and flushes take).
async fn a_statement_waits_for_a_table_lock(db: &sqlx::PgPool) {
    testkit::database::until_a_statement_waits(db, "relation", "").await;
}

/// A node with one place for work in Postgres: a call holding it (its insert held by a
/// lock the test takes) leaves room for one request to wait; the next is refused at once,
/// the waiting one once its wait is up. Both refusals, over WebSocket and over HTTP, are
/// `unavailable` with `retry_after_ms` and ran nothing. Pings do not queue, and once the
/// place is free the refused call goes through.
#[tokio::test]
async fn a_node_at_capacity_refuses_calls_unrun_and_takes_them_once_free() {
    const WAIT_MS: u64 = 3_000;
    let server = TestServer::start_with(|c| {
        c.requests_in_flight = Some(1);
        c.request_wait_ms = WAIT_MS;
    })
    .await;
    let mut alice = server.connect("alice").await;
    alice.project_in_mode("Alice's", "intake").await;
    let mut bob = server.connect("bob").await;
    bob.project_in_mode("Bob's", "intake").await;
    let carol_session = {
        let mut carol = server.connect("carol").await;
        carol.project_in_mode("Carol's", "intake").await;
        carol.session_id()
    };
    let mut dave = server.connect("dave").await;

    let db = server.db().await;
    let mut lock = db.begin().await.unwrap();
    sqlx::query("LOCK TABLE notes IN SHARE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    alice
        .ws
        .send(json!({"type": "tool.call", "id": 9001, "call_id": "held", "name": "create_note", "arguments": {"body": "held"}}))
        .await;
    a_statement_waits_for_a_table_lock(&db).await;

    // A request without a valid token takes no place, not even a place to wait: it is
    // refused for its token at once, and the room to wait stays for Bob or Carol.
    for token in [None, Some("not-a-token")] {
        let mut request = server
            .http
            .post(server.url("/v1/tools/create_note"))
            .header("X-Draftline-Session", carol_session.to_string())
            .body(r#"{"body": "stranger refused"}"#);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let sent = Instant::now();
        let response = request.send().await.unwrap();
        let took = sent.elapsed();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 401, "{token:?}: {body}");
        assert_eq!(body["code"], "unauthorized", "{token:?}: {body}");
        assert!(
            took < Duration::from_millis(WAIT_MS / 2),
            "{token:?}: refused at once, not after {took:?}"
        );
    }

    // Bob over WebSocket and Carol over HTTP, one after the other: whichever reaches the
    // node first waits, the other finds no room to wait.
    let http = {
        let request = server
            .http
            .post(server.url("/v1/tools/create_note"))
            .bearer_auth(server.token("carol"))
            .header("X-Draftline-Session", carol_session)
            .body(r#"{"body": "carol refused"}"#);
        tokio::spawn(async move {
            let sent = Instant::now();
            let response = request.send().await.unwrap();
            let retry_after = response.headers().get("retry-after").cloned();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (sent.elapsed(), status, retry_after, body)
        })
    };
    let sent = Instant::now();
    let refused = bob
        .request(json!({"type": "tool.call", "call_id": "bob", "name": "create_note", "arguments": {"body": "bob refused"}}))
        .await;
    let bob_took = sent.elapsed();
    let (carol_took, status, retry_after, carol_body) = http.await.unwrap();
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "unavailable", "{refused}");
    assert_eq!(refused["retry_after_ms"], WAIT_MS, "{refused}");
    assert_eq!(status, 503, "{carol_body}");
    assert_eq!(carol_body["code"], "unavailable", "{carol_body}");
    assert_eq!(carol_body["retry_after_ms"], WAIT_MS, "{carol_body}");
    assert_eq!(retry_after.unwrap(), "3");
    let (first, second) = if bob_took < carol_took {
        (bob_took, carol_took)
    } else {
        (carol_took, bob_took)
    };
    let wait = Duration::from_millis(WAIT_MS);
    assert!(
        first < wait / 2,
        "one is refused at once, not after {first:?}"
    );
    assert!(
        second >= wait / 2,
        "the other waited its turn, not {second:?}"
    );

    // A ping needs no place.
    assert_eq!(dave.request(json!({"type": "ping"})).await["type"], "pong");

    lock.rollback().await.unwrap();
    let held = alice
        .ws
        .wait_for("the held call's result", |m| m["re"] == 9001)
        .await;
    assert_eq!(held["ok"], true, "{held}");
    let refused_notes = count(
        &db,
        "SELECT count(*) FROM notes WHERE body LIKE $1",
        "% refused",
    )
    .await;
    assert_eq!(refused_notes, 0, "a refused call wrote nothing");
    bob.call_ok("create_note", json!({"body": "bob again"}))
        .await;
}

/// Sessions open in a line of their own: a node with four places for requests has one
/// for opening sessions. A `hello` holding it (its insert held by a lock the test takes)
/// makes the next `hello` wait, up to the hello timeout, and then refuses it with
/// `unavailable` and `retry_after_ms`, opening no session; meanwhile a call of a session
/// already open is answered, its place untouched by the crowd.
#[tokio::test]
async fn hellos_wait_in_a_line_of_their_own_and_leave_calls_their_places() {
    const WAIT_MS: u64 = 2_000;
    let server = TestServer::start_with(|c| {
        c.requests_in_flight = Some(4);
        c.hello_timeout_ms = WAIT_MS;
    })
    .await;
    let mut alice = server.connect("alice").await;
    alice.project_in_mode("Alice's", "intake").await;
    let (db, lock, mut held) = hold_the_opening_place(&server).await;

    let mut waiting = server.raw("").await;
    let frank = hello_frame(&server, "frank");
    let sent = Instant::now();
    let refusal = tokio::spawn(async move {
        let reply = waiting.request(frank).await;
        (sent.elapsed(), reply, waiting.closed().await.code)
    });
    let call_sent = Instant::now();
    let project = alice.call_ok("get_project", json!({})).await;
    let call_took = call_sent.elapsed();
    assert!(project["project"].is_object(), "{project}");
    assert!(
        call_took < Duration::from_millis(WAIT_MS / 2),
        "a call is answered while hellos wait, not after {call_took:?}"
    );
    assert!(!refusal.is_finished(), "the second hello is still waiting");

    let (took, refused, code) = refusal.await.unwrap();
    assert_eq!(refused["code"], "unavailable", "{refused}");
    assert_eq!(refused["retry_after_ms"], WAIT_MS, "{refused}");
    assert!(
        took >= Duration::from_millis(WAIT_MS / 2),
        "the hello waited its turn, not {took:?}"
    );
    assert_eq!(code, 1013, "try again later, not an internal error");

    lock.rollback().await.unwrap();
    let welcome = held
        .wait_for("the held hello's welcome", |m| m["type"] == "welcome")
        .await;
    assert_eq!(welcome["session"]["user_id"], "erin", "{welcome}");
    let frank_sessions = count(
        &db,
        "SELECT count(*) FROM sessions WHERE user_id = $1",
        "frank",
    )
    .await;
    assert_eq!(frank_sessions, 0, "a refused hello opened no session");
    server.connect("frank").await;
}

/// A node stopping does not wait for the hellos in its line: they are closed with 1012
/// at once, as connections still to say hello are.
#[tokio::test]
async fn a_stopping_node_closes_the_hellos_in_its_line_at_once() {
    let mut server = TestServer::start_with(|c| c.requests_in_flight = Some(4)).await;
    let (_db, lock, _held) = hold_the_opening_place(&server).await;
    let mut waiting = server.raw("").await;
    waiting.send(hello_frame(&server, "frank")).await;
    // Room to reach the line (the hello timeout, 10 s, is far off).
    tokio::time::sleep(Duration::from_millis(300)).await;

    server.shutdown.cancel();
    let stopping = Instant::now();
    let closed = waiting.closed().await;
    assert_eq!(closed.code, 1012, "{closed:?}");
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "closed at once, not after {:?}",
        stopping.elapsed()
    );
    lock.rollback().await.unwrap();
    server.stop().await;
}

/// `hello` for `user`, request id 1.
fn hello_frame(server: &TestServer, user: &str) -> Value {
    json!({"type": "hello", "id": 1, "token": server.token(user), "client": {"name": "test", "version": "1"}})
}

/// Takes a node's one place for opening sessions (a node of four request places): the
/// `sessions` table locked against inserts (reads go on), and erin's `hello` waiting on
/// it. Answers a pool on the test database, the lock's transaction and erin's
/// connection.
async fn hold_the_opening_place(
    server: &TestServer,
) -> (sqlx::PgPool, sqlx::Transaction<'static, sqlx::Postgres>, Ws) {
    let db = server.db().await;
    let mut lock = db.begin().await.unwrap();
    sqlx::query("LOCK TABLE sessions IN SHARE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let mut held = server.raw("").await;
    held.send(hello_frame(server, "erin")).await;
    a_statement_waits_for_a_table_lock(&db).await;
    (db, lock, held)
}
