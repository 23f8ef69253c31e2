//! `GET /v1/projects/{id}/operations`: the operations waiting for a person's decision,
//! or with `?status=` those with another status (who decided each is `decided_by`).
//! `POST /v1/projects/{id}/operations/{op}/rollback`: a person undoes a completed
//! operation at once, recorded in the session named by `X-Draftline-Session`.

use super::openapi::{ReadErrors, WriteErrors};
use super::tools::session_header;
use super::{Authed, project_id};
use super::{Path, Query};
use crate::access::{self, Need};
use crate::error::ApiError;
use crate::hub::Hub;
use crate::tools;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use protocol::entities::{Operation, OperationStatus};
use protocol::{ErrorCode, OperationId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Listed {
    operations: Vec<Operation>,
}

/// `status` is read by hand so a bad value answers in the protocol's error shape.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// Default `pending`.
    #[param(value_type = Option<OperationStatus>)]
    status: Option<String>,
}

#[utoipa::path(get, path = "/v1/projects/{id}/operations", tag = "projects",
    params(("id" = Uuid, Path, description = "The project"), StatusQuery),
    responses((status = 200, description = "The operations", body = Listed), ReadErrors))]
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
                        "status: one of pending, executing, completed, failed, rejected, rolled_back, not {raw:?}"
                    ),
                )
            })?,
    };
    let mut conn = tools::conn(&hub).await?;
    access::require(&mut conn, project, &claims.user(), Need::Read).await?;
    let operations = store::operations::for_project(&mut conn, project, status).await?;
    Ok(Json(Listed { operations }))
}

/// The person asking is the approval: the rollback runs now whatever the session's
/// `auto_accept`, and whatever its mode (modes bound what an assistant may call).
#[utoipa::path(post, path = "/v1/projects/{id}/operations/{op}/rollback", tag = "projects",
    params(("id" = Uuid, Path, description = "The project"),
        ("op" = Uuid, Path, description = "A completed operation"),
        ("X-Draftline-Session" = Uuid, Header, description = "The session the rollback is recorded in")),
    responses((status = 200, description = "The rollback's output", body = Object), WriteErrors))]
pub async fn rollback(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path((id, op)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let project = project_id(&id)?;
    let operation: OperationId = op
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "operation_id: not a valid UUID"))?;
    let session_id = session_header(&headers)?;
    let user = claims.user();
    let session = {
        let mut conn = tools::conn(&hub).await?;
        access::require(&mut conn, project, &user, Need::Write).await?;
        // Only an operation of the project in the path: another's answers as missing.
        let target = store::operations::get(&mut conn, operation).await;
        if !matches!(&target, Ok(t) if t.project_id == Some(project)) {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("operation {operation} not found"),
            ));
        }
        store::sessions::get(&mut conn, session_id).await?
    };
    if session.user_id != user {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("session {session_id} belongs to another user"),
        ));
    }
    let caller = tools::Caller { user, session };
    let output = crate::operations::rollback_now(&hub, &caller, operation).await?;
    Ok(Json(output))
}
