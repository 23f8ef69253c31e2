//! Project documents and their version history.

use crate::StoreError;
use crate::sections;
use chrono::{DateTime, Utc};
use protocol::entities::{Document, DocumentVersion, Section, Source};
use protocol::{DocumentId, JobId, ProjectId, SessionId};
use sqlx::PgConnection;
use sqlx::types::Json;

#[derive(sqlx::FromRow)]
struct DocumentRow {
    id: DocumentId,
    project_id: ProjectId,
    markdown: String,
    sections: Json<Vec<Section>>,
    summary: String,
    version: i32,
    updated_at: DateTime<Utc>,
}

impl From<DocumentRow> for Document {
    fn from(r: DocumentRow) -> Self {
        Document {
            id: r.id,
            project_id: r.project_id,
            markdown: r.markdown,
            sections: r.sections.0,
            summary: r.summary,
            version: r.version,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str = "id, project_id, markdown, sections, summary, version, updated_at";

pub async fn get(conn: &mut PgConnection, project: ProjectId) -> Result<Document, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM documents WHERE project_id = $1");
    let row: Option<DocumentRow> = sqlx::query_as(&sql)
        .bind(project)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row
        .ok_or_else(|| StoreError::not_found("document of project", project))?
        .into())
}

/// The document, locking its row for the rest of the transaction (a drafter merging
/// into it holds off people's writes until it commits).
pub async fn get_for_update(
    conn: &mut PgConnection,
    project: ProjectId,
) -> Result<Document, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM documents WHERE project_id = $1 FOR UPDATE");
    let row: Option<DocumentRow> = sqlx::query_as(&sql)
        .bind(project)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row
        .ok_or_else(|| StoreError::not_found("document of project", project))?
        .into())
}

/// A new version of the document, in the caller's transaction.
#[derive(Clone, Debug)]
pub struct NewVersion<'a> {
    /// The version the change was based on; `None` writes over whatever is there (a
    /// caller that merged against the current version under the row lock).
    pub base_version: Option<i32>,
    pub markdown: &'a str,
    /// `None` keeps the current summary.
    pub summary: Option<&'a str>,
    pub source: Source,
}

/// Writes a new version: the document row and its `document_versions` row. A stale
/// `base_version` is a conflict naming the current version. Returns (before, after).
pub async fn write(
    conn: &mut PgConnection,
    project: ProjectId,
    change: NewVersion<'_>,
) -> Result<(Document, Document), StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM documents WHERE project_id = $1 FOR UPDATE");
    let before: Option<DocumentRow> = sqlx::query_as(&sql)
        .bind(project)
        .fetch_optional(&mut *conn)
        .await?;
    let before: Document = before
        .ok_or_else(|| StoreError::not_found("document of project", project))?
        .into();
    if let Some(base) = change.base_version
        && base != before.version
    {
        return Err(StoreError::Conflict(format!(
            "base_version {base} is not the current version {}; read the document again",
            before.version
        )));
    }
    let outline = sections::outline(change.markdown);
    let sql = format!(
        "UPDATE documents SET markdown = $2, sections = $3, summary = COALESCE($4, summary), \
         version = version + 1, updated_at = now() WHERE id = $1 AND project_id = $5 \
         RETURNING {COLUMNS}"
    );
    let after: Document = sqlx::query_as::<_, DocumentRow>(&sql)
        .bind(before.id)
        .bind(change.markdown)
        .bind(Json(&outline))
        .bind(change.summary)
        .bind(project)
        .fetch_one(&mut *conn)
        .await?
        .into();
    sqlx::query(
        "INSERT INTO document_versions \
         (document_id, version, markdown, sections, summary, source_job_id, source_session_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(after.id)
    .bind(after.version)
    .bind(&after.markdown)
    .bind(Json(&after.sections))
    .bind(&after.summary)
    .bind(change.source.job_id)
    .bind(change.source.session_id)
    .execute(&mut *conn)
    .await?;
    Ok((before, after))
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    document_id: DocumentId,
    version: i32,
    summary: String,
    sections: Json<Vec<Section>>,
    source_job_id: Option<JobId>,
    source_session_id: Option<SessionId>,
    markdown: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<VersionRow> for DocumentVersion {
    fn from(r: VersionRow) -> Self {
        DocumentVersion {
            document_id: r.document_id,
            version: r.version,
            summary: r.summary,
            sections: r.sections.0,
            source: Source {
                job_id: r.source_job_id,
                session_id: r.source_session_id,
            },
            markdown: r.markdown,
            created_at: r.created_at,
        }
    }
}

/// The project's document versions, newest first, without their Markdown.
pub async fn versions(
    conn: &mut PgConnection,
    project: ProjectId,
    limit: i64,
) -> Result<Vec<DocumentVersion>, StoreError> {
    let rows: Vec<VersionRow> = sqlx::query_as(
        "SELECT v.document_id, v.version, v.summary, v.sections, v.source_job_id, \
           v.source_session_id, NULL::text AS markdown, v.created_at \
         FROM document_versions v JOIN documents d ON d.id = v.document_id \
         WHERE d.project_id = $1 ORDER BY v.version DESC LIMIT $2",
    )
    .bind(project)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// One version with its Markdown.
pub async fn version(
    conn: &mut PgConnection,
    project: ProjectId,
    version: i32,
) -> Result<DocumentVersion, StoreError> {
    let row: Option<VersionRow> = sqlx::query_as(
        "SELECT v.document_id, v.version, v.summary, v.sections, v.source_job_id, \
           v.source_session_id, v.markdown, v.created_at \
         FROM document_versions v JOIN documents d ON d.id = v.document_id \
         WHERE d.project_id = $1 AND v.version = $2",
    )
    .bind(project)
    .bind(version)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row
        .ok_or_else(|| StoreError::not_found("document version", version))?
        .into())
}
