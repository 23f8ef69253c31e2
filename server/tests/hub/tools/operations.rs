//! The operation row every change writes: completed, or failed as it runs.

use super::*;

#[tokio::test]
async fn every_auto_accepted_change_writes_a_completed_operation() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let session = alice.session_id();

    let id = alice
        .call_ok("create_project", json!({"name": "Memoir"}))
        .await["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    alice.call_ok("list_projects", json!({})).await;
    alice
        .call_ok("assign_project_to_session", json!({"project_id": id}))
        .await;
    alice.configure(json!({"mode": "update"})).await;
    alice
        .call_ok("update_project", json!({"name": "Farm memoir"}))
        .await;
    alice.call_ok("get_project", json!({})).await;
    let todo = alice
        .call_ok("create_todo", json!({"title": "Call aunt May"}))
        .await["todo"]
        .clone();
    let todo_id = todo["id"].as_str().unwrap().to_owned();
    alice
        .call_ok(
            "update_todo",
            json!({"todo_id": todo_id, "priority": "high"}),
        )
        .await;
    alice
        .call_ok(
            "update_todo_status",
            json!({"todo_id": todo_id, "status": "done"}),
        )
        .await;
    let note_id = alice
        .call_ok("create_note", json!({"body": "The flood"}))
        .await["note"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    alice
        .call_ok(
            "update_note",
            json!({"note_id": note_id, "body": "The flood of 1962"}),
        )
        .await;
    alice.call_ok("get_document", json!({})).await;
    alice
        .call_ok(
            "apply_document_edits",
            json!({"base_version": 0, "markdown": "# Memoir\n"}),
        )
        .await;
    alice
        .call_ok("delete_todo", json!({"todo_id": todo_id}))
        .await;
    alice.configure(json!({"mode": "intake"})).await;
    alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "summary", "value": "A farm childhood"}),
        )
        .await;
    alice.call_ok("get_blueprint_gaps", json!({})).await;
    alice.call_ok("commit_blueprint", json!({})).await;
    alice
        .call_ok("record_transcript_pointer", json!({"item_id": "item_1"}))
        .await;

    let operations = operations_of(&db, &session).await;
    let tools: Vec<&str> = operations
        .iter()
        .map(|o| o["tool"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        vec![
            "create_project",
            "update_project",
            "create_todo",
            "update_todo",
            "update_todo_status",
            "create_note",
            "update_note",
            "apply_document_edits",
            "delete_todo",
            "sync_blueprint_field",
            "commit_blueprint",
            "record_transcript_pointer",
        ],
        "one operation per change, none for reads"
    );
    for (i, op) in operations.iter().enumerate() {
        assert_eq!(op["seq"], i as i64 + 1, "{op}");
        assert_eq!(op["status"], "completed", "{op}");
        assert_eq!(op["project_id"], id.as_str(), "{op}");
        assert_eq!(op["error"], Value::Null, "{op}");
        assert!(op["entity_id"].is_string(), "{op}");
        assert!(op["executed_at"].is_string(), "{op}");
        assert!(op["duration_ms"].as_i64().is_some_and(|d| d >= 0), "{op}");
        assert!(
            op["after"].is_object() || op["tool"] == "delete_todo",
            "{op}"
        );
    }
    let by_tool = |tool: &str| operations.iter().find(|o| o["tool"] == tool).unwrap();

    let created = by_tool("create_project");
    assert_eq!(created["kind"], "create");
    assert_eq!(created["entity"], "project");
    assert_eq!(created["entity_id"], id.as_str());
    assert_eq!(created["data"], json!({"name": "Memoir"}));
    assert_eq!(created["before"], Value::Null);
    assert_eq!(created["after"]["name"], "Memoir");

    let renamed = by_tool("update_project");
    assert_eq!(renamed["kind"], "update");
    assert_eq!(renamed["data"], json!({"name": "Farm memoir"}));
    assert_eq!(renamed["before"]["name"], "Memoir");
    assert_eq!(renamed["after"]["name"], "Farm memoir");

    let todo_created = by_tool("create_todo");
    assert_eq!(todo_created["entity"], "todo");
    assert_eq!(todo_created["entity_id"], todo_id.as_str());
    assert_eq!(todo_created["before"], Value::Null);
    assert_eq!(todo_created["after"]["title"], "Call aunt May");

    let reprioritized = by_tool("update_todo");
    assert_eq!(reprioritized["before"]["priority"], "medium");
    assert_eq!(reprioritized["after"]["priority"], "high");
    let status = by_tool("update_todo_status");
    assert_eq!(status["before"]["status"], "open");
    assert_eq!(status["after"]["status"], "done");

    let note = by_tool("update_note");
    assert_eq!(note["entity"], "note");
    assert_eq!(note["before"]["body"], "The flood");
    assert_eq!(note["after"]["body"], "The flood of 1962");

    let edited = by_tool("apply_document_edits");
    assert_eq!(edited["entity"], "document");
    assert_eq!(edited["before"]["version"], 0);
    assert_eq!(edited["after"]["version"], 1);

    let deleted = by_tool("delete_todo");
    assert_eq!(deleted["kind"], "delete");
    assert_eq!(deleted["entity_id"], todo_id.as_str());
    assert_eq!(deleted["before"]["title"], "Call aunt May");
    assert_eq!(deleted["after"], Value::Null);

    let synced = by_tool("sync_blueprint_field");
    assert_eq!(synced["entity"], "blueprint");
    assert_eq!(synced["before"], json!({}));
    assert_eq!(synced["after"], json!({"summary": "A farm childhood"}));

    let committed = by_tool("commit_blueprint");
    assert_eq!(committed["before"]["blueprint_version"], 0);
    assert_eq!(committed["after"]["blueprint_version"], 1);

    let pointer = by_tool("record_transcript_pointer");
    assert_eq!(pointer["entity"], "transcript_pointer");
    assert_eq!(pointer["after"]["item_id"], "item_1");
}

#[tokio::test]
async fn a_change_that_fails_as_it_runs_writes_a_failed_operation() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let id = alice.project_in_mode("Memoir", "update").await;
    let session = alice.session_id();

    let error = alice.call_err("update_project", json!({})).await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    let error = alice
        .call_err(
            "apply_document_edits",
            json!({"base_version": 3, "markdown": "# Stale"}),
        )
        .await;
    assert_eq!(error["code"], "conflict", "{error}");

    let operations = operations_of(&db, &session).await;
    assert_eq!(operations.len(), 3, "{operations:?}");
    let failed = &operations[1];
    assert_eq!(failed["tool"], "update_project");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], "invalid_arguments");
    assert_eq!(failed["error"]["details"]["field"], "name");
    assert_eq!(failed["before"], Value::Null);
    assert_eq!(failed["after"], Value::Null);
    assert!(failed["duration_ms"].as_i64().is_some(), "{failed}");
    let conflict = &operations[2];
    assert_eq!(conflict["tool"], "apply_document_edits");
    assert_eq!(conflict["status"], "failed");
    assert_eq!(conflict["error"]["code"], "conflict");
    assert_eq!(conflict["data"]["markdown"], "# Stale");

    assert_eq!(project_row(&db, &id).await["name"], "Memoir");
    let document = alice.call_ok("get_document", json!({})).await;
    assert_eq!(document["document"]["version"], 0);
}

#[tokio::test]
async fn a_change_to_a_missing_todo_writes_a_failed_operation() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let id = alice.project_in_mode("Memoir", "update").await;
    let session = alice.session_id();
    let kept = alice
        .call_ok("create_todo", json!({"title": "Call aunt May"}))
        .await["todo"]
        .clone();

    let missing = uuid::Uuid::new_v4().to_string();
    let error = alice
        .call_err(
            "update_todo",
            json!({"todo_id": missing, "title": "Nowhere"}),
        )
        .await;
    assert_eq!(error["code"], "not_found", "{error}");

    // Nothing changed...
    let todos = json_rows(
        &db,
        "SELECT to_jsonb(t) FROM todos t WHERE project_id::text = $1",
        &id,
    )
    .await;
    assert_eq!(todos.len(), 1);
    assert_eq!(todos[0]["title"], "Call aunt May");
    assert_eq!(todos[0]["id"], kept["id"]);
    // ...but the attempt is on record.
    let operations = operations_of(&db, &session).await;
    let tools: Vec<(&str, &str)> = operations
        .iter()
        .map(|o| (o["tool"].as_str().unwrap(), o["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        tools,
        vec![
            ("create_project", "completed"),
            ("create_todo", "completed"),
            ("update_todo", "failed"),
        ]
    );
    let failed = &operations[2];
    assert_eq!(failed["error"]["code"], "not_found", "{failed}");
    assert_eq!(failed["data"]["todo_id"], missing.as_str(), "{failed}");
    assert_eq!(failed["after"], Value::Null, "{failed}");
}
