//! The project chat over HTTP: `POST /v1/projects/{id}/chat` sends a message (`{text}`,
//! optionally in the session named by `X-Draftline-Session`) and answers `{message_id,
//! job_id}` at once; `GET /v1/projects/{id}/chat` lists the chat, oldest first.

use super::openapi::{ReadErrors, WriteErrors};
use super::tools::SESSION_HEADER;
use super::{Authed, project_id};
use super::{Path, Query};
use crate::error::ApiError;
use crate::hub::Hub;
use crate::tools;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use protocol::entities::ChatMessage;
use protocol::{ErrorBody, ErrorCode, JobId, MessageId, SessionId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Sent {
    message_id: MessageId,
    job_id: JobId,
}

/// The body of `POST .../chat`. Only describes the body; [`text_of`] reads it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewMessage {
    /// Not blank; at most `MAX_TEXT_CHARS` (see crate::chat) characters.
    #[schema(min_length = 1, max_length = 20000, pattern = r"\S")]
    text: String,
}

/// Answers 201: the message is created (its reply follows on the project's topic).
#[utoipa::path(post, path = "/v1/projects/{id}/chat", tag = "projects",
    params(("id" = Uuid, Path, description = "The project"),
        ("X-Draftline-Session" = Option<Uuid>, Header, nullable = false, description = "The caller's session, if any")),
    request_body = NewMessage,
    responses((status = 201, description = "Sent; the reply follows on the project's topic", body = Sent), WriteErrors))]
pub async fn send(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Sent>), ApiError> {
    let project = project_id(&id)?;
    let text = text_of(&body)?;
    let user = claims.user();
    let session = session_of(&hub, &headers, &user).await?;
    let sent = crate::chat::send(&hub, &user, session, project, &text).await?;
    Ok((
        StatusCode::CREATED,
        Json(Sent {
            message_id: sent.message_id,
            job_id: sent.job_id,
        }),
    ))
}

/// `limit` is read by hand so a bad value answers in the protocol's error shape.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// The newest this many (default 100, at most 1,000).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Messages {
    messages: Vec<ChatMessage>,
}

/// The newest `limit` messages (default 100, at most 1,000), oldest first.
#[utoipa::path(get, path = "/v1/projects/{id}/chat", tag = "projects",
    params(("id" = Uuid, Path, description = "The project"), Page),
    responses((status = 200, description = "Messages, oldest first", body = Messages), ReadErrors))]
pub async fn list(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<Messages>, ApiError> {
    let project = project_id(&id)?;
    let limit = match page.limit.as_deref().map(str::trim) {
        None | Some("") => crate::chat::DEFAULT_LIST,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=store::chat::MAX_LIST).contains(n))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!(
                        "limit: a number from 1 to {}, not {raw:?}",
                        store::chat::MAX_LIST
                    ),
                )
            })?,
    };
    let messages = crate::chat::list(&hub, &claims.user(), project, limit).await?;
    Ok(Json(Messages { messages }))
}

/// The `text` of a `{text}` body. Malformed JSON and unknown fields are `bad_request`
/// (as for every message, docs/protocol.md section 2); a missing or non-string `text` is
/// `invalid_arguments` naming it.
fn text_of(body: &[u8]) -> Result<String, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("malformed JSON: {e}")))?;
    let Value::Object(mut fields) = value else {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "the body must be a JSON object: {\"text\": \"...\"}",
        ));
    };
    if let Some(unknown) = fields.keys().find(|k| k.as_str() != "text") {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("unknown field `{unknown}`, expected `text`"),
        ));
    }
    match fields.remove("text") {
        Some(Value::String(text)) => Ok(text),
        None | Some(Value::Null) => Err(ErrorBody::invalid_field("text", "required").into()),
        Some(_) => Err(ErrorBody::invalid_field("text", "must be a string").into()),
    }
}

/// The session named by `X-Draftline-Session`, which must be the caller's; none without
/// the header (a message sent outside any assistant session).
async fn session_of(
    hub: &Hub,
    headers: &HeaderMap,
    user: &UserId,
) -> Result<Option<SessionId>, ApiError> {
    let Some(raw) = headers.get(SESSION_HEADER) else {
        return Ok(None);
    };
    let id: SessionId = raw
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::BadRequest,
                "X-Draftline-Session: not a valid UUID",
            )
        })?;
    let mut conn = tools::conn(hub).await?;
    Ok(Some(
        store::sessions::get_owned(&mut conn, id, user).await?.id,
    ))
}
