//! The WebSocket transport: `GET /v1/ws` with subprotocol `draftline.v1`. A token on the
//! upgrade (header or `access_token`) is checked before upgrading (401 when invalid);
//! otherwise `hello.token` must carry one. Connections still waiting for their `hello`
//! are capped per source address (429 beyond), so one host cannot hold many sockets open
//! without ever saying who it is.

pub(crate) mod connection;
pub mod outbox;
pub mod transport;

use crate::auth::Claims;
use crate::error::ApiError;
use crate::http::Query;
use crate::hub::Hub;
use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use protocol::{ErrorBody, ErrorCode};
use serde::Deserialize;

/// Each connection's WebSocket read buffer, and the most read from the socket at once.
/// tungstenite's default is 128 KiB, allocated when the connection is upgraded and kept
/// for its life: 128 KiB of resident memory for every connection, almost all of an idle
/// one's cost (10,000 idle connections took 1.4 GB; 4 KiB still made a quarter of the
/// 16 KiB an idle one cost). Clients send small frames: `hello` with its token and
/// most requests are a few hundred bytes. A larger frame grows the buffer to its size
/// once its header is read and arrives in reads of this size; the buffer keeps that size
/// afterwards. The hub's writes, the busy direction, do not use it.
const READ_BUFFER_BYTES: usize = 1024;

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

#[utoipa::path(get, path = "/v1/ws", tag = "realtime",
    description = "The WebSocket of the realtime protocol (subprotocol `draftline.v1`, \
        docs/protocol.md sections 1 to 5). The token may come as a header, as \
        `access_token`, or later in `hello`.",
    security((), ("bearer" = []), ("access_token" = [])),
    params(("access_token" = Option<String>, Query, description = "The token, for browsers")),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket handshake, or a malformed query", body = ErrorBody),
        (status = 401, description = "An invalid or expired token", body = ErrorBody),
        (status = 426, description = "The connection cannot be upgraded", body = ErrorBody),
        (status = 429, description = "Too many connections from this address waiting for `hello`", body = ErrorBody),
    ))]
pub async fn upgrade(
    State(hub): State<Hub>,
    peer: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    // A plain request (no handshake headers) answers in the protocol's error shape,
    // keeping the status axum chose (400, or 426 when the connection cannot upgrade).
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            let status = rejection.status();
            let mut response = ApiError::new(
                ErrorCode::BadRequest,
                format!("not a WebSocket handshake: {}", rejection.body_text()),
            )
            .into_response();
            *response.status_mut() = status;
            return response;
        }
    };
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
    // Served without the peer's address (a router used without `serve`), every
    // connection counts as one unknown address.
    let addr = peer.map_or(std::net::IpAddr::from([0, 0, 0, 0]), |p| p.0.0.ip());
    let Some(handshake) = hub.limits.handshake(addr) else {
        tracing::debug!(%addr, "too many connections waiting for hello");
        return ApiError::new(
            ErrorCode::RateLimited,
            "too many connections from this address waiting for hello",
        )
        .into_response();
    };
    let max = hub.config.max_frame_bytes;
    ws.protocols([protocol::SUBPROTOCOL])
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(max)
        .max_frame_size(max)
        .on_failed_upgrade(|e| tracing::debug!(error = %e, "websocket upgrade failed"))
        .on_upgrade(move |socket| {
            let tasks = hub.tasks.clone();
            tasks.track_future(connection::serve(hub, socket, claims, handshake))
        })
}
