//! `GET /v1/projects/{id}/operations`: the operations waiting for a person's decision.

use super::{Authed, project_id};
use crate::error::ApiError;
use crate::hub::Hub;
use crate::tools;
use axum::Json;
use axum::extract::{Path, State};
use protocol::entities::Operation;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Pending {
    operations: Vec<Operation>,
}

pub async fn list(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(id): Path<String>,
) -> Result<Json<Pending>, ApiError> {
    let project = project_id(&id)?;
    let mut conn = tools::conn(&hub).await?;
    tools::role_in(&mut conn, project, &claims.user()).await?;
    let operations = store::operations::pending_for_project(&mut conn, project).await?;
    Ok(Json(Pending { operations }))
}
