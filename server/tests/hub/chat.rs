//! The project chat at the hub: `chat.send` and `POST /v1/projects/{id}/chat` answer at
//! once with the message and its reply job, store both, and publish the message to the
//! project's subscribers; `GET /v1/projects/{id}/chat` lists it; bad input names the
//! field, and another user's project is not found. (The reply itself is a worker's job:
//! worker/tests/jobs/chat.rs.)

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn body(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let value = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, value)
}

/// `POST /v1/projects/{project}/chat` with a raw body, optionally in a session.
async fn post(
    server: &TestServer,
    user: &str,
    project: &str,
    session: Option<&str>,
    raw: &str,
) -> (StatusCode, Value) {
    let mut request = server
        .http
        .post(server.url(&format!("/v1/projects/{project}/chat")))
        .bearer_auth(server.token(user))
        .body(raw.to_owned());
    if let Some(session) = session {
        request = request.header("X-Draftline-Session", session);
    }
    body(request.send().await.unwrap()).await
}

async fn list(server: &TestServer, user: &str, project: &str, query: &str) -> (StatusCode, Value) {
    let response = server
        .http
        .get(server.url(&format!("/v1/projects/{project}/chat{query}")))
        .bearer_auth(server.token(user))
        .send()
        .await
        .unwrap();
    body(response).await
}

async fn chat_send(client: &mut Client, project: &str, text: &str) -> Value {
    client
        .request(json!({"type": "chat.send", "project_id": project, "text": text}))
        .await
}

async fn created_project(client: &mut Client, name: &str) -> String {
    let output = client
        .call_ok("create_project", json!({"name": name}))
        .await;
    output["project"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn chat_send_answers_at_once_stores_the_message_and_its_job_and_publishes_it() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    let project = created_project(&mut alice, "Harbour").await;
    let mut watcher = server.watcher("alice", &project).await;

    let reply = chat_send(&mut alice, &project, "  What is still missing?\n").await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let message_id = reply["data"]["message_id"].as_str().unwrap().to_owned();
    let job_id = reply["data"]["job_id"].as_str().unwrap().to_owned();

    let db = server.db().await;
    let rows = json_rows(
        &db,
        "SELECT to_jsonb(m) FROM chat_messages m WHERE project_id = $1::uuid",
        &project,
    )
    .await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["id"], message_id.as_str());
    assert_eq!(row["role"], "user");
    assert_eq!(row["author_id"], "alice");
    assert_eq!(row["session_id"], alice.session_id().as_str());
    assert_eq!(row["text"], "What is still missing?", "stored trimmed");
    assert_eq!(row["job_id"], Value::Null);

    let jobs = json_rows(
        &db,
        "SELECT to_jsonb(j) FROM jobs j WHERE id = $1::uuid",
        &job_id,
    )
    .await;
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job["kind"], "chat.reply");
    assert_eq!(job["status"], "queued");
    assert_eq!(job["project_id"], project.as_str());
    assert_eq!(job["session_id"], alice.session_id().as_str());
    assert_eq!(job["idempotency_key"], format!("chat:{message_id}"));
    assert_eq!(job["payload"]["message_id"], message_id.as_str());
    let reply_id = job["payload"]["reply_id"].as_str().unwrap();
    assert_ne!(reply_id, message_id, "the reply has an id of its own");
    assert!(
        job["dispatched_at"].is_string(),
        "dispatched after the commit"
    );

    // Another client of the project sees the message, then the queued job.
    let event = watcher.ws.next_event_of("chat.message").await;
    assert_eq!(event["message"]["id"], message_id.as_str());
    assert_eq!(event["message"]["role"], "user");
    assert_eq!(event["message"]["author_id"], "alice");
    assert_eq!(event["message"]["text"], "What is still missing?");
    assert_eq!(event["message"]["job_id"], Value::Null);
    let queued = watcher.ws.next_event_of("job.status").await;
    assert_eq!(queued["job_id"], job_id.as_str());
    assert_eq!(queued["job_kind"], "chat.reply");
    assert_eq!(queued["status"], "queued");

    // A second message is a second job.
    let second = chat_send(&mut alice, &project, "And the voice?").await;
    assert_eq!(second["type"], "ok", "{second}");
    assert_ne!(second["data"]["job_id"], job_id.as_str());
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM jobs WHERE project_id = $1::uuid AND kind = 'chat.reply'",
            &project
        )
        .await,
        2
    );
}

#[tokio::test]
async fn chat_over_http_sends_and_lists_oldest_first() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    let project = created_project(&mut alice, "Harbour").await;
    let mut watcher = server.watcher("alice", &project).await;

    let session = alice.session_id();
    let (status, first) = post(
        &server,
        "alice",
        &project,
        Some(&session),
        r#"{"text": "One"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert!(first["message_id"].is_string() && first["job_id"].is_string());
    let event = watcher.ws.next_event_of("chat.message").await;
    assert_eq!(event["message"]["id"], first["message_id"]);

    // Without a session header, too.
    let (status, second) = post(&server, "alice", &project, None, r#"{"text": "Two"}"#).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let ws = chat_send(&mut alice, &project, "Three").await;
    assert_eq!(ws["type"], "ok");

    let db = server.db().await;
    let sessions = json_rows(
        &db,
        "SELECT COALESCE(to_jsonb(session_id), 'null') FROM chat_messages \
         WHERE project_id = $1::uuid ORDER BY created_at",
        &project,
    )
    .await;
    assert_eq!(sessions, [json!(session), Value::Null, json!(session)]);
    let job = json_rows(
        &db,
        "SELECT to_jsonb(j) FROM jobs j WHERE id = $1::uuid",
        second["job_id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(job[0]["kind"], "chat.reply");
    assert_eq!(job[0]["session_id"], Value::Null);

    let (status, listed) = list(&server, "alice", &project, "").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let messages = listed["messages"].as_array().unwrap();
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["One", "Two", "Three"]);
    assert_eq!(messages[0]["id"], first["message_id"]);
    assert_eq!(messages[0]["project_id"], project.as_str());
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["author_id"], "alice");
    assert!(messages[0]["created_at"].is_string());

    // The newest N, still oldest first.
    let (_, newest) = list(&server, "alice", &project, "?limit=2").await;
    let texts: Vec<&str> = newest["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Two", "Three"]);
    for bad in ["?limit=0", "?limit=abc", "?limit=1001"] {
        let (status, error) = list(&server, "alice", &project, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {error}");
        assert!(
            error["message"].as_str().unwrap().starts_with("limit:"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn bad_chat_input_is_refused_naming_the_field() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    let project = created_project(&mut alice, "Harbour").await;
    let too_long = "x".repeat(20_001);

    for text in ["", "  \n ", too_long.as_str()] {
        let reply = chat_send(&mut alice, &project, text).await;
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["code"], "invalid_arguments");
        assert_eq!(reply["details"]["field"], "text");
        assert!(reply["message"].as_str().unwrap().starts_with("text: "));
    }
    // The longest message is fine.
    let longest = chat_send(&mut alice, &project, &"x".repeat(20_000)).await;
    assert_eq!(longest["type"], "ok", "{}", longest["code"]);

    // A frame without `text`, or with a field too many, is not a chat.send.
    let reply = alice
        .request(json!({"type": "chat.send", "project_id": project}))
        .await;
    assert_eq!(reply["code"], "bad_request", "{reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("text"),
        "{reply}"
    );
    let reply = alice
        .request(json!({"type": "chat.send", "project_id": "nope", "text": "hi"}))
        .await;
    assert_eq!(reply["code"], "bad_request", "{reply}");

    for (raw, code, field) in [
        ("{}", "invalid_arguments", Some("text")),
        (r#"{"text": 5}"#, "invalid_arguments", Some("text")),
        (r#"{"text": "   "}"#, "invalid_arguments", Some("text")),
        (r#"{"text": "a\u0000b"}"#, "invalid_arguments", Some("text")),
        (r#"{"text": "hi", "mood": "happy"}"#, "bad_request", None),
        ("not json", "bad_request", None),
        ("[]", "bad_request", None),
    ] {
        let (status, error) = post(&server, "alice", &project, None, raw).await;
        assert_eq!(error["code"], code, "{raw}: {error}");
        let want = if code == "bad_request" {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        assert_eq!(status, want, "{raw}");
        if let Some(field) = field {
            assert_eq!(error["details"]["field"], field, "{raw}");
        }
    }
    let (status, error) = post(&server, "alice", "nope", None, r#"{"text": "hi"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let (status, error) = post(
        &server,
        "alice",
        &project,
        Some("not-a-uuid"),
        r#"{"text": "hi"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");

    let db = server.db().await;
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM chat_messages WHERE project_id = $1::uuid",
            &project
        )
        .await,
        1,
        "only the longest message was stored"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM jobs WHERE project_id = $1::uuid",
            &project
        )
        .await,
        1
    );
}

#[tokio::test]
async fn another_users_project_is_not_found_and_viewers_only_read() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    let project = created_project(&mut alice, "Harbour").await;
    assert_eq!(chat_send(&mut alice, &project, "Hello").await["type"], "ok");

    let mut bob = server.connect("bob").await;
    let reply = chat_send(&mut bob, &project, "Let me in").await;
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["code"], "not_found", "{reply}");
    let unknown = chat_send(&mut bob, "00000000-0000-0000-0000-000000000000", "Hi").await;
    assert_eq!(unknown["code"], "not_found", "{unknown}");
    let (status, error) = post(&server, "bob", &project, None, r#"{"text": "Let me in"}"#).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert_eq!(error["code"], "not_found");
    let (status, _) = list(&server, "bob", &project, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A session header must name the caller's own session.
    let (status, _) = post(
        &server,
        "alice",
        &project,
        Some(&bob.session_id()),
        r#"{"text": "Hi"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A viewer reads the chat but cannot write to it.
    let response = server
        .http
        .put(server.url(&format!("/v1/projects/{project}/members/carol")))
        .bearer_auth(server.token("alice"))
        .json(&json!({"role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let mut carol = server.connect("carol").await;
    let reply = chat_send(&mut carol, &project, "May I?").await;
    assert_eq!(reply["code"], "forbidden", "{reply}");
    let (status, listed) = list(&server, "carol", &project, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["messages"].as_array().unwrap().len(), 1);

    let db = server.db().await;
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM chat_messages WHERE project_id = $1::uuid",
            &project
        )
        .await,
        1,
        "only Alice's message"
    );
}
