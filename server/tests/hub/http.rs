//! The HTTP API: health, the tool catalogue, tool calls over HTTP, documents and their
//! history, members, pending operations, and errors in the protocol's shape.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn body(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let value = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, value)
}

/// A session over HTTP; answers its id.
async fn session(server: &TestServer, user: &str, settings: Value) -> String {
    let response = server
        .http
        .post(server.url("/v1/sessions"))
        .bearer_auth(server.token(user))
        .json(&settings)
        .send()
        .await
        .unwrap();
    let (status, session) = body(response).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    session["id"].as_str().unwrap().to_owned()
}

async fn call(
    server: &TestServer,
    user: &str,
    session: &str,
    tool: &str,
    arguments: &str,
) -> (StatusCode, Value) {
    let response = server
        .http
        .post(server.url(&format!("/v1/tools/{tool}")))
        .bearer_auth(server.token(user))
        .header("X-Draftline-Session", session)
        .body(arguments.to_owned())
        .send()
        .await
        .unwrap();
    body(response).await
}

async fn get(server: &TestServer, user: &str, path: &str) -> (StatusCode, Value) {
    let response = server
        .http
        .get(server.url(path))
        .bearer_auth(server.token(user))
        .send()
        .await
        .unwrap();
    body(response).await
}

#[tokio::test]
async fn health_and_readiness() {
    let server = TestServer::start().await;
    let (status, health) = body(
        server
            .http
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    let (status, ready) = body(server.http.get(server.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn a_node_does_not_start_without_redis() {
    // Nothing listens on port 1: the connection is refused on every retry.
    let db = TestDb::create().await;
    let config = server::Config::new(db.url.clone(), "redis://127.0.0.1:1".into(), SECRET.into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let result = server::run(config, listener, Default::default()).await;
    assert!(result.is_err(), "no Redis, no node");
}

#[tokio::test]
async fn the_catalogue_lists_a_modes_tools_as_openai_functions() {
    let server = TestServer::start().await;
    let (status, tools) = get(&server, "anyone", "/v1/tools?mode=intake").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "list_projects",
            "assign_project_to_session",
            "get_project",
            "sync_blueprint_field",
            "get_blueprint_gaps",
            "commit_blueprint",
            "create_note",
            "create_todo",
            "update_todo_status",
            "record_transcript_pointer",
            "rollback_operation",
            "get_session_phase",
            "set_session_phase",
            "remember",
            "list_memory",
            "forget_memory",
            "focus_todo",
            "propose_recovery",
        ]
    );
    for tool in tools.as_array().unwrap() {
        assert_eq!(tool["type"], "function");
        assert_eq!(tool["parameters"]["type"], "object");
        assert!(!tool["description"].as_str().unwrap().is_empty());
    }
    let (status, error) = get(&server, "anyone", "/v1/tools?mode=nonsense").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["code"], "bad_request");
}

#[tokio::test]
async fn tools_can_be_called_over_http_in_a_session() {
    let server = TestServer::start().await;
    let alice = session(&server, "alice", json!({})).await;
    let (status, created) = call(
        &server,
        "alice",
        &alice,
        "create_project",
        r#"{"name": "Memoir"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["project"]["name"], "Memoir");
    let project = created["project"]["id"].as_str().unwrap().to_owned();

    // Text Postgres cannot store is refused naming the field, not failed as internal.
    let (status, refused) = call(
        &server,
        "alice",
        &alice,
        "create_project",
        r#"{"name": "Mem\u0000oir"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["code"], "invalid_arguments", "{refused}");
    assert_eq!(refused["details"]["field"], "name", "{refused}");

    let (status, listed) = call(&server, "alice", &alice, "list_projects", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["projects"][0]["id"], project.as_str());

    // Errors carry the protocol's code with the matching status.
    let (status, e) = call(&server, "alice", &alice, "create_note", r#"{"body": "x"}"#).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("tool_not_allowed"))
    );
    let (status, e) = call(&server, "alice", &alice, "make_coffee", "{}").await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_tool"))
    );
    let (status, e) = call(&server, "alice", &alice, "create_project", r#"{"name": 7}"#).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_arguments"))
    );
    assert_eq!(e["details"]["field"], "name");
    let (status, e) = call(&server, "alice", &alice, "create_project", "{oops").await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );

    // Another user's session, no session, no token.
    let (status, e) = call(&server, "bob", &alice, "list_projects", "{}").await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let response = server
        .http
        .post(server.url("/v1/tools/list_projects"))
        .bearer_auth(server.token("alice"))
        .send()
        .await
        .unwrap();
    let (status, e) = body(response).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("X-Draftline-Session")
    );
    let response = server
        .http
        .post(server.url("/v1/tools/list_projects"))
        .header("X-Draftline-Session", &alice)
        .send()
        .await
        .unwrap();
    let (status, e) = body(response).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
}

#[tokio::test]
async fn documents_and_their_history() {
    let server = TestServer::start().await;
    let alice = session(&server, "alice", json!({})).await;
    let (_, created) = call(
        &server,
        "alice",
        &alice,
        "create_project",
        r#"{"name": "Plan"}"#,
    )
    .await;
    let project = created["project"]["id"].as_str().unwrap().to_owned();
    let editor = session(
        &server,
        "alice",
        json!({"mode": "update", "project_id": project}),
    )
    .await;

    let (status, doc) = get(
        &server,
        "alice",
        &format!("/v1/projects/{project}/document"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["version"], 0);
    assert_eq!(doc["markdown"], "");

    let edit =
        json!({"base_version": 0, "markdown": "# Plan\n\n## Goals\nShip.\n", "summary": "A plan."});
    let (status, out) = call(
        &server,
        "alice",
        &editor,
        "apply_document_edits",
        &edit.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["document"]["version"], 1);

    let (_, doc) = get(
        &server,
        "alice",
        &format!("/v1/projects/{project}/document"),
    )
    .await;
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["summary"], "A plan.");
    assert_eq!(
        doc["sections"],
        json!([{"key": "plan", "title": "Plan", "level": 1}, {"key": "plan/goals", "title": "Goals", "level": 2}])
    );

    let (status, versions) = get(
        &server,
        "alice",
        &format!("/v1/projects/{project}/document/versions"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let versions = versions["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["version"], 1);
    assert_eq!(versions[0]["source"]["session_id"], editor.as_str());
    assert!(
        versions[0].get("markdown").is_none(),
        "the list leaves Markdown out"
    );

    let (status, one) = get(
        &server,
        "alice",
        &format!("/v1/projects/{project}/document/versions/1"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["markdown"], "# Plan\n\n## Goals\nShip.\n");

    let (status, e) = get(
        &server,
        "alice",
        &format!("/v1/projects/{project}/document/versions/9"),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, e) = get(&server, "bob", &format!("/v1/projects/{project}/document")).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, e) = get(&server, "alice", "/v1/projects/not-a-uuid/document").await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (status, e) = get(&server, "alice", "/v1/nothing/here").await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test]
async fn owners_manage_members() {
    let server = TestServer::start().await;
    let alice = session(&server, "alice", json!({})).await;
    let (_, created) = call(
        &server,
        "alice",
        &alice,
        "create_project",
        r#"{"name": "Shared"}"#,
    )
    .await;
    let project = created["project"]["id"].as_str().unwrap().to_owned();
    let member_url = |user: &str| server.url(&format!("/v1/projects/{project}/members/{user}"));

    let put = |user: &'static str, as_user: &'static str, role: &'static str| {
        let request = server
            .http
            .put(member_url(user))
            .bearer_auth(server.token(as_user))
            .json(&json!({"role": role}));
        async move { body(request.send().await.unwrap()).await }
    };
    let (status, member) = put("bob", "alice", "editor").await;
    assert_eq!(status, StatusCode::OK, "{member}");
    assert_eq!(member["role"], "editor");

    // Bob now sees the project; as an editor he may not manage members.
    let bob = session(&server, "bob", json!({})).await;
    let (_, listed) = call(&server, "bob", &bob, "list_projects", "{}").await;
    assert_eq!(listed["projects"][0]["id"], project.as_str());
    assert_eq!(listed["projects"][0]["role"], "editor");
    let (status, e) = put("carol", "bob", "viewer").await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, e) = put("alice", "alice", "viewer").await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict")),
        "the owner stays owner"
    );

    let (status, members) = get(&server, "bob", &format!("/v1/projects/{project}/members")).await;
    assert_eq!(status, StatusCode::OK);
    let roles: Vec<(&str, &str)> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["user_id"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, [("alice", "owner"), ("bob", "editor")]);

    let response = server
        .http
        .delete(member_url("bob"))
        .bearer_auth(server.token("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (_, listed) = call(&server, "bob", &bob, "list_projects", "{}").await;
    assert_eq!(listed["projects"], json!([]));
}

#[tokio::test]
async fn pending_operations_are_listed_for_the_project() {
    let server = TestServer::start().await;
    let alice = session(&server, "alice", json!({})).await;
    let (_, created) = call(
        &server,
        "alice",
        &alice,
        "create_project",
        r#"{"name": "Review"}"#,
    )
    .await;
    let project = created["project"]["id"].as_str().unwrap().to_owned();
    let careful = session(
        &server,
        "alice",
        json!({"mode": "intake", "project_id": project, "auto_accept": false}),
    )
    .await;
    let (status, pending) = call(
        &server,
        "alice",
        &careful,
        "create_note",
        r#"{"body": "Call the editor"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pending}");
    assert_eq!(pending["status"], "pending_approval");

    let (status, listed) = get(
        &server,
        "alice",
        &format!("/v1/projects/{project}/operations"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let ops = listed["operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0]["id"], pending["operation_id"]);
    assert_eq!(ops[0]["tool"], "create_note");
    assert_eq!(ops[0]["data"]["body"], "Call the editor");
    let (status, _) = get(
        &server,
        "bob",
        &format!("/v1/projects/{project}/operations"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_count_connections_messages_and_tool_calls() {
    let server = TestServer::start().await;
    let mut client = server.connect("alice").await;
    client
        .call_ok("create_project", json!({"name": "Measured"}))
        .await;
    client.call_err("get_project", json!({})).await;
    let response = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    for expected in [
        "draftline_connections",
        "draftline_ws_messages_total{type=\"tool.call\"}",
        "draftline_tool_call_duration_seconds_bucket{tool=\"create_project\",outcome=\"ok\"",
        "draftline_tool_call_duration_seconds_count{tool=\"get_project\",outcome=\"tool_not_allowed\"}",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
}

#[tokio::test]
async fn the_openapi_document_is_public_and_malformed_urls_answer_in_the_error_shape() {
    let server = TestServer::start().await;
    let response = server
        .http
        .get(server.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "{response:?}"
    );
    let (status, doc) = body(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let post = &doc["paths"]["/v1/tools/{name}"]["post"];
    // Bearer by default; the public routes say they need nothing.
    assert_eq!(doc["security"], json!([{"bearer": []}]));
    assert!(post["security"].is_null(), "{post}");
    assert_eq!(
        doc["paths"]["/v1/openapi.json"]["get"]["security"],
        json!([{}])
    );
    assert!(post["responses"]["422"].is_object(), "{post}");

    // A query axum cannot read (a repeated field) and a plain GET of the WebSocket are
    // refused with the protocol's error body, as the document says.
    let response = server
        .http
        .get(server.url("/v1/tools?mode=intake&mode=audit"))
        .send()
        .await
        .unwrap();
    let (status, error) = body(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["code"], "bad_request", "{error}");
    assert!(
        error["message"].as_str().unwrap().starts_with("query:"),
        "{error}"
    );
    let response = server.http.get(server.url("/v1/ws")).send().await.unwrap();
    let (status, error) = body(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["code"], "bad_request", "{error}");
}
