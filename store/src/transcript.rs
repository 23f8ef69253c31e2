//! Transcript items (what was said, in order) and transcript pointers (moments worth
//! drawing on).

use crate::{StoreError, enum_str, parse_enum};
use chrono::{DateTime, Utc};
use protocol::client::TranscriptItemInput;
use protocol::entities::{Role, TranscriptItem, TranscriptPointer};
use protocol::{PointerId, ProjectId, SessionId};
use sqlx::PgConnection;

/// Appends the items the session does not have yet, in the order given, numbering them
/// after the session's last item. Items whose `item_id` is already there are skipped
/// (clients resend after a reconnect). Returns how many were new.
pub async fn append(
    conn: &mut PgConnection,
    session: SessionId,
    items: &[TranscriptItemInput],
) -> Result<u64, StoreError> {
    if items.is_empty() {
        return Ok(0);
    }
    // Lock the session's counter for the rest of the transaction so concurrent appends
    // to one session are numbered one after the other.
    let start: Option<i64> =
        sqlx::query_scalar("SELECT transcript_seq FROM sessions WHERE id = $1 FOR UPDATE")
            .bind(session)
            .fetch_optional(&mut *conn)
            .await?;
    let start = start.ok_or_else(|| StoreError::not_found("session", session))?;
    let item_ids: Vec<&str> = items.iter().map(|i| i.item_id.as_str()).collect();
    let roles: Vec<String> = items.iter().map(|i| enum_str(&i.role)).collect();
    let texts: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
    let ats: Vec<DateTime<Utc>> = items.iter().map(|i| i.at).collect();
    // New items (first occurrence of each id, not yet stored) get consecutive numbers
    // in the order they were sent.
    let appended: i64 = sqlx::query_scalar(
        "WITH input AS ( \
           SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[]) \
             WITH ORDINALITY AS t(item_id, role, text, at, ord)), \
         fresh AS ( \
           SELECT DISTINCT ON (item_id) * FROM input \
           WHERE NOT EXISTS (SELECT 1 FROM transcript_items x \
                             WHERE x.session_id = $1 AND x.item_id = input.item_id) \
           ORDER BY item_id, ord), \
         numbered AS (SELECT *, $6 + row_number() OVER (ORDER BY ord) AS seq FROM fresh), \
         inserted AS ( \
           INSERT INTO transcript_items (session_id, seq, item_id, role, text, at) \
           SELECT $1, seq, item_id, role, text, at FROM numbered RETURNING 1) \
         SELECT count(*) FROM inserted",
    )
    .bind(session)
    .bind(&item_ids)
    .bind(&roles)
    .bind(&texts)
    .bind(&ats)
    .bind(start)
    .fetch_one(&mut *conn)
    .await?;
    if appended > 0 {
        sqlx::query("UPDATE sessions SET transcript_seq = $2, updated_at = now() WHERE id = $1")
            .bind(session)
            .bind(start + appended)
            .execute(&mut *conn)
            .await?;
    }
    Ok(appended as u64)
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    session_id: SessionId,
    seq: i64,
    item_id: String,
    role: String,
    text: String,
    at: DateTime<Utc>,
}

/// The session's transcript in order.
pub async fn items(
    conn: &mut PgConnection,
    session: SessionId,
) -> Result<Vec<TranscriptItem>, StoreError> {
    let rows: Vec<ItemRow> = sqlx::query_as(
        "SELECT session_id, seq, item_id, role, text, at FROM transcript_items \
         WHERE session_id = $1 ORDER BY seq",
    )
    .bind(session)
    .fetch_all(&mut *conn)
    .await?;
    into_items(rows)
}

fn into_items(rows: Vec<ItemRow>) -> Result<Vec<TranscriptItem>, StoreError> {
    rows.into_iter()
        .map(|r| {
            Ok(TranscriptItem {
                session_id: r.session_id,
                seq: r.seq,
                item_id: r.item_id,
                role: parse_enum(
                    "transcript_items.role",
                    format_args!("{}/{}", r.session_id, r.seq),
                    &r.role,
                )?,
                text: r.text,
                at: r.at,
            })
        })
        .collect()
}

/// The roles whose sessions' words may go into the project's drafts: those that may
/// write to it ([`Role::can_write`]). A viewer's session may work on the project (to
/// read it) and keep a transcript, but what a viewer says must not become the document.
fn writer_roles() -> Vec<String> {
    [Role::Owner, Role::Editor, Role::Viewer]
        .into_iter()
        .filter(|r| r.can_write())
        .map(|r| enum_str(&r))
        .collect()
}

/// The items the pointers name, each by its own `(session_id, item_id)`, from sessions
/// of people who may write to the project (wherever the session works now), in
/// transcript order: an id said in another session is not picked up.
pub async fn pointed_items(
    conn: &mut PgConnection,
    project: ProjectId,
    pointers: &[(SessionId, String)],
) -> Result<Vec<TranscriptItem>, StoreError> {
    if pointers.is_empty() {
        return Ok(Vec::new());
    }
    let sessions: Vec<SessionId> = pointers.iter().map(|(s, _)| *s).collect();
    let item_ids: Vec<&str> = pointers.iter().map(|(_, i)| i.as_str()).collect();
    let rows: Vec<ItemRow> = sqlx::query_as(
        "SELECT DISTINCT t.session_id, t.seq, t.item_id, t.role, t.text, t.at \
         FROM unnest($2::uuid[], $3::text[]) AS p(session_id, item_id) \
         JOIN transcript_items t ON t.session_id = p.session_id AND t.item_id = p.item_id \
         JOIN sessions s ON s.id = t.session_id \
         JOIN project_members m ON m.project_id = $1 AND m.user_id = s.user_id \
         WHERE m.role = ANY($4) ORDER BY t.at, t.seq LIMIT 1000",
    )
    .bind(project)
    .bind(&sessions)
    .bind(&item_ids)
    .bind(writer_roles())
    .fetch_all(&mut *conn)
    .await?;
    into_items(rows)
}

/// The last `limit` items of the given sessions whose people may write to `project`
/// now (one demoted since asking for a draft contributes nothing), oldest first.
pub async fn recent_items(
    conn: &mut PgConnection,
    project: ProjectId,
    sessions: &[SessionId],
    limit: i64,
) -> Result<Vec<TranscriptItem>, StoreError> {
    if sessions.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<ItemRow> = sqlx::query_as(
        "SELECT * FROM (SELECT t.session_id, t.seq, t.item_id, t.role, t.text, t.at \
         FROM transcript_items t JOIN sessions s ON s.id = t.session_id \
         JOIN project_members m ON m.project_id = $3 AND m.user_id = s.user_id \
         WHERE t.session_id = ANY($1) AND m.role = ANY($4) \
         ORDER BY t.at DESC, t.seq DESC LIMIT $2) recent \
         ORDER BY at, seq",
    )
    .bind(sessions)
    .bind(limit)
    .bind(project)
    .bind(writer_roles())
    .fetch_all(&mut *conn)
    .await?;
    into_items(rows)
}

#[derive(sqlx::FromRow)]
struct PointerRow {
    id: PointerId,
    session_id: SessionId,
    project_id: ProjectId,
    item_id: String,
    label: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<PointerRow> for TranscriptPointer {
    fn from(r: PointerRow) -> Self {
        TranscriptPointer {
            id: r.id,
            session_id: r.session_id,
            project_id: r.project_id,
            item_id: r.item_id,
            label: r.label,
            created_at: r.created_at,
        }
    }
}

pub async fn create_pointer(
    conn: &mut PgConnection,
    session: SessionId,
    project: ProjectId,
    item_id: &str,
    label: Option<&str>,
) -> Result<TranscriptPointer, StoreError> {
    let row: PointerRow = sqlx::query_as(
        "INSERT INTO transcript_pointers (id, session_id, project_id, item_id, label) \
         VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, session_id, project_id, item_id, label, created_at",
    )
    .bind(PointerId::new())
    .bind(session)
    .bind(project)
    .bind(item_id)
    .bind(label)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.into())
}

/// The project's pointers, oldest first.
pub async fn pointers(
    conn: &mut PgConnection,
    project: ProjectId,
) -> Result<Vec<TranscriptPointer>, StoreError> {
    let rows: Vec<PointerRow> = sqlx::query_as(
        "SELECT id, session_id, project_id, item_id, label, created_at FROM transcript_pointers \
         WHERE project_id = $1 ORDER BY created_at, id",
    )
    .bind(project)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// One break in a session's transcript order: a sequence number that does not follow
/// the one before it, or an item timed before the one before it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Anomaly {
    pub session_id: SessionId,
    pub item_id: String,
    pub seq: i64,
    pub previous_seq: i64,
    pub at: DateTime<Utc>,
    pub previous_at: DateTime<Utc>,
}

impl Anomaly {
    /// `seq_gap` (numbers cannot repeat: they are the key) or `time_reversal`.
    pub fn kind(&self) -> &'static str {
        if self.seq != self.previous_seq + 1 {
            "seq_gap"
        } else {
            "time_reversal"
        }
    }
}

/// The breaks in order of sessions active since `since` (at most `limit`): in each
/// session, in `seq` order, every item must have the next number and a time no earlier
/// than the item before it. A session's first item must be number 1.
pub async fn check_order(
    conn: &mut PgConnection,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<(i64, Vec<Anomaly>), StoreError> {
    let sessions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sessions WHERE updated_at >= $1 AND transcript_seq > 0",
    )
    .bind(since)
    .fetch_one(&mut *conn)
    .await?;
    let anomalies = sqlx::query_as(
        "SELECT session_id, item_id, seq, previous_seq, at, previous_at FROM ( \
           SELECT t.session_id, t.item_id, t.seq, t.at, \
             coalesce(lag(t.seq) OVER w, 0) AS previous_seq, \
             coalesce(lag(t.at) OVER w, t.at) AS previous_at \
           FROM transcript_items t JOIN sessions s ON s.id = t.session_id \
           WHERE s.updated_at >= $1 \
           WINDOW w AS (PARTITION BY t.session_id ORDER BY t.seq)) ordered \
         WHERE seq <> previous_seq + 1 OR at < previous_at \
         ORDER BY session_id, seq LIMIT $2",
    )
    .bind(since)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok((sessions, anomalies))
}

/// The newest transcript items (at most `limit`, answered oldest first) of the
/// project's sessions whose text mentions `needle` (case-insensitive), from sessions of
/// people who may write to the project only, as for drafts: a task's context.
pub async fn mentioning(
    conn: &mut PgConnection,
    project: ProjectId,
    needle: &str,
    limit: i64,
) -> Result<Vec<TranscriptItem>, StoreError> {
    if needle.trim().is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<ItemRow> = sqlx::query_as(
        "SELECT * FROM (SELECT t.session_id, t.seq, t.item_id, t.role, t.text, t.at \
           FROM transcript_items t JOIN sessions s ON s.id = t.session_id \
           JOIN project_members m ON m.project_id = s.project_id AND m.user_id = s.user_id \
           WHERE s.project_id = $1 AND m.role IN ('owner', 'editor') \
             AND strpos(lower(t.text), lower($2)) > 0 \
           ORDER BY t.at DESC, t.seq DESC LIMIT $3) mentioning \
         ORDER BY at, seq",
    )
    .bind(project)
    .bind(needle.trim())
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    into_items(rows)
}
