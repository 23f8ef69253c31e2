//! `POST /v1/sessions` (a new session for HTTP tool calls, optionally configured) and
//! `GET /v1/sessions/{id}`.

use super::Authed;
use super::Path;
use super::openapi::{OwnErrors, WriteErrors};
use crate::error::ApiError;
use crate::hub::Hub;
use crate::tools::{self, Caller};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use protocol::entities::{ClientInfo, Session};
use protocol::{ErrorCode, Mode, ProjectId, SessionId};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    mode: Option<Mode>,
    project_id: Option<ProjectId>,
    auto_accept: Option<bool>,
    client: Option<ClientInfo>,
}

#[utoipa::path(post, path = "/v1/sessions", tag = "sessions",
    request_body(content = Option<NewSession>, description = "Optional; an empty body or `null` opens an unconfigured session"),
    responses((status = 201, description = "The new session", body = Session), WriteErrors))]
pub async fn create(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let request: NewSession = if body.iter().all(u8::is_ascii_whitespace) {
        NewSession::default()
    } else {
        serde_json::from_slice::<Option<NewSession>>(&body)
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, e.to_string()))?
            .unwrap_or_default()
    };
    let user = claims.user();
    let client = request.client.unwrap_or(ClientInfo {
        name: "http".into(),
        version: String::new(),
    });
    let session = crate::sessions::open(&hub, &user, None, &client).await?;
    let mut caller = Caller { user, session };
    if request.mode.is_some() || request.project_id.is_some() || request.auto_accept.is_some() {
        crate::sessions::configure(
            &hub,
            &mut caller,
            request.mode,
            request.project_id,
            request.auto_accept,
            None,
        )
        .await?;
    }
    Ok((StatusCode::CREATED, Json(caller.session)))
}

#[utoipa::path(get, path = "/v1/sessions/{id}", tag = "sessions",
    params(("id" = Uuid, Path, description = "One of the caller's sessions")),
    responses((status = 200, description = "The session", body = Session), OwnErrors))]
pub async fn get(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(id): Path<String>,
) -> Result<Json<Session>, ApiError> {
    let id: SessionId = id
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "session_id: not a valid UUID"))?;
    let mut conn = tools::conn(&hub).await?;
    Ok(Json(
        store::sessions::get_owned(&mut conn, id, &claims.user()).await?,
    ))
}
