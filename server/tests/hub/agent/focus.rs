//! A session focused on one todo: the tools default to it and stay on it.

use super::*;

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
