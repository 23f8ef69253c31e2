//! A project's document and its version history over HTTP.

use super::openapi::ReadErrors;
use super::{Authed, project_id};
use super::{Path, Query};
use crate::access::{self, Need};
use crate::error::ApiError;
use crate::hub::Hub;
use crate::tools;
use axum::Json;
use axum::extract::State;
use protocol::ErrorCode;
use protocol::entities::{Document, DocumentVersion};
use serde::{Deserialize, Serialize};

#[utoipa::path(get, path = "/v1/projects/{id}/document", tag = "projects",
    params(("id" = Uuid, Path, description = "The project")),
    responses((status = 200, description = "The current document", body = Document), ReadErrors))]
pub async fn current(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(id): Path<String>,
) -> Result<Json<Document>, ApiError> {
    let project = project_id(&id)?;
    let mut conn = tools::conn(&hub).await?;
    access::require(&mut conn, project, &claims.user(), Need::Read).await?;
    Ok(Json(store::documents::get(&mut conn, project).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// At most this many (default 100, at most 1,000).
    limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Versions {
    versions: Vec<DocumentVersion>,
}

/// Newest first, without Markdown; at most `limit` (default 100, at most 1,000).
#[utoipa::path(get, path = "/v1/projects/{id}/document/versions", tag = "projects",
    params(("id" = Uuid, Path, description = "The project"), Page),
    responses((status = 200, description = "Versions, newest first", body = Versions), ReadErrors))]
pub async fn versions(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<Versions>, ApiError> {
    let project = project_id(&id)?;
    let limit = page.limit.unwrap_or(100).clamp(1, 1000);
    let mut conn = tools::conn(&hub).await?;
    access::require(&mut conn, project, &claims.user(), Need::Read).await?;
    let versions = store::documents::versions(&mut conn, project, limit).await?;
    Ok(Json(Versions { versions }))
}

/// One version with its Markdown (to compare, or to roll back by applying it again).
#[utoipa::path(get, path = "/v1/projects/{id}/document/versions/{version}", tag = "projects",
    params(("id" = Uuid, Path, description = "The project"),
        ("version" = i32, Path, description = "The version number")),
    responses((status = 200, description = "The version with its Markdown", body = DocumentVersion), ReadErrors))]
pub async fn version(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path((id, version)): Path<(String, String)>,
) -> Result<Json<DocumentVersion>, ApiError> {
    let project = project_id(&id)?;
    let version: i32 = version
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "version: not an integer"))?;
    let mut conn = tools::conn(&hub).await?;
    access::require(&mut conn, project, &claims.user(), Need::Read).await?;
    Ok(Json(
        store::documents::version(&mut conn, project, version).await?,
    ))
}
