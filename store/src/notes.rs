//! Notes of a project.

use crate::StoreError;
use chrono::{DateTime, Utc};
use protocol::entities::Note;
use protocol::{NoteId, ProjectId, SessionId, UserId};
use sqlx::PgConnection;

#[derive(sqlx::FromRow)]
struct NoteRow {
    id: NoteId,
    project_id: ProjectId,
    body: String,
    tags: Vec<String>,
    author_id: UserId,
    session_id: Option<SessionId>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<NoteRow> for Note {
    fn from(r: NoteRow) -> Self {
        Note {
            id: r.id,
            project_id: r.project_id,
            body: r.body,
            tags: r.tags,
            author_id: r.author_id,
            session_id: r.session_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str = "id, project_id, body, tags, author_id, session_id, created_at, updated_at";

pub async fn create(
    conn: &mut PgConnection,
    project: ProjectId,
    author: &UserId,
    session: Option<SessionId>,
    body: &str,
    tags: &[String],
) -> Result<Note, StoreError> {
    let sql = format!(
        "INSERT INTO notes (id, project_id, author_id, session_id, body, tags) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    );
    let row: NoteRow = sqlx::query_as(&sql)
        .bind(NoteId::new())
        .bind(project)
        .bind(author)
        .bind(session)
        .bind(body)
        .bind(tags)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.into())
}

pub async fn get(conn: &mut PgConnection, id: NoteId) -> Result<Note, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM notes WHERE id = $1");
    let row: Option<NoteRow> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.ok_or_else(|| StoreError::not_found("note", id))?.into())
}

/// Changes the given fields of the project's note; returns (before, after). A note of
/// another project is not found.
pub async fn update(
    conn: &mut PgConnection,
    project: ProjectId,
    id: NoteId,
    body: Option<&str>,
    tags: Option<&[String]>,
) -> Result<(Note, Note), StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM notes WHERE id = $1 AND project_id = $2 FOR UPDATE");
    let before: Option<NoteRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(project)
        .fetch_optional(&mut *conn)
        .await?;
    let before: Note = before
        .ok_or_else(|| StoreError::not_found("note", id))?
        .into();
    let sql = format!(
        "UPDATE notes SET body = COALESCE($2, body), tags = COALESCE($3, tags), \
         updated_at = now() WHERE id = $1 AND project_id = $4 RETURNING {COLUMNS}"
    );
    let after: NoteRow = sqlx::query_as(&sql)
        .bind(id)
        .bind(body)
        .bind(tags)
        .bind(project)
        .fetch_one(&mut *conn)
        .await?;
    Ok((before, after.into()))
}

/// The project's notes, newest first.
pub async fn list(conn: &mut PgConnection, project: ProjectId) -> Result<Vec<Note>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM notes WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1000"
    );
    let rows: Vec<NoteRow> = sqlx::query_as(&sql)
        .bind(project)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The project's note, locked for the rest of the transaction; `None` when it is not
/// there (rollback compares it with what an operation left).
pub async fn lock(
    conn: &mut PgConnection,
    project: ProjectId,
    id: NoteId,
) -> Result<Option<Note>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM notes WHERE id = $1 AND project_id = $2 FOR UPDATE");
    let row: Option<NoteRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(project)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(Into::into))
}

/// Deletes the project's note; returns it as it was. A note of another project is not
/// found.
pub async fn delete(
    conn: &mut PgConnection,
    project: ProjectId,
    id: NoteId,
) -> Result<Note, StoreError> {
    let sql = format!("DELETE FROM notes WHERE id = $1 AND project_id = $2 RETURNING {COLUMNS}");
    let row: Option<NoteRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(project)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.ok_or_else(|| StoreError::not_found("note", id))?.into())
}

/// Puts a deleted note back in `project` with its id, author and creation time (its
/// session only if that still exists); `None` when a note with its id is there.
pub async fn reinsert(
    conn: &mut PgConnection,
    project: ProjectId,
    note: &Note,
) -> Result<Option<Note>, StoreError> {
    let sql = format!(
        "INSERT INTO notes (id, project_id, author_id, session_id, body, tags, created_at) \
         VALUES ($1, $2, $3, (SELECT id FROM sessions WHERE id = $4), $5, $6, $7) \
         ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}"
    );
    let row: Option<NoteRow> = sqlx::query_as(&sql)
        .bind(note.id)
        .bind(project)
        .bind(&note.author_id)
        .bind(note.session_id)
        .bind(&note.body)
        .bind(&note.tags)
        .bind(note.created_at)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(Into::into))
}
