//! Jobs as the hub shows them: `get_draft_status`, `GET /v1/jobs/{id}`, and the admin
//! API (list, retry, cancel, drain, stats) with its scope check.

use crate::support::*;
use protocol::ProjectId;
use reqwest::StatusCode;
use serde_json::{Value, json};
use store::jobs::lifecycle::{self, NewJob};

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Enqueues a job straight in the test database (the drafting tool comes later).
async fn enqueue(server: &TestServer, kind: &str, project: Option<&str>) -> String {
    let db = server.db().await;
    let mut conn = db.acquire().await.unwrap();
    let mut job = NewJob::new(kind, json!({"summary": "first draft"}));
    job.project_id = project.map(|p| p.parse::<ProjectId>().unwrap());
    let enqueued = lifecycle::enqueue(&mut conn, &job).await.unwrap();
    enqueued.job.id.to_string()
}

#[tokio::test]
async fn get_draft_status_answers_the_latest_draft_of_the_project() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Memoir", "ghostwriting").await;

    let e = alice.call_err("get_draft_status", json!({})).await;
    assert_eq!(e["code"], "not_found");

    let first = enqueue(&server, "draft.update", Some(&project)).await;
    let second = enqueue(&server, "draft.update", Some(&project)).await;
    let _other_kind = enqueue(&server, "maintenance.prune", None).await;
    let out = alice.call_ok("get_draft_status", json!({})).await;
    assert_eq!(out["job"]["id"], second.as_str());
    assert_eq!(out["job"]["status"], "queued");
    assert_eq!(out["job"]["kind"], "draft.update");
    let out = alice
        .call_ok("get_draft_status", json!({"job_id": first}))
        .await;
    assert_eq!(out["job"]["id"], first.as_str());

    // Another project's draft is not revealed through this project.
    let mut bob = server.connect("bob").await;
    let bobs = bob.project_in_mode("Other", "ghostwriting").await;
    let bobs_job = enqueue(&server, "draft.update", Some(&bobs)).await;
    let e = alice
        .call_err("get_draft_status", json!({"job_id": bobs_job}))
        .await;
    assert_eq!(e["code"], "not_found");
    let e = alice
        .call_err("get_draft_status", json!({"project_id": bobs}))
        .await;
    assert_eq!(e["code"], "not_found");
}

#[tokio::test]
async fn a_job_with_its_log_is_shown_to_members_and_admins() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Memoir", "ghostwriting").await;
    let job = enqueue(&server, "draft.update", Some(&project)).await;
    let url = server.url(&format!("/v1/jobs/{job}"));

    let (status, body) = send(server.http.get(&url).bearer_auth(server.token("alice"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["job"]["id"], job.as_str());
    assert_eq!(body["events"][0]["kind"], "status");
    assert_eq!(body["events"][0]["message"], "queued");

    let (status, body) = send(server.http.get(&url).bearer_auth(server.token("mallory"))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, _) = send(server.http.get(&url).bearer_auth(server.admin_token("ops"))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(
        server
            .http
            .get(server.url("/v1/jobs/not-a-uuid"))
            .bearer_auth(server.token("alice")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_admin_api_needs_the_admin_scope() {
    let server = TestServer::start().await;
    for (method, path) in [
        ("GET", "/v1/admin/jobs"),
        ("GET", "/v1/admin/stats"),
        ("POST", "/v1/admin/queue/drain"),
    ] {
        let request = server
            .http
            .request(method.parse().unwrap(), server.url(path))
            .bearer_auth(server.token("alice"));
        let (status, body) = send(request).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{path}"
        );
    }
    let (status, _) = send(server.http.get(server.url("/v1/admin/jobs"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn admins_list_cancel_retry_drain_and_count_jobs() {
    let server = TestServer::start().await;
    let admin = server.admin_token("ops");
    let a = enqueue(&server, "debug.noop", None).await;
    let b = enqueue(&server, "debug.sleep", None).await;

    let (status, listed) = send(
        server
            .http
            .get(server.url("/v1/admin/jobs?status=queued&kind=debug.noop"))
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = listed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a.as_str()]);
    let (status, e) = send(
        server
            .http
            .get(server.url("/v1/admin/jobs?status=sleeping"))
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );

    let cancel = server.url(&format!("/v1/admin/jobs/{b}/cancel"));
    let (status, job) = send(server.http.post(&cancel).bearer_auth(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(job["status"], "cancelled");
    let (status, e) = send(server.http.post(&cancel).bearer_auth(&admin)).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );

    let retry = server.url(&format!("/v1/admin/jobs/{b}/retry"));
    let (status, job) = send(server.http.post(&retry).bearer_auth(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(job["status"], "queued");
    assert_eq!(job["attempts"], 0);
    let retry_queued = server.url(&format!("/v1/admin/jobs/{a}/retry"));
    let (status, _) = send(server.http.post(&retry_queued).bearer_auth(&admin)).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "only failed or cancelled jobs are retried"
    );

    let (status, drained) = send(
        server
            .http
            .post(server.url("/v1/admin/queue/drain"))
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(drained["dispatched"], 2);

    let (status, stats) = send(
        server
            .http
            .get(server.url("/v1/admin/stats"))
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let depth = stats["depth"].as_array().unwrap();
    let queued: i64 = depth
        .iter()
        .filter(|d| d["status"] == "queued")
        .map(|d| d["count"].as_i64().unwrap())
        .sum();
    assert_eq!(queued, 2);
    assert!(stats["workers"].is_object());
    assert_eq!(stats["connections"], 0);

    let (status, e) = send(
        server
            .http
            .post(server.url(&format!("/v1/admin/jobs/{}/cancel", uuid::Uuid::new_v4())))
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}
