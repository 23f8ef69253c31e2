//! Document edits: versions and stale bases.

use super::*;

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
