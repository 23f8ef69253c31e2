//! The token rules: a short signing secret is refused at start, and a token in the
//! query string is taken only by the WebSocket and SSE routes.

use super::*;

#[tokio::test]
async fn a_short_jwt_secret_is_refused_at_start() {
    let config = server::Config::new(
        "postgres://postgres@127.0.0.1:5432/unused".into(),
        redis_url(),
        "test-secret".into(),
    );
    let error = server::connect(config, tokio_util::sync::CancellationToken::new())
        .await
        .expect_err("a short secret is refused")
        .to_string();
    assert!(error.contains("DRAFTLINE_JWT_SECRET"), "{error}");
    assert!(error.contains("at least 32 bytes"), "{error}");
}

#[tokio::test]
async fn a_token_in_the_query_is_taken_only_by_the_websocket_and_sse_routes() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("A", "update").await;
    let token = server.token("alice");
    let get = |path: String| {
        let url = server.url(&path);
        let http = server.http.clone();
        async move { http.get(url).send().await.unwrap() }
    };

    let refused = get(format!(
        "/v1/projects/{project}/document?access_token={token}"
    ))
    .await;
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("access_token:"),
        "{body}"
    );
    // Even beside a valid header: the URL has already leaked it.
    let both = server
        .http
        .get(server.url(&format!(
            "/v1/projects/{project}/members?access_token={token}"
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 401);

    let sse = get(format!(
        "/v1/projects/{project}/events?access_token={token}"
    ))
    .await;
    assert_eq!(sse.status(), 200);
    drop(sse);
    let mut ws = server.raw(&format!("?access_token={token}")).await;
    let welcome = ws
        .request(json!({"type": "hello", "client": {"name": "test", "version": "1"}}))
        .await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
}
