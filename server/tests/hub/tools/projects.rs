//! The project tools: listing, creating, assigning, reading and updating.

use super::*;

#[tokio::test]
async fn list_projects_shows_own_and_member_projects_and_filters_by_status() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    let mut bob = server.connect("bob").await;

    let a1 = alice
        .call_ok("create_project", json!({"name": "Memoir"}))
        .await["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a2 = alice
        .call_ok("create_project", json!({"name": "Speech"}))
        .await["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b1 = bob
        .call_ok("create_project", json!({"name": "Bob's book"}))
        .await["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let listed = alice.call_ok("list_projects", json!({})).await;
    assert_eq!(
        sorted(ids_of(&listed["projects"])),
        sorted(vec![a1.clone(), a2.clone()])
    );
    let listed = bob.call_ok("list_projects", json!({})).await;
    assert_eq!(ids_of(&listed["projects"]), vec![b1.clone()]);

    // A project alice is a member of shows up, with her role.
    put_member(&server, "bob", &b1, "alice", "viewer").await;
    let listed = alice.call_ok("list_projects", json!({})).await;
    assert_eq!(
        sorted(ids_of(&listed["projects"])),
        sorted(vec![a1.clone(), a2.clone(), b1.clone()])
    );
    let shared = listed["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == b1.as_str())
        .unwrap();
    assert_eq!(shared["role"], "viewer");
    assert_eq!(shared["owner_id"], "bob");

    // Pause one project, then filter.
    alice.configure(json!({"mode": "update"})).await;
    let updated = alice
        .call_ok(
            "update_project",
            json!({"project_id": a1, "status": "paused"}),
        )
        .await;
    assert_eq!(updated["project"]["status"], "paused");
    let paused = alice
        .call_ok("list_projects", json!({"status": "paused"}))
        .await;
    assert_eq!(ids_of(&paused["projects"]), vec![a1.clone()]);
    let active = alice
        .call_ok("list_projects", json!({"status": "active"}))
        .await;
    assert_eq!(
        sorted(ids_of(&active["projects"])),
        sorted(vec![a2.clone(), b1.clone()])
    );
    let none = alice
        .call_ok("list_projects", json!({"status": "archived"}))
        .await;
    assert_eq!(none["projects"], json!([]));

    let error = alice
        .call_err("list_projects", json!({"status": "sleeping"}))
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "status", "{error}");
}

#[tokio::test]
async fn create_project_answers_the_project_and_makes_an_empty_document() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;

    let out = alice
        .call_ok(
            "create_project",
            json!({"name": "  Family memoir  ", "description": " Stories of the farm "}),
        )
        .await;
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["project"], "{out}");
    let project = &out["project"];
    let id = project["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{project}");
    assert_eq!(project["name"], "Family memoir");
    assert_eq!(project["description"], "Stories of the farm");
    assert_eq!(project["owner_id"], "alice");
    assert_eq!(project["status"], "active");
    assert_eq!(project["role"], "owner");
    assert_eq!(project["blueprint"], json!({}));
    assert_eq!(project["blueprint_draft"], json!({}));
    assert_eq!(project["blueprint_version"], 0);
    assert!(project["created_at"].is_string(), "{project}");
    assert!(project["updated_at"].is_string(), "{project}");

    // Without a description it is empty, not missing.
    let bare = alice
        .call_ok("create_project", json!({"name": "Bare"}))
        .await;
    assert_eq!(bare["project"]["description"], "");

    let documents = json_rows(
        &db,
        "SELECT to_jsonb(d) FROM documents d WHERE project_id::text = $1",
        &id,
    )
    .await;
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0]["version"], 0);
    assert_eq!(documents[0]["markdown"], "");
    assert_eq!(documents[0]["sections"], json!([]));
    let owner = count(
        &db,
        "SELECT count(*) FROM project_members WHERE project_id::text = $1 \
         AND user_id = 'alice' AND role = 'owner'",
        &id,
    )
    .await;
    assert_eq!(owner, 1);

    // The same document through the tools.
    alice
        .call_ok("assign_project_to_session", json!({"project_id": id}))
        .await;
    alice.configure(json!({"mode": "update"})).await;
    let document = alice.call_ok("get_document", json!({})).await["document"].clone();
    assert_eq!(document["version"], 0);
    assert_eq!(document["markdown"], "");
    assert_eq!(document["sections"], json!([]));
    assert_eq!(document["summary"], "");
    assert_eq!(document["project_id"], id.as_str());
}

#[tokio::test]
async fn assign_project_lets_later_calls_leave_project_id_out() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let mut bob = server.connect("bob").await;
    let bobs = bob
        .call_ok("create_project", json!({"name": "Bob's"}))
        .await["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = alice
        .call_ok("create_project", json!({"name": "Memoir"}))
        .await["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Without a project on the session, project_id is needed.
    alice.configure(json!({"mode": "intake"})).await;
    let error = alice.call_err("get_project", json!({})).await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "project_id", "{error}");

    // assign_project_to_session works in every mode, intake included.
    let out = alice
        .call_ok("assign_project_to_session", json!({"project_id": id}))
        .await;
    assert_eq!(out["project"]["id"], id.as_str());
    assert_eq!(out["project"]["name"], "Memoir");
    assert_eq!(out["session"]["id"], alice.session_id().as_str());
    assert_eq!(out["session"]["project_id"], id.as_str());
    assert_eq!(out["session"]["mode"], "intake");

    let project = alice.call_ok("get_project", json!({})).await;
    assert_eq!(project["project"]["id"], id.as_str());
    let stored = json_rows(
        &db,
        "SELECT to_jsonb(project_id::text) FROM sessions WHERE id::text = $1",
        &alice.session_id(),
    )
    .await;
    assert_eq!(stored, vec![json!(id)]);

    // Another user's project reads as not found and leaves the session as it was.
    let error = alice
        .call_err("assign_project_to_session", json!({"project_id": bobs}))
        .await;
    assert_eq!(error["code"], "not_found", "{error}");
    let project = alice.call_ok("get_project", json!({})).await;
    assert_eq!(project["project"]["id"], id.as_str());
    let stored = json_rows(
        &db,
        "SELECT to_jsonb(project_id::text) FROM sessions WHERE id::text = $1",
        &alice.session_id(),
    )
    .await;
    assert_eq!(stored, vec![json!(id)]);

    // So is a project that does not exist.
    let error = alice
        .call_err(
            "assign_project_to_session",
            json!({"project_id": uuid::Uuid::new_v4().to_string()}),
        )
        .await;
    assert_eq!(error["code"], "not_found", "{error}");
}

#[tokio::test]
async fn get_project_answers_the_project_with_its_blueprints() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    let id = alice.project_in_mode("Memoir", "intake").await;
    alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "summary", "value": "A farm childhood"}),
        )
        .await;

    let out = alice.call_ok("get_project", json!({})).await;
    let project = &out["project"];
    assert_eq!(project["id"], id.as_str());
    assert_eq!(project["name"], "Memoir");
    assert_eq!(project["role"], "owner");
    assert_eq!(
        project["blueprint_draft"],
        json!({"summary": "A farm childhood"})
    );
    assert_eq!(project["blueprint"], json!({}));
    assert_eq!(project["blueprint_version"], 0);

    // The explicit id gives the same project.
    let explicit = alice
        .call_ok("get_project", json!({"project_id": id}))
        .await;
    assert_eq!(explicit["project"], out["project"]);
}

#[tokio::test]
async fn update_project_changes_the_given_fields() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let id = alice.project_in_mode("Memoir", "update").await;

    let out = alice
        .call_ok(
            "update_project",
            json!({"name": " Farm memoir ", "description": "Growing up on the farm"}),
        )
        .await;
    assert_eq!(out["project"]["id"], id.as_str());
    assert_eq!(out["project"]["name"], "Farm memoir");
    assert_eq!(out["project"]["description"], "Growing up on the farm");
    assert_eq!(out["project"]["status"], "active");

    let out = alice
        .call_ok("update_project", json!({"status": "completed"}))
        .await;
    assert_eq!(out["project"]["status"], "completed");
    assert_eq!(out["project"]["name"], "Farm memoir", "other fields kept");

    let row = project_row(&db, &id).await;
    assert_eq!(row["name"], "Farm memoir");
    assert_eq!(row["description"], "Growing up on the farm");
    assert_eq!(row["status"], "completed");

    // Nothing to change.
    let error = alice.call_err("update_project", json!({})).await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "name", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("at least one"),
        "{error}"
    );
    // A blank name and an unknown status.
    let error = alice
        .call_err("update_project", json!({"name": "   "}))
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "name", "{error}");
    let error = alice
        .call_err("update_project", json!({"status": "deleted"}))
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "status", "{error}");

    let row = project_row(&db, &id).await;
    assert_eq!(row["name"], "Farm memoir");
    assert_eq!(row["status"], "completed");
}
