//! Mode enforcement and argument checking; the connection survives bad arguments.

use super::*;

#[tokio::test]
async fn tools_outside_the_mode_are_not_allowed() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;

    let reply = alice
        .call("create_note", json!({"body": "Remember the flood"}))
        .await;
    assert_eq!(reply["ok"], false, "{reply}");
    let error = &reply["error"];
    assert_eq!(error["code"], "tool_not_allowed", "{error}");
    assert_eq!(error["details"]["mode"], "selection", "{error}");
    assert_eq!(
        error["details"]["allowed"],
        json!([
            "list_projects",
            "create_project",
            "assign_project_to_session"
        ]),
        "{error}"
    );

    let error = alice.call_err("delete_everything", json!({})).await;
    assert_eq!(error["code"], "unknown_tool", "{error}");

    // A read-only mode refuses changes but keeps the tools of every mode.
    let id = alice.project_in_mode("Memoir", "audit").await;
    let error = alice
        .call_err("update_project", json!({"name": "Renamed"}))
        .await;
    assert_eq!(error["code"], "tool_not_allowed", "{error}");
    let error = alice
        .call_err("create_todo", json!({"title": "Nope"}))
        .await;
    assert_eq!(error["code"], "tool_not_allowed", "{error}");
    let listed = alice.call_ok("list_projects", json!({})).await;
    assert_eq!(ids_of(&listed["projects"]), vec![id.clone()]);
    alice
        .call_ok("assign_project_to_session", json!({"project_id": id}))
        .await;
    alice.configure(json!({"mode": "intake"})).await;
    let error = alice
        .call_err(
            "apply_document_edits",
            json!({"base_version": 0, "markdown": "# x"}),
        )
        .await;
    assert_eq!(error["code"], "tool_not_allowed", "{error}");

    assert_eq!(project_row(&db, &id).await["name"], "Memoir");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM todos WHERE project_id::text = $1",
            &id
        )
        .await,
        0
    );
    // Only create_project was recorded.
    let operations = operations_of(&db, &alice.session_id()).await;
    let tools: Vec<&str> = operations
        .iter()
        .map(|o| o["tool"].as_str().unwrap())
        .collect();
    assert_eq!(tools, vec!["create_project"]);
}

#[tokio::test]
async fn arguments_as_a_json_string_behave_like_an_object() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;

    let out = alice
        .call_ok(
            "create_project",
            json!(r#"{"name": "From a string", "description": "Realtime API style"}"#),
        )
        .await;
    assert_eq!(out["project"]["name"], "From a string");
    assert_eq!(out["project"]["description"], "Realtime API style");
    let id = out["project"]["id"].as_str().unwrap().to_owned();

    let assigned = alice
        .call_ok(
            "assign_project_to_session",
            json!(format!(r#"{{"project_id": "{id}"}}"#)),
        )
        .await;
    assert_eq!(assigned["session"]["project_id"], id.as_str());
    // An empty string is no arguments, like an empty object.
    let listed = alice.call_ok("list_projects", json!("")).await;
    assert_eq!(ids_of(&listed["projects"]), vec![id.clone()]);
    let filtered = alice
        .call_ok("list_projects", json!(r#"{"status": "paused"}"#))
        .await;
    assert_eq!(filtered["projects"], json!([]));

    alice.configure(json!({"mode": "update"})).await;
    let todo = alice
        .call_ok(
            "create_todo",
            json!(r#"{"title": "Call aunt May", "priority": "high"}"#),
        )
        .await["todo"]
        .clone();
    assert_eq!(todo["title"], "Call aunt May");
    assert_eq!(todo["priority"], "high");

    // The same checks apply to a string.
    let error = alice
        .call_err("create_todo", json!(r#"{"title": "   "}"#))
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "title", "{error}");
    let error = alice
        .call_err("create_todo", json!(r#"{"title": "x", "colour": "red"}"#))
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "colour", "{error}");
    let error = alice.call_err("create_todo", json!("{not json")).await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "arguments", "{error}");
    let error = alice.call_err("create_todo", json!("[1, 2]")).await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "arguments", "{error}");
}

#[tokio::test]
async fn bad_arguments_name_the_field_and_the_connection_keeps_working() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;

    let cases = [
        ("create_project", json!({}), "name"),
        ("create_project", json!({"name": 5}), "name"),
        (
            "create_project",
            json!({"name": "Memoir", "colour": "red"}),
            "colour",
        ),
        ("create_project", json!({"name": "   "}), "name"),
        ("create_project", json!({"name": ""}), "name"),
        ("create_project", json!({"name": "x".repeat(201)}), "name"),
        (
            "create_project",
            json!({"name": "Memoir", "description": 1}),
            "description",
        ),
        ("create_project", json!([1, 2]), "arguments"),
        ("assign_project_to_session", json!({}), "project_id"),
        (
            "assign_project_to_session",
            json!({"project_id": "not-a-uuid"}),
            "project_id",
        ),
    ];
    for (tool, arguments, field) in cases {
        let error = alice.call_err(tool, arguments.clone()).await;
        assert_eq!(
            error["code"], "invalid_arguments",
            "{tool} {arguments}: {error}"
        );
        assert_eq!(
            error["details"]["field"], field,
            "{tool} {arguments}: {error}"
        );
        assert!(
            error["message"].as_str().unwrap().contains(field),
            "the message names the field: {error}"
        );
    }
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM projects WHERE owner_id = $1",
            "alice"
        )
        .await,
        0
    );

    let id = alice.project_in_mode("Memoir", "update").await;
    let cases = [
        (
            "create_todo",
            json!({"title": "x", "priority": "urgent"}),
            "priority",
        ),
        ("create_todo", json!({"details": "no title"}), "title"),
        ("update_todo", json!({"title": "x"}), "todo_id"),
        ("create_note", json!({"body": ["not", "text"]}), "body"),
        (
            "apply_document_edits",
            json!({"markdown": "# x"}),
            "base_version",
        ),
        (
            "apply_document_edits",
            json!({"base_version": "one", "markdown": "# x"}),
            "base_version",
        ),
    ];
    for (tool, arguments, field) in cases {
        let error = alice.call_err(tool, arguments.clone()).await;
        assert_eq!(
            error["code"], "invalid_arguments",
            "{tool} {arguments}: {error}"
        );
        assert_eq!(
            error["details"]["field"], field,
            "{tool} {arguments}: {error}"
        );
    }

    // Still the same working connection and session.
    let pong = alice.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "pong", "{pong}");
    let project = alice.call_ok("get_project", json!({})).await;
    assert_eq!(project["project"]["id"], id.as_str());
    let todo = alice
        .call_ok("create_todo", json!({"title": "Works again"}))
        .await;
    assert_eq!(todo["todo"]["title"], "Works again");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM todos WHERE project_id::text = $1",
            &id
        )
        .await,
        1
    );
}
