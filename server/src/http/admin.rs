//! The admin API (`admin` scope): list jobs, retry, cancel, drain the queue, stats.

use super::Authed;
use super::openapi::AdminErrors;
use super::{Path, Query};
use crate::error::ApiError;
use crate::hub::Hub;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use protocol::entities::{Job, JobStatus};
use protocol::{ErrorCode, JobId, ProjectId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    #[param(value_type = Option<JobStatus>)]
    status: Option<String>,
    /// A job kind; Postgres text holds no NUL character.
    #[param(pattern = r"^[^\u0000]*$")]
    kind: Option<String>,
    #[param(value_type = Option<uuid::Uuid>)]
    project_id: Option<String>,
    limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Jobs {
    jobs: Vec<Job>,
}

pub(crate) fn parse_job_id(raw: &str) -> Result<JobId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "job_id: not a valid UUID"))
}

#[utoipa::path(get, path = "/v1/admin/jobs", tag = "admin", params(JobQuery),
    responses((status = 200, description = "Jobs, newest first", body = Jobs), AdminErrors))]
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
    // Postgres text cannot hold NUL: refused here rather than failing the query.
    if query.kind.as_deref().is_some_and(|k| k.contains('\0')) {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "kind: must not contain a NUL character",
        ));
    }
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

#[utoipa::path(post, path = "/v1/admin/jobs/{id}/retry", tag = "admin",
    params(("id" = Uuid, Path, description = "The job")),
    responses((status = 200, description = "The job, queued again", body = Job), AdminErrors))]
pub async fn retry(
    State(hub): State<Hub>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(hub.queue.retry(parse_job_id(&id)?).await?))
}

#[utoipa::path(post, path = "/v1/admin/jobs/{id}/cancel", tag = "admin",
    params(("id" = Uuid, Path, description = "The job")),
    responses((status = 200, description = "The job, cancelled", body = Job), AdminErrors))]
pub async fn cancel(
    State(hub): State<Hub>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(hub.queue.cancel(parse_job_id(&id)?).await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Drained {
    /// Jobs handed to workers.
    dispatched: usize,
}

#[utoipa::path(post, path = "/v1/admin/queue/drain", tag = "admin",
    responses((status = 200, description = "`{dispatched}`: jobs handed to workers", body = Drained), AdminErrors))]
pub async fn drain(State(hub): State<Hub>, _: Admin) -> Result<Json<Drained>, ApiError> {
    let dispatched = hub.queue.drain().await?;
    Ok(Json(Drained { dispatched }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// Jobs by queue and status.
    #[schema(value_type = Vec<Object>)]
    depth: Vec<store::jobs::Depth>,
    /// Worker id to when it was last seen (Unix ms).
    workers: std::collections::BTreeMap<String, i64>,
    /// WebSocket connections open on this node.
    connections: usize,
    node_id: String,
}

#[utoipa::path(get, path = "/v1/admin/stats", tag = "admin",
    responses((status = 200, description = "Queue depth, workers and connections", body = Stats), AdminErrors))]
pub async fn stats(State(hub): State<Hub>, _: Admin) -> Result<Json<Stats>, ApiError> {
    let stats = hub.queue.stats().await?;
    Ok(Json(Stats {
        depth: stats.depth,
        workers: stats.workers,
        connections: hub.connections.total(),
        node_id: hub.node_id.to_string(),
    }))
}
