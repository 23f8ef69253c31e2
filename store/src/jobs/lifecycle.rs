//! A job's way through its states: enqueue (alone or in bulk, idempotent by key), claim
//! with a lease, heartbeat, complete or fail (fenced by the lease token, so a worker that
//! lost its lease cannot write), release on drain, and the scheduler's sweeps (reclaim
//! expired leases, find due jobs to dispatch).

use super::{COLUMNS, JobRow, log};
use crate::StoreError;
use chrono::{DateTime, Utc};
use protocol::entities::{Job, JobStatus};
use protocol::{JobId, ProjectId, SessionId};
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;
use std::time::Duration;
use uuid::Uuid;

/// A job to enqueue.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub kind: String,
    pub queue: String,
    pub project_id: Option<ProjectId>,
    pub session_id: Option<SessionId>,
    pub priority: i32,
    pub payload: Value,
    /// Enqueueing again with the same key (in the same project) answers the same job.
    pub idempotency_key: Option<String>,
    pub dedup_hash: Option<String>,
    pub max_attempts: i32,
    /// Not before this time; `None` is now.
    pub run_after: Option<DateTime<Utc>>,
}

impl NewJob {
    /// A job of `kind` on the default queue, three attempts, due now.
    pub fn new(kind: impl Into<String>, payload: Value) -> Self {
        Self {
            kind: kind.into(),
            queue: DEFAULT_QUEUE.into(),
            project_id: None,
            session_id: None,
            priority: 0,
            payload,
            idempotency_key: None,
            dedup_hash: None,
            max_attempts: 3,
            run_after: None,
        }
    }
}

/// The queue jobs go to unless they name one.
pub const DEFAULT_QUEUE: &str = "default";

/// The result of an enqueue: the job, and whether this call created it.
#[derive(Clone, Debug)]
pub struct Enqueued {
    pub job: Job,
    pub created: bool,
}

/// Enqueues one job in the caller's transaction (so it exists exactly when the caller's
/// other writes commit). A job due now is marked dispatched: the caller puts it on its
/// stream after the commit, and the scheduler re-dispatches it if that never happens.
pub async fn enqueue(conn: &mut PgConnection, new: &NewJob) -> Result<Enqueued, StoreError> {
    let sql = format!(
        "WITH ins AS ( \
           INSERT INTO jobs (id, kind, queue, project_id, session_id, priority, payload, \
             idempotency_key, dedup_hash, max_attempts, run_after, dispatched_at) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, COALESCE($11, now()), \
             CASE WHEN $11::timestamptz IS NULL OR $11 <= now() THEN now() END) \
           ON CONFLICT (project_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING \
           RETURNING *), \
         ev AS (INSERT INTO job_events (job_id, kind, message) SELECT id, 'status', 'queued' FROM ins) \
         SELECT {COLUMNS} FROM ins"
    );
    let row: Option<JobRow> = sqlx::query_as(&sql)
        .bind(JobId::new())
        .bind(&new.kind)
        .bind(&new.queue)
        .bind(new.project_id)
        .bind(new.session_id)
        .bind(new.priority)
        .bind(Json(&new.payload))
        .bind(new.idempotency_key.as_deref())
        .bind(new.dedup_hash.as_deref())
        .bind(new.max_attempts)
        .bind(new.run_after)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(row) = row {
        return Ok(Enqueued {
            job: row.try_into()?,
            created: true,
        });
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM jobs WHERE project_id IS NOT DISTINCT FROM $1 AND idempotency_key = $2"
    );
    let row: JobRow = sqlx::query_as(&sql)
        .bind(new.project_id)
        .bind(new.idempotency_key.as_deref())
        .fetch_one(&mut *conn)
        .await?;
    Ok(Enqueued {
        job: row.try_into()?,
        created: false,
    })
}

/// A job put on a stream: its id and queue.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Dispatchable {
    pub id: JobId,
    pub queue: String,
}

/// The columns of jobs to insert in one statement, as arrays.
struct Columns<'a> {
    ids: Vec<JobId>,
    kinds: Vec<&'a str>,
    queues: Vec<&'a str>,
    projects: Vec<Option<Uuid>>,
    sessions: Vec<Option<Uuid>>,
    priorities: Vec<i32>,
    payloads: Vec<Json<&'a Value>>,
    keys: Vec<Option<&'a str>>,
    hashes: Vec<Option<&'a str>>,
    attempts: Vec<i32>,
    run_after: Vec<Option<DateTime<Utc>>>,
}

impl<'a> Columns<'a> {
    fn of(jobs: &'a [NewJob]) -> Self {
        Self {
            ids: jobs.iter().map(|_| JobId::new()).collect(),
            kinds: jobs.iter().map(|j| j.kind.as_str()).collect(),
            queues: jobs.iter().map(|j| j.queue.as_str()).collect(),
            projects: jobs.iter().map(|j| j.project_id.map(|p| p.0)).collect(),
            sessions: jobs.iter().map(|j| j.session_id.map(|s| s.0)).collect(),
            priorities: jobs.iter().map(|j| j.priority).collect(),
            payloads: jobs.iter().map(|j| Json(&j.payload)).collect(),
            keys: jobs.iter().map(|j| j.idempotency_key.as_deref()).collect(),
            hashes: jobs.iter().map(|j| j.dedup_hash.as_deref()).collect(),
            attempts: jobs.iter().map(|j| j.max_attempts).collect(),
            run_after: jobs.iter().map(|j| j.run_after).collect(),
        }
    }

    /// The statement inserting every job (idempotency keys honoured: taken ones are
    /// skipped), with a `queued` event each, answering `returning` of the inserted rows.
    fn statement(returning: &str) -> String {
        format!(
            "WITH input AS ( \
               SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::uuid[], \
                 $6::int[], $7::jsonb[], $8::text[], $9::text[], $10::int[], $11::timestamptz[]) \
               AS t(id, kind, queue, project_id, session_id, priority, payload, idempotency_key, \
                 dedup_hash, max_attempts, run_after)), \
             ins AS ( \
               INSERT INTO jobs (id, kind, queue, project_id, session_id, priority, payload, \
                 idempotency_key, dedup_hash, max_attempts, run_after, dispatched_at) \
               SELECT id, kind, queue, project_id, session_id, priority, payload, \
                 idempotency_key, dedup_hash, max_attempts, COALESCE(run_after, now()), \
                 CASE WHEN run_after IS NULL OR run_after <= now() THEN now() END \
               FROM input \
               ON CONFLICT (project_id, idempotency_key) WHERE idempotency_key IS NOT NULL \
               DO NOTHING RETURNING *), \
             ev AS (INSERT INTO job_events (job_id, kind, message) \
               SELECT id, 'status', 'queued' FROM ins) \
             SELECT {returning} FROM ins"
        )
    }

    fn bind<'q, O>(
        &'q self,
        query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
        query
            .bind(&self.ids)
            .bind(&self.kinds)
            .bind(&self.queues)
            .bind(&self.projects)
            .bind(&self.sessions)
            .bind(&self.priorities)
            .bind(&self.payloads)
            .bind(&self.keys)
            .bind(&self.hashes)
            .bind(&self.attempts)
            .bind(&self.run_after)
    }
}

/// Enqueues many jobs in one statement (idempotency keys honoured: existing ones are
/// skipped). Returns the created jobs that are due now, to dispatch after the commit.
pub async fn enqueue_many(
    conn: &mut PgConnection,
    jobs: &[NewJob],
) -> Result<Vec<Dispatchable>, StoreError> {
    let columns = Columns::of(jobs);
    let sql = Columns::statement("id, queue, dispatched_at IS NOT NULL AS due");
    let rows: Vec<(JobId, String, bool)> = columns
        .bind(sqlx::query_as(&sql))
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, due)| *due)
        .map(|(id, queue, _)| Dispatchable { id, queue })
        .collect())
}

/// Enqueues each job, in one statement for all of them, and answers one result per job
/// in order: created, or the existing job of the same idempotency key.
pub async fn enqueue_each(
    conn: &mut PgConnection,
    jobs: &[NewJob],
) -> Result<Vec<Enqueued>, StoreError> {
    let columns = Columns::of(jobs);
    let sql = Columns::statement(COLUMNS);
    let rows: Vec<JobRow> = columns
        .bind(sqlx::query_as(&sql))
        .fetch_all(&mut *conn)
        .await?;
    let mut created: std::collections::HashMap<JobId, Job> = rows
        .into_iter()
        .map(|r| Job::try_from(r).map(|j| (j.id, j)))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(jobs.len());
    for (id, new) in columns.ids.iter().zip(jobs) {
        match created.remove(id) {
            Some(job) => out.push(Enqueued { job, created: true }),
            // Its key was taken (before, or by an earlier job of this batch).
            None => out.push(enqueue(conn, new).await?),
        }
    }
    Ok(out)
}

/// The proof that a worker holds a job: its id and the lease token of this attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    pub id: JobId,
    pub token: Uuid,
}

/// A job a worker claimed, with its lease.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub job: Job,
    pub lease: Lease,
}

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    #[sqlx(flatten)]
    job: JobRow,
    lease_token: Uuid,
}

/// Claims the jobs among `ids` that are still queued and due, for `owner`, each with a
/// fresh lease token valid for `lease`. Ids already taken (a duplicate dispatch) or not
/// due are left alone. Claimed jobs come back highest priority first. The ids are
/// joined from `unnest`, not tested with `= ANY`: a cached generic plan for `= ANY`
/// can pick the partial index of queued jobs and scan every waiting job per claim.
pub async fn claim(
    conn: &mut PgConnection,
    ids: &[JobId],
    owner: &str,
    lease: Duration,
) -> Result<Vec<Claimed>, StoreError> {
    let sql = format!(
        "WITH claimed AS ( \
           UPDATE jobs j SET status = 'running', attempts = j.attempts + 1, \
             lease_token = gen_random_uuid(), lease_owner = $2, \
             lease_expires_at = now() + $3 * interval '1 millisecond', \
             started_at = now(), updated_at = now() \
           FROM unnest($1::uuid[]) AS c(id) \
           WHERE j.id = c.id AND j.status = 'queued' AND j.run_after <= now() \
           RETURNING j.*), \
         ev AS (INSERT INTO job_events (job_id, kind, message, data) \
           SELECT id, 'status', 'running', jsonb_build_object('attempt', attempts, 'worker', $2::text) \
           FROM claimed) \
         SELECT {COLUMNS}, lease_token FROM claimed ORDER BY priority DESC, run_after, id"
    );
    let rows: Vec<ClaimedRow> = sqlx::query_as(&sql)
        .bind(ids)
        .bind(owner)
        .bind(millis(lease))
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter()
        .map(|r| {
            let job: Job = r.job.try_into()?;
            Ok(Claimed {
                lease: Lease {
                    id: job.id,
                    token: r.lease_token,
                },
                job,
            })
        })
        .collect()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Extends the leases still held; answers the ids whose lease was extended. A missing id
/// means the lease is gone (expired and reclaimed, or the job was cancelled).
pub async fn heartbeat(
    conn: &mut PgConnection,
    leases: &[Lease],
    lease: Duration,
) -> Result<Vec<JobId>, StoreError> {
    let (ids, tokens) = split(leases);
    Ok(sqlx::query_scalar(
        "UPDATE jobs j SET lease_expires_at = now() + $3 * interval '1 millisecond', updated_at = now() \
         FROM unnest($1::uuid[], $2::uuid[]) AS l(id, token) \
         WHERE j.id = l.id AND j.lease_token = l.token AND j.status = 'running' RETURNING j.id",
    )
    .bind(&ids)
    .bind(&tokens)
    .bind(millis(lease))
    .fetch_all(&mut *conn)
    .await?)
}

fn split(leases: &[Lease]) -> (Vec<JobId>, Vec<Uuid>) {
    leases.iter().map(|l| (l.id, l.token)).unzip()
}

/// What a finished job leaves on its row.
#[derive(Clone, Debug, Default)]
pub struct Done {
    pub result: Option<Value>,
    pub usage: Option<Value>,
    pub summary: Option<String>,
}

/// Completes a job, fenced by its lease: `false` (and nothing written) when the lease is
/// no longer held. Run it in the transaction that holds the handler's own writes, so
/// those commit exactly when the completion does.
pub async fn complete(
    conn: &mut PgConnection,
    lease: Lease,
    done: &Done,
) -> Result<bool, StoreError> {
    let updated: Option<JobId> = sqlx::query_scalar(
        "UPDATE jobs SET status = 'completed', completed_at = now(), \
           duration_ms = (extract(epoch FROM now() - started_at) * 1000)::bigint, \
           lease_token = NULL, lease_expires_at = NULL, result = $3, usage = $4, \
           generated_summary = $5, error = NULL, updated_at = now() \
         WHERE id = $1 AND lease_token = $2 AND status = 'running' RETURNING id",
    )
    .bind(lease.id)
    .bind(lease.token)
    .bind(done.result.as_ref().map(Json))
    .bind(done.usage.as_ref().map(Json))
    .bind(done.summary.as_deref())
    .fetch_optional(&mut *conn)
    .await?;
    if updated.is_none() {
        return Ok(false);
    }
    log(conn, lease.id, "status", "completed", None).await?;
    if let Some(usage) = &done.usage {
        log(conn, lease.id, "usage", "usage", Some(usage.clone())).await?;
    }
    Ok(true)
}

/// Completes many jobs that wrote nothing of their own, in one statement. Answers the
/// ids completed (the others lost their lease).
pub async fn complete_many(
    conn: &mut PgConnection,
    leases: &[Lease],
) -> Result<Vec<JobId>, StoreError> {
    let (ids, tokens) = split(leases);
    Ok(sqlx::query_scalar(
        "WITH done AS ( \
           UPDATE jobs j SET status = 'completed', completed_at = now(), \
             duration_ms = (extract(epoch FROM now() - j.started_at) * 1000)::bigint, \
             lease_token = NULL, lease_expires_at = NULL, error = NULL, updated_at = now() \
           FROM unnest($1::uuid[], $2::uuid[]) AS l(id, token) \
           WHERE j.id = l.id AND j.lease_token = l.token AND j.status = 'running' RETURNING j.id), \
         ev AS (INSERT INTO job_events (job_id, kind, message) SELECT id, 'status', 'completed' FROM done) \
         SELECT id FROM done",
    )
    .bind(&ids)
    .bind(&tokens)
    .fetch_all(&mut *conn)
    .await?)
}

/// Ends an attempt that failed: back to `queued` after `retry_in` when given (the event
/// says `retrying`), else `failed`. Fenced by the lease; `None` when it is gone.
pub async fn fail(
    conn: &mut PgConnection,
    lease: Lease,
    error: &str,
    retry_in: Option<Duration>,
) -> Result<Option<JobStatus>, StoreError> {
    let status: Option<String> = sqlx::query_scalar(
        "UPDATE jobs SET \
           status = CASE WHEN $4::float8 IS NULL THEN 'failed' ELSE 'queued' END, \
           run_after = CASE WHEN $4::float8 IS NULL THEN run_after \
                       ELSE now() + $4 * interval '1 millisecond' END, \
           completed_at = CASE WHEN $4::float8 IS NULL THEN now() END, \
           duration_ms = (extract(epoch FROM now() - started_at) * 1000)::bigint, \
           dispatched_at = NULL, lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, \
           error = $3, updated_at = now() \
         WHERE id = $1 AND lease_token = $2 AND status = 'running' RETURNING status",
    )
    .bind(lease.id)
    .bind(lease.token)
    .bind(error)
    .bind(retry_in.map(millis))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(status) = status else {
        return Ok(None);
    };
    let status: JobStatus = crate::parse_enum("jobs.status", lease.id, &status)?;
    let message = if status == JobStatus::Queued {
        "retrying"
    } else {
        "failed"
    };
    let data =
        serde_json::json!({"error": error, "retry_in_ms": retry_in.map(|d| d.as_millis() as u64)});
    log(conn, lease.id, "status", message, Some(data)).await?;
    Ok(Some(if status == JobStatus::Queued {
        JobStatus::Retrying
    } else {
        status
    }))
}

/// Gives jobs back to the queue without counting the attempt (a worker draining on
/// shutdown). Answers the ids released.
pub async fn release(conn: &mut PgConnection, leases: &[Lease]) -> Result<Vec<JobId>, StoreError> {
    let (ids, tokens) = split(leases);
    Ok(sqlx::query_scalar(
        "WITH released AS ( \
           UPDATE jobs j SET status = 'queued', attempts = GREATEST(j.attempts - 1, 0), \
             run_after = now(), dispatched_at = NULL, lease_token = NULL, lease_owner = NULL, \
             lease_expires_at = NULL, updated_at = now() \
           FROM unnest($1::uuid[], $2::uuid[]) AS l(id, token) \
           WHERE j.id = l.id AND j.lease_token = l.token AND j.status = 'running' RETURNING j.id), \
         ev AS (INSERT INTO job_events (job_id, kind, message) SELECT id, 'status', 'released' FROM released) \
         SELECT id FROM released",
    )
    .bind(&ids)
    .bind(&tokens)
    .fetch_all(&mut *conn)
    .await?)
}

/// A job whose lease expired, and where the sweep put it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reclaimed {
    pub id: JobId,
    pub kind: String,
    pub project_id: Option<ProjectId>,
    pub status: JobStatus,
    pub attempts: i32,
}

/// Running jobs whose lease expired (their worker died or stalled) go back to `queued`
/// after a backoff when attempts are left, else to `failed`. `backoff[n]` is the pause
/// after attempt n+1 (the last entry repeats), with ±20% jitter.
pub async fn reclaim_expired(
    conn: &mut PgConnection,
    backoff: &[Duration],
    limit: i64,
) -> Result<Vec<Reclaimed>, StoreError> {
    let backoff_ms: Vec<f64> = backoff.iter().map(|d| millis(*d)).collect();
    let rows: Vec<(JobId, String, Option<ProjectId>, String, i32)> = sqlx::query_as(
        "WITH expired AS ( \
           SELECT id FROM jobs WHERE status = 'running' AND lease_expires_at < now() \
           ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED), \
         moved AS ( \
           UPDATE jobs j SET \
             status = CASE WHEN j.attempts < j.max_attempts THEN 'queued' ELSE 'failed' END, \
             run_after = now() + COALESCE($1[LEAST(j.attempts, cardinality($1))], 0) \
                         * (0.8 + random() * 0.4) * interval '1 millisecond', \
             completed_at = CASE WHEN j.attempts < j.max_attempts THEN NULL ELSE now() END, \
             dispatched_at = NULL, lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, \
             error = 'lease expired (worker lost)', updated_at = now() \
           FROM expired e WHERE j.id = e.id \
           RETURNING j.id, j.kind, j.project_id, j.status, j.attempts), \
         ev AS (INSERT INTO job_events (job_id, kind, message, data) \
           SELECT id, 'status', CASE WHEN status = 'queued' THEN 'retrying' ELSE 'failed' END, \
             jsonb_build_object('error', 'lease expired (worker lost)') FROM moved) \
         SELECT id, kind, project_id, status, attempts FROM moved",
    )
    .bind(&backoff_ms)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(id, kind, project_id, status, attempts)| {
            let status: JobStatus = crate::parse_enum("jobs.status", id, &status)?;
            Ok(Reclaimed {
                id,
                kind,
                project_id,
                status: if status == JobStatus::Queued {
                    JobStatus::Retrying
                } else {
                    status
                },
                attempts,
            })
        })
        .collect()
}

/// Marks queued jobs as never dispatched, after putting them on their stream failed
/// (Redis down): the scheduler's next tick re-sends them, instead of its safety sweep
/// after they have waited `stale`.
pub async fn undispatch(conn: &mut PgConnection, ids: &[JobId]) -> Result<(), StoreError> {
    sqlx::query("UPDATE jobs SET dispatched_at = NULL WHERE id = ANY($1) AND status = 'queued'")
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Due queued jobs to (re-)dispatch: never dispatched (delayed, retried, released), or,
/// when `stale` is given, dispatched longer than `stale` ago and still waiting (Redis may
/// have lost the entry). Marks them dispatched now; at most `limit`, highest priority
/// first.
pub async fn due(
    conn: &mut PgConnection,
    stale: Option<Duration>,
    limit: i64,
) -> Result<Vec<Dispatchable>, StoreError> {
    Ok(sqlx::query_as(
        "UPDATE jobs j SET dispatched_at = now() FROM ( \
           SELECT id FROM jobs WHERE status = 'queued' AND run_after <= now() \
             AND (dispatched_at IS NULL OR dispatched_at < now() - $1 * interval '1 millisecond') \
           ORDER BY priority DESC, run_after, id LIMIT $2 FOR UPDATE SKIP LOCKED) d \
         WHERE j.id = d.id RETURNING j.id, j.queue",
    )
    .bind(stale.map(millis))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// Takes a session-level advisory lock on this connection without waiting.
pub async fn try_lock(conn: &mut PgConnection, key: i64) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut *conn)
        .await?)
}

/// Gives a session-level advisory lock back.
pub async fn unlock(conn: &mut PgConnection, key: i64) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// One round trip, to tell whether the connection (and the locks it holds) is alive.
pub async fn still_connected(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT 1").execute(&mut *conn).await?;
    Ok(())
}
