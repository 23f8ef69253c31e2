//! Rolling back a completed operation: by tool, by approval and over HTTP, each kind of change with its conflict case.

use super::*;

#[tokio::test]
async fn rolling_back_a_creation_deletes_it_unless_it_changed_since() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Garden", "update").await;
    let mut bob = server.watcher("alice", &project).await;

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
    let deleted = bob.ws.next_event_of("todo.deleted").await;
    assert_eq!(deleted["todo"]["id"], todo.as_str());
    loop {
        let updated = bob.ws.next_event_of("operation.updated").await;
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
    let mut watcher = server.watcher("alice", &project).await;
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
    let back = watcher.ws.next_event_of("todo.created").await;
    assert_eq!(back["todo"]["id"], created["todo"]["id"]);
    let back = watcher.ws.next_event_of("todo.created").await;
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
