//! The HTTP API (docs/protocol.md section 7): routes, the bearer-token extractor, and path
//! parsing that answers in the protocol's error shape.

mod admin;
mod chat;
mod console;
mod documents;
mod events;
mod health;
mod jobs;
mod members;
mod memory;
pub mod openapi;
mod operations;
mod sessions;
mod tools;

use crate::auth::Claims;
use crate::error::ApiError;
use crate::hub::Hub;
use crate::ws::{self, TokenQuery};
use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, MatchedPath, State};
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, delete, get, post, put};
use protocol::{ErrorCode, ProjectId};

/// Every route the API serves, as (method, path). The router is built from this table,
/// so it is the one list of what is reachable: the tenancy test walks it, and a route
/// missing here is not served.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/console"),
    ("GET", "/console/{*path}"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/ws"),
    ("POST", "/v1/rtc/offer"),
    ("DELETE", "/v1/rtc/sessions/{id}"),
    ("GET", "/v1/rtc/config"),
    ("GET", "/v1/tools"),
    ("POST", "/v1/tools/{name}"),
    ("POST", "/v1/sessions"),
    ("GET", "/v1/sessions/{id}"),
    ("GET", "/v1/projects/{id}/document"),
    ("GET", "/v1/projects/{id}/document/versions"),
    ("GET", "/v1/projects/{id}/document/versions/{version}"),
    ("GET", "/v1/projects/{id}/events"),
    ("GET", "/v1/projects/{id}/presence"),
    ("GET", "/v1/projects/{id}/members"),
    ("PUT", "/v1/projects/{id}/members/{user_id}"),
    ("DELETE", "/v1/projects/{id}/members/{user_id}"),
    ("GET", "/v1/projects/{id}/operations"),
    ("POST", "/v1/projects/{id}/operations/{op}/rollback"),
    ("GET", "/v1/projects/{id}/memory"),
    ("POST", "/v1/projects/{id}/memory"),
    ("DELETE", "/v1/projects/{id}/memory/{memory_id}"),
    ("POST", "/v1/projects/{id}/chat"),
    ("GET", "/v1/projects/{id}/chat"),
    ("GET", "/v1/jobs/{id}"),
    ("GET", "/v1/admin/jobs"),
    ("POST", "/v1/admin/jobs/{id}/retry"),
    ("POST", "/v1/admin/jobs/{id}/cancel"),
    ("POST", "/v1/admin/queue/drain"),
    ("GET", "/v1/admin/stats"),
];

/// The handler of a route of [`ROUTES`]; `None` for a pair nothing answers.
fn endpoint(method: &str, path: &str) -> Option<MethodRouter<Hub>> {
    Some(match (method, path) {
        ("GET", "/healthz") => get(health::healthz),
        ("GET", "/readyz") => get(health::readyz),
        ("GET", "/metrics") => get(crate::metrics::render),
        ("GET", "/console") => get(console::page),
        ("GET", "/console/{*path}") => get(console::asset),
        ("GET", "/v1/openapi.json") => get(openapi::document),
        ("GET", "/v1/ws") => get(ws::upgrade),
        ("POST", "/v1/rtc/offer") => post(crate::rtc::offer),
        ("DELETE", "/v1/rtc/sessions/{id}") => delete(crate::rtc::hang_up),
        ("GET", "/v1/rtc/config") => get(crate::rtc::config),
        ("GET", "/v1/tools") => get(tools::list),
        ("POST", "/v1/tools/{name}") => post(tools::call),
        ("POST", "/v1/sessions") => post(sessions::create),
        ("GET", "/v1/sessions/{id}") => get(sessions::get),
        ("GET", "/v1/projects/{id}/document") => get(documents::current),
        ("GET", "/v1/projects/{id}/document/versions") => get(documents::versions),
        ("GET", "/v1/projects/{id}/document/versions/{version}") => get(documents::version),
        ("GET", "/v1/projects/{id}/events") => get(events::stream),
        ("GET", "/v1/projects/{id}/presence") => get(events::presence),
        ("GET", "/v1/projects/{id}/members") => get(members::list),
        ("PUT", "/v1/projects/{id}/members/{user_id}") => put(members::put),
        ("DELETE", "/v1/projects/{id}/members/{user_id}") => delete(members::remove),
        ("GET", "/v1/projects/{id}/operations") => get(operations::list),
        ("POST", "/v1/projects/{id}/operations/{op}/rollback") => post(operations::rollback),
        ("GET", "/v1/projects/{id}/memory") => get(memory::list),
        ("POST", "/v1/projects/{id}/memory") => post(memory::create),
        ("DELETE", "/v1/projects/{id}/memory/{memory_id}") => delete(memory::remove),
        ("POST", "/v1/projects/{id}/chat") => post(chat::send),
        ("GET", "/v1/projects/{id}/chat") => get(chat::list),
        ("GET", "/v1/jobs/{id}") => get(jobs::get),
        ("GET", "/v1/admin/jobs") => get(admin::list),
        ("POST", "/v1/admin/jobs/{id}/retry") => post(admin::retry),
        ("POST", "/v1/admin/jobs/{id}/cancel") => post(admin::cancel),
        ("POST", "/v1/admin/queue/drain") => post(admin::drain),
        ("GET", "/v1/admin/stats") => get(admin::stats),
        _ => return None,
    })
}

/// The routes that do not wait for a place among the node's requests in flight
/// ([`crate::admission`]): health and metrics, static documents, the WebSocket upgrade
/// (its messages wait one by one), the RTC signalling (its channel's messages wait as a
/// WebSocket's do), and the SSE stream (like `subscribe`). Every other route works in
/// Postgres and waits for a place, or is answered 503 `unavailable` with `Retry-After`.
pub const UNQUEUED_ROUTES: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/console",
    "/console/{*path}",
    "/v1/openapi.json",
    "/v1/ws",
    "/v1/rtc/offer",
    "/v1/rtc/sessions/{id}",
    "/v1/rtc/config",
    "/v1/tools",
    "/v1/projects/{id}/events",
];

/// Runs a request that works in Postgres in one of the node's places. Every such route
/// needs a bearer token: the caller is checked (token and rate) first, so a request
/// without a valid token, or over its user's rate, is refused without taking a place
/// another could use. The handler's [`Authed`] takes the caller checked here.
async fn admit(
    State(hub): State<Hub>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let queued = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|route| !UNQUEUED_ROUTES.contains(&route.as_str()));
    if !queued {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    match Authed::check(&parts, &hub) {
        Ok(claims) => {
            parts.extensions.insert(Checked(claims));
        }
        Err(e) => return e.into_response(),
    }
    let request = axum::extract::Request::from_parts(parts, body);
    match hub.admission.enter().await {
        Ok(_admitted) => next.run(request).await,
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The caller [`admit`] checked before the request took its place: the handler's
/// [`Authed`] is this one, not checked (nor counted toward the rate) again.
#[derive(Clone, Debug)]
struct Checked(Claims);

pub fn router(hub: Hub) -> Router {
    let mut router = Router::new();
    for &(method, path) in ROUTES {
        // Routes of one path with several methods merge into one method router.
        match endpoint(method, path) {
            Some(handler) => router = router.route(path, handler),
            None => tracing::error!(method, path, "a route without a handler is not served"),
        }
    }
    router
        .route_layer(axum::middleware::from_fn_with_state(hub.clone(), admit))
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such endpoint") })
        .with_state(hub)
}

/// The routes that take the token as `access_token` in the query: the WebSocket
/// upgrade and the SSE stream, which browsers open without a way to set headers.
/// Anywhere else a token in the URL would end up in access logs and `Referer` headers
/// for nothing, so it is refused.
pub const QUERY_TOKEN_ROUTES: &[&str] = &["/v1/ws", "/v1/projects/{id}/events"];

/// The caller of an HTTP request, from `Authorization: Bearer` (or `access_token` on
/// the [`QUERY_TOKEN_ROUTES`]). Each request counts toward the user's rate, shared with
/// their WebSocket messages (429 with `Retry-After` beyond).
#[derive(Debug)]
pub struct Authed(pub Claims);

impl FromRequestParts<Hub> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, hub: &Hub) -> Result<Self, ApiError> {
        if let Some(Checked(claims)) = parts.extensions.get::<Checked>() {
            return Ok(Authed(claims.clone()));
        }
        Ok(Authed(Self::check(parts, hub)?))
    }
}

impl Authed {
    /// The caller's token, verified, and one request counted toward their rate.
    fn check(parts: &Parts, hub: &Hub) -> Result<Claims, ApiError> {
        let query = axum::extract::Query::<TokenQuery>::try_from_uri(&parts.uri)
            .map(|q| q.0)
            .unwrap_or(TokenQuery { access_token: None });
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        if query.access_token.is_some() && !route.is_some_and(|r| QUERY_TOKEN_ROUTES.contains(&r)) {
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "access_token: only accepted on /v1/ws and /v1/projects/{id}/events; \
                 send Authorization: Bearer",
            ));
        }
        let token = ws::request_token(&parts.headers, &query)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "a bearer token is required"))?;
        let claims = hub
            .auth
            .verify(token)
            .map_err(|_| ApiError::new(ErrorCode::Unauthorized, "invalid token"))?;
        hub.limits.request(&claims.user())?;
        Ok(claims)
    }
}

/// `axum`'s `Query`, refusing a malformed query string in the protocol's error shape.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// `axum`'s `Path`, refusing a malformed path in the protocol's error shape.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::new(ErrorCode::BadRequest, format!("query: {}", e.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        ApiError::new(ErrorCode::BadRequest, format!("path: {}", e.body_text()))
    }
}

/// Parses a project id from the path.
pub(crate) fn project_id(raw: &str) -> Result<ProjectId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "project_id: not a valid UUID"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_a_handler_and_appears_once() {
        for (i, &(method, path)) in ROUTES.iter().enumerate() {
            assert!(endpoint(method, path).is_some(), "{method} {path}");
            assert!(
                !ROUTES[..i].contains(&(method, path)),
                "{method} {path} twice"
            );
        }
        for route in QUERY_TOKEN_ROUTES.iter().chain(UNQUEUED_ROUTES) {
            assert!(ROUTES.iter().any(|(_, path)| path == route), "{route}");
        }
    }
}
