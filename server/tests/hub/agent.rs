//! The conversational agent's capabilities beyond single changes: rolling back a
//! completed operation (by tool, by approval and over HTTP), each kind of change with
//! its conflict case; suggestions from the read-only modes, applied only when a person
//! approves them; session phases seen by every client; memory kept across sessions
//! and given to drafts and chat replies; a session focused on one todo; recovering an
//! approved operation that failed.

use crate::drafting::{Jobs, job_events, queue_draft, ready_project, subscribe};
use crate::support::*;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// The latest operation of `tool` on `entity_id`, as its row.
async fn operation_of(db: &sqlx::PgPool, tool: &str, entity_id: &str) -> Value {
    sqlx::query_scalar::<_, Value>(
        "SELECT to_jsonb(o) FROM operations o WHERE tool = $1 AND entity_id = $2 \
         ORDER BY created_at DESC, seq DESC LIMIT 1",
    )
    .bind(tool)
    .bind(entity_id)
    .fetch_one(db)
    .await
    .unwrap()
}

async fn operation_row(db: &sqlx::PgPool, id: &str) -> Value {
    json_rows(
        db,
        "SELECT to_jsonb(o) FROM operations o WHERE id::text = $1",
        id,
    )
    .await
    .pop()
    .expect("the operation row")
}

async fn todo_row(db: &sqlx::PgPool, id: &str) -> Option<Value> {
    json_rows(
        db,
        "SELECT to_jsonb(t) FROM todos t WHERE id::text = $1",
        id,
    )
    .await
    .pop()
}

async fn note_row(db: &sqlx::PgPool, id: &str) -> Option<Value> {
    json_rows(
        db,
        "SELECT to_jsonb(n) FROM notes n WHERE id::text = $1",
        id,
    )
    .await
    .pop()
}

/// A client subscribed to the project's topic.
async fn watcher(server: &TestServer, user: &str, project: &str) -> Client {
    let mut client = server.connect(user).await;
    let reply = client
        .request(json!({"type": "subscribe", "topic": format!("project:{project}")}))
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
    client
}

/// The next event of `kind`, skipping others.
async fn next_event(client: &mut Client, kind: &str) -> Value {
    loop {
        let message = client.ws.recv().await;
        if message["type"] == "event" && message["event"]["kind"] == kind {
            return message["event"].clone();
        }
    }
}

fn id_of(output: &Value, entity: &str) -> String {
    output[entity]["id"].as_str().unwrap().to_owned()
}

fn str_of(value: &Value) -> String {
    value.as_str().unwrap().to_owned()
}

#[tokio::test]
async fn rolling_back_a_creation_deletes_it_unless_it_changed_since() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Garden", "update").await;
    let mut bob = watcher(&server, "alice", &project).await;

    let todo = id_of(
        &alice.call_ok("create_todo", json!({"title": "Dig"})).await,
        "todo",
    );
    let created = operation_of(&db, "create_todo", &todo).await;
    let created_id = str_of(&created["id"]);
    let out = alice
        .call_ok("rollback_operation", json!({"operation_id": created_id}))
        .await;
    assert_eq!(out["rolled_back"]["status"], "rolled_back", "{out}");
    assert_eq!(out["rolled_back"]["rolled_back_by"], "alice");
    assert_eq!(out["entity"]["id"], todo.as_str());
    assert!(todo_row(&db, &todo).await.is_none(), "the todo stayed");

    // The log: the target shows who undid it, the rollback is a deletion of the todo.
    let target = operation_row(&db, &created_id).await;
    assert_eq!(target["status"], "rolled_back");
    assert_eq!(target["rolled_back_by"], "alice");
    let rollback = operation_of(&db, "rollback_operation", &todo).await;
    assert_eq!(rollback["status"], "completed");
    assert_eq!(rollback["kind"], "delete");
    assert_eq!(rollback["entity"], "todo");
    assert_eq!(rollback["rollback_of"], created_id.as_str());
    assert_eq!(rollback["before"], created["after"]);

    // Every client sees it: the todo deleted, the operation updated.
    let deleted = next_event(&mut bob, "todo.deleted").await;
    assert_eq!(deleted["todo"]["id"], todo.as_str());
    loop {
        let updated = next_event(&mut bob, "operation.updated").await;
        if updated["operation"]["id"] == created_id.as_str() {
            assert_eq!(updated["operation"]["status"], "rolled_back");
            break;
        }
    }

    // Undone once: a second rollback is a conflict.
    let error = alice
        .call_err("rollback_operation", json!({"operation_id": created_id}))
        .await;
    assert_eq!(error["code"], "conflict", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("rolled_back"),
        "{error}"
    );

    // A todo changed since its creation is not deleted by rolling the creation back.
    let kept = id_of(
        &alice
            .call_ok("create_todo", json!({"title": "Water"}))
            .await,
        "todo",
    );
    let kept_op = str_of(&operation_of(&db, "create_todo", &kept).await["id"]);
    alice
        .call_ok(
            "update_todo",
            json!({"todo_id": kept, "title": "Water twice"}),
        )
        .await;
    let error = alice
        .call_err("rollback_operation", json!({"operation_id": kept_op}))
        .await;
    assert_eq!(error["code"], "conflict", "{error}");
    assert_eq!(error["details"]["entity"], "todo");
    assert_eq!(error["details"]["entity_id"], kept.as_str());
    assert!(
        error["message"].as_str().unwrap().contains(&kept),
        "the conflict names the todo: {error}"
    );
    assert_eq!(todo_row(&db, &kept).await.unwrap()["title"], "Water twice");
    assert_eq!(operation_row(&db, &kept_op).await["status"], "completed");
    // The refused rollback is in the log as failed, with its error.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM operations WHERE tool = 'rollback_operation' \
             AND status = 'failed' AND data->>'operation_id' = $1",
            &kept_op,
        )
        .await,
        1
    );
}

#[tokio::test]
async fn rolling_back_an_update_restores_before_unless_it_changed_since() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    alice.project_in_mode("Garden", "update").await;
    let todo = id_of(
        &alice
            .call_ok(
                "create_todo",
                json!({"title": "Dig", "details": "Two beds", "priority": "low"}),
            )
            .await,
        "todo",
    );
    alice
        .call_ok(
            "update_todo",
            json!({"todo_id": todo, "title": "Dig deep", "priority": "high", "status": "in_progress"}),
        )
        .await;
    let update = str_of(&operation_of(&db, "update_todo", &todo).await["id"]);
    let out = alice
        .call_ok("rollback_operation", json!({"operation_id": update}))
        .await;
    assert_eq!(out["entity"]["title"], "Dig");
    let row = todo_row(&db, &todo).await.unwrap();
    assert_eq!(row["title"], "Dig");
    assert_eq!(row["details"], "Two beds");
    assert_eq!(row["priority"], "low");
    assert_eq!(row["status"], "open");
    let rollback = operation_of(&db, "rollback_operation", &todo).await;
    assert_eq!(rollback["kind"], "update");
    assert_eq!(rollback["before"]["title"], "Dig deep");
    assert_eq!(rollback["after"]["title"], "Dig");
    assert_eq!(operation_row(&db, &update).await["status"], "rolled_back");

    // Changed again since: the earlier update is not rolled back over it.
    alice
        .call_ok(
            "update_todo_status",
            json!({"todo_id": todo, "status": "done"}),
        )
        .await;
    let status_op = str_of(&operation_of(&db, "update_todo_status", &todo).await["id"]);
    alice
        .call_ok("update_todo", json!({"todo_id": todo, "title": "Dug"}))
        .await;
    let error = alice
        .call_err("rollback_operation", json!({"operation_id": status_op}))
        .await;
    assert_eq!(error["code"], "conflict", "{error}");
    assert_eq!(error["details"]["entity_id"], todo.as_str());
    let row = todo_row(&db, &todo).await.unwrap();
    assert_eq!(
        (row["title"].clone(), row["status"].clone()),
        (json!("Dug"), json!("done"))
    );

    // Notes roll back too: an update restores the body and tags.
    let note = id_of(
        &alice
            .call_ok("create_note", json!({"body": "Tomatoes", "tags": ["veg"]}))
            .await,
        "note",
    );
    alice
        .call_ok(
            "update_note",
            json!({"note_id": note, "body": "Potatoes", "tags": []}),
        )
        .await;
    let note_update = str_of(&operation_of(&db, "update_note", &note).await["id"]);
    alice
        .call_ok("rollback_operation", json!({"operation_id": note_update}))
        .await;
    let row = note_row(&db, &note).await.unwrap();
    assert_eq!(row["body"], "Tomatoes");
    assert_eq!(row["tags"], json!(["veg"]));
    // A note changed since its creation keeps it.
    let note_created = str_of(&operation_of(&db, "create_note", &note).await["id"]);
    let error = alice
        .call_err("rollback_operation", json!({"operation_id": note_created}))
        .await;
    assert_eq!(error["code"], "conflict", "{error}");
    assert_eq!(error["details"]["entity"], "note");
}

#[tokio::test]
async fn rolling_back_a_deletion_recreates_it_and_only_once() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Garden", "update").await;
    let mut watcher = watcher(&server, "alice", &project).await;
    let created = alice
        .call_ok("create_todo", json!({"title": "Prune", "priority": "high"}))
        .await;
    let todo = id_of(&created, "todo");
    alice.call_ok("delete_todo", json!({"todo_id": todo})).await;
    let deletion = str_of(&operation_of(&db, "delete_todo", &todo).await["id"]);
    alice
        .call_ok("rollback_operation", json!({"operation_id": deletion}))
        .await;
    let row = todo_row(&db, &todo).await.expect("the todo is back");
    assert_eq!(row["title"], "Prune");
    assert_eq!(row["priority"], "high");
    // With its identity: same id, same creation time.
    let ok = alice.configure(json!({"mode": "audit"})).await;
    assert_eq!(ok["mode"], "audit");
    let listed = alice.call_ok("list_todos", json!({})).await;
    assert_eq!(listed["todos"][0]["id"], todo.as_str());
    assert_eq!(
        listed["todos"][0]["created_at"],
        created["todo"]["created_at"]
    );
    let back = next_event(&mut watcher, "todo.created").await;
    assert_eq!(back["todo"]["id"], created["todo"]["id"]);
    let back = next_event(&mut watcher, "todo.created").await;
    assert_eq!(back["todo"]["id"], todo.as_str());
    let rollback = operation_of(&db, "rollback_operation", &todo).await;
    assert_eq!(rollback["kind"], "create");

    // Read-only modes cannot roll back.
    let error = alice
        .call_err("rollback_operation", json!({"operation_id": deletion}))
        .await;
    assert_eq!(error["code"], "tool_not_allowed", "{error}");
    alice.configure(json!({"mode": "update"})).await;
    // Already undone: the deletion cannot be rolled back again.
    let error = alice
        .call_err("rollback_operation", json!({"operation_id": deletion}))
        .await;
    assert_eq!(error["code"], "conflict", "{error}");
    assert_eq!(
        count(&db, "SELECT count(*) FROM todos WHERE id::text = $1", &todo).await,
        1
    );
    // A rollback can itself be rolled back: the todo is deleted again.
    let undo = str_of(&rollback["id"]);
    alice
        .call_ok("rollback_operation", json!({"operation_id": undo}))
        .await;
    assert!(todo_row(&db, &todo).await.is_none());
    // Changes other than to todos and notes are refused, naming the argument.
    alice
        .call_ok("update_project", json!({"name": "Orchard"}))
        .await;
    let renamed = str_of(&operation_of(&db, "update_project", &project).await["id"]);
    let error = alice
        .call_err("rollback_operation", json!({"operation_id": renamed}))
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "operation_id");
}

#[tokio::test]
async fn a_rollback_waits_for_approval_and_records_who_decided() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Garden", "update").await;
    let todo = id_of(
        &alice.call_ok("create_todo", json!({"title": "Dig"})).await,
        "todo",
    );
    let created = str_of(&operation_of(&db, "create_todo", &todo).await["id"]);
    alice.configure(json!({"auto_accept": false})).await;
    let pending = alice
        .call_ok("rollback_operation", json!({"operation_id": created}))
        .await;
    assert_eq!(pending["status"], "pending_approval", "{pending}");
    assert_eq!(pending["operation"]["entity"], "operation");
    assert!(todo_row(&db, &todo).await.is_some(), "ran before approval");

    // Bob, an editor, approves it from his own client.
    let response = server
        .http
        .put(server.url(&format!("/v1/projects/{project}/members/bob")))
        .bearer_auth(server.token("alice"))
        .json(&json!({"role": "editor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut bob = server.connect("bob").await;
    let pending_id = str_of(&pending["operation_id"]);
    let reply = bob
        .request(json!({"type": "operation.decide", "operation_ids": [pending_id], "decision": "approve"}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let rollback = operation_row(&db, &pending_id).await;
    assert_eq!(rollback["status"], "completed");
    assert_eq!(rollback["decided_by"], "bob");
    assert_eq!(rollback["kind"], "delete");
    assert_eq!(rollback["entity"], "todo");
    assert_eq!(rollback["entity_id"], todo.as_str());
    assert_eq!(operation_row(&db, &created).await["status"], "rolled_back");
    assert!(todo_row(&db, &todo).await.is_none());
}

#[tokio::test]
async fn a_person_rolls_back_over_http_at_once() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Garden", "update").await;
    let note = id_of(
        &alice
            .call_ok("create_note", json!({"body": "Compost"}))
            .await,
        "note",
    );
    let created = str_of(&operation_of(&db, "create_note", &note).await["id"]);
    // A session without auto-accept: asking over HTTP is the person deciding.
    let session: Value = server
        .http
        .post(server.url("/v1/sessions"))
        .bearer_auth(server.token("alice"))
        .json(&json!({"mode": "update", "auto_accept": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = str_of(&session["id"]);
    let rollback = |op: String| {
        server
            .http
            .post(server.url(&format!("/v1/projects/{project}/operations/{op}/rollback")))
            .bearer_auth(server.token("alice"))
            .header("x-draftline-session", &session)
            .send()
    };
    let response = rollback(created.clone()).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["rolled_back"]["status"], "rolled_back", "{body}");
    assert!(note_row(&db, &note).await.is_none());
    let undo = operation_of(&db, "rollback_operation", &note).await;
    assert_eq!(undo["session_id"], session.as_str());
    assert_eq!(undo["kind"], "delete");

    // Again: the conflict, with the protocol's status.
    let response = rollback(created.clone()).await.unwrap();
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "conflict", "{body}");
    // An operation of another project answers as a missing one.
    let mut carol = server.connect("carol").await;
    carol.project_in_mode("Other", "update").await;
    let theirs = id_of(
        &carol
            .call_ok("create_todo", json!({"title": "Theirs"}))
            .await,
        "todo",
    );
    let theirs_op = str_of(&operation_of(&db, "create_todo", &theirs).await["id"]);
    let response = rollback(theirs_op.clone()).await.unwrap();
    assert_eq!(response.status(), 404);
    assert!(todo_row(&db, &theirs).await.is_some());
}

async fn decide(client: &mut Client, ids: &[&str], decision: &str) -> Value {
    let reply = client
        .request(json!({"type": "operation.decide", "operation_ids": ids, "decision": decision}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    reply["data"].clone()
}

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
    let mut watcher = watcher(&server, "alice", &project).await;
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
    let seen = next_event(&mut watcher, "operation.created").await;
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

#[tokio::test]
async fn phase_changes_reach_every_client_and_pick_the_next_question() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    assert_eq!(
        alice.welcome["session"]["metadata"]["phase"], "gathering",
        "{}",
        alice.welcome
    );
    let project = alice.project_in_mode("Memoir", "intake").await;
    let session = alice.session_id();
    let mut project_watcher = watcher(&server, "alice", &project).await;
    let mut session_watcher = server.connect("alice").await;
    let reply = session_watcher
        .request(json!({"type": "subscribe", "topic": format!("session:{session}")}))
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");

    // Gathering, nothing open: the most important gap.
    let gaps = alice.call_ok("get_blueprint_gaps", json!({})).await;
    assert_eq!(gaps["phase"], "gathering");
    assert_eq!(gaps["next"]["field"], "summary", "{gaps}");

    let out = alice
        .call_ok(
            "set_session_phase",
            json!({"phase": "clarifying", "dimensions_open": ["voice", "people_bonds", "voice"]}),
        )
        .await;
    assert_eq!(
        out,
        json!({"phase": "clarifying", "dimensions_covered": [], "dimensions_open": ["voice", "people_bonds"]})
    );
    for client in [&mut project_watcher, &mut session_watcher] {
        let event = next_event(client, "session.phase").await;
        assert_eq!(event["session_id"], session.as_str());
        assert_eq!(event["project_id"], project.as_str());
        assert_eq!(event["phase"], "clarifying");
        assert_eq!(event["dimensions_open"], json!(["voice", "people_bonds"]));
    }
    let gaps = alice.call_ok("get_blueprint_gaps", json!({})).await;
    assert_eq!(gaps["next"]["field"], "voice", "{gaps}");

    // Filling an open field covers it and takes it off, and every client is told.
    alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "voice", "value": "Warm, plain"}),
        )
        .await;
    let event = next_event(&mut project_watcher, "session.phase").await;
    assert_eq!(event["dimensions_covered"], json!(["voice"]));
    assert_eq!(event["dimensions_open"], json!(["people_bonds"]));
    let phase = alice.call_ok("get_session_phase", json!({})).await;
    assert_eq!(phase["dimensions_open"], json!(["people_bonds"]));
    let gaps = alice.call_ok("get_blueprint_gaps", json!({})).await;
    assert_eq!(gaps["next"]["field"], "people_bonds", "{gaps}");

    // Finalizing asks only what the document cannot do without.
    alice
        .call_ok("set_session_phase", json!({"phase": "finalizing"}))
        .await;
    let gaps = alice.call_ok("get_blueprint_gaps", json!({})).await;
    assert_eq!(gaps["next"]["field"], "summary", "{gaps}");
    assert_eq!(gaps["next"]["priority"], "high");
    alice
        .call_ok("set_session_phase", json!({"phase": "completed"}))
        .await;
    let gaps = alice.call_ok("get_blueprint_gaps", json!({})).await;
    assert_eq!(gaps["next"], Value::Null, "{gaps}");
    assert!(!gaps["gaps"].as_array().unwrap().is_empty());

    // The phase belongs to the session: resuming it finds it there.
    let (_, welcome) = server.resume("alice", &session).await;
    assert_eq!(
        welcome["session"]["metadata"]["phase"], "completed",
        "{welcome}"
    );
    assert_eq!(
        welcome["session"]["metadata"]["dimensions_covered"],
        json!(["voice"])
    );
}

#[tokio::test]
async fn the_phase_tools_check_their_mode_and_arguments() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    let error = alice
        .call_err("set_session_phase", json!({"phase": "clarifying"}))
        .await;
    assert_eq!(error["code"], "tool_not_allowed", "{error}");
    alice.project_in_mode("Memoir", "audit").await;
    alice
        .call_ok("set_session_phase", json!({"phase": "finalizing"}))
        .await;
    assert_eq!(
        alice.call_ok("get_session_phase", json!({})).await["phase"],
        "finalizing"
    );
    let error = alice.call_err("set_session_phase", json!({})).await;
    assert_eq!(error["code"], "invalid_arguments");
    assert_eq!(error["details"]["field"], "phase", "{error}");
    let error = alice
        .call_err("set_session_phase", json!({"phase": "dreaming"}))
        .await;
    assert_eq!(error["details"]["field"], "phase", "{error}");
    let error = alice
        .call_err("set_session_phase", json!({"dimensions_open": ["nope"]}))
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    // A mode change leaves the phase where the conversation put it.
    let session = alice.configure(json!({"mode": "forecast"})).await;
    assert_eq!(session["metadata"]["phase"], "finalizing");
}

/// A model endpoint speaking the OpenAI chat completions stream that keeps every
/// request body it is sent (the prompts) and answers a short draft.
async fn capturing_model() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                let pieces = [
                    "# Harbour Workshop\n\n## Overview\n\nShort and plain.\n",
                    "\n---DRAFTLINE---\n",
                    r#"{"summary": "A short draft.", "sections": ["Overview"]}"#,
                ];
                let mut body = String::new();
                for piece in pieces {
                    let chunk = json!({"choices": [{"index": 0, "delta": {"content": piece}}]});
                    body.push_str(&format!("data: {chunk}\n\n"));
                }
                body.push_str("data: [DONE]\n\n");
                ([("content-type", "text/event-stream")], body).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn memory_survives_a_new_session_and_reaches_drafts_and_chat_replies() {
    let (url, prompts) = capturing_model().await;
    let server = TestServer::start().await;
    let _jobs = Jobs::start(&server, |c| {
        c.model.kind = worker::draft::ModelKind::Openai;
        c.model.openai_base_url = url.clone();
        c.model.openai_api_key = Some("test-key".into());
    })
    .await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = ready_project(&mut alice).await;
    alice.configure(json!({"mode": "update"})).await;
    let note = id_of(
        &alice
            .call_ok("create_note", json!({"body": "The budget is fixed"}))
            .await,
        "note",
    );
    let older = alice
        .call_ok(
            "remember",
            json!({"kind": "fact", "body": "The budget is fixed at 40k",
                   "source": {"kind": "note", "id": note}}),
        )
        .await;
    assert_eq!(
        older["entry"]["source"],
        json!({"kind": "note", "id": note})
    );
    let newer = alice
        .call_ok(
            "remember",
            json!({"kind": "preference", "body": "Prefers short plain sentences",
                   "source": {"kind": "transcript_item", "id": "item-7"}}),
        )
        .await;
    assert_eq!(newer["entry"]["user_id"], "alice");
    assert_eq!(newer["entry"]["session_id"], alice.session_id().as_str());
    // Remembering is a change like any other: an operation of kind create.
    let op = operation_of(&db, "remember", newer["entry"]["id"].as_str().unwrap()).await;
    assert_eq!(
        (op["kind"].clone(), op["entity"].clone()),
        (json!("create"), json!("memory"))
    );

    // A new session, another day: assigning the project gives it the memory, newest
    // first.
    drop(alice);
    let mut later = server.connect("alice").await;
    let assigned = later
        .call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;
    let bodies: Vec<&str> = assigned["memory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "Prefers short plain sentences",
            "The budget is fixed at 40k"
        ]
    );
    later.configure(json!({"mode": "audit"})).await;
    let listed = later
        .call_ok("list_memory", json!({"kind": "preference"}))
        .await;
    assert_eq!(listed["memory"].as_array().unwrap().len(), 1, "{listed}");
    let error = later
        .call_err("remember", json!({"kind": "fact", "body": "x"}))
        .await;
    assert_eq!(error["code"], "tool_not_allowed", "{error}");

    // The draft's prompt carries it.
    later.configure(json!({"mode": "ghostwriting"})).await;
    subscribe(&mut later, &project).await;
    let job = queue_draft(&mut later, json!({"urgency": "high"})).await;
    job_events(&mut later.ws, &job, "completed").await;
    let prompt = prompts
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("the draft's prompt");
    assert!(
        prompt.contains("Remembered from earlier conversations"),
        "{prompt}"
    );
    let preference = prompt
        .find("Prefers short plain sentences")
        .expect("the preference");
    let fact = prompt.find("The budget is fixed at 40k").expect("the fact");
    assert!(preference < fact, "newest first");

    // And so does a chat reply's.
    let reply = later
        .request(
            json!({"type": "chat.send", "project_id": project, "text": "How long should it be?"}),
        )
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let chat_prompt = prompts
            .lock()
            .unwrap()
            .iter()
            .find(|p| p.contains("How long should it be?"))
            .cloned();
        if let Some(chat_prompt) = chat_prompt {
            assert!(
                chat_prompt.contains("Prefers short plain sentences"),
                "{chat_prompt}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no chat reply was asked for"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Forgotten, it is gone for the next session, and every client is told.
    let mut watcher = watcher(&server, "alice", &project).await;
    later.configure(json!({"mode": "update"})).await;
    let forgotten = later
        .call_ok("forget_memory", json!({"memory_id": newer["entry"]["id"]}))
        .await;
    assert_eq!(forgotten["entry"]["id"], newer["entry"]["id"]);
    let event = next_event(&mut watcher, "memory.deleted").await;
    assert_eq!(event["entry"]["id"], newer["entry"]["id"]);
    let mut next_day = server.connect("alice").await;
    let assigned = next_day
        .call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;
    assert_eq!(assigned["memory"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn memory_over_http_and_its_checks() {
    let server = TestServer::start().await;
    let mut carol = server.connect("carol").await;
    carol.project_in_mode("Theirs", "update").await;
    let their_note = id_of(
        &carol
            .call_ok("create_note", json!({"body": "Private"}))
            .await,
        "note",
    );
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Garden", "update").await;
    let mut watcher = watcher(&server, "alice", &project).await;
    let url = server.url(&format!("/v1/projects/{project}/memory"));
    let post = |body: Value| {
        server
            .http
            .post(&url)
            .bearer_auth(server.token("alice"))
            .json(&body)
            .send()
    };
    let response = post(json!({"kind": "decision", "body": "No pesticides"}))
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["entry"]["kind"], "decision");
    assert_eq!(created["entry"]["session_id"], Value::Null);
    let event = next_event(&mut watcher, "memory.created").await;
    assert_eq!(event["entry"]["id"], created["entry"]["id"]);

    for (body, field) in [
        (json!({"kind": "whim", "body": "x"}), "kind"),
        (json!({"kind": "fact", "body": "  "}), "body"),
        (
            json!({"kind": "fact", "body": "x", "source": {"kind": "note", "id": their_note}}),
            "source.id",
        ),
        (
            json!({"kind": "fact", "body": "x", "source": {"kind": "operation", "id": "nope"}}),
            "source.id",
        ),
        (
            json!({"kind": "fact", "body": "x", "project_id": project}),
            "project_id",
        ),
    ] {
        let response = post(body.clone()).await.unwrap();
        assert_eq!(response.status(), 422, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["details"]["field"], field, "{body}: {error}");
    }
    let listed: Value = server
        .http
        .get(format!("{url}?kind=decision"))
        .bearer_auth(server.token("alice"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["memory"].as_array().unwrap().len(), 1, "{listed}");
    let entry = str_of(&created["entry"]["id"]);
    let delete = |id: String| {
        server
            .http
            .delete(format!("{url}/{id}"))
            .bearer_auth(server.token("alice"))
            .send()
    };
    assert_eq!(delete(entry.clone()).await.unwrap().status(), 204);
    assert_eq!(delete(entry.clone()).await.unwrap().status(), 404);
    // The tool refuses the same source checks, naming the argument.
    let error = alice
        .call_err(
            "remember",
            json!({"kind": "fact", "body": "x", "source": {"kind": "note", "id": their_note}}),
        )
        .await;
    assert_eq!(error["details"]["field"], "source.id", "{error}");
}

#[tokio::test]
async fn a_session_focused_on_a_todo_stays_on_it_and_gets_its_context() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("House", "update").await;
    let roof = id_of(
        &alice
            .call_ok("create_todo", json!({"title": "Fix the roof"}))
            .await,
        "todo",
    );
    let paint = id_of(
        &alice
            .call_ok("create_todo", json!({"title": "Paint"}))
            .await,
        "todo",
    );
    alice
        .call_ok(
            "create_note",
            json!({"body": "We must fix the roof before winter"}),
        )
        .await;
    alice
        .call_ok("create_note", json!({"body": "Blue for the kitchen"}))
        .await;
    let reply = alice
        .request(json!({"type": "transcript.append", "items": [
            {"item_id": "t-1", "role": "user", "text": "Can we fix the roof this week?", "at": "2026-11-29T10:00:00Z"},
            {"item_id": "t-2", "role": "user", "text": "And the garden later.", "at": "2026-11-29T10:01:00Z"},
        ]}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");

    let focus = alice.call_ok("focus_todo", json!({"todo_id": roof})).await;
    assert_eq!(focus["todo"]["id"], roof.as_str());
    let notes: Vec<&str> = focus["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["We must fix the roof before winter"]);
    let items: Vec<&str> = focus["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item_id"].as_str().unwrap())
        .collect();
    assert_eq!(items, ["t-1"]);

    // The todo tools default to it, and stay on it.
    alice
        .call_ok("update_todo_status", json!({"status": "in_progress"}))
        .await;
    assert_eq!(todo_row(&db, &roof).await.unwrap()["status"], "in_progress");
    let error = alice
        .call_err(
            "update_todo",
            json!({"todo_id": paint, "title": "Paint it all"}),
        )
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "todo_id");
    assert_eq!(todo_row(&db, &paint).await.unwrap()["title"], "Paint");
    // Notes written meanwhile are tagged with it.
    let note = alice
        .call_ok(
            "create_note",
            json!({"body": "Tiles ordered", "tags": ["supplies"]}),
        )
        .await;
    assert_eq!(
        note["note"]["tags"],
        json!(["supplies", format!("todo:{roof}")])
    );
    // Waiting for approval, the operation names the todo it was scoped to.
    alice.configure(json!({"auto_accept": false})).await;
    let pending = alice
        .call_ok("update_todo_status", json!({"status": "done"}))
        .await;
    assert_eq!(
        pending["operation"]["data"]["todo_id"],
        roof.as_str(),
        "{pending}"
    );
    alice.configure(json!({"auto_accept": true})).await;

    // The person moves on to another todo with session.configure...
    let session = alice.configure(json!({"todo_id": paint})).await;
    assert_eq!(session["metadata"]["todo_id"], paint.as_str());
    alice
        .call_ok("update_todo", json!({"title": "Paint the hall"}))
        .await;
    assert_eq!(
        todo_row(&db, &paint).await.unwrap()["title"],
        "Paint the hall"
    );
    // ...or to none: the todo is required again.
    let out = alice.call_ok("focus_todo", json!({})).await;
    assert_eq!(out["todo"], Value::Null);
    let error = alice
        .call_err("update_todo_status", json!({"status": "done"}))
        .await;
    assert_eq!(error["details"]["field"], "todo_id", "{error}");
    let session = alice.configure(json!({})).await;
    assert!(session["metadata"].get("todo_id").is_none(), "{session}");

    // Only a todo of the session's project; only in the modes that work on todos.
    let mut carol = server.connect("carol").await;
    carol.project_in_mode("Theirs", "update").await;
    let theirs = id_of(
        &carol
            .call_ok("create_todo", json!({"title": "Theirs"}))
            .await,
        "todo",
    );
    let reply = alice
        .request(json!({"type": "session.configure", "todo_id": theirs}))
        .await;
    assert_eq!(reply["code"], "not_found", "{reply}");
    assert!(!reply.to_string().contains(&project));
    alice.configure(json!({"mode": "audit"})).await;
    let error = alice.call_err("focus_todo", json!({"todo_id": roof})).await;
    assert_eq!(error["code"], "tool_not_allowed", "{error}");
}

#[tokio::test]
async fn a_failed_approval_reaches_the_assistant_which_proposes_a_correction() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut assistant = server.connect("alice").await;
    let project = assistant.project_in_mode("House", "update").await;
    let gone = id_of(
        &assistant
            .call_ok("create_todo", json!({"title": "Old roof"}))
            .await,
        "todo",
    );
    let kept = id_of(
        &assistant
            .call_ok("create_todo", json!({"title": "Roof"}))
            .await,
        "todo",
    );
    let session = assistant.session_id();
    let mut own_topic = server.connect("alice").await;
    let reply = own_topic
        .request(json!({"type": "subscribe", "topic": format!("session:{session}")}))
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");

    assistant.configure(json!({"auto_accept": false})).await;
    let first = str_of(
        &assistant
            .call_ok(
                "update_todo_status",
                json!({"todo_id": gone, "status": "done"}),
            )
            .await["operation_id"],
    );
    let second = str_of(
        &assistant
            .call_ok("create_note", json!({"body": "Roofer booked"}))
            .await["operation_id"],
    );
    // Meanwhile the todo is deleted; the approval of both fails at the first.
    let mut person = server.connect("alice").await;
    person
        .call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;
    person.configure(json!({"mode": "update"})).await;
    person
        .call_ok("delete_todo", json!({"todo_id": gone}))
        .await;
    let decided = decide(&mut person, &[&first, &second], "approve").await;
    assert_eq!(decided["completed"], 0, "{decided}");
    let failed = operation_row(&db, &first).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], "not_found");
    assert_eq!(operation_row(&db, &second).await["status"], "pending");

    // The assistant is told on its own session's topic, with the error.
    let told = next_event(&mut own_topic, "operation.updated").await;
    assert_eq!(told["operation"]["id"], first.as_str(), "{told}");
    assert_eq!(told["operation"]["status"], "failed");
    assert_eq!(told["operation"]["error"]["code"], "not_found");

    // It proposes the change again on the todo that exists; even with auto-accept on,
    // the correction waits for the person.
    assistant.configure(json!({"auto_accept": true})).await;
    let proposed = assistant
        .call_ok(
            "propose_recovery",
            json!({"operation_id": first, "arguments": {"todo_id": kept},
                   "reason": "The old todo was deleted; this is the roof todo now"}),
        )
        .await;
    assert_eq!(proposed["status"], "pending_approval", "{proposed}");
    let recovery = &proposed["operation"];
    assert_eq!(recovery["recovers"], first.as_str());
    assert_eq!(recovery["tool"], "update_todo_status");
    assert_eq!(recovery["data"], json!({"todo_id": kept, "status": "done"}));
    assert_eq!(todo_row(&db, &kept).await.unwrap()["status"], "open");
    let recovery_id = str_of(&recovery["id"]);
    let decided = decide(&mut person, &[&recovery_id, &second], "approve").await;
    assert_eq!(decided["completed"], 2, "{decided}");
    assert_eq!(todo_row(&db, &kept).await.unwrap()["status"], "done");
    assert_eq!(
        operation_row(&db, &recovery_id).await["recovers"],
        first.as_str()
    );

    // Only a failed operation, with arguments its tool takes, in its project.
    let error = assistant
        .call_err("propose_recovery", json!({"operation_id": recovery_id}))
        .await;
    assert_eq!(error["code"], "conflict", "{error}");
    let error = assistant
        .call_err(
            "propose_recovery",
            json!({"operation_id": first, "arguments": {"status": "finished"}}),
        )
        .await;
    assert_eq!(error["details"]["field"], "arguments.status", "{error}");
    let mut carol = server.connect("carol").await;
    carol.project_in_mode("Theirs", "update").await;
    let theirs = id_of(
        &carol
            .call_ok("create_todo", json!({"title": "Theirs"}))
            .await,
        "todo",
    );
    let error = assistant
        .call_err(
            "propose_recovery",
            json!({"operation_id": first, "arguments": {"todo_id": theirs}}),
        )
        .await;
    assert_eq!(error["details"]["field"], "arguments.todo_id", "{error}");
    let error = carol
        .call_err("propose_recovery", json!({"operation_id": first}))
        .await;
    assert_eq!(error["code"], "not_found", "{error}");
    assert!(!error.to_string().contains(&project));
}
