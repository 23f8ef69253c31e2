//! Liveness and readiness.

use super::openapi::ProbeErrors;
use crate::error::ApiError;
use crate::hub::Hub;
use axum::Json;
use axum::extract::State;
use protocol::ErrorCode;
use serde::Serialize;
use std::time::Duration;
use tokio::time::timeout;

/// How long a readiness probe waits on each dependency.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    status: &'static str,
    node_id: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ready {
    /// Always `ready`.
    status: &'static str,
    node_id: String,
    /// WebSocket connections open on this node.
    connections: usize,
}

/// The process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz(State(hub): State<Hub>) -> Json<Health> {
    Json(Health {
        status: "ok",
        node_id: hub.node_id.to_string(),
    })
}

/// Postgres and Redis both answer.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses((status = 200, description = "Postgres and Redis answer", body = Ready), ProbeErrors))]
pub async fn readyz(State(hub): State<Hub>) -> Result<Json<Ready>, ApiError> {
    let postgres = timeout(PROBE_TIMEOUT, hub.store.ping()).await;
    if !matches!(postgres, Ok(Ok(()))) {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "postgres is not reachable",
        ));
    }
    let mut redis = hub.redis.clone();
    let pong = timeout(
        PROBE_TIMEOUT,
        redis::cmd("PING").query_async::<String>(&mut redis),
    )
    .await;
    if !matches!(pong, Ok(Ok(_))) {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "redis is not reachable",
        ));
    }
    Ok(Json(Ready {
        status: "ready",
        node_id: hub.node_id.to_string(),
        connections: hub.connections.total(),
    }))
}
