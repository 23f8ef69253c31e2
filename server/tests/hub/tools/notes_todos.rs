//! Notes, todos and transcript pointers.

use super::*;

#[tokio::test]
async fn notes_are_created_updated_and_listed_newest_first() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let id = alice.project_in_mode("Memoir", "intake").await;
    let session = alice.session_id();

    let first = alice
        .call_ok(
            "create_note",
            json!({"body": "  Grandpa's tractor story  ", "tags": ["family", "farm"]}),
        )
        .await["note"]
        .clone();
    assert_eq!(first["body"], "Grandpa's tractor story");
    assert_eq!(first["tags"], json!(["family", "farm"]));
    assert_eq!(first["project_id"], id.as_str());
    assert_eq!(first["author_id"], "alice");
    assert_eq!(first["session_id"], session.as_str());
    let second = alice
        .call_ok("create_note", json!({"body": "Ask about the flood"}))
        .await["note"]
        .clone();
    assert_eq!(second["tags"], json!([]));

    alice.configure(json!({"mode": "update"})).await;
    let first_id = first["id"].as_str().unwrap();
    let updated = alice
        .call_ok(
            "update_note",
            json!({"note_id": first_id, "body": "Grandpa's tractor, 1962"}),
        )
        .await["note"]
        .clone();
    assert_eq!(updated["body"], "Grandpa's tractor, 1962");
    assert_eq!(updated["tags"], json!(["family", "farm"]), "tags kept");
    let updated = alice
        .call_ok(
            "update_note",
            json!({"note_id": first_id, "tags": ["machines"]}),
        )
        .await["note"]
        .clone();
    assert_eq!(updated["body"], "Grandpa's tractor, 1962", "body kept");
    assert_eq!(updated["tags"], json!(["machines"]), "tags replaced");

    let error = alice
        .call_err("update_note", json!({"note_id": first_id}))
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "body", "{error}");
    let error = alice
        .call_err("create_note", json!({"body": "x", "tags": [""]}))
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "tags", "{error}");
    let error = alice
        .call_err(
            "update_note",
            json!({"note_id": uuid::Uuid::new_v4().to_string(), "body": "x"}),
        )
        .await;
    assert_eq!(error["code"], "not_found", "{error}");

    alice.configure(json!({"mode": "audit"})).await;
    let notes = alice.call_ok("list_notes", json!({})).await["notes"].clone();
    assert_eq!(
        ids_of(&notes),
        vec![
            second["id"].as_str().unwrap().to_owned(),
            first_id.to_owned()
        ]
    );
    assert_eq!(notes[1]["body"], "Grandpa's tractor, 1962");
    assert_eq!(notes[1]["tags"], json!(["machines"]));

    let stored = json_rows(
        &db,
        "SELECT to_jsonb(n) FROM notes n WHERE id::text = $1",
        first_id,
    )
    .await;
    assert_eq!(stored[0]["body"], "Grandpa's tractor, 1962");
    assert_eq!(stored[0]["tags"], json!(["machines"]));
}

#[tokio::test]
async fn todos_are_created_changed_deleted_and_listed_in_order() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let id = alice.project_in_mode("Memoir", "update").await;

    let todo = |out: Value| out["todo"].clone();
    let low = todo(
        alice
            .call_ok(
                "create_todo",
                json!({"title": "Scan photos", "priority": "low"}),
            )
            .await,
    );
    let medium = todo(
        alice
            .call_ok(
                "create_todo",
                json!({"title": "  Call aunt May  ", "details": "About the flood"}),
            )
            .await,
    );
    assert_eq!(medium["title"], "Call aunt May");
    assert_eq!(medium["details"], "About the flood");
    assert_eq!(medium["priority"], "medium", "the default priority");
    assert_eq!(medium["status"], "open");
    assert_eq!(medium["project_id"], id.as_str());
    assert_eq!(medium["session_id"], alice.session_id().as_str());
    assert_eq!(low["details"], "");
    let high = todo(
        alice
            .call_ok(
                "create_todo",
                json!({"title": "Pick a title", "priority": "high"}),
            )
            .await,
    );
    let other_high = todo(
        alice
            .call_ok(
                "create_todo",
                json!({"title": "Choose chapters", "priority": "high"}),
            )
            .await,
    );
    let id_of = |t: &Value| t["id"].as_str().unwrap().to_owned();

    let changed = todo(
        alice
            .call_ok(
                "update_todo",
                json!({"todo_id": id_of(&low), "title": "Scan all photos", "details": "Both albums"}),
            )
            .await,
    );
    assert_eq!(changed["title"], "Scan all photos");
    assert_eq!(changed["details"], "Both albums");
    assert_eq!(changed["priority"], "low", "priority kept");
    let error = alice
        .call_err("update_todo", json!({"todo_id": id_of(&low)}))
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");

    let done = todo(
        alice
            .call_ok(
                "update_todo_status",
                json!({"todo_id": id_of(&high), "status": "done"}),
            )
            .await,
    );
    assert_eq!(done["status"], "done");
    assert_eq!(done["title"], "Pick a title");
    let busy = todo(
        alice
            .call_ok(
                "update_todo_status",
                json!({"todo_id": id_of(&medium), "status": "in_progress"}),
            )
            .await,
    );
    assert_eq!(busy["status"], "in_progress");
    let error = alice
        .call_err(
            "update_todo_status",
            json!({"todo_id": id_of(&medium), "status": "finished"}),
        )
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "status", "{error}");

    let doomed = todo(
        alice
            .call_ok("create_todo", json!({"title": "Temporary"}))
            .await,
    );
    let deleted = todo(
        alice
            .call_ok("delete_todo", json!({"todo_id": id_of(&doomed)}))
            .await,
    );
    assert_eq!(deleted["id"], doomed["id"]);
    assert_eq!(deleted["title"], "Temporary");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM todos WHERE id::text = $1",
            &id_of(&doomed)
        )
        .await,
        0
    );
    let error = alice
        .call_err("delete_todo", json!({"todo_id": id_of(&doomed)}))
        .await;
    assert_eq!(error["code"], "not_found", "{error}");

    // Unfinished first, then by priority, then oldest first.
    alice.configure(json!({"mode": "audit"})).await;
    let all = alice.call_ok("list_todos", json!({})).await["todos"].clone();
    assert_eq!(
        ids_of(&all),
        vec![
            id_of(&other_high),
            id_of(&medium),
            id_of(&low),
            id_of(&high)
        ]
    );
    assert_eq!(all[2]["title"], "Scan all photos");
    let only_done = alice.call_ok("list_todos", json!({"status": "done"})).await["todos"].clone();
    assert_eq!(ids_of(&only_done), vec![id_of(&high)]);
    let open = alice.call_ok("list_todos", json!({"status": "open"})).await["todos"].clone();
    assert_eq!(ids_of(&open), vec![id_of(&other_high), id_of(&low)]);
    let in_progress = alice
        .call_ok("list_todos", json!({"status": "in_progress"}))
        .await["todos"]
        .clone();
    assert_eq!(ids_of(&in_progress), vec![id_of(&medium)]);
}

#[tokio::test]
async fn record_transcript_pointer_needs_a_project_on_the_session() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;

    alice.configure(json!({"mode": "intake"})).await;
    let error = alice
        .call_err("record_transcript_pointer", json!({"item_id": "item_1"}))
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "project_id", "{error}");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM transcript_pointers WHERE session_id::text = $1",
            &alice.session_id()
        )
        .await,
        0
    );

    alice.configure(json!({"mode": "selection"})).await;
    let id = alice.project_in_mode("Memoir", "intake").await;
    // The item need not have arrived yet.
    let pointer = alice
        .call_ok(
            "record_transcript_pointer",
            json!({"item_id": "item_1", "label": "  the flood  "}),
        )
        .await["pointer"]
        .clone();
    assert_eq!(pointer["item_id"], "item_1");
    assert_eq!(pointer["label"], "the flood");
    assert_eq!(pointer["project_id"], id.as_str());
    assert_eq!(pointer["session_id"], alice.session_id().as_str());
    let unlabelled = alice
        .call_ok(
            "record_transcript_pointer",
            json!({"item_id": "item_2", "label": "  "}),
        )
        .await["pointer"]
        .clone();
    assert_eq!(unlabelled["label"], Value::Null);

    let stored = json_rows(
        &db,
        "SELECT to_jsonb(t) FROM transcript_pointers t WHERE session_id::text = $1 \
         ORDER BY created_at",
        &alice.session_id(),
    )
    .await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0]["id"], pointer["id"]);
    assert_eq!(stored[0]["item_id"], "item_1");
    assert_eq!(stored[0]["project_id"], id.as_str());
    assert_eq!(stored[0]["label"], "the flood");

    let error = alice
        .call_err("record_transcript_pointer", json!({"item_id": ""}))
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "item_id", "{error}");
}
