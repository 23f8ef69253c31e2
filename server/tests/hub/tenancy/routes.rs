//! The sweep over the router's route table: a stranger gets what a missing id gets,
//! a viewer reads but changes nothing, admin routes refuse both.

use super::*;

/// Who the route sweep sends a request as.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Stranger,
    Viewer,
}

/// How a route answers someone outside the project (or only reading it).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Guard {
    /// No token needed and nothing of any project in it.
    Public,
    /// Names A (or something of A) in the path: a stranger gets 404 exactly like for
    /// a missing id; a viewer reads (`writes: false`) or gets 403.
    Scoped { writes: bool },
    /// Admin scope only: 403 for both.
    Admin,
}

/// A route of the router missing here fails the sweep.
fn route_case(method: &str, path: &str) -> Option<Guard> {
    Some(match (method, path) {
        ("GET", "/healthz" | "/readyz" | "/metrics" | "/v1/tools") => Guard::Public,
        // The API's description: the same document for everyone, no data in it.
        ("GET", "/v1/openapi.json") => Guard::Public,
        // The console's static page and scripts: the same bytes for everyone.
        ("GET", "/console" | "/console/{*path}") => Guard::Public,
        // The upgrade answers no project data; what a WebSocket reaches is the tool
        // sweep's and the subscription tests' to check.
        ("GET", "/v1/ws") => Guard::Public,
        // A peer of one's own (an offer, a hang-up of one's own peer: another user's is
        // 404) and the ICE servers: nothing of any project.
        ("POST", "/v1/rtc/offer")
        | ("DELETE", "/v1/rtc/sessions/{id}")
        | ("GET", "/v1/rtc/config") => Guard::Public,
        ("POST", "/v1/tools/{name}") => Guard::Scoped { writes: true },
        // Creating a session in A is as much as assigning A: a read.
        ("POST", "/v1/sessions") => Guard::Scoped { writes: false },
        ("GET", "/v1/sessions/{id}") => Guard::Scoped { writes: false },
        (
            "GET",
            "/v1/projects/{id}/document"
            | "/v1/projects/{id}/document/versions"
            | "/v1/projects/{id}/document/versions/{version}"
            | "/v1/projects/{id}/events"
            | "/v1/projects/{id}/presence"
            | "/v1/projects/{id}/members"
            | "/v1/projects/{id}/operations"
            | "/v1/projects/{id}/chat",
        ) => Guard::Scoped { writes: false },
        ("PUT" | "DELETE", "/v1/projects/{id}/members/{user_id}") => Guard::Scoped { writes: true },
        ("POST", "/v1/projects/{id}/chat") => Guard::Scoped { writes: true },
        ("GET", "/v1/projects/{id}/memory") => Guard::Scoped { writes: false },
        ("POST", "/v1/projects/{id}/memory") => Guard::Scoped { writes: true },
        // `{memory_id}` is A's entry; `{id}` is checked first.
        ("DELETE", "/v1/projects/{id}/memory/{memory_id}") => Guard::Scoped { writes: true },
        // `{op}` is A's completed operation; `{id}` is checked first.
        ("POST", "/v1/projects/{id}/operations/{op}/rollback") => Guard::Scoped { writes: true },
        ("GET", "/v1/jobs/{id}") => Guard::Scoped { writes: false },
        ("GET", "/v1/admin/jobs" | "/v1/admin/stats") => Guard::Admin,
        ("POST", "/v1/admin/jobs/{id}/retry" | "/v1/admin/jobs/{id}/cancel") => Guard::Admin,
        ("POST", "/v1/admin/queue/drain") => Guard::Admin,
        _ => return None,
    })
}

impl Tenancy {
    /// A session of `user` over HTTP, in mode `update`.
    async fn http_session(&self, user: &str) -> String {
        let response = self
            .server
            .http
            .post(self.server.url("/v1/sessions"))
            .bearer_auth(self.server.token(user))
            .json(&json!({"mode": "update"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let session: Value = response.json().await.unwrap();
        session["id"].as_str().unwrap().to_owned()
    }

    /// Sends `method path` as `user` with the route's placeholders filled in around
    /// `target` (A's id, or the id of A's session or job, or a missing one); answers
    /// the status and the body (empty for a stream).
    async fn send(
        &self,
        user: &str,
        session: &str,
        method: &str,
        path: &str,
        target: &str,
    ) -> (u16, Value) {
        let url = path
            .replace("{id}", target)
            .replace("{version}", "1")
            .replace("{user_id}", "dave")
            .replace("{op}", &self.completed)
            .replace("{memory_id}", &self.memory)
            .replace("{name}", "create_note")
            .replace("{*path}", "app.js");
        let http = &self.server.http;
        let url = self.server.url(&url);
        let request = match method {
            "GET" => http.get(url),
            "POST" => http.post(url),
            "PUT" => http.put(url),
            "DELETE" => http.delete(url),
            other => panic!("no client for {other}"),
        };
        let body = match path {
            "/v1/tools/{name}" => json!({"project_id": target, "body": "Planted"}),
            "/v1/sessions" => json!({"project_id": target}),
            "/v1/projects/{id}/members/{user_id}" => json!({"role": "editor"}),
            "/v1/projects/{id}/chat" => json!({"text": "Planted"}),
            "/v1/projects/{id}/memory" => json!({"kind": "fact", "body": "Planted"}),
            _ => Value::Null,
        };
        let request = if body.is_null() {
            request
        } else {
            request.json(&body)
        };
        let response = request
            .bearer_auth(self.server.token(user))
            .header("x-draftline-session", session)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let is_stream = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/event-stream"));
        if is_stream {
            return (status, Value::Null);
        }
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// The id a route's `{id}` takes for A.
    fn route_target(&self, path: &str) -> &str {
        if path.starts_with("/v1/sessions/") {
            &self.alice_session
        } else if path.starts_with("/v1/jobs/") || path.starts_with("/v1/admin/jobs/") {
            &self.job
        } else {
            &self.a
        }
    }
}

#[tokio::test]
async fn every_route_refuses_a_stranger_and_a_viewer_changes_nothing() {
    let t = Tenancy::new().await;
    let before = state_of(&t.db, &t.a).await;
    let carol_session = t.http_session("carol").await;
    let bob_session = t.http_session("bob").await;

    for &(method, path) in server::http::ROUTES {
        let guard = route_case(method, path)
            .unwrap_or_else(|| panic!("{method} {path} is not covered by the tenancy sweep"));
        let target = t.route_target(path);
        for who in [Who::Stranger, Who::Viewer] {
            let (user, session) = match who {
                Who::Stranger => ("carol", carol_session.as_str()),
                Who::Viewer => ("bob", bob_session.as_str()),
            };
            let (status, body) = t.send(user, session, method, path, target).await;
            let seen = format!("{method} {path} as {who:?}: {status} {body}");
            match guard {
                Guard::Public => {
                    assert!(!body.to_string().contains(&t.a), "{seen}");
                }
                Guard::Admin => {
                    assert_eq!(status, 403, "{seen}");
                    assert_eq!(body["code"], "forbidden", "{seen}");
                }
                Guard::Scoped { .. } if who == Who::Stranger => {
                    let missing = uuid::Uuid::now_v7().to_string();
                    let (control_status, control) =
                        t.send(user, session, method, path, &missing).await;
                    assert_eq!(status, 404, "{seen}");
                    assert_eq!(body["code"], "not_found", "{seen}");
                    assert_eq!(status, control_status, "{seen} vs {control}");
                    assert_eq!(shape(&body, target), shape(&control, &missing), "{seen}");
                    if target != t.a {
                        assert!(!body.to_string().contains(&t.a), "{seen}");
                    }
                }
                Guard::Scoped { writes: true } => {
                    assert_eq!(status, 403, "{seen}");
                    assert_eq!(body["code"], "forbidden", "{seen}");
                }
                Guard::Scoped { writes: false } => {
                    // Bob reads A, but another user's session is still not his.
                    if path == "/v1/sessions/{id}" {
                        assert_eq!(status, 404, "{seen}");
                    } else {
                        assert!(status == 200 || status == 201, "{seen}");
                    }
                }
            }
        }
    }
    assert_eq!(state_of(&t.db, &t.a).await, before, "A changed");
}
