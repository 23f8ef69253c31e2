//! An approved operation that failed reaches its assistant, which proposes a correction.

use super::*;

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
    let told = own_topic.ws.next_event_of("operation.updated").await;
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
