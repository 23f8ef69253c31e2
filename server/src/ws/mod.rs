//! The WebSocket transport: `GET /v1/ws` with subprotocol `draftline.v1`. A token on the
//! upgrade (header or `access_token`) is checked before upgrading (401 when invalid);
//! otherwise `hello.token` must carry one.

pub(crate) mod connection;
pub mod outbox;
pub mod transport;

use crate::auth::Claims;
use crate::error::ApiError;
use crate::hub::Hub;
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use protocol::ErrorCode;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    pub access_token: Option<String>,
}

/// The bearer token of a request: the `Authorization` header, else `access_token`.
pub fn request_token<'a>(headers: &'a HeaderMap, query: &'a TokenQuery) -> Option<&'a str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .or(query.access_token.as_deref())
}

pub async fn upgrade(
    State(hub): State<Hub>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let claims: Option<Claims> = match request_token(&headers, &query) {
        Some(token) => match hub.auth.verify(token) {
            Ok(claims) => Some(claims),
            Err(e) => {
                tracing::debug!(error = %e, "upgrade refused");
                return ApiError::new(ErrorCode::Unauthorized, "invalid token").into_response();
            }
        },
        None => None,
    };
    let max = hub.config.max_frame_bytes;
    ws.protocols([protocol::SUBPROTOCOL])
        .max_message_size(max)
        .max_frame_size(max)
        .on_failed_upgrade(|e| tracing::debug!(error = %e, "websocket upgrade failed"))
        .on_upgrade(move |socket| {
            let tasks = hub.tasks.clone();
            tasks.track_future(connection::serve(hub, socket, claims))
        })
}
