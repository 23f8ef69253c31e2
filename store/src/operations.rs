//! Operations: the record of every change a tool call makes or proposes.

use crate::{StoreError, enum_str, parse_enum};
use chrono::{DateTime, Utc};
use protocol::entities::{Entity, Operation, OperationKind, OperationStatus, Role};
use protocol::event::Event;
use protocol::{BatchId, ErrorBody, OperationId, ProjectId, SessionId, UserId};
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;

#[derive(sqlx::FromRow)]
struct OperationRow {
    id: OperationId,
    session_id: SessionId,
    project_id: Option<ProjectId>,
    batch_id: Option<BatchId>,
    seq: i64,
    tool: String,
    kind: String,
    entity: String,
    entity_id: Option<String>,
    data: Json<Value>,
    before: Option<Json<Value>>,
    after: Option<Json<Value>>,
    status: String,
    error: Option<Json<ErrorBody>>,
    decided_by: Option<UserId>,
    created_at: DateTime<Utc>,
    executed_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    rolled_back_by: Option<UserId>,
    rollback_of: Option<OperationId>,
    suggestion: bool,
    reason: Option<String>,
    recovers: Option<OperationId>,
}

impl TryFrom<OperationRow> for Operation {
    type Error = StoreError;
    fn try_from(r: OperationRow) -> Result<Self, StoreError> {
        Ok(Operation {
            id: r.id,
            session_id: r.session_id,
            project_id: r.project_id,
            batch_id: r.batch_id,
            seq: r.seq,
            tool: r.tool,
            kind: parse_enum("operations.kind", r.id, &r.kind)?,
            entity: parse_enum("operations.entity", r.id, &r.entity)?,
            entity_id: r.entity_id,
            data: r.data.0,
            before: r.before.map(|j| j.0),
            after: r.after.map(|j| j.0),
            status: parse_enum("operations.status", r.id, &r.status)?,
            error: r.error.map(|j| j.0),
            decided_by: r.decided_by,
            created_at: r.created_at,
            executed_at: r.executed_at,
            duration_ms: r.duration_ms,
            rolled_back_by: r.rolled_back_by,
            rollback_of: r.rollback_of,
            suggestion: r.suggestion,
            reason: r.reason,
            recovers: r.recovers,
        })
    }
}

const COLUMNS: &str = "id, session_id, project_id, batch_id, seq, tool, kind, entity, entity_id, \
    data, before, after, status, error, decided_by, created_at, executed_at, duration_ms, \
    rolled_back_by, rollback_of, suggestion, reason, recovers";

/// An operation to record.
#[derive(Clone, Debug)]
pub struct NewOperation {
    pub session_id: SessionId,
    pub project_id: Option<ProjectId>,
    pub tool: String,
    pub kind: OperationKind,
    pub entity: Entity,
    pub data: Value,
    /// Proposed by `suggest_operations`, with its reason.
    pub suggestion: bool,
    pub reason: Option<String>,
    /// The failed operation this one corrects.
    pub recovers: Option<OperationId>,
}

/// How an operation ended (or that it was decided).
#[derive(Clone, Debug)]
pub struct Outcome {
    pub status: OperationStatus,
    pub project_id: Option<ProjectId>,
    pub entity_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub error: Option<ErrorBody>,
    pub duration_ms: Option<i64>,
    /// What the change turned out to be, when only running it tells (a rollback).
    pub kind: Option<OperationKind>,
    pub entity: Option<Entity>,
    /// The operation this one undoes.
    pub rollback_of: Option<OperationId>,
}

impl Outcome {
    /// An outcome with nothing but its status.
    pub fn status(status: OperationStatus) -> Self {
        Self {
            status,
            project_id: None,
            entity_id: None,
            before: None,
            after: None,
            error: None,
            duration_ms: None,
            kind: None,
            entity: None,
            rollback_of: None,
        }
    }
}

/// Records a new operation with `status`, numbered by its session: the session's
/// operation counter is bumped in the same statement (its row stays locked to the end of
/// the transaction, which keeps a session's operations in order) and the operation takes
/// the new value as its `seq`. `outcome` fills in how it ended when it was carried out at
/// once. A missing session is `not_found`.
pub async fn insert_next(
    conn: &mut PgConnection,
    op: NewOperation,
    outcome: Outcome,
) -> Result<Operation, StoreError> {
    let session = op.session_id;
    let sql = format!(
        "WITH next AS (UPDATE sessions SET operation_seq = operation_seq + 1 WHERE id = $2 \
           RETURNING operation_seq) \
         INSERT INTO operations ({INSERTED}) SELECT {VALUES} FROM next RETURNING {COLUMNS}"
    );
    let row: Option<OperationRow> = bind_new(sqlx::query_as(&sql), op, outcome)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("session", session))?
        .try_into()
}

/// The columns a new operation fills, in the order of [`VALUES`].
const INSERTED: &str = "id, session_id, project_id, seq, tool, kind, entity, entity_id, \
    data, before, after, status, error, executed_at, duration_ms, rollback_of, \
    suggestion, reason, recovers";

/// The values of a new operation as [`bind_new`] binds them (`seq` from the session).
const VALUES: &str = "$1, $2, COALESCE($3, $15), next.operation_seq, $4, $5, $6, $7, $8, $9, \
    $10, $11, $12, CASE WHEN $13 THEN now() END, $14, $16, $17, $18, $19";

type InsertQuery<'q> =
    sqlx::query::QueryAs<'q, sqlx::Postgres, OperationRow, sqlx::postgres::PgArguments>;

fn bind_new(query: InsertQuery<'_>, op: NewOperation, outcome: Outcome) -> InsertQuery<'_> {
    let executed = outcome.status != OperationStatus::Pending;
    query
        .bind(OperationId::new())
        .bind(op.session_id)
        .bind(op.project_id)
        .bind(op.tool)
        .bind(enum_str(&outcome.kind.unwrap_or(op.kind)))
        .bind(enum_str(&outcome.entity.unwrap_or(op.entity)))
        .bind(outcome.entity_id)
        .bind(Json(op.data))
        .bind(outcome.before.map(Json))
        .bind(outcome.after.map(Json))
        .bind(enum_str(&outcome.status))
        .bind(outcome.error.map(Json))
        .bind(executed)
        .bind(outcome.duration_ms)
        .bind(outcome.project_id)
        .bind(outcome.rollback_of)
        .bind(op.suggestion)
        .bind(op.reason)
        .bind(op.recovers)
}

/// Where a new operation will stand, taken at the start of the change's transaction
/// ([`open`]): the project it was checked in, its `seq` in its session, and the
/// transaction's time, which `now()` answers for the whole transaction (the operation's
/// `created_at` and `executed_at`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub project: ProjectId,
    pub seq: i64,
    pub at: DateTime<Utc>,
}

/// The first statement of a change `user` makes in `project` from `session`: the
/// caller's role, as [`crate::projects::role_for_change`] reads it (the membership's lock
/// held to the end of the transaction), and, when there is one, the session's next
/// operation number ([`Slot`]; the session's row stays locked to the end of the
/// transaction, which keeps a session's operations in order). `None` when `user` is not
/// a member (and no number is taken). A missing session is `not_found`.
pub async fn open(
    conn: &mut PgConnection,
    project: ProjectId,
    user: &UserId,
    session: SessionId,
) -> Result<Option<(Role, Slot)>, StoreError> {
    // The check runs first (a materialized CTE the update's filter reads), so the
    // membership's lock is taken before the session's row, as when they were two
    // statements.
    let (role, seq, at): (Option<String>, Option<i64>, DateTime<Utc>) = sqlx::query_as(
        "WITH access AS MATERIALIZED (SELECT draftline_role_for_change($1, $2) AS role),
              next AS (UPDATE sessions SET operation_seq = operation_seq + 1
                       WHERE id = $3 AND (SELECT role FROM access) IS NOT NULL
                       RETURNING operation_seq)
         SELECT (SELECT role FROM access), (SELECT operation_seq FROM next), now()",
    )
    .bind(project)
    .bind(user)
    .bind(session)
    .fetch_one(&mut *conn)
    .await?;
    let role = crate::projects::parse_role(project, user, role)?;
    match (role, seq) {
        (None, _) => Ok(None),
        (Some(role), Some(seq)) => Ok(Some((role, Slot { project, seq, at }))),
        (Some(_), None) => Err(StoreError::not_found("session", session)),
    }
}

/// Records a new operation at `slot` (from [`open`], in the same transaction) and writes
/// `events`, then the operation's own `operation.created`, into its project's outbox: one
/// statement where [`insert_next`] and [`crate::outbox::record`] take two. The operation
/// is made here as the row will read (its id drawn here, its times the slot's), so its
/// event needs nothing back from Postgres. Like [`crate::outbox::record`], call it last
/// in the transaction.
pub async fn insert_announced(
    conn: &mut PgConnection,
    op: NewOperation,
    outcome: Outcome,
    slot: Slot,
    mut events: Vec<Event>,
) -> Result<Operation, StoreError> {
    let executed = outcome.status != OperationStatus::Pending;
    let operation = Operation {
        id: OperationId::new(),
        session_id: op.session_id,
        project_id: Some(slot.project),
        batch_id: None,
        seq: slot.seq,
        tool: op.tool,
        kind: outcome.kind.unwrap_or(op.kind),
        entity: outcome.entity.unwrap_or(op.entity),
        entity_id: outcome.entity_id,
        data: op.data,
        before: outcome.before,
        after: outcome.after,
        status: outcome.status,
        error: outcome.error,
        decided_by: None,
        created_at: slot.at,
        executed_at: executed.then_some(slot.at),
        duration_ms: outcome.duration_ms,
        rolled_back_by: None,
        rollback_of: outcome.rollback_of,
        suggestion: op.suggestion,
        reason: op.reason,
        recovers: op.recovers,
    };
    events.push(Event::OperationCreated {
        operation: operation.clone(),
    });
    let o = &operation;
    let sql = format!(
        "WITH operation AS (INSERT INTO operations ({ANNOUNCED}) VALUES ($7, $8, $9, $10, $11, \
           $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)) \
         {}",
        crate::outbox::INSERT
    );
    crate::outbox::Rows::of(slot.project, &events)?
        .bind(sqlx::query(&sql))
        .bind(o.id)
        .bind(o.session_id)
        .bind(o.project_id)
        .bind(o.seq)
        .bind(&o.tool)
        .bind(enum_str(&o.kind))
        .bind(enum_str(&o.entity))
        .bind(&o.entity_id)
        .bind(Json(&o.data))
        .bind(o.before.as_ref().map(Json))
        .bind(o.after.as_ref().map(Json))
        .bind(enum_str(&o.status))
        .bind(o.error.as_ref().map(Json))
        .bind(o.created_at)
        .bind(o.executed_at)
        .bind(o.duration_ms)
        .bind(o.rollback_of)
        .bind(o.suggestion)
        .bind(&o.reason)
        .bind(o.recovers)
        .execute(&mut *conn)
        .await?;
    Ok(operation)
}

/// The columns [`insert_announced`] fills, in the order it binds them.
const ANNOUNCED: &str = "id, session_id, project_id, seq, tool, kind, entity, entity_id, \
    data, before, after, status, error, created_at, executed_at, duration_ms, rollback_of, \
    suggestion, reason, recovers";

pub async fn get(conn: &mut PgConnection, id: OperationId) -> Result<Operation, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM operations WHERE id = $1");
    let row: Option<OperationRow> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("operation", id))?
        .try_into()
}

/// The operations with these ids, in the order they were proposed (creation time, then
/// session sequence). Missing ids are simply absent.
pub async fn get_many(
    conn: &mut PgConnection,
    ids: &[OperationId],
) -> Result<Vec<Operation>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM operations WHERE id = ANY($1) ORDER BY created_at, seq, id");
    let rows: Vec<OperationRow> = sqlx::query_as(&sql).bind(ids).fetch_all(&mut *conn).await?;
    rows.into_iter().map(Operation::try_from).collect()
}

/// Takes a pending operation of `project` (`None` for a proposed project) for execution
/// (`pending → executing`) with its final `data`, batch and decider. `None` when someone
/// else decided it first, or it is not the project's.
pub async fn claim(
    conn: &mut PgConnection,
    id: OperationId,
    project: Option<ProjectId>,
    batch: BatchId,
    data: &Value,
    decided_by: &UserId,
) -> Result<Option<Operation>, StoreError> {
    let sql = format!(
        "UPDATE operations SET status = 'executing', batch_id = $2, data = $3, decided_by = $5 \
         WHERE id = $1 AND project_id IS NOT DISTINCT FROM $4 AND status = 'pending' \
         RETURNING {COLUMNS}"
    );
    let row: Option<OperationRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(batch)
        .bind(Json(data))
        .bind(project)
        .bind(decided_by)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(Operation::try_from).transpose()
}

/// Records how a claimed operation of `project` ended (a created project fills in its
/// own id).
pub async fn finish(
    conn: &mut PgConnection,
    id: OperationId,
    project: Option<ProjectId>,
    outcome: Outcome,
) -> Result<Operation, StoreError> {
    let sql = format!(
        "UPDATE operations SET status = $2, project_id = COALESCE($3, project_id), \
           entity_id = COALESCE($4, entity_id), before = $5, after = $6, error = $7, \
           duration_ms = $8, executed_at = now(), kind = COALESCE($10, kind), \
           entity = COALESCE($11, entity), rollback_of = COALESCE($12, rollback_of) \
         WHERE id = $1 AND project_id IS NOT DISTINCT FROM $9 RETURNING {COLUMNS}"
    );
    let row: Option<OperationRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(enum_str(&outcome.status))
        .bind(outcome.project_id)
        .bind(outcome.entity_id)
        .bind(outcome.before.map(Json))
        .bind(outcome.after.map(Json))
        .bind(outcome.error.map(Json))
        .bind(outcome.duration_ms)
        .bind(project)
        .bind(outcome.kind.as_ref().map(enum_str))
        .bind(outcome.entity.as_ref().map(enum_str))
        .bind(outcome.rollback_of)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("operation", id))?
        .try_into()
}

/// Rejects the pending operations among `operations`, each named with the project it
/// was checked against (`None` for a proposed project); returns the ones it rejected.
pub async fn reject(
    conn: &mut PgConnection,
    operations: &[(OperationId, Option<ProjectId>)],
    batch: BatchId,
    decided_by: &UserId,
) -> Result<Vec<Operation>, StoreError> {
    let ids: Vec<OperationId> = operations.iter().map(|(id, _)| *id).collect();
    let projects: Vec<Option<ProjectId>> = operations.iter().map(|(_, p)| *p).collect();
    let sql = format!(
        "UPDATE operations SET status = 'rejected', batch_id = $3, decided_by = $4, \
           executed_at = now() \
         FROM unnest($1::uuid[], $2::uuid[]) AS named(op_id, op_project) \
         WHERE id = named.op_id AND project_id IS NOT DISTINCT FROM named.op_project \
           AND status = 'pending' RETURNING {COLUMNS}"
    );
    let rows: Vec<OperationRow> = sqlx::query_as(&sql)
        .bind(&ids)
        .bind(&projects)
        .bind(batch)
        .bind(decided_by)
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter().map(Operation::try_from).collect()
}

/// The project's operation, locked for the rest of the transaction (a rollback holds
/// it while it undoes it). An operation of another project is not found.
pub async fn lock(
    conn: &mut PgConnection,
    project: ProjectId,
    id: OperationId,
) -> Result<Operation, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM operations WHERE id = $1 AND project_id = $2 FOR UPDATE");
    let row: Option<OperationRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(project)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("operation", id))?
        .try_into()
}

/// Marks the project's completed operation `rolled_back` by `user`; `None` when it is
/// not completed (any more).
pub async fn mark_rolled_back(
    conn: &mut PgConnection,
    project: ProjectId,
    id: OperationId,
    user: &UserId,
) -> Result<Option<Operation>, StoreError> {
    let sql = format!(
        "UPDATE operations SET status = 'rolled_back', rolled_back_by = $3 \
         WHERE id = $1 AND project_id = $2 AND status = 'completed' RETURNING {COLUMNS}"
    );
    let row: Option<OperationRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(project)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(Operation::try_from).transpose()
}

/// Most operations one list answers: a project's pending ones are a person's backlog,
/// and a history longer than this is paged by nobody yet.
pub const MAX_LIST: i64 = 1000;

/// The project's operations waiting for approval, in order.
pub async fn pending_for_project(
    conn: &mut PgConnection,
    project: ProjectId,
) -> Result<Vec<Operation>, StoreError> {
    for_project(conn, project, OperationStatus::Pending).await
}

/// The project's operations with `status`: pending ones in the order they would run,
/// the others newest first (at most [`MAX_LIST`]).
pub async fn for_project(
    conn: &mut PgConnection,
    project: ProjectId,
    status: OperationStatus,
) -> Result<Vec<Operation>, StoreError> {
    let order = if status == OperationStatus::Pending {
        "created_at, seq, id"
    } else {
        "executed_at DESC NULLS LAST, created_at DESC, id DESC"
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM operations WHERE project_id = $1 AND status = $2 \
         ORDER BY {order} LIMIT {MAX_LIST}"
    );
    let rows: Vec<OperationRow> = sqlx::query_as(&sql)
        .bind(project)
        .bind(enum_str(&status))
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter().map(Operation::try_from).collect()
}
