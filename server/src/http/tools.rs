//! `GET /v1/tools?mode=M` (the mode's tools as OpenAI Realtime function definitions) and
//! `POST /v1/tools/{name}` (a tool call over HTTP, in the session named by
//! `X-Draftline-Session`).

use super::Authed;
use super::openapi::WriteErrors;
use super::{Path, Query};
use crate::error::ApiError;
use crate::hub::Hub;
use crate::tools::{self, Caller};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use protocol::tools::{FunctionDef, ToolName, tools_for};
use protocol::{ErrorBody, ErrorCode, Mode, SessionId};
use serde::Deserialize;
use serde_json::Value;

/// The header naming the session an HTTP tool call runs in.
pub const SESSION_HEADER: &str = "x-draftline-session";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ModeQuery {
    /// Only the tools of this mode.
    #[param(value_type = Option<Mode>)]
    mode: Option<String>,
}

/// The catalogue is public: it holds no user data, and a page configuring a realtime
/// model fetches it before it has a session.
#[utoipa::path(get, path = "/v1/tools", tag = "tools", security(()), params(ModeQuery),
    responses(
        (status = 200, description = "Tool definitions", body = Vec<FunctionDef>),
        (status = 400, description = "An unknown mode", body = ErrorBody),
    ))]
pub async fn list(Query(query): Query<ModeQuery>) -> Result<Json<Vec<FunctionDef>>, ApiError> {
    let tools: Vec<FunctionDef> = match query.mode.as_deref() {
        None => ToolName::ALL.into_iter().map(ToolName::function).collect(),
        Some(raw) => {
            let mode = Mode::parse(raw).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!("mode: unknown mode `{raw}`; one of selection, intake, ghostwriting, update, audit, forecast"),
                )
            })?;
            tools_for(mode).map(ToolName::function).collect()
        }
    };
    Ok(Json(tools))
}

#[utoipa::path(post, path = "/v1/tools/{name}", tag = "tools",
    params(
        ("name" = String, Path, description = "The tool (see `GET /v1/tools`)"),
        ("X-Draftline-Session" = Uuid, Header, description = "The session the call runs in"),
    ),
    request_body(content = Object, description = "The tool's arguments (its `parameters` schema); empty for none"),
    responses((status = 200, description = "The tool's output", body = Object), WriteErrors))]
pub async fn call(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let session_id = session_header(&headers)?;
    let arguments: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("malformed JSON: {e}")))?
    };
    let user = claims.user();
    let session = {
        let mut conn = tools::conn(&hub).await?;
        store::sessions::get(&mut conn, session_id).await?
    };
    if session.user_id != user {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("session {session_id} belongs to another user"),
        ));
    }
    let mut caller = Caller { user, session };
    let output = crate::calls::call(&hub, &mut caller, &name, arguments).await?;
    Ok(Json(output))
}

/// The session named by `X-Draftline-Session`, required by the routes that record
/// operations.
pub(crate) fn session_header(headers: &HeaderMap) -> Result<SessionId, ApiError> {
    headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::BadRequest,
                "X-Draftline-Session: required (create a session with POST /v1/sessions)",
            )
        })?
        .trim()
        .parse()
        .map_err(|_| {
            ApiError::new(
                ErrorCode::BadRequest,
                "X-Draftline-Session: not a valid UUID",
            )
        })
}
