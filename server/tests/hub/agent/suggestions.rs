//! Suggestions from the read-only modes: recorded pending, applied only when a person approves.

use super::*;

#[tokio::test]
async fn suggestions_wait_for_a_person_even_with_auto_accept() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Garden", "update").await;
    let todo = id_of(
        &alice.call_ok("create_todo", json!({"title": "Dig"})).await,
        "todo",
    );
    let mut watcher = server.watcher("alice", &project).await;
    // The auditing assistant's session accepts changes at once, yet cannot make any.
    let session = alice
        .configure(json!({"mode": "audit", "auto_accept": true}))
        .await;
    assert_eq!(session["auto_accept"], true);
    let error = alice
        .call_err("create_todo", json!({"title": "Sneaked in"}))
        .await;
    assert_eq!(error["code"], "tool_not_allowed", "{error}");
    let error = alice
        .call_err("rollback_operation", json!({"operation_id": todo}))
        .await;
    assert_eq!(error["code"], "tool_not_allowed", "{error}");

    let out = alice
        .call_ok(
            "suggest_operations",
            json!({"operations": [
                {"tool": "create_todo", "arguments": {"title": "Mulch"}, "reason": "The beds dry out"},
                {"tool": "update_todo", "arguments": {"todo_id": todo, "priority": "high"}},
                {"tool": "delete_todo", "arguments": {"todo_id": todo}, "reason": "Done already"},
            ]}),
        )
        .await;
    assert_eq!(out["status"], "pending_approval", "{out}");
    let ops = out["operations"].as_array().unwrap();
    assert_eq!(ops.len(), 3);
    for op in ops {
        assert_eq!(op["status"], "pending", "{op}");
        assert_eq!(op["suggestion"], true, "{op}");
    }
    assert_eq!(ops[0]["reason"], "The beds dry out");
    assert_eq!(ops[0]["tool"], "create_todo");
    assert_eq!(ops[0]["project_id"], project.as_str());
    // Nothing changed.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM todos WHERE project_id::text = $1",
            &project
        )
        .await,
        1
    );
    assert_eq!(todo_row(&db, &todo).await.unwrap()["priority"], "medium");
    // Every client sees the proposals.
    let seen = watcher.ws.next_event_of("operation.created").await;
    assert_eq!(seen["operation"]["suggestion"], true, "{seen}");
    assert_eq!(seen["operation"]["status"], "pending");

    // The person approves one and rejects another from their own client.
    let mut person = server.connect("alice").await;
    let mulch = str_of(&ops[0]["id"]);
    let raise = str_of(&ops[1]["id"]);
    let delete = str_of(&ops[2]["id"]);
    let decided = decide(&mut person, &[&mulch, &raise], "approve").await;
    assert_eq!(decided["completed"], 2, "{decided}");
    let rejected = decide(&mut person, &[&delete], "reject").await;
    assert_eq!(rejected["completed"], 1, "{rejected}");
    assert_eq!(todo_row(&db, &todo).await.unwrap()["priority"], "high");
    assert_eq!(
        count(&db, "SELECT count(*) FROM todos WHERE title = $1", "Mulch").await,
        1
    );
    let row = operation_row(&db, &mulch).await;
    assert_eq!(row["status"], "completed");
    assert_eq!(row["suggestion"], true);
    assert_eq!(row["decided_by"], "alice");
    assert_eq!(operation_row(&db, &delete).await["status"], "rejected");
}

#[tokio::test]
async fn a_forecast_is_saved_as_a_note_with_its_scenario_when_approved() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Harvest", "forecast").await;
    let out = alice
        .call_ok(
            "suggest_operations",
            json!({"operations": [
                {"tool": "create_note", "arguments": {"body": "Done by June", "scenario": "optimistic"}},
                {"tool": "create_note", "arguments": {"body": "Done by August", "scenario": "realistic", "tags": ["plan"]}},
                {"tool": "create_note", "arguments": {"body": "Done next year", "scenario": "pessimistic"}},
            ]}),
        )
        .await;
    let ids: Vec<String> = out["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| str_of(&o["id"]))
        .collect();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM notes WHERE project_id::text = $1",
            &project
        )
        .await,
        0
    );
    let mut person = server.connect("alice").await;
    decide(&mut person, &[&ids[1]], "approve").await;
    decide(&mut person, &[&ids[0], &ids[2]], "reject").await;
    let notes = alice.call_ok("list_notes", json!({})).await["notes"].clone();
    assert_eq!(notes.as_array().unwrap().len(), 1, "{notes}");
    assert_eq!(notes[0]["body"], "Done by August");
    assert_eq!(notes[0]["tags"], json!(["plan", "scenario:realistic"]));
}

#[tokio::test]
async fn suggestions_are_checked_before_anything_is_recorded() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut carol = server.connect("carol").await;
    let carols = carol.project_in_mode("Theirs", "update").await;
    let theirs = id_of(
        &carol
            .call_ok("create_todo", json!({"title": "Theirs"}))
            .await,
        "todo",
    );
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Garden", "update").await;
    // Not in a changing mode.
    let error = alice
        .call_err(
            "suggest_operations",
            json!({"operations": [{"tool": "create_todo", "arguments": {"title": "x"}}]}),
        )
        .await;
    assert_eq!(error["code"], "tool_not_allowed", "{error}");
    alice.configure(json!({"mode": "audit"})).await;
    let good = json!({"tool": "create_todo", "arguments": {"title": "Fine"}});
    for (bad, field) in [
        (
            json!({"tool": "list_notes", "arguments": {}}),
            "operations[1].tool",
        ),
        (
            json!({"tool": "create_project", "arguments": {"name": "x"}}),
            "operations[1].tool",
        ),
        (
            json!({"tool": "no_such_tool", "arguments": {}}),
            "operations[1].tool",
        ),
        (
            json!({"tool": "create_todo", "arguments": {"title": " "}}),
            "operations[1].arguments.title",
        ),
        (
            json!({"tool": "update_todo", "arguments": {"todo_id": theirs, "title": "Mine"}}),
            "operations[1].arguments.todo_id",
        ),
    ] {
        let error = alice
            .call_err("suggest_operations", json!({"operations": [good, bad]}))
            .await;
        assert_eq!(error["code"], "invalid_arguments", "{bad}: {error}");
        assert_eq!(error["details"]["field"], field, "{bad}: {error}");
        assert!(!error.to_string().contains(&carols), "{error}");
    }
    let error = alice
        .call_err("suggest_operations", json!({"operations": []}))
        .await;
    assert_eq!(error["details"]["field"], "operations", "{error}");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM operations WHERE project_id::text = $1 AND status = 'pending'",
            &project
        )
        .await,
        0
    );
    assert_eq!(todo_row(&db, &theirs).await.unwrap()["title"], "Theirs");
}
