//! Jobs: durable background work. Postgres holds every job and its log; Redis (see
//! [`crate::dispatch`]) only carries job ids to workers. This module reads jobs and
//! serves the admin actions; `lifecycle` moves jobs through their states with lease
//! fencing; `draft` holds the dedup rules of draft requests.

pub mod draft;
mod kind;
pub mod lifecycle;

pub use kind::JobKind;

use crate::{StoreError, parse_enum};
use chrono::{DateTime, Utc};
use protocol::entities::{Job, JobEvent, JobStatus};
use protocol::{JobId, ProjectId, SessionId};
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;

#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    id: JobId,
    kind: String,
    queue: String,
    project_id: Option<ProjectId>,
    session_id: Option<SessionId>,
    status: String,
    priority: i32,
    payload: Json<Value>,
    idempotency_key: Option<String>,
    attempts: i32,
    max_attempts: i32,
    run_after: DateTime<Utc>,
    lease_owner: Option<String>,
    lease_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    usage: Option<Json<Value>>,
    result: Option<Json<Value>>,
    generated_summary: Option<String>,
    error: Option<String>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;
    fn try_from(r: JobRow) -> Result<Self, StoreError> {
        Ok(Job {
            id: r.id,
            kind: r.kind,
            queue: r.queue,
            project_id: r.project_id,
            session_id: r.session_id,
            status: parse_enum("jobs.status", r.id, &r.status)?,
            priority: r.priority,
            payload: r.payload.0,
            idempotency_key: r.idempotency_key,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            run_after: r.run_after,
            lease_owner: r.lease_owner,
            lease_expires_at: r.lease_expires_at,
            created_at: r.created_at,
            started_at: r.started_at,
            completed_at: r.completed_at,
            duration_ms: r.duration_ms,
            usage: r.usage.map(|j| j.0),
            result: r.result.map(|j| j.0),
            generated_summary: r.generated_summary,
            error: r.error,
        })
    }
}

pub(crate) const COLUMNS: &str = "id, kind, queue, project_id, session_id, status, priority, \
    payload, idempotency_key, attempts, max_attempts, run_after, lease_owner, lease_expires_at, \
    created_at, started_at, completed_at, duration_ms, usage, result, generated_summary, error";

pub(crate) fn into_jobs(rows: Vec<JobRow>) -> Result<Vec<Job>, StoreError> {
    rows.into_iter().map(Job::try_from).collect()
}

pub async fn get(conn: &mut PgConnection, id: JobId) -> Result<Job, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
    let row: Option<JobRow> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("job", id))?
        .try_into()
}

/// The project's latest job of `kind`.
pub async fn latest(
    conn: &mut PgConnection,
    project: ProjectId,
    kind: JobKind,
) -> Result<Option<Job>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM jobs WHERE project_id = $1 AND kind = $2 \
         ORDER BY created_at DESC, id DESC LIMIT 1"
    );
    let row: Option<JobRow> = sqlx::query_as(&sql)
        .bind(project)
        .bind(kind.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(Job::try_from).transpose()
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    job_id: JobId,
    kind: String,
    message: String,
    data: Option<Json<Value>>,
    at: DateTime<Utc>,
}

/// The job's log, oldest first.
pub async fn events(conn: &mut PgConnection, id: JobId) -> Result<Vec<JobEvent>, StoreError> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT id, job_id, kind, message, data, at FROM job_events WHERE job_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| JobEvent {
            id: r.id,
            job_id: r.job_id,
            kind: r.kind,
            message: r.message,
            data: r.data.map(|j| j.0),
            at: r.at,
        })
        .collect())
}

/// Adds a line to a job's log.
pub async fn log(
    conn: &mut PgConnection,
    id: JobId,
    kind: &str,
    message: &str,
    data: Option<Value>,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO job_events (job_id, kind, message, data) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(kind)
        .bind(message)
        .bind(data.map(Json))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Which jobs an admin listing shows.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub status: Option<JobStatus>,
    pub kind: Option<String>,
    pub project_id: Option<ProjectId>,
    pub limit: i64,
}

/// Jobs matching the filter, newest first.
pub async fn list(conn: &mut PgConnection, filter: &Filter) -> Result<Vec<Job>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM jobs WHERE ($1::text IS NULL OR status = $1) \
         AND ($2::text IS NULL OR kind = $2) AND ($3::uuid IS NULL OR project_id = $3) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    );
    let rows: Vec<JobRow> = sqlx::query_as(&sql)
        .bind(filter.status.as_ref().map(crate::enum_str))
        .bind(filter.kind.as_deref())
        .bind(filter.project_id)
        .bind(filter.limit.clamp(1, 1000))
        .fetch_all(&mut *conn)
        .await?;
    into_jobs(rows)
}

/// The project's jobs that have not finished (queued or running), oldest first: what a
/// `snapshot` shows as under way.
pub async fn unfinished(
    conn: &mut PgConnection,
    project: ProjectId,
) -> Result<Vec<Job>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM jobs WHERE project_id = $1 AND status IN ('queued', 'running') \
         ORDER BY created_at, id LIMIT 1000"
    );
    let rows: Vec<JobRow> = sqlx::query_as(&sql)
        .bind(project)
        .fetch_all(&mut *conn)
        .await?;
    into_jobs(rows)
}

/// Queue depth: how many jobs per (status, kind).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Depth {
    pub status: String,
    pub kind: String,
    pub count: i64,
}

/// Queued and running jobs per (status, kind): the queue's depth, cheap enough to read
/// every few seconds (both statuses have partial indexes).
pub async fn active_depth(conn: &mut PgConnection) -> Result<Vec<Depth>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT status, kind, count(*) AS count FROM jobs WHERE status IN ('queued', 'running') \
         GROUP BY status, kind ORDER BY status, kind",
    )
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn depth(conn: &mut PgConnection) -> Result<Vec<Depth>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT status, kind, count(*) AS count FROM jobs GROUP BY status, kind ORDER BY status, kind",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Puts a failed (or cancelled) job back in the queue with a fresh set of attempts,
/// marked dispatched: the caller sends it ([`crate::queue::Queue::retry`] does), and the
/// scheduler re-sends it if that never happens. Conflict when the job is not failed or
/// cancelled.
pub async fn retry(conn: &mut PgConnection, id: JobId) -> Result<Job, StoreError> {
    admin_transition(
        conn,
        id,
        "status = 'queued', attempts = 0, run_after = now(), dispatched_at = now(), \
         completed_at = NULL",
        &["failed", "cancelled"],
        ("queued", "admin retry"),
    )
    .await
}

/// Cancels a queued or running job. A running job's lease is voided, so its worker's
/// completion is rejected and its heartbeat tells it to stop.
pub async fn cancel(conn: &mut PgConnection, id: JobId) -> Result<Job, StoreError> {
    admin_transition(
        conn,
        id,
        "status = 'cancelled', lease_token = NULL, lease_owner = NULL, \
         lease_expires_at = NULL, completed_at = now()",
        &["queued", "running"],
        ("cancelled", "admin"),
    )
    .await
}

/// Applies `set` to the job when its status is one of `from`, logging the new status
/// (`event.0`) with who asked (`event.1`); a conflict naming the current status
/// otherwise.
async fn admin_transition(
    conn: &mut PgConnection,
    id: JobId,
    set: &str,
    from: &[&str],
    event: (&str, &str),
) -> Result<Job, StoreError> {
    let sql = format!(
        "UPDATE jobs SET {set}, updated_at = now() WHERE id = $1 AND status = ANY($2) \
         RETURNING {COLUMNS}"
    );
    let row: Option<JobRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(from)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Err(not_in_state(conn, id, &from.join(" or ")).await);
    };
    let (status, by) = event;
    log(
        conn,
        id,
        "status",
        status,
        Some(serde_json::json!({ "by": by })),
    )
    .await?;
    row.try_into()
}

async fn not_in_state(conn: &mut PgConnection, id: JobId, wanted: &str) -> StoreError {
    match get(conn, id).await {
        Ok(job) => StoreError::Conflict(format!(
            "job {id} is {}, not {wanted}",
            crate::enum_str(&job.status)
        )),
        Err(e) => e,
    }
}

/// Deletes finished jobs (and their events) older than `older_than`, at most `limit` per
/// call so a large backlog is pruned in slices. Returns how many jobs.
pub async fn prune(
    conn: &mut PgConnection,
    older_than: chrono::Duration,
    limit: i64,
) -> Result<u64, StoreError> {
    let deleted: i64 = sqlx::query_scalar(
        "WITH gone AS ( \
           DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
             WHERE status IN ('completed', 'failed', 'cancelled') AND completed_at < now() - $1 \
             ORDER BY completed_at LIMIT $2) RETURNING id), \
         events AS (DELETE FROM job_events WHERE job_id IN (SELECT id FROM gone)) \
         SELECT count(*) FROM gone",
    )
    .bind(older_than)
    .bind(limit)
    .fetch_one(&mut *conn)
    .await?;
    Ok(deleted as u64)
}

/// Deletes log lines older than `older_than` of jobs that are still kept.
pub async fn prune_events(
    conn: &mut PgConnection,
    older_than: chrono::Duration,
    limit: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "DELETE FROM job_events WHERE ctid IN (SELECT ctid FROM job_events \
           WHERE at < now() - $1 LIMIT $2)",
    )
    .bind(older_than)
    .bind(limit)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}
