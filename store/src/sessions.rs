//! Assistant sessions: mode, project, auto-accept and metadata, resumable by id.

use crate::{StoreError, enum_str, parse_enum};
use chrono::{DateTime, Utc};
use protocol::blueprint::BlueprintField;
use protocol::entities::{ClientInfo, Phase, Session, SessionMetadata};
use protocol::{Mode, ProjectId, SessionId, TodoId, UserId};
use sqlx::PgConnection;
use sqlx::types::Json;

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: SessionId,
    user_id: UserId,
    project_id: Option<ProjectId>,
    mode: String,
    auto_accept: bool,
    metadata: Json<SessionMetadata>,
    client: Option<Json<ClientInfo>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        Ok(Session {
            id: r.id,
            user_id: r.user_id,
            project_id: r.project_id,
            mode: parse_enum("sessions.mode", r.id, &r.mode)?,
            auto_accept: r.auto_accept,
            metadata: r.metadata.0,
            client: r.client.map(|c| c.0),
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const COLUMNS: &str =
    "id, user_id, project_id, mode, auto_accept, metadata, client, created_at, updated_at";

/// A new session in mode `selection` with `auto_accept: true` (docs/protocol.md section 8.1).
pub async fn create(
    conn: &mut PgConnection,
    user: &UserId,
    client: Option<&ClientInfo>,
) -> Result<Session, StoreError> {
    let metadata = SessionMetadata {
        phase: Some(Phase::Gathering),
        ..Default::default()
    };
    let sql = format!(
        "INSERT INTO sessions (id, user_id, mode, auto_accept, metadata, client) \
         VALUES ($1, $2, 'selection', true, $3, $4) RETURNING {COLUMNS}"
    );
    let row: SessionRow = sqlx::query_as(&sql)
        .bind(SessionId::new())
        .bind(user)
        .bind(Json(&metadata))
        .bind(client.map(Json))
        .fetch_one(&mut *conn)
        .await?;
    row.try_into()
}

pub async fn get(conn: &mut PgConnection, id: SessionId) -> Result<Session, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM sessions WHERE id = $1");
    let row: Option<SessionRow> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("session", id))?
        .try_into()
}

/// The session, when it belongs to `user`; another user's session is not found.
pub async fn get_owned(
    conn: &mut PgConnection,
    id: SessionId,
    user: &UserId,
) -> Result<Session, StoreError> {
    let session = get(conn, id).await?;
    if &session.user_id == user {
        Ok(session)
    } else {
        Err(StoreError::not_found("session", id))
    }
}

/// Changes the given settings.
pub async fn configure(
    conn: &mut PgConnection,
    id: SessionId,
    mode: Option<Mode>,
    project: Option<ProjectId>,
    auto_accept: Option<bool>,
) -> Result<Session, StoreError> {
    let sql = format!(
        "UPDATE sessions SET mode = COALESCE($2, mode), project_id = COALESCE($3, project_id), \
         auto_accept = COALESCE($4, auto_accept), updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row: Option<SessionRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(mode.as_ref().map(enum_str))
        .bind(project)
        .bind(auto_accept)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("session", id))?
        .try_into()
}

/// Takes `project` out of every session of `user` that has it (the user lost access to
/// it); answers the sessions changed.
pub async fn leave_project(
    conn: &mut PgConnection,
    user: &UserId,
    project: ProjectId,
) -> Result<Vec<SessionId>, StoreError> {
    let ids: Vec<SessionId> = sqlx::query_scalar(
        "UPDATE sessions SET project_id = NULL, updated_at = now() \
         WHERE user_id = $1 AND project_id = $2 RETURNING id",
    )
    .bind(user)
    .bind(project)
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids)
}

/// Records the client of the latest connection and marks the session seen.
pub async fn touch(
    conn: &mut PgConnection,
    id: SessionId,
    client: Option<&ClientInfo>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sessions SET client = COALESCE($2, client), updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(client.map(Json))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Notes that the session filled a blueprint field (once per field), which takes it
/// off the fields still open; answers the session when that changed its metadata.
pub async fn cover_dimension(
    conn: &mut PgConnection,
    id: SessionId,
    field: BlueprintField,
) -> Result<Option<Session>, StoreError> {
    let sql = format!(
        "UPDATE sessions SET metadata = jsonb_set(jsonb_set(metadata, '{{dimensions_covered}}', \
           COALESCE(metadata->'dimensions_covered', '[]'::jsonb) \
             || CASE WHEN COALESCE(metadata->'dimensions_covered', '[]'::jsonb) ? $2 \
                THEN '[]'::jsonb ELSE to_jsonb(ARRAY[$2::text]) END), \
           '{{dimensions_open}}', COALESCE(metadata->'dimensions_open', '[]'::jsonb) - $2) \
         WHERE id = $1 AND (NOT COALESCE(metadata->'dimensions_covered', '[]'::jsonb) ? $2 \
           OR COALESCE(metadata->'dimensions_open', '[]'::jsonb) ? $2) \
         RETURNING {COLUMNS}"
    );
    let row: Option<SessionRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(field.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(Session::try_from).transpose()
}

/// Focuses the session on a todo, or (`None`) on none.
pub async fn set_focus(
    conn: &mut PgConnection,
    id: SessionId,
    todo: Option<TodoId>,
) -> Result<Session, StoreError> {
    let sql = format!(
        "UPDATE sessions SET metadata = CASE WHEN $2::uuid IS NULL THEN metadata - 'todo_id' \
           ELSE jsonb_set(metadata, '{{todo_id}}', to_jsonb($2::uuid)) END, \
         updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row: Option<SessionRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(todo)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("session", id))?
        .try_into()
}

/// Sets the given parts of where the session's conversation stands (`None` keeps
/// one); answers the session.
pub async fn set_phase(
    conn: &mut PgConnection,
    id: SessionId,
    phase: Option<Phase>,
    covered: Option<&[BlueprintField]>,
    open: Option<&[BlueprintField]>,
) -> Result<Session, StoreError> {
    let sql = format!(
        "UPDATE sessions SET metadata = metadata || jsonb_strip_nulls(jsonb_build_object( \
           'phase', $2::text, 'dimensions_covered', $3::jsonb, 'dimensions_open', $4::jsonb)), \
         updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row: Option<SessionRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(phase.as_ref().map(enum_str))
        .bind(covered.map(Json))
        .bind(open.map(Json))
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("session", id))?
        .try_into()
}
