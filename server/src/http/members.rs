//! Project members over HTTP: anyone in the project lists them; the owner adds members,
//! changes their role and removes them. Removing a member takes effect at once on every
//! node (see [`crate::revocation`]). Lowering a role to viewer needs no message: viewers
//! still read, and nothing caches write access (every change checks the role in
//! Postgres), so the next write is refused.

use super::Path;
use super::openapi::{ReadErrors, WriteErrors};
use super::{Authed, project_id};
use crate::access::{self, Need};
use crate::error::ApiError;
use crate::hub::Hub;
use crate::tools;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use protocol::entities::{Member, Role};
use protocol::{ErrorCode, UserId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Members {
    members: Vec<Member>,
}

#[utoipa::path(get, path = "/v1/projects/{id}/members", tag = "projects",
    params(("id" = Uuid, Path, description = "The project")),
    responses((status = 200, description = "The members", body = Members), ReadErrors))]
pub async fn list(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(id): Path<String>,
) -> Result<Json<Members>, ApiError> {
    let project = project_id(&id)?;
    let mut conn = tools::conn(&hub).await?;
    access::require(&mut conn, project, &claims.user(), Need::Read).await?;
    let members = store::members::list(&mut conn, project).await?;
    Ok(Json(Members { members }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutMember {
    role: Role,
}

#[utoipa::path(put, path = "/v1/projects/{id}/members/{user_id}", tag = "projects",
    params(("id" = Uuid, Path, description = "The project"),
        ("user_id" = String, Path, pattern = r"\S", description = "The member's user id (`sub`)")),
    request_body = PutMember,
    responses((status = 200, description = "The member", body = Member), WriteErrors))]
pub async fn put(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path((id, member)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Member>, ApiError> {
    let project = project_id(&id)?;
    let request: PutMember = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("body: {e}")))?;
    let member = member.trim();
    if member.is_empty() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "user_id: must not be empty",
        ));
    }
    let mut conn = tools::conn(&hub).await?;
    access::require(&mut conn, project, &claims.user(), Need::Own).await?;
    let member =
        store::members::put(&mut conn, project, &UserId(member.to_owned()), request.role).await?;
    Ok(Json(member))
}

#[utoipa::path(delete, path = "/v1/projects/{id}/members/{user_id}", tag = "projects",
    params(("id" = Uuid, Path, description = "The project"),
        ("user_id" = String, Path, pattern = r"\S", description = "The member's user id (`sub`)")),
    responses((status = 204, description = "Removed"), WriteErrors))]
pub async fn remove(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path((id, member)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let project = project_id(&id)?;
    let member = UserId(member);
    let mut tx = hub.store.begin().await?;
    access::require(&mut tx, project, &claims.user(), Need::Own).await?;
    if !store::members::remove(&mut tx, project, &member).await? {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "no such member (the owner cannot be removed)",
        ));
    }
    // Sessions without a live connection lose the project here; live ones are told.
    store::sessions::leave_project(&mut tx, &member, project).await?;
    tx.commit().await.map_err(store::StoreError::from)?;
    hub.revocations.revoke(&member, project).await;
    Ok(StatusCode::NO_CONTENT)
}
