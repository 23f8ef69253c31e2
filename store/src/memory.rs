//! Memory entries of a project: what was learned about a person and the project, with
//! its source, read newest first.

use crate::{StoreError, enum_str, parse_enum};
use chrono::{DateTime, Utc};
use protocol::entities::{MemoryEntry, MemoryKind, MemorySource};
use protocol::{MemoryId, ProjectId, SessionId, UserId};
use sqlx::PgConnection;

/// Most entries one listing answers: memory is meant to be short; a project with more
/// is read a page at a time by nobody yet.
pub const MAX_LIST: i64 = 200;

/// Entries given as context to a new session, a draft or a chat reply: the newest
/// ones, few enough (each at most 2,000 characters) to sit in any prompt's budget.
pub const CONTEXT_ENTRIES: i64 = 20;

#[derive(sqlx::FromRow)]
struct MemoryRow {
    id: MemoryId,
    project_id: ProjectId,
    user_id: UserId,
    kind: String,
    body: String,
    source_kind: Option<String>,
    source_id: Option<String>,
    session_id: Option<SessionId>,
    created_at: DateTime<Utc>,
}

impl TryFrom<MemoryRow> for MemoryEntry {
    type Error = StoreError;
    fn try_from(r: MemoryRow) -> Result<Self, StoreError> {
        let source = match (r.source_kind, r.source_id) {
            (Some(kind), Some(id)) => Some(MemorySource {
                kind: parse_enum("memory_entries.source_kind", r.id, &kind)?,
                id,
            }),
            _ => None,
        };
        Ok(MemoryEntry {
            id: r.id,
            project_id: r.project_id,
            user_id: r.user_id,
            kind: parse_enum("memory_entries.kind", r.id, &r.kind)?,
            body: r.body,
            source,
            session_id: r.session_id,
            created_at: r.created_at,
        })
    }
}

const COLUMNS: &str =
    "id, project_id, user_id, kind, body, source_kind, source_id, session_id, created_at";

/// A memory entry to record.
#[derive(Clone, Debug)]
pub struct NewMemory<'a> {
    pub project: ProjectId,
    pub user: &'a UserId,
    pub kind: MemoryKind,
    pub body: &'a str,
    pub source: Option<&'a MemorySource>,
    pub session: Option<SessionId>,
}

pub async fn create(
    conn: &mut PgConnection,
    new: NewMemory<'_>,
) -> Result<MemoryEntry, StoreError> {
    let sql = format!(
        "INSERT INTO memory_entries (id, project_id, user_id, kind, body, source_kind, \
           source_id, session_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT id FROM sessions WHERE id = $8)) \
         RETURNING {COLUMNS}"
    );
    let row: MemoryRow = sqlx::query_as(&sql)
        .bind(MemoryId::new())
        .bind(new.project)
        .bind(new.user)
        .bind(enum_str(&new.kind))
        .bind(new.body)
        .bind(new.source.map(|s| enum_str(&s.kind)))
        .bind(new.source.map(|s| s.id.as_str()))
        .bind(new.session)
        .fetch_one(&mut *conn)
        .await?;
    row.try_into()
}

pub async fn get(conn: &mut PgConnection, id: MemoryId) -> Result<MemoryEntry, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM memory_entries WHERE id = $1");
    let row: Option<MemoryRow> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("memory entry", id))?
        .try_into()
}

/// The project's entries, newest first, at most `limit` (clamped to [`MAX_LIST`]).
pub async fn list(
    conn: &mut PgConnection,
    project: ProjectId,
    kind: Option<MemoryKind>,
    limit: i64,
) -> Result<Vec<MemoryEntry>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM memory_entries \
         WHERE project_id = $1 AND ($2::text IS NULL OR kind = $2) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    );
    let rows: Vec<MemoryRow> = sqlx::query_as(&sql)
        .bind(project)
        .bind(kind.as_ref().map(enum_str))
        .bind(limit.clamp(1, MAX_LIST))
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter().map(MemoryEntry::try_from).collect()
}

/// Deletes the project's entry; answers it as it was. An entry of another project is
/// not found.
pub async fn delete(
    conn: &mut PgConnection,
    project: ProjectId,
    id: MemoryId,
) -> Result<MemoryEntry, StoreError> {
    let sql =
        format!("DELETE FROM memory_entries WHERE id = $1 AND project_id = $2 RETURNING {COLUMNS}");
    let row: Option<MemoryRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(project)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("memory entry", id))?
        .try_into()
}
