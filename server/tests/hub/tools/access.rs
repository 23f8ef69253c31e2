//! Who sees and changes a project, by role.

use super::*;

#[tokio::test]
async fn other_users_see_a_project_by_role() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let id = alice.project_in_mode("Memoir", "update").await;
    let todo = alice
        .call_ok("create_todo", json!({"title": "Call aunt May"}))
        .await["todo"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Not a member: the project does not exist for bob.
    let mut bob = server.connect("bob").await;
    let error = bob
        .call_err("assign_project_to_session", json!({"project_id": id}))
        .await;
    assert_eq!(error["code"], "not_found", "{error}");
    let reply = bob
        .request(json!({"type": "session.configure", "project_id": id}))
        .await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "not_found", "{reply}");
    bob.configure(json!({"mode": "update"})).await;
    for (tool, arguments) in [
        ("get_project", json!({"project_id": id})),
        ("get_document", json!({"project_id": id})),
        (
            "update_project",
            json!({"project_id": id, "name": "Bob's now"}),
        ),
        ("create_note", json!({"project_id": id, "body": "Hi"})),
        (
            "update_todo",
            json!({"todo_id": todo, "title": "Bob's now"}),
        ),
        ("delete_todo", json!({"todo_id": todo})),
    ] {
        let error = bob.call_err(tool, arguments).await;
        assert_eq!(error["code"], "not_found", "{tool}: {error}");
    }
    let listed = bob.call_ok("list_projects", json!({})).await;
    assert_eq!(listed["projects"], json!([]));

    // A viewer reads but does not change.
    put_member(&server, "alice", &id, "bob", "viewer").await;
    bob.call_ok("assign_project_to_session", json!({"project_id": id}))
        .await;
    let project = bob.call_ok("get_project", json!({})).await;
    assert_eq!(project["project"]["id"], id.as_str());
    assert_eq!(project["project"]["role"], "viewer");
    let document = bob.call_ok("get_document", json!({})).await;
    assert_eq!(document["document"]["version"], 0);
    for (tool, arguments) in [
        ("update_project", json!({"name": "Bob's now"})),
        ("create_note", json!({"body": "Hi"})),
        ("create_todo", json!({"title": "Bob's todo"})),
        (
            "update_todo",
            json!({"todo_id": todo, "title": "Bob's now"}),
        ),
        ("delete_todo", json!({"todo_id": todo})),
        (
            "apply_document_edits",
            json!({"base_version": 0, "markdown": "# Bob"}),
        ),
    ] {
        let error = bob.call_err(tool, arguments).await;
        assert_eq!(error["code"], "forbidden", "{tool}: {error}");
    }
    bob.configure(json!({"mode": "audit"})).await;
    let todos = bob.call_ok("list_todos", json!({})).await;
    assert_eq!(ids_of(&todos["todos"]), vec![todo.clone()]);
    assert_eq!(todos["todos"][0]["title"], "Call aunt May");
    assert_eq!(project_row(&db, &id).await["name"], "Memoir");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM notes WHERE project_id::text = $1",
            &id
        )
        .await,
        0
    );

    // An editor changes it.
    put_member(&server, "alice", &id, "bob", "editor").await;
    bob.configure(json!({"mode": "update"})).await;
    let updated = bob
        .call_ok("update_project", json!({"name": "Our memoir"}))
        .await;
    assert_eq!(updated["project"]["name"], "Our memoir");
    let renamed = bob
        .call_ok("update_todo", json!({"todo_id": todo, "title": "Call May"}))
        .await;
    assert_eq!(renamed["todo"]["title"], "Call May");
    bob.call_ok("create_note", json!({"body": "Bob was here"}))
        .await;
    assert_eq!(project_row(&db, &id).await["name"], "Our memoir");
    let seen_by_alice = alice.call_ok("get_project", json!({})).await;
    assert_eq!(seen_by_alice["project"]["name"], "Our memoir");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM notes WHERE project_id::text = $1",
            &id
        )
        .await,
        1
    );
}
