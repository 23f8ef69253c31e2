//! The tool catalogue through a real WebSocket client: what each tool answers, what it
//! stores, mode enforcement, argument checking, access by role, and the operation row
//! every auto-accepted change writes.

use crate::support::*;
use serde_json::{Value, json};

/// The session's operations, in order.
async fn operations_of(db: &sqlx::PgPool, session: &str) -> Vec<Value> {
    json_rows(
        db,
        "SELECT to_jsonb(o) FROM operations o WHERE session_id::text = $1 ORDER BY seq",
        session,
    )
    .await
}

async fn project_row(db: &sqlx::PgPool, project: &str) -> Value {
    json_rows(
        db,
        "SELECT to_jsonb(p) FROM projects p WHERE id::text = $1",
        project,
    )
    .await
    .pop()
    .expect("the project row")
}

/// `PUT /v1/projects/{project}/members/{user}` as the owner.
async fn put_member(server: &TestServer, owner: &str, project: &str, user: &str, role: &str) {
    let response = server
        .http
        .put(server.url(&format!("/v1/projects/{project}/members/{user}")))
        .bearer_auth(server.token(owner))
        .json(&json!({ "role": role }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], role, "{body}");
}

fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

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

#[tokio::test]
async fn sync_blueprint_field_counts_gaps_down_and_records_the_dimension() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let id = alice.project_in_mode("Memoir", "intake").await;
    let session = alice.session_id();

    let out = alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "summary", "value": "  A farm childhood  "}),
        )
        .await;
    assert_eq!(
        out,
        json!({"field": "summary", "value": "A farm childhood", "gaps_left": 12})
    );
    let out = alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "people_bonds", "value": "Grandparents and cousins"}),
        )
        .await;
    assert_eq!(out["gaps_left"], 11);
    // Saying a field again replaces it and fills no new gap.
    let out = alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "summary", "value": "A childhood on a dairy farm"}),
        )
        .await;
    assert_eq!(out["gaps_left"], 11);
    let out = alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "audience", "value": "My grandchildren"}),
        )
        .await;
    assert_eq!(out["gaps_left"], 10);

    let draft = alice.call_ok("get_project", json!({})).await["project"]["blueprint_draft"].clone();
    assert_eq!(
        draft,
        json!({
            "summary": "A childhood on a dairy farm",
            "people_bonds": "Grandparents and cousins",
            "audience": "My grandchildren",
        })
    );

    // An empty value clears the field.
    let out = alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "audience", "value": ""}),
        )
        .await;
    assert_eq!(out["gaps_left"], 11);
    assert_eq!(out["value"], "");
    let draft = alice.call_ok("get_project", json!({})).await["project"]["blueprint_draft"].clone();
    assert_eq!(draft.get("audience"), None, "{draft}");
    assert_eq!(project_row(&db, &id).await["blueprint_draft"], draft);

    // An unknown field.
    let error = alice
        .call_err(
            "sync_blueprint_field",
            json!({"field": "favourite_colour", "value": "green"}),
        )
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "field", "{error}");
    let error = alice
        .call_err("sync_blueprint_field", json!({"field": "voice"}))
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "value", "{error}");

    // The session records each field it filled, once, in order.
    let metadata = json_rows(
        &db,
        "SELECT metadata FROM sessions WHERE id::text = $1",
        &session,
    )
    .await;
    assert_eq!(
        metadata[0]["dimensions_covered"],
        json!(["summary", "people_bonds", "audience"]),
        "{metadata:?}"
    );
    let response = server
        .http
        .get(server.url(&format!("/v1/sessions/{session}")))
        .bearer_auth(server.token("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let fetched: Value = response.json().await.unwrap();
    assert_eq!(
        fetched["metadata"]["dimensions_covered"],
        json!(["summary", "people_bonds", "audience"]),
        "{fetched}"
    );
}

#[tokio::test]
async fn blueprint_gaps_are_listed_most_important_first() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    alice.project_in_mode("Memoir", "intake").await;

    let gaps = alice.call_ok("get_blueprint_gaps", json!({})).await["gaps"].clone();
    let fields: Vec<&str> = gaps
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec![
            "summary",
            "audience",
            "voice",
            "outline",
            "integrity_ideals",
            "people_bonds",
            "goals_momentum",
            "meaning_identity",
            "reality_understanding",
            "trust_safeguards",
            "opportunity_freedom",
            "power_resources",
            "harmony_integration",
        ]
    );
    for gap in gaps.as_array().unwrap() {
        assert!(
            !gap["question"].as_str().unwrap().trim().is_empty(),
            "{gap}"
        );
    }
    for gap in &gaps.as_array().unwrap()[..4] {
        assert_eq!(gap["priority"], "high", "{gap}");
    }
    assert_eq!(gaps[12]["priority"], "low");

    alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "audience", "value": "My family"}),
        )
        .await;
    alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "outline", "value": "Childhood, war, later years"}),
        )
        .await;
    let gaps = alice.call_ok("get_blueprint_gaps", json!({})).await["gaps"].clone();
    let fields: Vec<&str> = gaps
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields.len(), 11);
    assert_eq!(&fields[..3], &["summary", "voice", "integrity_ideals"]);

    // Read-only modes see the gaps too.
    alice.configure(json!({"mode": "audit"})).await;
    let gaps = alice.call_ok("get_blueprint_gaps", json!({})).await["gaps"].clone();
    assert_eq!(gaps.as_array().unwrap().len(), 11);
}

#[tokio::test]
async fn commit_blueprint_makes_a_new_version_only_when_the_draft_changed() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let id = alice.project_in_mode("Memoir", "intake").await;

    alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "summary", "value": "A farm childhood"}),
        )
        .await;
    let out = alice.call_ok("commit_blueprint", json!({})).await;
    assert_eq!(out["project"]["blueprint_version"], 1);
    assert_eq!(
        out["project"]["blueprint"],
        json!({"summary": "A farm childhood"})
    );

    // Repeating it with the same draft changes nothing.
    let out = alice.call_ok("commit_blueprint", json!({})).await;
    assert_eq!(out["project"]["blueprint_version"], 1);
    assert_eq!(project_row(&db, &id).await["blueprint_version"], 1);

    alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "voice", "value": "Warm and plain"}),
        )
        .await;
    let out = alice.call_ok("commit_blueprint", json!({})).await;
    assert_eq!(out["project"]["blueprint_version"], 2);
    let committed = json!({"summary": "A farm childhood", "voice": "Warm and plain"});
    assert_eq!(out["project"]["blueprint"], committed);

    let project = alice.call_ok("get_project", json!({})).await["project"].clone();
    assert_eq!(project["blueprint_version"], 2);
    assert_eq!(project["blueprint"], committed);
    assert_eq!(project["blueprint_draft"], committed);
    let row = project_row(&db, &id).await;
    assert_eq!(row["blueprint_version"], 2);
    assert_eq!(row["blueprint"], committed);
}

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

#[tokio::test]
async fn document_edits_make_versions_and_stale_ones_conflict() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let id = alice.project_in_mode("Memoir", "update").await;
    let session = alice.session_id();

    let markdown = "Preface line\n# Memoir\nIntro\n## Early years\nThe farm.\n## Later years\n";
    let document = alice
        .call_ok(
            "apply_document_edits",
            json!({"base_version": 0, "markdown": markdown, "summary": " A memoir of the farm "}),
        )
        .await["document"]
        .clone();
    assert_eq!(document["version"], 1);
    assert_eq!(document["markdown"], markdown);
    assert_eq!(document["summary"], "A memoir of the farm");
    assert_eq!(document["project_id"], id.as_str());
    let sections = json!([
        {"key": "memoir", "title": "Memoir", "level": 1},
        {"key": "memoir/early-years", "title": "Early years", "level": 2},
        {"key": "memoir/later-years", "title": "Later years", "level": 2},
    ]);
    assert_eq!(document["sections"], sections);

    let read = alice.call_ok("get_document", json!({})).await["document"].clone();
    assert_eq!(read["version"], 1);
    assert_eq!(read["markdown"], markdown);
    assert_eq!(read["sections"], sections);
    assert_eq!(read["summary"], "A memoir of the farm");

    let versions = json_rows(
        &db,
        "SELECT to_jsonb(v) FROM document_versions v JOIN documents d ON d.id = v.document_id \
         WHERE d.project_id::text = $1 ORDER BY v.version",
        &id,
    )
    .await;
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["version"], 1);
    assert_eq!(versions[0]["markdown"], markdown);
    assert_eq!(versions[0]["sections"], sections);
    assert_eq!(versions[0]["source_session_id"], session.as_str());
    assert_eq!(versions[0]["source_job_id"], Value::Null);

    // Based on version 0, which is no longer current.
    let error = alice
        .call_err(
            "apply_document_edits",
            json!({"base_version": 0, "markdown": "# Overwritten\n"}),
        )
        .await;
    assert_eq!(error["code"], "conflict", "{error}");
    let read = alice.call_ok("get_document", json!({})).await["document"].clone();
    assert_eq!(read["version"], 1);
    assert_eq!(read["markdown"], markdown);
    let stored = count(
        &db,
        "SELECT count(*) FROM document_versions v JOIN documents d ON d.id = v.document_id \
         WHERE d.project_id::text = $1",
        &id,
    )
    .await;
    assert_eq!(stored, 1, "a conflicting edit writes no version");

    // Based on the current version; no summary keeps the old one.
    let document = alice
        .call_ok(
            "apply_document_edits",
            json!({"base_version": 1, "markdown": "# Memoir\nRewritten.\n"}),
        )
        .await["document"]
        .clone();
    assert_eq!(document["version"], 2);
    assert_eq!(document["summary"], "A memoir of the farm");
    assert_eq!(
        document["sections"],
        json!([{"key": "memoir", "title": "Memoir", "level": 1}])
    );

    let error = alice
        .call_err(
            "apply_document_edits",
            json!({"base_version": -1, "markdown": "x"}),
        )
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "base_version", "{error}");
}

#[tokio::test]
async fn tools_outside_the_mode_are_not_allowed() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;

    let reply = alice
        .call("create_note", json!({"body": "Remember the flood"}))
        .await;
    assert_eq!(reply["ok"], false, "{reply}");
    let error = &reply["error"];
    assert_eq!(error["code"], "tool_not_allowed", "{error}");
    assert_eq!(error["details"]["mode"], "selection", "{error}");
    assert_eq!(
        error["details"]["allowed"],
        json!([
            "list_projects",
            "create_project",
            "assign_project_to_session"
        ]),
        "{error}"
    );

    let error = alice.call_err("delete_everything", json!({})).await;
    assert_eq!(error["code"], "unknown_tool", "{error}");

    // A read-only mode refuses changes but keeps the tools of every mode.
    let id = alice.project_in_mode("Memoir", "audit").await;
    let error = alice
        .call_err("update_project", json!({"name": "Renamed"}))
        .await;
    assert_eq!(error["code"], "tool_not_allowed", "{error}");
    let error = alice
        .call_err("create_todo", json!({"title": "Nope"}))
        .await;
    assert_eq!(error["code"], "tool_not_allowed", "{error}");
    let listed = alice.call_ok("list_projects", json!({})).await;
    assert_eq!(ids_of(&listed["projects"]), vec![id.clone()]);
    alice
        .call_ok("assign_project_to_session", json!({"project_id": id}))
        .await;
    alice.configure(json!({"mode": "intake"})).await;
    let error = alice
        .call_err(
            "apply_document_edits",
            json!({"base_version": 0, "markdown": "# x"}),
        )
        .await;
    assert_eq!(error["code"], "tool_not_allowed", "{error}");

    assert_eq!(project_row(&db, &id).await["name"], "Memoir");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM todos WHERE project_id::text = $1",
            &id
        )
        .await,
        0
    );
    // Only create_project was recorded.
    let operations = operations_of(&db, &alice.session_id()).await;
    let tools: Vec<&str> = operations
        .iter()
        .map(|o| o["tool"].as_str().unwrap())
        .collect();
    assert_eq!(tools, vec!["create_project"]);
}

#[tokio::test]
async fn arguments_as_a_json_string_behave_like_an_object() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;

    let out = alice
        .call_ok(
            "create_project",
            json!(r#"{"name": "From a string", "description": "Realtime API style"}"#),
        )
        .await;
    assert_eq!(out["project"]["name"], "From a string");
    assert_eq!(out["project"]["description"], "Realtime API style");
    let id = out["project"]["id"].as_str().unwrap().to_owned();

    let assigned = alice
        .call_ok(
            "assign_project_to_session",
            json!(format!(r#"{{"project_id": "{id}"}}"#)),
        )
        .await;
    assert_eq!(assigned["session"]["project_id"], id.as_str());
    // An empty string is no arguments, like an empty object.
    let listed = alice.call_ok("list_projects", json!("")).await;
    assert_eq!(ids_of(&listed["projects"]), vec![id.clone()]);
    let filtered = alice
        .call_ok("list_projects", json!(r#"{"status": "paused"}"#))
        .await;
    assert_eq!(filtered["projects"], json!([]));

    alice.configure(json!({"mode": "update"})).await;
    let todo = alice
        .call_ok(
            "create_todo",
            json!(r#"{"title": "Call aunt May", "priority": "high"}"#),
        )
        .await["todo"]
        .clone();
    assert_eq!(todo["title"], "Call aunt May");
    assert_eq!(todo["priority"], "high");

    // The same checks apply to a string.
    let error = alice
        .call_err("create_todo", json!(r#"{"title": "   "}"#))
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "title", "{error}");
    let error = alice
        .call_err("create_todo", json!(r#"{"title": "x", "colour": "red"}"#))
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "colour", "{error}");
    let error = alice.call_err("create_todo", json!("{not json")).await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "arguments", "{error}");
    let error = alice.call_err("create_todo", json!("[1, 2]")).await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    assert_eq!(error["details"]["field"], "arguments", "{error}");
}

#[tokio::test]
async fn bad_arguments_name_the_field_and_the_connection_keeps_working() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;

    let cases = [
        ("create_project", json!({}), "name"),
        ("create_project", json!({"name": 5}), "name"),
        (
            "create_project",
            json!({"name": "Memoir", "colour": "red"}),
            "colour",
        ),
        ("create_project", json!({"name": "   "}), "name"),
        ("create_project", json!({"name": ""}), "name"),
        ("create_project", json!({"name": "x".repeat(201)}), "name"),
        (
            "create_project",
            json!({"name": "Memoir", "description": 1}),
            "description",
        ),
        ("create_project", json!([1, 2]), "arguments"),
        ("assign_project_to_session", json!({}), "project_id"),
        (
            "assign_project_to_session",
            json!({"project_id": "not-a-uuid"}),
            "project_id",
        ),
    ];
    for (tool, arguments, field) in cases {
        let error = alice.call_err(tool, arguments.clone()).await;
        assert_eq!(
            error["code"], "invalid_arguments",
            "{tool} {arguments}: {error}"
        );
        assert_eq!(
            error["details"]["field"], field,
            "{tool} {arguments}: {error}"
        );
        assert!(
            error["message"].as_str().unwrap().contains(field),
            "the message names the field: {error}"
        );
    }
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM projects WHERE owner_id = $1",
            "alice"
        )
        .await,
        0
    );

    let id = alice.project_in_mode("Memoir", "update").await;
    let cases = [
        (
            "create_todo",
            json!({"title": "x", "priority": "urgent"}),
            "priority",
        ),
        ("create_todo", json!({"details": "no title"}), "title"),
        ("update_todo", json!({"title": "x"}), "todo_id"),
        ("create_note", json!({"body": ["not", "text"]}), "body"),
        (
            "apply_document_edits",
            json!({"markdown": "# x"}),
            "base_version",
        ),
        (
            "apply_document_edits",
            json!({"base_version": "one", "markdown": "# x"}),
            "base_version",
        ),
    ];
    for (tool, arguments, field) in cases {
        let error = alice.call_err(tool, arguments.clone()).await;
        assert_eq!(
            error["code"], "invalid_arguments",
            "{tool} {arguments}: {error}"
        );
        assert_eq!(
            error["details"]["field"], field,
            "{tool} {arguments}: {error}"
        );
    }

    // Still the same working connection and session.
    let pong = alice.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "pong", "{pong}");
    let project = alice.call_ok("get_project", json!({})).await;
    assert_eq!(project["project"]["id"], id.as_str());
    let todo = alice
        .call_ok("create_todo", json!({"title": "Works again"}))
        .await;
    assert_eq!(todo["todo"]["title"], "Works again");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM todos WHERE project_id::text = $1",
            &id
        )
        .await,
        1
    );
}

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

#[tokio::test]
async fn every_auto_accepted_change_writes_a_completed_operation() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let session = alice.session_id();

    let id = alice
        .call_ok("create_project", json!({"name": "Memoir"}))
        .await["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    alice.call_ok("list_projects", json!({})).await;
    alice
        .call_ok("assign_project_to_session", json!({"project_id": id}))
        .await;
    alice.configure(json!({"mode": "update"})).await;
    alice
        .call_ok("update_project", json!({"name": "Farm memoir"}))
        .await;
    alice.call_ok("get_project", json!({})).await;
    let todo = alice
        .call_ok("create_todo", json!({"title": "Call aunt May"}))
        .await["todo"]
        .clone();
    let todo_id = todo["id"].as_str().unwrap().to_owned();
    alice
        .call_ok(
            "update_todo",
            json!({"todo_id": todo_id, "priority": "high"}),
        )
        .await;
    alice
        .call_ok(
            "update_todo_status",
            json!({"todo_id": todo_id, "status": "done"}),
        )
        .await;
    let note_id = alice
        .call_ok("create_note", json!({"body": "The flood"}))
        .await["note"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    alice
        .call_ok(
            "update_note",
            json!({"note_id": note_id, "body": "The flood of 1962"}),
        )
        .await;
    alice.call_ok("get_document", json!({})).await;
    alice
        .call_ok(
            "apply_document_edits",
            json!({"base_version": 0, "markdown": "# Memoir\n"}),
        )
        .await;
    alice
        .call_ok("delete_todo", json!({"todo_id": todo_id}))
        .await;
    alice.configure(json!({"mode": "intake"})).await;
    alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "summary", "value": "A farm childhood"}),
        )
        .await;
    alice.call_ok("get_blueprint_gaps", json!({})).await;
    alice.call_ok("commit_blueprint", json!({})).await;
    alice
        .call_ok("record_transcript_pointer", json!({"item_id": "item_1"}))
        .await;

    let operations = operations_of(&db, &session).await;
    let tools: Vec<&str> = operations
        .iter()
        .map(|o| o["tool"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        vec![
            "create_project",
            "update_project",
            "create_todo",
            "update_todo",
            "update_todo_status",
            "create_note",
            "update_note",
            "apply_document_edits",
            "delete_todo",
            "sync_blueprint_field",
            "commit_blueprint",
            "record_transcript_pointer",
        ],
        "one operation per change, none for reads"
    );
    for (i, op) in operations.iter().enumerate() {
        assert_eq!(op["seq"], i as i64 + 1, "{op}");
        assert_eq!(op["status"], "completed", "{op}");
        assert_eq!(op["project_id"], id.as_str(), "{op}");
        assert_eq!(op["error"], Value::Null, "{op}");
        assert!(op["entity_id"].is_string(), "{op}");
        assert!(op["executed_at"].is_string(), "{op}");
        assert!(op["duration_ms"].as_i64().is_some_and(|d| d >= 0), "{op}");
        assert!(
            op["after"].is_object() || op["tool"] == "delete_todo",
            "{op}"
        );
    }
    let by_tool = |tool: &str| operations.iter().find(|o| o["tool"] == tool).unwrap();

    let created = by_tool("create_project");
    assert_eq!(created["kind"], "create");
    assert_eq!(created["entity"], "project");
    assert_eq!(created["entity_id"], id.as_str());
    assert_eq!(created["data"], json!({"name": "Memoir"}));
    assert_eq!(created["before"], Value::Null);
    assert_eq!(created["after"]["name"], "Memoir");

    let renamed = by_tool("update_project");
    assert_eq!(renamed["kind"], "update");
    assert_eq!(renamed["data"], json!({"name": "Farm memoir"}));
    assert_eq!(renamed["before"]["name"], "Memoir");
    assert_eq!(renamed["after"]["name"], "Farm memoir");

    let todo_created = by_tool("create_todo");
    assert_eq!(todo_created["entity"], "todo");
    assert_eq!(todo_created["entity_id"], todo_id.as_str());
    assert_eq!(todo_created["before"], Value::Null);
    assert_eq!(todo_created["after"]["title"], "Call aunt May");

    let reprioritized = by_tool("update_todo");
    assert_eq!(reprioritized["before"]["priority"], "medium");
    assert_eq!(reprioritized["after"]["priority"], "high");
    let status = by_tool("update_todo_status");
    assert_eq!(status["before"]["status"], "open");
    assert_eq!(status["after"]["status"], "done");

    let note = by_tool("update_note");
    assert_eq!(note["entity"], "note");
    assert_eq!(note["before"]["body"], "The flood");
    assert_eq!(note["after"]["body"], "The flood of 1962");

    let edited = by_tool("apply_document_edits");
    assert_eq!(edited["entity"], "document");
    assert_eq!(edited["before"]["version"], 0);
    assert_eq!(edited["after"]["version"], 1);

    let deleted = by_tool("delete_todo");
    assert_eq!(deleted["kind"], "delete");
    assert_eq!(deleted["entity_id"], todo_id.as_str());
    assert_eq!(deleted["before"]["title"], "Call aunt May");
    assert_eq!(deleted["after"], Value::Null);

    let synced = by_tool("sync_blueprint_field");
    assert_eq!(synced["entity"], "blueprint");
    assert_eq!(synced["before"], json!({}));
    assert_eq!(synced["after"], json!({"summary": "A farm childhood"}));

    let committed = by_tool("commit_blueprint");
    assert_eq!(committed["before"]["blueprint_version"], 0);
    assert_eq!(committed["after"]["blueprint_version"], 1);

    let pointer = by_tool("record_transcript_pointer");
    assert_eq!(pointer["entity"], "transcript_pointer");
    assert_eq!(pointer["after"]["item_id"], "item_1");
}

#[tokio::test]
async fn a_change_that_fails_as_it_runs_writes_a_failed_operation() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let id = alice.project_in_mode("Memoir", "update").await;
    let session = alice.session_id();

    let error = alice.call_err("update_project", json!({})).await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    let error = alice
        .call_err(
            "apply_document_edits",
            json!({"base_version": 3, "markdown": "# Stale"}),
        )
        .await;
    assert_eq!(error["code"], "conflict", "{error}");

    let operations = operations_of(&db, &session).await;
    assert_eq!(operations.len(), 3, "{operations:?}");
    let failed = &operations[1];
    assert_eq!(failed["tool"], "update_project");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], "invalid_arguments");
    assert_eq!(failed["error"]["details"]["field"], "name");
    assert_eq!(failed["before"], Value::Null);
    assert_eq!(failed["after"], Value::Null);
    assert!(failed["duration_ms"].as_i64().is_some(), "{failed}");
    let conflict = &operations[2];
    assert_eq!(conflict["tool"], "apply_document_edits");
    assert_eq!(conflict["status"], "failed");
    assert_eq!(conflict["error"]["code"], "conflict");
    assert_eq!(conflict["data"]["markdown"], "# Stale");

    assert_eq!(project_row(&db, &id).await["name"], "Memoir");
    let document = alice.call_ok("get_document", json!({})).await;
    assert_eq!(document["document"]["version"], 0);
}

#[tokio::test]
async fn a_change_to_a_missing_todo_writes_a_failed_operation() {
    let server = TestServer::start().await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let id = alice.project_in_mode("Memoir", "update").await;
    let session = alice.session_id();
    let kept = alice
        .call_ok("create_todo", json!({"title": "Call aunt May"}))
        .await["todo"]
        .clone();

    let missing = uuid::Uuid::new_v4().to_string();
    let error = alice
        .call_err(
            "update_todo",
            json!({"todo_id": missing, "title": "Nowhere"}),
        )
        .await;
    assert_eq!(error["code"], "not_found", "{error}");

    // Nothing changed...
    let todos = json_rows(
        &db,
        "SELECT to_jsonb(t) FROM todos t WHERE project_id::text = $1",
        &id,
    )
    .await;
    assert_eq!(todos.len(), 1);
    assert_eq!(todos[0]["title"], "Call aunt May");
    assert_eq!(todos[0]["id"], kept["id"]);
    // ...but the attempt is on record.
    let operations = operations_of(&db, &session).await;
    let tools: Vec<(&str, &str)> = operations
        .iter()
        .map(|o| (o["tool"].as_str().unwrap(), o["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        tools,
        vec![
            ("create_project", "completed"),
            ("create_todo", "completed"),
            ("update_todo", "failed"),
        ]
    );
    let failed = &operations[2];
    assert_eq!(failed["error"]["code"], "not_found", "{failed}");
    assert_eq!(failed["data"]["todo_id"], missing.as_str(), "{failed}");
    assert_eq!(failed["after"], Value::Null, "{failed}");
}
