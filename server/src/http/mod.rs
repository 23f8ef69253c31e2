//! The HTTP API (PROTOCOL.md section 7): routes, the bearer-token extractor, and path
//! parsing that answers in the protocol's error shape.

mod admin;
mod chat;
mod documents;
mod events;
mod health;
mod jobs;
mod members;
mod operations;
mod sessions;
mod tools;

use crate::auth::Claims;
use crate::error::ApiError;
use crate::hub::Hub;
use crate::ws::{self, TokenQuery};
use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::routing::{delete, get, post, put};
use protocol::{ErrorCode, ProjectId};

pub fn router(hub: Hub) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::metrics::render))
        .route("/v1/ws", get(ws::upgrade))
        .route("/v1/rtc/offer", post(crate::rtc::offer))
        .route("/v1/rtc/sessions/{id}", delete(crate::rtc::hang_up))
        .route("/v1/rtc/config", get(crate::rtc::config))
        .route("/v1/tools", get(tools::list))
        .route("/v1/tools/{name}", post(tools::call))
        .route("/v1/sessions", post(sessions::create))
        .route("/v1/sessions/{id}", get(sessions::get))
        .route("/v1/projects/{id}/document", get(documents::current))
        .route(
            "/v1/projects/{id}/document/versions",
            get(documents::versions),
        )
        .route(
            "/v1/projects/{id}/document/versions/{version}",
            get(documents::version),
        )
        .route("/v1/projects/{id}/events", get(events::stream))
        .route("/v1/projects/{id}/presence", get(events::presence))
        .route("/v1/projects/{id}/members", get(members::list))
        .route(
            "/v1/projects/{id}/members/{user_id}",
            put(members::put).delete(members::remove),
        )
        .route("/v1/projects/{id}/operations", get(operations::list))
        .route("/v1/projects/{id}/chat", post(chat::send).get(chat::list))
        .route("/v1/jobs/{id}", get(jobs::get))
        .route("/v1/admin/jobs", get(admin::list))
        .route("/v1/admin/jobs/{id}/retry", post(admin::retry))
        .route("/v1/admin/jobs/{id}/cancel", post(admin::cancel))
        .route("/v1/admin/queue/drain", post(admin::drain))
        .route("/v1/admin/stats", get(admin::stats))
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such endpoint") })
        .with_state(hub)
}

/// The caller of an HTTP request, from `Authorization: Bearer` or `access_token`.
#[derive(Debug)]
pub struct Authed(pub Claims);

impl FromRequestParts<Hub> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, hub: &Hub) -> Result<Self, ApiError> {
        let query = Query::<TokenQuery>::try_from_uri(&parts.uri)
            .map(|q| q.0)
            .unwrap_or(TokenQuery { access_token: None });
        let token = ws::request_token(&parts.headers, &query)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "a bearer token is required"))?;
        let claims = hub
            .auth
            .verify(token)
            .map_err(|_| ApiError::new(ErrorCode::Unauthorized, "invalid token"))?;
        Ok(Authed(claims))
    }
}

/// Parses a project id from the path.
pub(crate) fn project_id(raw: &str) -> Result<ProjectId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "project_id: not a valid UUID"))
}
