//! `GET /v1/jobs/{id}`: a job with its log, for members of its project (or admins).

use super::Authed;
use super::Path;
use super::admin::parse_job_id;
use super::openapi::OwnErrors;
use crate::access;
use crate::error::ApiError;
use crate::hub::Hub;
use axum::Json;
use axum::extract::State;
use protocol::entities::{Job, JobEvent};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobWithEvents {
    job: Job,
    events: Vec<JobEvent>,
}

#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs",
    params(("id" = Uuid, Path, description = "The job")),
    responses((status = 200, description = "The job and its log", body = JobWithEvents), OwnErrors))]
pub async fn get(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(id): Path<String>,
) -> Result<Json<JobWithEvents>, ApiError> {
    let id = parse_job_id(&id)?;
    let mut conn = hub.store.acquire().await?;
    let job = store::jobs::get(&mut conn, id).await?;
    if !claims.is_admin() {
        // A job of a project the caller is not in (or of no project) answers like one
        // that does not exist; a failing database still answers `unavailable`.
        let hidden = || store::StoreError::not_found("job", id);
        let project = job.project_id.ok_or_else(hidden)?;
        access::entity(&mut conn, &claims.user(), project, hidden()).await?;
    }
    let events = store::jobs::events(&mut conn, id).await?;
    Ok(Json(JobWithEvents { job, events }))
}
