//! The project chat: people's messages and the assistant's replies, and the `chat.reply`
//! job that writes a reply.

use crate::StoreError;
use crate::jobs::lifecycle::NewJob;
use chrono::{DateTime, Utc};
use protocol::entities::{ChatMessage, ChatRole};
use protocol::{JobId, MessageId, ProjectId, SessionId, UserId};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

/// The most messages one listing answers: a page a client can render at once, and the
/// same cap as the other listings of the HTTP API (document versions, admin jobs).
pub const MAX_LIST: i64 = 1_000;

/// What a `chat.reply` job carries: the message to answer, and the id its reply will
/// have. The reply's id is chosen when the job is enqueued so every attempt streams
/// `chat.delta` under the same id and stores (at most) one row with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyPayload {
    pub message_id: MessageId,
    pub reply_id: MessageId,
}

/// The `chat.reply` job for `message`: idempotent by the message (`chat:{message_id}`),
/// so enqueueing again answers the same job. A person is waiting for the reply, so it
/// goes ahead of background work (the priority of an urgent draft).
pub fn reply_job(project: ProjectId, session: Option<SessionId>, message: MessageId) -> NewJob {
    let payload = ReplyPayload {
        message_id: message,
        reply_id: MessageId::new(),
    };
    let mut job = NewJob::new(
        crate::jobs::JobKind::ChatReply,
        serde_json::to_value(payload).unwrap_or_default(),
    );
    job.project_id = Some(project);
    job.session_id = session;
    job.priority = protocol::entities::Urgency::High.priority();
    job.idempotency_key = Some(format!("chat:{message}"));
    job
}

/// A message to store.
#[derive(Clone, Debug)]
pub struct NewMessage<'a> {
    pub id: MessageId,
    pub project_id: ProjectId,
    pub role: ChatRole,
    pub author_id: Option<&'a UserId>,
    pub session_id: Option<SessionId>,
    pub reply_to: Option<MessageId>,
    pub text: &'a str,
    pub job_id: Option<JobId>,
    /// `None` is the transaction's time.
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: MessageId,
    project_id: ProjectId,
    role: String,
    author_id: Option<UserId>,
    text: String,
    job_id: Option<JobId>,
    created_at: DateTime<Utc>,
}

impl TryFrom<MessageRow> for ChatMessage {
    type Error = StoreError;
    fn try_from(r: MessageRow) -> Result<Self, StoreError> {
        Ok(ChatMessage {
            id: r.id,
            project_id: r.project_id,
            role: crate::parse_enum("chat_messages.role", r.id, &r.role)?,
            author_id: r.author_id,
            text: r.text,
            job_id: r.job_id,
            created_at: r.created_at,
        })
    }
}

const COLUMNS: &str = "id, project_id, role, author_id, text, job_id, created_at";

/// Stores a message. Storing an id that exists already answers the stored message
/// unchanged: a reply is stored under the id its job chose, so a second attempt that
/// got that far keeps the first reply instead of failing or adding another.
pub async fn insert(
    conn: &mut PgConnection,
    message: &NewMessage<'_>,
) -> Result<ChatMessage, StoreError> {
    let sql = format!(
        "INSERT INTO chat_messages (id, project_id, role, author_id, session_id, reply_to, text, \
           job_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, COALESCE($9, now())) \
         ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}"
    );
    let row: Option<MessageRow> = sqlx::query_as(&sql)
        .bind(message.id)
        .bind(message.project_id)
        .bind(crate::enum_str(&message.role))
        .bind(message.author_id)
        .bind(message.session_id)
        .bind(message.reply_to)
        .bind(message.text)
        .bind(message.job_id)
        .bind(message.created_at)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => row.try_into(),
        None => get(conn, message.id).await,
    }
}

pub async fn get(conn: &mut PgConnection, id: MessageId) -> Result<ChatMessage, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM chat_messages WHERE id = $1");
    let row: Option<MessageRow> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("chat message", id))?
        .try_into()
}

/// The project's newest `limit` messages (at most [`MAX_LIST`]), oldest first.
pub async fn list(
    conn: &mut PgConnection,
    project: ProjectId,
    limit: i64,
) -> Result<Vec<ChatMessage>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM ( \
           SELECT {COLUMNS} FROM chat_messages WHERE project_id = $1 \
           ORDER BY created_at DESC, id DESC LIMIT $2) newest \
         ORDER BY created_at, id"
    );
    let rows: Vec<MessageRow> = sqlx::query_as(&sql)
        .bind(project)
        .bind(limit.clamp(1, MAX_LIST))
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter().map(TryInto::try_into).collect()
}

/// The conversation a reply to `message` answers: the project's last `limit` messages
/// up to and including `message`, oldest first. Messages that came after it (people
/// kept talking while the reply was waiting) are left out, so every attempt of the
/// reply sees the same conversation.
pub async fn context(
    conn: &mut PgConnection,
    message: &ChatMessage,
    limit: i64,
) -> Result<Vec<ChatMessage>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM ( \
           SELECT {COLUMNS} FROM chat_messages \
           WHERE project_id = $1 AND (created_at, id) <= ($2, $3) \
           ORDER BY created_at DESC, id DESC LIMIT $4) recent \
         ORDER BY created_at, id"
    );
    let rows: Vec<MessageRow> = sqlx::query_as(&sql)
        .bind(message.project_id)
        .bind(message.created_at)
        .bind(message.id)
        .bind(limit.clamp(1, MAX_LIST))
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter().map(TryInto::try_into).collect()
}
