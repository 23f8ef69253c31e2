//! Approval edits cannot move a change into another project: each tool that names an
//! entity, creations, and every tool that takes a `project_id`; an edit inside the
//! project still applies.

use super::*;

/// Alice owns A (a note and a todo); Bob owns B (a note and a todo) and views A. Bob's
/// session works on B in mode `update` with auto-accept off, so his changes wait for his
/// own approval.
struct TwoProjects {
    server: TestServer,
    db: sqlx::PgPool,
    alice: Client,
    bob: Client,
    a: String,
    b: String,
    note_a: String,
    todo_a: String,
    note_b: String,
    todo_b: String,
}

impl TwoProjects {
    async fn new() -> Self {
        let server = TestServer::start().await;
        let db = server.db().await;
        let mut alice = server.connect("alice").await;
        let a = alice.project_in_mode("A", "update").await;
        let note_a = alice
            .call_ok("create_note", json!({"body": "Alice's own words"}))
            .await["note"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let todo_a = alice
            .call_ok("create_todo", json!({"title": "Alice's task"}))
            .await["todo"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        put_member(&server, "alice", &a, "bob", "viewer").await;

        let mut bob = server.connect("bob").await;
        let b = bob.project_in_mode("B", "update").await;
        let note_b = bob
            .call_ok("create_note", json!({"body": "Bob's note"}))
            .await["note"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let todo_b = bob
            .call_ok("create_todo", json!({"title": "Bob's task"}))
            .await["todo"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        bob.configure(json!({"auto_accept": false})).await;
        Self {
            server,
            db,
            alice,
            bob,
            a,
            b,
            note_a,
            todo_a,
            note_b,
            todo_b,
        }
    }

    /// Bob proposes `tool` on his own project, then approves it with `edit`; answers the
    /// reply to `operation.decide` and the operation's id.
    async fn approve_with_edit(&mut self, tool: &str, args: Value, edit: Value) -> (Value, String) {
        let out = self.bob.call_ok(tool, args).await;
        assert_eq!(out["status"], "pending_approval", "{out}");
        let id = out["operation_id"].as_str().unwrap().to_owned();
        let reply = self
            .bob
            .request(json!({
                "type": "operation.decide",
                "operation_ids": [id],
                "decision": "approve",
                "edits": { id.clone(): edit },
            }))
            .await;
        (reply, id)
    }

    /// The decision was refused naming `field`, and the operation still waits.
    async fn assert_refused(&self, reply: &Value, id: &str, field: &str) {
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["code"], "invalid_arguments", "{reply}");
        assert_eq!(
            reply["details"]["field"],
            format!("edits.{id}.{field}"),
            "{reply}"
        );
        let message = reply["message"].as_str().unwrap();
        assert!(!message.contains(&self.a), "A's id leaked: {reply}");
        let operation = row(&self.db, "operations", id).await.unwrap();
        assert_eq!(operation["status"], "pending", "{operation}");
    }
}

#[tokio::test]
async fn an_approval_edit_cannot_move_update_note_to_another_project() {
    let mut t = TwoProjects::new().await;
    let before = row(&t.db, "notes", &t.note_a).await.unwrap();
    let (reply, id) = t
        .approve_with_edit(
            "update_note",
            json!({"note_id": t.note_b, "body": "Bob edits his note"}),
            json!({"note_id": t.note_a, "body": "Overwritten by Bob"}),
        )
        .await;
    t.assert_refused(&reply, &id, "note_id").await;
    assert_eq!(row(&t.db, "notes", &t.note_a).await.unwrap(), before);
}

#[tokio::test]
async fn an_approval_edit_cannot_move_delete_todo_to_another_project() {
    let mut t = TwoProjects::new().await;
    let (reply, id) = t
        .approve_with_edit(
            "delete_todo",
            json!({"todo_id": t.todo_b}),
            json!({"todo_id": t.todo_a}),
        )
        .await;
    t.assert_refused(&reply, &id, "todo_id").await;
    assert!(
        row(&t.db, "todos", &t.todo_a).await.is_some(),
        "A's todo survives"
    );
    assert!(row(&t.db, "todos", &t.todo_b).await.is_some());
}

#[tokio::test]
async fn an_approval_edit_cannot_move_update_todo_to_another_project() {
    let mut t = TwoProjects::new().await;
    let before = row(&t.db, "todos", &t.todo_a).await.unwrap();
    let (reply, id) = t
        .approve_with_edit(
            "update_todo",
            json!({"todo_id": t.todo_b, "title": "Bob's task, renamed"}),
            json!({"todo_id": t.todo_a, "title": "Taken over by Bob"}),
        )
        .await;
    t.assert_refused(&reply, &id, "todo_id").await;
    assert_eq!(row(&t.db, "todos", &t.todo_a).await.unwrap(), before);
}

#[tokio::test]
async fn an_approval_edit_cannot_move_update_todo_status_to_another_project() {
    let mut t = TwoProjects::new().await;
    let before = row(&t.db, "todos", &t.todo_a).await.unwrap();
    let (reply, id) = t
        .approve_with_edit(
            "update_todo_status",
            json!({"todo_id": t.todo_b, "status": "done"}),
            json!({"todo_id": t.todo_a, "status": "blocked"}),
        )
        .await;
    t.assert_refused(&reply, &id, "todo_id").await;
    assert_eq!(row(&t.db, "todos", &t.todo_a).await.unwrap(), before);
}

#[tokio::test]
async fn an_approval_edit_cannot_move_a_creation_to_another_project() {
    let mut t = TwoProjects::new().await;
    let (reply, id) = t
        .approve_with_edit(
            "create_todo",
            json!({"project_id": t.b, "title": "For B"}),
            json!({"project_id": t.a, "title": "Planted in A"}),
        )
        .await;
    t.assert_refused(&reply, &id, "project_id").await;
    let planted = count(
        &t.db,
        "SELECT count(*) FROM todos WHERE project_id::text = $1",
        &t.a,
    )
    .await;
    assert_eq!(planted, 1, "only Alice's own todo is in A");
}

#[tokio::test]
async fn an_approval_edit_cannot_name_another_project_on_any_project_tool() {
    let mut t = TwoProjects::new().await;
    let before = state_of(&t.db, &t.a).await;
    for (tool, args, edit) in [
        (
            "update_project",
            json!({"name": "B renamed"}),
            json!({"project_id": t.a, "name": "A taken"}),
        ),
        (
            "create_note",
            json!({"body": "For B"}),
            json!({"project_id": t.a}),
        ),
        (
            "apply_document_edits",
            json!({"base_version": 0, "markdown": "# B\n"}),
            json!({"project_id": t.a, "markdown": "# A taken\n"}),
        ),
    ] {
        let (reply, id) = t.approve_with_edit(tool, args, edit).await;
        t.assert_refused(&reply, &id, "project_id").await;
    }
    assert_eq!(state_of(&t.db, &t.a).await, before, "A changed");
}

#[tokio::test]
async fn an_approval_edit_within_the_project_still_applies() {
    let mut t = TwoProjects::new().await;
    let (reply, _) = t
        .approve_with_edit(
            "update_note",
            json!({"note_id": t.note_b, "body": "First words"}),
            json!({"body": "Better words"}),
        )
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    assert_eq!(reply["data"]["completed"], 1, "{reply}");
    let note = row(&t.db, "notes", &t.note_b).await.unwrap();
    assert_eq!(note["body"], "Better words");
    // Alice, who never saw B, is unaffected; her project is untouched.
    let note_a = t
        .alice
        .call_err("update_note", json!({"note_id": t.note_b, "body": "x"}))
        .await;
    assert_eq!(note_a["code"], "not_found", "{note_a}");
    let _ = &t.server;
}
