//! `GET /v1/projects/{id}/operations`: the operations waiting for a person's decision,
//! or with `?status=` those with another status (who decided each is `decided_by`).

use super::{Authed, project_id};
use crate::error::ApiError;
use crate::hub::Hub;
use crate::tools;
use axum::Json;
use axum::extract::{Path, Query, State};
use protocol::ErrorCode;
use protocol::entities::{Operation, OperationStatus};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize)]
pub struct Listed {
    operations: Vec<Operation>,
}

/// `status` is read by hand so a bad value answers in the protocol's error shape.
#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    status: Option<String>,
}

pub async fn list(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(id): Path<String>,
    Query(query): Query<StatusQuery>,
) -> Result<Json<Listed>, ApiError> {
    let project = project_id(&id)?;
    let status = match query.status.as_deref().map(str::trim) {
        None | Some("") => OperationStatus::Pending,
        Some(raw) => serde_json::from_value(serde_json::Value::String(raw.to_owned()))
            .map_err(|_| {
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!(
                        "status: one of pending, executing, completed, failed, rejected, not {raw:?}"
                    ),
                )
            })?,
    };
    let mut conn = tools::conn(&hub).await?;
    tools::role_in(&mut conn, project, &claims.user()).await?;
    let operations = store::operations::for_project(&mut conn, project, status).await?;
    Ok(Json(Listed { operations }))
}
