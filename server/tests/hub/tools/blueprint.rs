//! The blueprint tools: syncing fields, the gaps in order, committing.

use super::*;

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
