//! `GET /v1/jobs/{id}`: a job with its log, for members of its project (or admins).

use super::Authed;
use super::Path;
use super::admin::parse_job_id;
use super::openapi::OwnErrors;
use crate::access::{self, Need};
use crate::error::ApiError;
use crate::hub::Hub;
use axum::Json;
use axum::extract::State;
use protocol::ErrorCode;
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
        let hidden = || ApiError::new(ErrorCode::NotFound, format!("job {id} not found"));
        let project = job.project_id.ok_or_else(hidden)?;
        access::require(&mut conn, project, &claims.user(), Need::Read)
            .await
            .map_err(|_| hidden())?;
    }
    let events = store::jobs::events(&mut conn, id).await?;
    Ok(Json(JobWithEvents { job, events }))
}
