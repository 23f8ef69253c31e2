//! The WebRTC data-channel transport (docs/protocol.md section 1.3): WHIP-style
//! signalling over HTTP (`POST /v1/rtc/offer` answers with every host candidate, no
//! trickle; `DELETE` on the `Location` hangs up), and the client's `draftline` data
//! channel carrying the same protocol as the WebSocket, run by the same connection logic
//! (`crate::ws::connection`) through `channel.rs`.

mod channel;
mod peer;

pub use peer::Peers;

use crate::error::ApiError;
use crate::http::Authed;
use crate::http::Path;
use crate::http::openapi::{AuthErrors, OwnErrors, WriteErrors};
use crate::hub::Hub;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::ErrorBody;
use protocol::ErrorCode;
use serde::Serialize;
use webrtc::peer_connection::RTCSessionDescription;

/// The label of the one data channel that carries the protocol.
pub const CHANNEL_LABEL: &str = "draftline";

/// `POST /v1/rtc/offer`: the client's SDP offer in, the answer out (201), with the peer's
/// `Location` to hang up.
#[utoipa::path(post, path = "/v1/rtc/offer", tag = "realtime",
    description = "An SDP offer with a data channel; the answer carries the realtime \
        protocol over the `draftline` channel (docs/protocol.md section 1.3).",
    request_body(content = String, content_type = "application/sdp"),
    responses(
        (status = 201, description = "The SDP answer", content_type = "application/sdp", body = String,
            headers(("Location" = String, description = "Where to hang up"))),
        (status = 415, description = "The body is not `application/sdp`", body = ErrorBody),
        WriteErrors,
    ))]
pub async fn offer(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_sdp = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/sdp"));
    if !is_sdp {
        let mut response = ApiError::new(
            ErrorCode::BadRequest,
            "Content-Type must be application/sdp",
        )
        .into_response();
        *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        return response;
    }
    let Ok(sdp) = String::from_utf8(body.to_vec()) else {
        return ApiError::new(ErrorCode::BadRequest, "the offer is not UTF-8 text").into_response();
    };
    let offer = match RTCSessionDescription::offer(sdp) {
        Ok(offer) => offer,
        Err(e) => {
            return ApiError::new(ErrorCode::BadRequest, format!("not a valid SDP offer: {e}"))
                .into_response();
        }
    };
    let has_channel = offer.unmarshal().is_ok_and(|d| {
        d.media_descriptions
            .iter()
            .any(|m| m.media_name.media == "application")
    });
    if !has_channel {
        return ApiError::new(
            ErrorCode::InvalidArguments,
            "the offer has no data channel (no m=application section)",
        )
        .into_response();
    }
    // Until its `hello`, a peer counts as one of its address's handshakes, like a
    // WebSocket (without the peer's address: one unknown address).
    let addr = peer.map_or(std::net::IpAddr::from([0, 0, 0, 0]), |p| p.0.0.ip());
    let Some(handshake) = hub.limits.handshake(addr) else {
        return ApiError::new(
            ErrorCode::RateLimited,
            "too many connections from this address waiting for hello",
        )
        .into_response();
    };
    match peer::open(&hub, claims, offer, handshake).await {
        Ok((id, answer)) => (
            StatusCode::CREATED,
            [
                (header::CONTENT_TYPE, "application/sdp".to_owned()),
                (header::LOCATION, format!("/v1/rtc/sessions/{id}")),
            ],
            answer,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `DELETE /v1/rtc/sessions/{id}`: hangs up one of the caller's peers and answers once
/// it is freed.
#[utoipa::path(delete, path = "/v1/rtc/sessions/{id}", tag = "realtime",
    params(("id" = Uuid, Path, description = "The peer (from the offer's `Location`)")),
    responses((status = 204, description = "Hung up and freed"), OwnErrors))]
pub async fn hang_up(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: uuid::Uuid = id
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "id: not a valid UUID"))?;
    if hub.rtc.hang_up(id, &claims.user()).await {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(ErrorCode::NotFound, "no such peer"))
    }
}

/// One entry of `iceServers`, as a browser's `RTCPeerConnection` takes it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RtcConfig {
    pub ice_servers: Vec<IceServer>,
}

/// `GET /v1/rtc/config`: the ICE servers a client should use (behind a token: TURN
/// credentials are not for everyone).
#[utoipa::path(get, path = "/v1/rtc/config", tag = "realtime",
    responses((status = 200, description = "The ICE servers to use", body = RtcConfig), AuthErrors))]
pub async fn config(State(hub): State<Hub>, Authed(_): Authed) -> axum::Json<RtcConfig> {
    let config = &hub.config;
    let ice_servers = if config.rtc_ice_servers.is_empty() {
        Vec::new()
    } else {
        vec![IceServer {
            urls: config.rtc_ice_servers.clone(),
            username: config.rtc_ice_username.clone(),
            credential: config.rtc_ice_credential.clone(),
        }]
    };
    axum::Json(RtcConfig { ice_servers })
}
