//! Liveness and readiness.

use crate::error::ApiError;
use crate::hub::Hub;
use axum::Json;
use axum::extract::State;
use protocol::ErrorCode;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::timeout;

/// How long a readiness probe waits on each dependency.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is up and serving HTTP.
pub async fn healthz(State(hub): State<Hub>) -> Json<Value> {
    Json(json!({ "status": "ok", "node_id": hub.node_id }))
}

/// Postgres and Redis both answer.
pub async fn readyz(State(hub): State<Hub>) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({
        "status": "ready",
        "node_id": hub.node_id,
        "connections": hub.connections.total(),
    })))
}
