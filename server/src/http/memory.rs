//! A project's memory over HTTP: `GET /v1/projects/{id}/memory` lists it newest first
//! (`?kind=`), `POST` records an entry a person states themselves (`{kind, body,
//! source?}`), `DELETE .../memory/{memory_id}` forgets one. A person's own entries are
//! not operations (nobody is asked to approve them), like member changes.

use super::openapi::{ReadErrors, WriteErrors};
use super::{Authed, project_id};
use super::{Path, Query};
use crate::access::{self, Need};
use crate::error::ApiError;
use crate::hub::Hub;
use crate::tools;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use protocol::entities::MemoryKind;
use protocol::event::Event;
use protocol::tools::args::RememberArgs;
use protocol::tools::output::{MemoryListOut, MemoryOut};
use protocol::tools::parse_args;
use protocol::{ErrorBody, ErrorCode, MemoryId};
use serde::Deserialize;
use serde_json::Value;
use store::memory::NewMemory;

/// `kind` is read by hand so a bad value answers in the protocol's error shape.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KindQuery {
    /// Only entries of this kind.
    #[param(value_type = Option<MemoryKind>)]
    kind: Option<String>,
}

#[utoipa::path(get, path = "/v1/projects/{id}/memory", tag = "projects",
    params(("id" = Uuid, Path, description = "The project"), KindQuery),
    responses((status = 200, description = "Entries, newest first", body = MemoryListOut), ReadErrors))]
pub async fn list(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(id): Path<String>,
    Query(query): Query<KindQuery>,
) -> Result<Json<MemoryListOut>, ApiError> {
    let project = project_id(&id)?;
    let kind: Option<MemoryKind> = match query.kind.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(
            serde_json::from_value(Value::String(raw.to_owned())).map_err(|_| {
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!("kind: one of preference, fact, decision, not {raw:?}"),
                )
            })?,
        ),
    };
    let mut conn = tools::conn(&hub).await?;
    access::require(&mut conn, project, &claims.user(), Need::Read).await?;
    let memory = store::memory::list(&mut conn, project, kind, store::memory::MAX_LIST).await?;
    Ok(Json(MemoryListOut { memory }))
}

/// The body of `POST .../memory`: `remember`'s arguments without `project_id` (the path
/// names the project). Only describes the body; it is parsed as [`RememberArgs`].
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewEntry {
    kind: MemoryKind,
    /// What to remember, in a sentence (at most `MAX_MEMORY`, 2,000, characters).
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    body: String,
    /// Where it was said or decided.
    source: Option<protocol::entities::MemorySource>,
}

/// Answers 201 with the entry; it is published as `memory.created`.
#[utoipa::path(post, path = "/v1/projects/{id}/memory", tag = "projects",
    params(("id" = Uuid, Path, description = "The project")),
    request_body = NewEntry,
    responses((status = 201, description = "The entry", body = MemoryOut), WriteErrors))]
pub async fn create(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<MemoryOut>), ApiError> {
    let project = project_id(&id)?;
    let raw: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("malformed JSON: {e}")))?;
    let args = parse_args::<RememberArgs>(raw)?;
    if args.project_id.is_some() {
        return Err(
            ErrorBody::invalid_field("project_id", "given by the path, not the body").into(),
        );
    }
    let user = claims.user();
    let mut tx = hub.store.begin().await?;
    access::require(&mut tx, project, &user, Need::Write).await?;
    if let Some(source) = &args.source {
        tools::remember::check_source(&mut tx, project, source).await?;
    }
    let entry = store::memory::create(
        &mut tx,
        NewMemory {
            project,
            user: &user,
            kind: args.kind,
            body: args.body.trim(),
            source: args.source.as_ref(),
            session: None,
        },
    )
    .await?;
    let event = Event::MemoryCreated {
        entry: entry.clone(),
    };
    store::outbox::record(&mut tx, project, &[event]).await?;
    tx.commit().await.map_err(store::StoreError::from)?;
    hub.flush(Some(project)).await;
    Ok((StatusCode::CREATED, Json(MemoryOut { entry })))
}

/// Answers 204; the entry is published as `memory.deleted`. An entry of another project
/// is `not_found`, like a missing one.
#[utoipa::path(delete, path = "/v1/projects/{id}/memory/{memory_id}", tag = "projects",
    params(("id" = Uuid, Path, description = "The project"),
        ("memory_id" = Uuid, Path, description = "The entry")),
    responses((status = 204, description = "Forgotten"), WriteErrors))]
pub async fn remove(
    State(hub): State<Hub>,
    Authed(claims): Authed,
    Path((id, memory)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let project = project_id(&id)?;
    let memory: MemoryId = memory
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "memory_id: not a valid UUID"))?;
    let mut tx = hub.store.begin().await?;
    access::require(&mut tx, project, &claims.user(), Need::Write).await?;
    let entry = store::memory::delete(&mut tx, project, memory).await?;
    store::outbox::record(&mut tx, project, &[Event::MemoryDeleted { entry }]).await?;
    tx.commit().await.map_err(store::StoreError::from)?;
    hub.flush(Some(project)).await;
    Ok(StatusCode::NO_CONTENT)
}
