//! The admin API (`admin` scope): list jobs, retry, cancel, drain the queue, stats.

use super::Authed;
use crate::error::ApiError;
use crate::hub::Hub;
use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use protocol::entities::{Job, JobStatus};
use protocol::{ErrorCode, JobId, ProjectId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A caller with the `admin` scope.
#[derive(Debug)]
pub struct Admin;

impl FromRequestParts<Hub> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, hub: &Hub) -> Result<Self, ApiError> {
        let Authed(claims) = Authed::from_request_parts(parts, hub).await?;
        if claims.is_admin() {
            Ok(Admin)
        } else {
            Err(ApiError::new(
                ErrorCode::Forbidden,
                "the admin scope is required",
            ))
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct JobQuery {
    status: Option<String>,
    kind: Option<String>,
    project_id: Option<String>,
    limit: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct Jobs {
    jobs: Vec<Job>,
}

pub(crate) fn parse_job_id(raw: &str) -> Result<JobId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "job_id: not a valid UUID"))
}

pub async fn list(
    State(hub): State<Hub>,
    _: Admin,
    Query(query): Query<JobQuery>,
) -> Result<Json<Jobs>, ApiError> {
    let status = query
        .status
        .as_deref()
        .map(|s| {
            serde_json::from_value::<JobStatus>(Value::String(s.to_owned())).map_err(|_| {
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!("status: unknown status `{s}`; one of queued, running, completed, failed, cancelled"),
                )
            })
        })
        .transpose()?;
    let project_id = query
        .project_id
        .as_deref()
        .map(|p| p.parse::<ProjectId>())
        .transpose()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "project_id: not a valid UUID"))?;
    let filter = store::jobs::Filter {
        status,
        kind: query.kind,
        project_id,
        limit: query.limit.unwrap_or(100),
    };
    let mut conn = hub.store.acquire().await?;
    let jobs = store::jobs::list(&mut conn, &filter).await?;
    Ok(Json(Jobs { jobs }))
}

pub async fn retry(
    State(hub): State<Hub>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(hub.queue.retry(parse_job_id(&id)?).await?))
}

pub async fn cancel(
    State(hub): State<Hub>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(hub.queue.cancel(parse_job_id(&id)?).await?))
}

pub async fn drain(State(hub): State<Hub>, _: Admin) -> Result<Json<Value>, ApiError> {
    let dispatched = hub.queue.drain().await?;
    Ok(Json(json!({ "dispatched": dispatched })))
}

pub async fn stats(State(hub): State<Hub>, _: Admin) -> Result<Json<Value>, ApiError> {
    let stats = hub.queue.stats().await?;
    Ok(Json(json!({
        "depth": stats.depth,
        "workers": stats.workers,
        "connections": hub.connections.total(),
        "node_id": hub.node_id,
    })))
}
