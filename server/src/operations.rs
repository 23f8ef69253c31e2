//! The operations engine: every changing tool call becomes an operation row. With
//! `auto_accept` it runs at once, in the same transaction as its row; without, it waits
//! as `pending` until `operation.decide` approves (with optional edits) or rejects it.
//! Approving several runs them in order, each in its own transaction, and stops at the
//! first failure: the ones before stay done, the failed one records its error, the rest
//! stay pending.

use crate::access;
use crate::hub::Hub;
use crate::narrate;
use crate::tools::pending::{announce, change_for, merge_patch, prefix_field};
use crate::tools::{self, Actor, Applied, Caller, DynChange, Handler, Prepared};
use protocol::client::Decision;
use protocol::entities::{Operation, OperationStatus, Session};
use protocol::event::Event;
use protocol::server::Decided;
use protocol::tools::ToolName;
use protocol::tools::output::{PendingOut, PendingStatus};
use protocol::{BatchId, ErrorBody, ErrorCode, OperationId, ProjectId, SessionId, UserId};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;
use store::operations::{NewOperation, Outcome, Slot};

/// Most operations one `operation.decide` may name.
pub const MAX_DECIDE: usize = 100;

/// A changing tool call: parse, resolve the project and check write access, then run it
/// now or record it as pending. The check and the write share one transaction (one pool
/// checkout, no commit of its own); checking first keeps a refused call from writing. The
/// check also numbers the operation ([`access::require_change`]), so the operation and
/// the change's events go into Postgres in one statement at the end.
pub(crate) async fn propose(
    hub: &Hub,
    caller: &Caller,
    tool: ToolName,
    change: &'static dyn DynChange,
    raw: Value,
) -> Result<Value, ErrorBody> {
    let started = Instant::now();
    let mut prepared = change.prepare(raw)?;
    // A session focused on a todo: the call is scoped to it, then checked again (the
    // todo filled in, a tag added).
    prepared.focus(&caller.session)?;
    let mut tx = hub.store.begin().await?;
    let resolved = prepared.project(&mut tx, caller).await;
    let slot = match &resolved {
        Ok(Some(project)) => {
            let (_, slot) =
                access::require_change(&mut tx, *project, &caller.user, caller.session.id).await?;
            Some(slot)
        }
        _ => None,
    };
    let new = NewOperation {
        session_id: caller.session.id,
        project_id: resolved.as_ref().ok().copied().flatten(),
        tool: tool.as_str().to_owned(),
        kind: change.kind(),
        entity: change.entity(),
        data: prepared.data().clone(),
        suggestion: false,
        reason: None,
        recovers: None,
    };
    let project = match resolved {
        Ok(project) => project,
        // The entity the change names is gone: that is the change failing, and it is
        // recorded like any other failure.
        Err(error) if error.code == ErrorCode::NotFound => {
            drop(tx);
            record_failure(hub, &Run::Now { new, slot: None }, &error, started).await?;
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    if caller.session.auto_accept {
        let actor = Actor {
            user: caller.user.clone(),
            session_id: caller.session.id,
            project,
        };
        let (_, result) = execute(hub, tx, Ok(prepared), &actor, Run::Now { new, slot }).await?;
        result
    } else {
        let run = Run::Now { new, slot };
        let outcome = Outcome::status(OperationStatus::Pending);
        let (operation, project) = record_announced(&mut tx, &run, outcome, Vec::new()).await?;
        tx.commit().await.map_err(store::StoreError::from)?;
        tracing::debug!(operation_id = %operation.id, tool = %tool, "operation pending approval");
        hub.flush(project).await;
        Ok(tools::to_value(PendingOut {
            status: PendingStatus::PendingApproval,
            operation_id: operation.id,
            operation,
        }))
    }
}

/// A rollback a person asked for directly (`POST .../operations/{op}/rollback`): it
/// runs at once whatever the session's `auto_accept`, since asking is deciding.
pub(crate) async fn rollback_now(
    hub: &Hub,
    caller: &Caller,
    operation: OperationId,
) -> Result<Value, ErrorBody> {
    let tool = ToolName::RollbackOperation;
    let Handler::Change(change) = tools::handler(tool) else {
        return Err(ErrorBody::new(
            ErrorCode::Internal,
            "rollback is not a change",
        ));
    };
    let mut caller = caller.clone();
    caller.session.auto_accept = true;
    propose(
        hub,
        &caller,
        tool,
        change,
        serde_json::json!({ "operation_id": operation }),
    )
    .await
}

/// Whether an operation is new (recorded as it runs) or pending (claimed as it runs).
enum Run {
    Now {
        new: NewOperation,
        /// Its number, taken with the access check in the change's transaction; none
        /// for a change without a project to check.
        slot: Option<Slot>,
    },
    Approved {
        id: OperationId,
        /// The project it was proposed in and its decider checked against.
        project: Option<ProjectId>,
        batch: BatchId,
        data: Value,
        decided_by: UserId,
    },
}

/// Runs a change and records its operation. The outer `Result` is a failure to record
/// anything (storage down; nothing changed); the inner one is the tool's own answer.
/// `None` for an approval means someone else decided the operation first. A change
/// whose arguments did not parse fails as if it had run. `tx` is the transaction the
/// change runs in (a proposal's already holds its access check).
async fn execute(
    hub: &Hub,
    mut tx: store::Transaction<'static, store::Postgres>,
    prepared: Result<Box<dyn Prepared>, ErrorBody>,
    actor: &Actor,
    run: Run,
) -> Result<(Option<Operation>, Result<Value, ErrorBody>), ErrorBody> {
    let started = Instant::now();
    match &run {
        Run::Now { .. } => {}
        Run::Approved {
            id,
            project,
            batch,
            data,
            decided_by,
        } => {
            if store::operations::claim(&mut tx, *id, *project, *batch, data, decided_by)
                .await?
                .is_none()
            {
                return Ok((
                    None,
                    Err(ErrorBody::new(
                        ErrorCode::Conflict,
                        format!("operation {id} was decided by someone else"),
                    )),
                ));
            }
        }
    }
    let applied = match prepared {
        Ok(prepared) => prepared.apply(&mut tx, actor).await,
        Err(error) => Err(error),
    };
    match applied {
        Ok(applied) => {
            let Applied {
                output,
                entity_id,
                before,
                after,
                project_id,
                events,
                kind,
                entity,
                rollback_of,
            } = applied;
            let outcome = Outcome {
                status: OperationStatus::Completed,
                project_id,
                entity_id,
                before,
                after,
                error: None,
                duration_ms: Some(elapsed_ms(started)),
                kind,
                entity,
                rollback_of,
            };
            let (operation, project) = record_announced(&mut tx, &run, outcome, events).await?;
            tx.commit().await.map_err(store::StoreError::from)?;
            hub.flush(project).await;
            Ok((Some(operation), Ok(output)))
        }
        Err(error) => {
            // Nothing of the change stays; the failure is recorded on its own.
            drop(tx);
            let operation = record_failure(hub, &run, &error, started).await?;
            Ok((operation, Err(error)))
        }
    }
}

/// Records a change that failed as a `failed` operation; `None` when an approved one
/// was decided by someone else meanwhile.
async fn record_failure(
    hub: &Hub,
    run: &Run,
    error: &ErrorBody,
    started: Instant,
) -> Result<Option<Operation>, ErrorBody> {
    let mut tx = hub.store.begin().await?;
    if let Run::Approved {
        id,
        project,
        batch,
        data,
        decided_by,
    } = run
        && store::operations::claim(&mut tx, *id, *project, *batch, data, decided_by)
            .await?
            .is_none()
    {
        return Ok(None);
    }
    let outcome = Outcome {
        error: Some(error.clone()),
        duration_ms: Some(elapsed_ms(started)),
        ..Outcome::status(OperationStatus::Failed)
    };
    // A transaction of its own: the change's, and the number it took, are gone.
    let operation = record(&mut tx, run, outcome).await?;
    let created = matches!(run, Run::Now { .. });
    let project = announce(&mut tx, &operation, created, Vec::new()).await?;
    tx.commit().await.map_err(store::StoreError::from)?;
    hub.flush(project).await;
    Ok(Some(operation))
}

async fn record(
    conn: &mut store::PgConnection,
    run: &Run,
    outcome: Outcome,
) -> Result<Operation, ErrorBody> {
    Ok(match run {
        Run::Now { new, .. } => store::operations::insert_next(conn, new.clone(), outcome).await?,
        Run::Approved { id, project, .. } => {
            store::operations::finish(conn, *id, *project, outcome).await?
        }
    })
}

/// Records the operation of a change that ran (or is pending) in the change's
/// transaction, with the change's events and its own: in one statement when the access
/// check numbered it ([`store::operations::insert_announced`]). Answers the operation
/// and the project whose outbox to flush.
async fn record_announced(
    conn: &mut store::PgConnection,
    run: &Run,
    outcome: Outcome,
    events: Vec<Event>,
) -> Result<(Operation, Option<ProjectId>), ErrorBody> {
    if let Run::Now {
        new,
        slot: Some(slot),
    } = run
    {
        let operation =
            store::operations::insert_announced(conn, new.clone(), outcome, *slot, events).await?;
        return Ok((operation, Some(slot.project)));
    }
    let operation = record(conn, run, outcome).await?;
    let created = matches!(run, Run::Now { .. });
    let project = announce(conn, &operation, created, events).await?;
    Ok((operation, project))
}

fn elapsed_ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// `operation.decide`: approve (with optional edits) or reject pending operations.
/// Everything is checked before anything runs ([`validate`]); then the operations are
/// rejected together ([`reject`]) or run in order ([`approve`]). The decider is recorded
/// on each operation as `decided_by`.
pub async fn decide(
    hub: &Hub,
    caller: &Caller,
    ids: &[OperationId],
    decision: Decision,
    edits: Option<BTreeMap<OperationId, Value>>,
) -> Result<Decided, ErrorBody> {
    let plans = validate(hub, caller, ids, decision, edits.unwrap_or_default()).await?;
    match decision {
        Decision::Reject => reject(hub, caller, ids, plans).await,
        Decision::Approve => approve(hub, caller, ids, plans).await,
    }
}

/// One operation a decision will run: the change, its (edited) arguments, its author.
struct Plan {
    operation: Operation,
    change: &'static dyn DynChange,
    data: Value,
    /// The edited arguments, parsed as they were checked; unedited ones are parsed from
    /// `data` when they run.
    prepared: Option<Box<dyn Prepared>>,
    author: UserId,
}

/// Checks a decision before anything runs: every id exists, is pending, and the caller
/// may decide it (write access to its project; for a proposed project, being the
/// proposing user), and every edit still parses and still resolves to the operation's
/// project.
async fn validate(
    hub: &Hub,
    caller: &Caller,
    ids: &[OperationId],
    decision: Decision,
    edits: BTreeMap<OperationId, Value>,
) -> Result<Vec<Plan>, ErrorBody> {
    if ids.is_empty() {
        return Err(ErrorBody::invalid_field(
            "operation_ids",
            "must name at least one operation",
        ));
    }
    if ids.len() > MAX_DECIDE {
        return Err(ErrorBody::invalid_field(
            "operation_ids",
            format!("at most {MAX_DECIDE} at once"),
        ));
    }
    if decision == Decision::Reject && !edits.is_empty() {
        return Err(ErrorBody::invalid_field(
            "edits",
            "only an approval takes edits",
        ));
    }
    if let Some(stray) = edits.keys().find(|id| !ids.contains(id)) {
        return Err(ErrorBody::invalid_field(
            &format!("edits.{stray}"),
            "not among operation_ids",
        ));
    }
    let mut conn = tools::conn(hub).await?;
    let mut operations = store::operations::get_many(&mut conn, ids).await?;
    if let Some(missing) = ids
        .iter()
        .find(|id| !operations.iter().any(|o| o.id == **id))
    {
        return Err(ErrorBody::new(
            ErrorCode::NotFound,
            format!("operation {missing} not found"),
        ));
    }
    operations.dedup_by_key(|o| o.id);
    let mut plans = Vec::with_capacity(operations.len());
    let mut sessions: HashMap<SessionId, Session> = HashMap::new();
    for op in operations {
        access::decide(&mut conn, &caller.user, &op).await?;
        if op.status != OperationStatus::Pending {
            return Err(ErrorBody::new(
                ErrorCode::Conflict,
                format!("operation {} is {}, not pending", op.id, op.status),
            )
            .with_details(serde_json::json!({ "operation_id": op.id })));
        }
        let change = change_for(&op)?;
        // The change runs as the user whose session proposed it (the author).
        let session = match sessions.get(&op.session_id) {
            Some(session) => session.clone(),
            None => {
                let session = store::sessions::get(&mut conn, op.session_id).await?;
                sessions.insert(op.session_id, session.clone());
                session
            }
        };
        let (data, prepared) = match edits.get(&op.id) {
            Some(patch) => {
                let prefix = format!("edits.{}", op.id);
                let mut data = op.data.clone();
                merge_patch(&mut data, patch);
                let prepared = change.prepare(data).map_err(|e| prefix_field(e, &prefix))?;
                recheck_project(&mut conn, change, prepared.as_ref(), &op, &session)
                    .await
                    .map_err(|e| prefix_field(e, &prefix))?;
                (prepared.data().clone(), Some(prepared))
            }
            None => (op.data.clone(), None),
        };
        plans.push(Plan {
            operation: op,
            change,
            data,
            prepared,
            author: session.user_id,
        });
    }
    Ok(plans)
}

/// Rejects the validated operations in one transaction; one decided by someone else
/// meanwhile is left as they decided it.
async fn reject(
    hub: &Hub,
    caller: &Caller,
    ids: &[OperationId],
    plans: Vec<Plan>,
) -> Result<Decided, ErrorBody> {
    let batch = BatchId::new();
    let total = plans.len() as u64;
    let mut tx = hub.store.begin().await?;
    let named: Vec<(OperationId, Option<ProjectId>)> = plans
        .iter()
        .map(|p| (p.operation.id, p.operation.project_id))
        .collect();
    let mut rejected = store::operations::reject(&mut tx, &named, batch, &caller.user).await?;
    let count = rejected.len() as u64;
    // By project, so two deciders take the projects' outbox locks in one order.
    rejected.sort_by_key(|o| o.project_id);
    let mut projects = Vec::new();
    for operation in &rejected {
        if let Some(project) = announce(&mut tx, operation, false, Vec::new()).await? {
            projects.push(project);
        }
    }
    tx.commit().await.map_err(store::StoreError::from)?;
    projects.dedup();
    for project in projects {
        hub.flush(Some(project)).await;
    }
    let mut conn = tools::conn(hub).await?;
    let operations = store::operations::get_many(&mut conn, ids).await?;
    drop(conn);
    Ok(Decided {
        batch_id: batch,
        operations,
        completed: count,
        total,
        message: narrate::rejected(count, total),
    })
}

/// Runs the validated operations in order, each in its own transaction, stopping at
/// the first failure: the ones before stay done, the failed one records its error, the
/// rest stay pending.
async fn approve(
    hub: &Hub,
    caller: &Caller,
    ids: &[OperationId],
    plans: Vec<Plan>,
) -> Result<Decided, ErrorBody> {
    let batch = BatchId::new();
    let total = plans.len() as u64;
    let mut completed = 0u64;
    let mut failure = None;
    for plan in plans {
        let op = &plan.operation;
        let actor = Actor {
            user: plan.author,
            session_id: op.session_id,
            project: op.project_id,
        };
        // An operation approved unedited is parsed from its stored data here: that is
        // this call's one parse of it.
        let prepared = match plan.prepared {
            Some(prepared) => Ok(prepared),
            None => plan.change.prepare(plan.data.clone()),
        };
        let run = Run::Approved {
            id: op.id,
            project: op.project_id,
            batch,
            data: plan.data,
            decided_by: caller.user.clone(),
        };
        match execute(hub, hub.store.begin().await?, prepared, &actor, run).await? {
            (_, Ok(_)) => completed += 1,
            (_, Err(error)) => {
                failure = Some((op.id, error));
                break;
            }
        }
    }
    let mut conn = tools::conn(hub).await?;
    let operations = store::operations::get_many(&mut conn, ids).await?;
    let failed = failure.as_ref().map(|(id, e)| (*id, e.message.as_str()));
    Ok(Decided {
        batch_id: batch,
        operations,
        completed,
        total,
        message: narrate::approved(completed, total, failed),
    })
}

/// An edit may point the change at another entity, but not out of the project the
/// operation was proposed in (and the decider was checked against): the project is
/// resolved again from the edited arguments, as the author's session would, and anything
/// resolving elsewhere or to nothing is refused naming the argument that locates it.
/// The refusal does not say where the argument led, so it reveals nothing of other
/// projects.
async fn recheck_project(
    conn: &mut store::PgConnection,
    change: &dyn DynChange,
    prepared: &dyn Prepared,
    op: &Operation,
    author: &Session,
) -> Result<(), ErrorBody> {
    // The session's own project stands in for arguments that leave it out, as when the
    // operation was proposed; the session may have moved on since.
    let caller = Caller {
        user: author.user_id.clone(),
        session: Session {
            project_id: op.project_id,
            ..author.clone()
        },
    };
    let refused = || {
        ErrorBody::invalid_field(
            change.locator(),
            "names nothing in this operation's project",
        )
    };
    match prepared.project(conn, &caller).await {
        Ok(project) if project == op.project_id => Ok(()),
        Ok(_) => Err(refused()),
        Err(error) if error.code == ErrorCode::NotFound => Err(refused()),
        Err(error) => Err(error),
    }
}
