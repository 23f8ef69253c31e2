//! The approval flow (docs/protocol.md sections 8.7 and 8.8): with `auto_accept: false` a change waits as
//! a pending operation until `operation.decide` approves it (with optional edits) or
//! rejects it; approving several runs them in order and stops at the first failure.

use crate::support::*;
use serde_json::{Value, json};

/// The operation row, as JSON.
async fn operation_row(db: &sqlx::PgPool, id: &str) -> Value {
    row(db, "operations", id).await.expect("the operation row")
}

async fn todos_of(db: &sqlx::PgPool, project: &str) -> Vec<Value> {
    json_rows(
        db,
        "SELECT to_jsonb(t) FROM todos t WHERE project_id::text = $1 ORDER BY created_at",
        project,
    )
    .await
}

async fn project_name(db: &sqlx::PgPool, project: &str) -> String {
    sqlx::query_scalar("SELECT name FROM projects WHERE id::text = $1")
        .bind(project)
        .fetch_one(db)
        .await
        .unwrap()
}

/// Sends `operation.decide`; answers the whole reply.
async fn decide(client: &mut Client, ids: &[&str], decision: &str, edits: Option<Value>) -> Value {
    let mut frame = json!({"type": "operation.decide", "operation_ids": ids, "decision": decision});
    if let Some(edits) = edits {
        frame["edits"] = edits;
    }
    client.request(frame).await
}

/// Sends `operation.decide` that must succeed; answers its `data`.
async fn decide_ok(
    client: &mut Client,
    ids: &[&str],
    decision: &str,
    edits: Option<Value>,
) -> Value {
    let reply = decide(client, ids, decision, edits).await;
    assert_eq!(reply["type"], "ok", "{reply}");
    reply["data"].clone()
}

/// Calls a changing tool in a session without auto-accept; answers the pending
/// operation's id after checking the answer's shape.
async fn propose(client: &mut Client, tool: &str, arguments: Value) -> String {
    let out = client.call_ok(tool, arguments).await;
    assert_eq!(out["status"], "pending_approval", "{out}");
    let id = out["operation_id"].as_str().unwrap().to_owned();
    assert_eq!(out["operation"]["id"], id.as_str(), "{out}");
    assert_eq!(out["operation"]["status"], "pending", "{out}");
    assert_eq!(out["operation"]["tool"], tool, "{out}");
    id
}

/// A project in mode `update` with auto-accept turned off.
async fn reviewed_project(client: &mut Client) -> String {
    let id = client.project_in_mode("Memoir", "update").await;
    let session = client.configure(json!({"auto_accept": false})).await;
    assert_eq!(session["auto_accept"], false, "{session}");
    id
}

#[tokio::test]
async fn a_change_waits_for_approval_and_changes_nothing() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = reviewed_project(&mut alice).await;

    let out = alice
        .call_ok(
            "create_todo",
            json!({"title": "Call aunt May", "priority": "high"}),
        )
        .await;
    assert_eq!(out["status"], "pending_approval", "{out}");
    let id = out["operation_id"].as_str().unwrap();
    let operation = &out["operation"];
    assert_eq!(operation["id"], id);
    assert_eq!(operation["status"], "pending");
    assert_eq!(operation["tool"], "create_todo");
    assert_eq!(operation["kind"], "create");
    assert_eq!(operation["entity"], "todo");
    assert_eq!(operation["project_id"], project.as_str());
    assert_eq!(operation["session_id"], alice.session_id().as_str());
    assert_eq!(
        operation["data"],
        json!({"title": "Call aunt May", "priority": "high"})
    );
    assert_eq!(operation["batch_id"], Value::Null);
    assert_eq!(operation["after"], Value::Null);

    let update = propose(&mut alice, "update_project", json!({"name": "Renamed"})).await;

    // Nothing changed; the rows wait.
    assert!(todos_of(&db, &project).await.is_empty());
    assert_eq!(project_name(&db, &project).await, "Memoir");
    for pending in [id, update.as_str()] {
        let row = operation_row(&db, pending).await;
        assert_eq!(row["status"], "pending", "{row}");
        assert_eq!(row["executed_at"], Value::Null, "{row}");
        assert_eq!(row["before"], Value::Null, "{row}");
        assert_eq!(row["after"], Value::Null, "{row}");
    }
    // Reads still answer at once.
    let read = alice.call_ok("get_project", json!({})).await;
    assert_eq!(read["project"]["name"], "Memoir");
    // Bad arguments are refused at once, with no operation.
    let error = alice.call_err("create_todo", json!({"title": " "})).await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM operations WHERE status = 'pending' AND session_id::text = $1",
            &alice.session_id()
        )
        .await,
        2
    );
}

#[tokio::test]
async fn approving_runs_the_operation_and_answers_the_batch() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = reviewed_project(&mut alice).await;

    let id = propose(&mut alice, "update_project", json!({"name": "Farm memoir"})).await;
    let frame = json!({"type": "operation.decide", "id": "decide-1", "operation_ids": [id], "decision": "approve"});
    alice.ws.send(frame).await;
    let reply = loop {
        let message = alice.ws.recv().await;
        if message["re"] == "decide-1" {
            break message;
        }
    };
    assert_eq!(reply["type"], "ok", "{reply}");
    let data = &reply["data"];
    let mut keys: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        vec!["batch_id", "completed", "message", "operations", "total"],
        "{reply}"
    );
    let batch = data["batch_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(batch).is_ok(), "{reply}");
    assert_eq!(data["completed"], 1);
    assert_eq!(data["total"], 1);
    assert_eq!(data["message"], "1 of 1 completed");
    let operations = data["operations"].as_array().unwrap();
    assert_eq!(operations.len(), 1);
    assert_eq!(operations[0]["id"], id.as_str());
    assert_eq!(operations[0]["status"], "completed");
    assert_eq!(operations[0]["batch_id"], batch);

    assert_eq!(project_name(&db, &project).await, "Farm memoir");
    let row = operation_row(&db, &id).await;
    assert_eq!(row["status"], "completed", "{row}");
    assert_eq!(row["batch_id"], batch, "{row}");
    assert_eq!(row["entity_id"], project.as_str(), "{row}");
    assert_eq!(row["before"]["name"], "Memoir", "{row}");
    assert_eq!(row["after"]["name"], "Farm memoir", "{row}");
    assert_eq!(row["error"], Value::Null, "{row}");
    assert!(row["executed_at"].is_string(), "{row}");
    assert!(row["duration_ms"].as_i64().is_some_and(|d| d >= 0), "{row}");

    // A create: the entity exists once approved.
    let create = propose(&mut alice, "create_todo", json!({"title": "Call aunt May"})).await;
    let data = decide_ok(&mut alice, &[&create], "approve", None).await;
    assert_eq!(data["message"], "1 of 1 completed");
    let todos = todos_of(&db, &project).await;
    assert_eq!(todos.len(), 1);
    assert_eq!(todos[0]["title"], "Call aunt May");
    assert_eq!(todos[0]["priority"], "medium");
    let row = operation_row(&db, &create).await;
    assert_eq!(row["status"], "completed", "{row}");
    assert_eq!(row["entity_id"], todos[0]["id"], "{row}");
    assert_eq!(row["before"], Value::Null, "{row}");
    assert_eq!(row["after"]["title"], "Call aunt May", "{row}");
    assert_eq!(row["batch_id"], data["batch_id"], "{row}");
}

#[tokio::test]
async fn rejecting_changes_nothing() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = reviewed_project(&mut alice).await;

    let todo = propose(&mut alice, "create_todo", json!({"title": "Call aunt May"})).await;
    let rename = propose(&mut alice, "update_project", json!({"name": "Renamed"})).await;
    let data = decide_ok(&mut alice, &[&todo, &rename], "reject", None).await;
    assert_eq!(data["total"], 2);
    assert!(
        data["message"].as_str().unwrap().contains("rejected"),
        "{data}"
    );
    let batch = data["batch_id"].as_str().unwrap();
    for op in data["operations"].as_array().unwrap() {
        assert_eq!(op["status"], "rejected", "{op}");
    }
    for id in [&todo, &rename] {
        let row = operation_row(&db, id).await;
        assert_eq!(row["status"], "rejected", "{row}");
        assert_eq!(row["batch_id"], batch, "{row}");
        assert_eq!(row["after"], Value::Null, "{row}");
    }
    assert!(todos_of(&db, &project).await.is_empty());
    assert_eq!(project_name(&db, &project).await, "Memoir");

    // A rejection takes no edits.
    let other = propose(&mut alice, "create_todo", json!({"title": "Later"})).await;
    let reply = decide(
        &mut alice,
        &[&other],
        "reject",
        Some(json!({ other.clone(): {"title": "Sooner"} })),
    )
    .await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "invalid_arguments", "{reply}");
    assert_eq!(operation_row(&db, &other).await["status"], "pending");
}

#[tokio::test]
async fn approving_with_edits_applies_and_stores_the_edited_values() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = reviewed_project(&mut alice).await;

    let id = propose(
        &mut alice,
        "create_todo",
        json!({"title": "Call May", "details": "About the flood", "priority": "low"}),
    )
    .await;
    // A JSON merge patch: replace the title and priority, drop the details.
    let edits =
        json!({ id.clone(): {"title": "Call aunt May", "priority": "high", "details": null} });
    let data = decide_ok(&mut alice, &[&id], "approve", Some(edits)).await;
    assert_eq!(data["completed"], 1, "{data}");
    assert_eq!(
        data["operations"][0]["data"],
        json!({"title": "Call aunt May", "priority": "high"})
    );

    let todos = todos_of(&db, &project).await;
    assert_eq!(todos.len(), 1);
    assert_eq!(todos[0]["title"], "Call aunt May");
    assert_eq!(todos[0]["priority"], "high");
    assert_eq!(todos[0]["details"], "");
    let row = operation_row(&db, &id).await;
    assert_eq!(row["status"], "completed", "{row}");
    assert_eq!(
        row["data"],
        json!({"title": "Call aunt May", "priority": "high"}),
        "{row}"
    );
    assert_eq!(row["after"]["title"], "Call aunt May", "{row}");
}

#[tokio::test]
async fn an_edit_that_breaks_the_arguments_runs_nothing() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = reviewed_project(&mut alice).await;

    let first = propose(&mut alice, "create_todo", json!({"title": "First"})).await;
    let second = propose(&mut alice, "create_todo", json!({"title": "Second"})).await;

    let reply = decide(
        &mut alice,
        &[&first, &second],
        "approve",
        Some(json!({ second.clone(): {"title": "   "} })),
    )
    .await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "invalid_arguments", "{reply}");
    assert_eq!(
        reply["details"]["field"],
        format!("edits.{second}.title"),
        "{reply}"
    );

    let reply = decide(
        &mut alice,
        &[&first],
        "approve",
        Some(json!({ first.clone(): {"colour": "red"} })),
    )
    .await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "invalid_arguments", "{reply}");
    assert_eq!(
        reply["details"]["field"],
        format!("edits.{first}.colour"),
        "{reply}"
    );

    // An edit for an operation that is not being decided.
    let reply = decide(
        &mut alice,
        &[&first],
        "approve",
        Some(json!({ second.clone(): {"title": "Other"} })),
    )
    .await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "invalid_arguments", "{reply}");
    assert_eq!(
        reply["details"]["field"],
        format!("edits.{second}"),
        "{reply}"
    );

    assert!(todos_of(&db, &project).await.is_empty());
    for id in [&first, &second] {
        let row = operation_row(&db, id).await;
        assert_eq!(row["status"], "pending", "{row}");
        assert_eq!(row["batch_id"], Value::Null, "{row}");
    }
    // They can still be approved as they were.
    let data = decide_ok(&mut alice, &[&first, &second], "approve", None).await;
    assert_eq!(data["message"], "2 of 2 completed");
    let titles: Vec<Value> = todos_of(&db, &project)
        .await
        .into_iter()
        .map(|t| t["title"].clone())
        .collect();
    assert_eq!(titles, vec![json!("First"), json!("Second")]);
}

#[tokio::test]
async fn a_failure_in_a_batch_keeps_earlier_ones_and_leaves_the_rest_pending() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = reviewed_project(&mut alice).await;
    let session = alice.session_id();

    // A todo that exists when the update is proposed.
    alice.configure(json!({"auto_accept": true})).await;
    let todo = alice
        .call_ok("create_todo", json!({"title": "Call aunt May"}))
        .await["todo"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    alice.configure(json!({"auto_accept": false})).await;

    let note = propose(&mut alice, "create_note", json!({"body": "The flood"})).await;
    let update = propose(
        &mut alice,
        "update_todo",
        json!({"todo_id": todo, "title": "Call May"}),
    )
    .await;
    let last = propose(&mut alice, "create_todo", json!({"title": "Scan photos"})).await;

    // Meanwhile the todo goes, from another session of the same user.
    let mut other = server.connect("alice").await;
    other
        .call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;
    other.configure(json!({"mode": "update"})).await;
    other.call_ok("delete_todo", json!({"todo_id": todo})).await;

    let reply = decide(&mut alice, &[&note, &update, &last], "approve", None).await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let data = &reply["data"];
    assert_eq!(data["completed"], 1, "{reply}");
    assert_eq!(data["total"], 3, "{reply}");
    let message = data["message"].as_str().unwrap();
    assert!(message.starts_with("1 of 3 completed"), "{message}");
    assert!(message.contains(&update), "names the failed one: {message}");
    let statuses: Vec<(&str, &str)> = data["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].as_str().unwrap(), o["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (note.as_str(), "completed"),
            (update.as_str(), "failed"),
            (last.as_str(), "pending"),
        ]
    );

    let batch = data["batch_id"].as_str().unwrap();
    let row = operation_row(&db, &note).await;
    assert_eq!(row["status"], "completed", "{row}");
    assert_eq!(row["batch_id"], batch, "{row}");
    let row = operation_row(&db, &update).await;
    assert_eq!(row["status"], "failed", "{row}");
    assert_eq!(row["batch_id"], batch, "{row}");
    assert_eq!(row["error"]["code"], "not_found", "{row}");
    assert!(row["error"]["message"].is_string(), "{row}");
    assert_eq!(row["after"], Value::Null, "{row}");
    let row = operation_row(&db, &last).await;
    assert_eq!(row["status"], "pending", "{row}");
    assert_eq!(row["batch_id"], Value::Null, "{row}");

    let notes = count(
        &db,
        "SELECT count(*) FROM notes WHERE project_id::text = $1",
        &project,
    )
    .await;
    assert_eq!(notes, 1, "the one before the failure stays done");
    assert!(
        todos_of(&db, &project).await.is_empty(),
        "the one after the failure did not run"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM operations WHERE session_id::text = $1",
            &session
        )
        .await,
        5,
        "create_project, the todo, and the three proposed"
    );

    // The rest can be approved afterwards.
    let data = decide_ok(&mut alice, &[&last], "approve", None).await;
    assert_eq!(data["message"], "1 of 1 completed");
    let todos = todos_of(&db, &project).await;
    assert_eq!(todos.len(), 1);
    assert_eq!(todos[0]["title"], "Scan photos");
}

#[tokio::test]
async fn approvals_run_in_the_order_they_were_proposed() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = reviewed_project(&mut alice).await;

    let first = propose(&mut alice, "update_project", json!({"name": "First name"})).await;
    let second = propose(&mut alice, "update_project", json!({"name": "Second name"})).await;
    // Named the other way round, they still run first, then second.
    let data = decide_ok(&mut alice, &[&second, &first], "approve", None).await;
    assert_eq!(data["message"], "2 of 2 completed");
    let order: Vec<&str> = data["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(order, vec![first.as_str(), second.as_str()]);
    assert_eq!(project_name(&db, &project).await, "Second name");
    let row = operation_row(&db, &second).await;
    assert_eq!(row["before"]["name"], "First name", "{row}");
}

#[tokio::test]
async fn a_decided_operation_cannot_be_decided_again() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = reviewed_project(&mut alice).await;

    let approved = propose(&mut alice, "create_todo", json!({"title": "Once"})).await;
    decide_ok(&mut alice, &[&approved], "approve", None).await;
    let rejected = propose(&mut alice, "create_todo", json!({"title": "Never"})).await;
    decide_ok(&mut alice, &[&rejected], "reject", None).await;

    for (id, decision) in [
        (&approved, "approve"),
        (&approved, "reject"),
        (&rejected, "approve"),
        (&rejected, "reject"),
    ] {
        let reply = decide(&mut alice, &[id], decision, None).await;
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["code"], "conflict", "{decision} {id}: {reply}");
    }
    // A batch with one decided operation runs none of it.
    let fresh = propose(&mut alice, "create_todo", json!({"title": "Fresh"})).await;
    let reply = decide(&mut alice, &[&fresh, &approved], "approve", None).await;
    assert_eq!(reply["code"], "conflict", "{reply}");
    assert_eq!(operation_row(&db, &fresh).await["status"], "pending");

    let titles: Vec<Value> = todos_of(&db, &project)
        .await
        .into_iter()
        .map(|t| t["title"].clone())
        .collect();
    assert_eq!(
        titles,
        vec![json!("Once")],
        "approved once, rejected never ran"
    );
    assert_eq!(operation_row(&db, &approved).await["status"], "completed");
    assert_eq!(operation_row(&db, &rejected).await["status"], "rejected");

    // An unknown id, and no ids at all.
    let unknown = uuid::Uuid::new_v4().to_string();
    let reply = decide(&mut alice, &[&unknown], "approve", None).await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "not_found", "{reply}");
    let reply = decide(&mut alice, &[&fresh, &unknown], "approve", None).await;
    assert_eq!(reply["code"], "not_found", "{reply}");
    assert_eq!(operation_row(&db, &fresh).await["status"], "pending");
    let reply = decide(&mut alice, &[], "approve", None).await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "invalid_arguments", "{reply}");
}

#[tokio::test]
async fn only_people_who_may_change_the_project_decide() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = reviewed_project(&mut alice).await;
    let id = propose(&mut alice, "create_todo", json!({"title": "Call aunt May"})).await;

    // Not a member: as if it did not exist.
    let mut bob = server.connect("bob").await;
    for decision in ["approve", "reject"] {
        let reply = decide(&mut bob, &[&id], decision, None).await;
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["code"], "not_found", "{reply}");
    }
    // A viewer may not.
    put_member(&server, "alice", &project, "bob", "viewer").await;
    let reply = decide(&mut bob, &[&id], "approve", None).await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "forbidden", "{reply}");
    assert_eq!(operation_row(&db, &id).await["status"], "pending");
    assert!(todos_of(&db, &project).await.is_empty());

    // An editor may.
    put_member(&server, "alice", &project, "bob", "editor").await;
    let data = decide_ok(&mut bob, &[&id], "approve", None).await;
    assert_eq!(data["message"], "1 of 1 completed");
    let row = operation_row(&db, &id).await;
    assert_eq!(row["status"], "completed", "{row}");
    assert_eq!(row["session_id"], alice.session_id().as_str(), "{row}");
    let todos = todos_of(&db, &project).await;
    assert_eq!(todos.len(), 1);
    assert_eq!(todos[0]["title"], "Call aunt May");
}

#[tokio::test]
async fn a_proposed_project_is_approved_from_another_session() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    alice.configure(json!({"auto_accept": false})).await;

    let out = alice
        .call_ok("create_project", json!({"name": "Memoir"}))
        .await;
    assert_eq!(out["status"], "pending_approval", "{out}");
    assert_eq!(out["operation"]["project_id"], Value::Null, "{out}");
    let id = out["operation_id"].as_str().unwrap().to_owned();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM projects WHERE owner_id = $1",
            "alice"
        )
        .await,
        0
    );
    let listed = alice.call_ok("list_projects", json!({})).await;
    assert_eq!(listed["projects"], json!([]));

    // Nobody else can see it.
    let mut bob = server.connect("bob").await;
    let reply = decide(&mut bob, &[&id], "approve", None).await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "not_found", "{reply}");

    // The same user, on another connection and session.
    let mut again = server.connect("alice").await;
    assert_ne!(again.session_id(), alice.session_id());
    let data = decide_ok(&mut again, &[&id], "approve", None).await;
    assert_eq!(data["message"], "1 of 1 completed");
    let operation = &data["operations"][0];
    assert_eq!(operation["status"], "completed", "{operation}");
    let project = operation["project_id"].as_str().expect("the new project");
    assert_eq!(operation["entity_id"], project);

    let listed = again.call_ok("list_projects", json!({})).await;
    assert_eq!(listed["projects"].as_array().unwrap().len(), 1);
    assert_eq!(listed["projects"][0]["id"], project);
    assert_eq!(listed["projects"][0]["name"], "Memoir");
    assert_eq!(listed["projects"][0]["owner_id"], "alice");
    let row = operation_row(&db, &id).await;
    assert_eq!(row["status"], "completed", "{row}");
    assert_eq!(row["project_id"], project, "{row}");
    assert_eq!(row["session_id"], alice.session_id().as_str(), "{row}");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM documents WHERE project_id::text = $1",
            project
        )
        .await,
        1
    );
}

/// `GET /v1/projects/{project}/operations` with an optional `?status=`.
async fn listed(server: &TestServer, user: &str, project: &str, query: &str) -> Value {
    let response = server
        .http
        .get(server.url(&format!("/v1/projects/{project}/operations{query}")))
        .bearer_auth(server.token(user))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_decider_is_recorded_and_listed() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = reviewed_project(&mut alice).await;
    put_member(&server, "alice", &project, "bob", "editor").await;
    let mut bob = server.connect("bob").await;
    bob.call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;

    let approved = propose(&mut alice, "create_todo", json!({"title": "Kept"})).await;
    let rejected = propose(&mut alice, "create_todo", json!({"title": "Dropped"})).await;
    let data = decide_ok(&mut bob, &[&approved], "approve", None).await;
    assert_eq!(data["operations"][0]["decided_by"], "bob", "{data}");
    let data = decide_ok(&mut alice, &[&rejected], "reject", None).await;
    assert_eq!(data["operations"][0]["decided_by"], "alice", "{data}");
    assert_eq!(operation_row(&db, &approved).await["decided_by"], "bob");
    assert_eq!(operation_row(&db, &rejected).await["decided_by"], "alice");

    // The list shows the pending ones by default, and the decided ones by status.
    let pending = propose(&mut alice, "create_todo", json!({"title": "Waiting"})).await;
    let list = listed(&server, "bob", &project, "").await;
    assert_eq!(list["operations"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["operations"][0]["id"], pending.as_str());
    assert_eq!(list["operations"][0]["decided_by"], Value::Null);
    let list = listed(&server, "bob", &project, "?status=completed").await;
    assert_eq!(list["operations"][0]["id"], approved.as_str(), "{list}");
    assert_eq!(list["operations"][0]["decided_by"], "bob", "{list}");
    let list = listed(&server, "bob", &project, "?status=rejected").await;
    assert_eq!(list["operations"][0]["decided_by"], "alice", "{list}");
    let response = server
        .http
        .get(server.url(&format!("/v1/projects/{project}/operations?status=done")))
        .bearer_auth(server.token("bob"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // A change applied at once was decided by nobody.
    alice.configure(json!({"auto_accept": true})).await;
    let out = alice
        .call_ok("create_todo", json!({"title": "At once"}))
        .await;
    let id = out["todo"]["id"].as_str().unwrap();
    let row = json_rows(
        &db,
        "SELECT to_jsonb(o) FROM operations o WHERE entity_id = $1",
        id,
    )
    .await;
    assert_eq!(row[0]["decided_by"], Value::Null, "{row:?}");
}
