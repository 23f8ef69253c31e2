//! The operations engine: every changing tool call becomes an operation row. With
//! `auto_accept` it runs at once, in the same transaction as its row; without, it waits
//! as `pending` until `operation.decide` approves (with optional edits) or rejects it.
//! Approving several runs them in order, each in its own transaction, and stops at the
//! first failure: the ones before stay done, the failed one records its error, the rest
//! stay pending.

use crate::access::{self, Need};
use crate::hub::Hub;
use crate::narrate;
use crate::tools::{self, Actor, Applied, Caller, DynChange, Handler};
use protocol::client::Decision;
use protocol::entities::{Operation, OperationStatus, Session};
use protocol::event::Event;
use protocol::server::Decided;
use protocol::tools::ToolName;
use protocol::tools::args::{ProposeRecoveryArgs, SuggestOperationsArgs};
use protocol::tools::output::{PendingOut, PendingStatus, SuggestedOut};
use protocol::{BatchId, ErrorBody, ErrorCode, OperationId, ProjectId, SessionId, UserId};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;
use store::operations::{NewOperation, Outcome};

/// Most operations one `operation.decide` may name.
pub const MAX_DECIDE: usize = 100;

/// A changing tool call: parse, resolve the project and check write access (one pooled
/// connection), then run it now or record it as pending.
pub(crate) async fn propose(
    hub: &Hub,
    caller: &Caller,
    tool: ToolName,
    change: &'static dyn DynChange,
    raw: Value,
) -> Result<Value, ErrorBody> {
    let started = Instant::now();
    let data = change.check(raw)?;
    // A session focused on a todo: the call is scoped to it, then checked again (the
    // todo filled in, a tag added).
    let data = change.check(crate::focus::scope(tool, data, &caller.session)?)?;
    let mut conn = tools::conn(hub).await?;
    let resolved = change.project(&mut conn, caller, &data).await;
    if let Ok(Some(project)) = &resolved {
        access::require(&mut conn, *project, &caller.user, Need::Write).await?;
    }
    drop(conn);
    let new = NewOperation {
        session_id: caller.session.id,
        project_id: resolved.as_ref().ok().copied().flatten(),
        seq: 0,
        tool: tool.as_str().to_owned(),
        kind: change.kind(),
        entity: change.entity(),
        data,
        suggestion: false,
        reason: None,
        recovers: None,
    };
    let project = match resolved {
        Ok(project) => project,
        // The entity the change names is gone: that is the change failing, and it is
        // recorded like any other failure.
        Err(error) if error.code == ErrorCode::NotFound => {
            let actor = Actor {
                user: caller.user.clone(),
                session_id: caller.session.id,
                project: None,
            };
            record_failure(hub, &actor, &Run::Now(new), &error, started).await?;
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
        let (_, result) = execute(hub, change, &actor, Run::Now(new)).await?;
        result
    } else {
        let mut tx = hub.store.begin().await?;
        let seq = store::sessions::next_operation_seq(&mut tx, caller.session.id).await?;
        let operation = store::operations::insert(
            &mut tx,
            NewOperation { seq, ..new },
            Outcome::status(OperationStatus::Pending),
        )
        .await?;
        let project = announce(&mut tx, &operation, true, Vec::new()).await?;
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

/// `suggest_operations`: records each proposed change as a pending operation marked
/// `suggestion`, whatever the session's `auto_accept`: only a person's
/// `operation.decide` runs it. Everything is checked before anything is recorded (the
/// caller may write to the project; each tool changes a project; its arguments parse
/// and resolve to this project, else `invalid_arguments` naming
/// `operations[i].tool` or `operations[i].arguments.<field>`), and all are recorded in
/// one transaction.
pub(crate) async fn suggest(
    hub: &Hub,
    caller: &Caller,
    args: SuggestOperationsArgs,
) -> Result<Value, ErrorBody> {
    let project = tools::project_of(caller, args.project_id)?;
    let mut conn = tools::conn(hub).await?;
    access::require(&mut conn, project, &caller.user, Need::Write).await?;
    // Arguments that leave project_id out mean the suggestion's project.
    let scoped = Caller {
        user: caller.user.clone(),
        session: Session {
            project_id: Some(project),
            ..caller.session.clone()
        },
    };
    let mut planned = Vec::with_capacity(args.operations.len());
    for (i, item) in args.operations.into_iter().enumerate() {
        let prefix = format!("operations[{i}]");
        let tool = ToolName::parse(&item.tool).filter(|t| *t != ToolName::CreateProject);
        let Some((tool, Handler::Change(change))) = tool.map(|t| (t, tools::handler(t))) else {
            return Err(ErrorBody::invalid_field(
                &format!("{prefix}.tool"),
                format!("`{}` is not a tool that changes a project", item.tool),
            ));
        };
        let arguments = format!("{prefix}.arguments");
        let data = change
            .check(Value::Object(item.arguments))
            .map_err(|e| prefix_field(e, &arguments))?;
        let refused = || {
            ErrorBody::invalid_field(
                &format!("{arguments}.{}", change.locator()),
                "names nothing in this project",
            )
        };
        match change.project(&mut conn, &scoped, &data).await {
            Ok(Some(resolved)) if resolved == project => {}
            Ok(_) => return Err(refused()),
            Err(error) if error.code == ErrorCode::NotFound => return Err(refused()),
            Err(error) => return Err(prefix_field(error, &arguments)),
        }
        planned.push(NewOperation {
            session_id: caller.session.id,
            project_id: Some(project),
            seq: 0,
            tool: tool.as_str().to_owned(),
            kind: change.kind(),
            entity: change.entity(),
            data,
            suggestion: true,
            reason: item.reason,
            recovers: None,
        });
    }
    drop(conn);
    let mut tx = hub.store.begin().await?;
    let mut recorded = Vec::with_capacity(planned.len());
    for new in planned {
        let seq = store::sessions::next_operation_seq(&mut tx, caller.session.id).await?;
        let operation = store::operations::insert(
            &mut tx,
            NewOperation { seq, ..new },
            Outcome::status(OperationStatus::Pending),
        )
        .await?;
        recorded.push(operation);
    }
    let mut flush = None;
    for operation in &recorded {
        flush = announce(&mut tx, operation, true, Vec::new())
            .await?
            .or(flush);
    }
    tx.commit().await.map_err(store::StoreError::from)?;
    hub.flush(flush).await;
    Ok(tools::to_value(SuggestedOut {
        status: PendingStatus::PendingApproval,
        operations: recorded,
    }))
}

/// `propose_recovery`: proposes a failed operation again, its arguments patched (JSON
/// merge patch), as a pending operation naming it in `recovers`, whatever the session's
/// `auto_accept`: a person approves the correction. The failed operation must be one
/// the caller may see (else `not_found`, as a missing one) and change (`forbidden`),
/// and `failed` (`conflict`); the patched arguments are checked by its tool and must
/// stay in its project (`invalid_arguments` naming `arguments.<field>`).
pub(crate) async fn propose_recovery(
    hub: &Hub,
    caller: &Caller,
    args: ProposeRecoveryArgs,
) -> Result<Value, ErrorBody> {
    let mut conn = tools::conn(hub).await?;
    let hidden = || store::StoreError::not_found("operation", args.operation_id);
    let failed = store::operations::get(&mut conn, args.operation_id).await?;
    let Some(project) = failed.project_id else {
        return Err(hidden().into());
    };
    access::entity(&mut conn, &caller.user, project, hidden()).await?;
    access::require(&mut conn, project, &caller.user, Need::Write).await?;
    if failed.status != OperationStatus::Failed {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!(
                "operation {} is {}: only a failed operation can be recovered",
                failed.id, failed.status
            ),
        )
        .with_details(serde_json::json!({ "operation_id": failed.id })));
    }
    let change = change_for(&failed)?;
    let mut data = failed.data.clone();
    if let Some(patch) = args.arguments {
        merge_patch(&mut data, &Value::Object(patch));
    }
    let data = change
        .check(data)
        .map_err(|e| prefix_field(e, "arguments"))?;
    // As the failed operation was proposed: its project stands in for an omitted
    // project_id.
    let scoped = Caller {
        user: caller.user.clone(),
        session: Session {
            project_id: Some(project),
            ..caller.session.clone()
        },
    };
    let refused = || {
        ErrorBody::invalid_field(
            &format!("arguments.{}", change.locator()),
            "names nothing in this operation's project",
        )
    };
    match change.project(&mut conn, &scoped, &data).await {
        Ok(Some(resolved)) if resolved == project => {}
        Ok(_) => return Err(refused()),
        Err(error) if error.code == ErrorCode::NotFound => return Err(refused()),
        Err(error) => return Err(prefix_field(error, "arguments")),
    }
    drop(conn);
    let mut tx = hub.store.begin().await?;
    let seq = store::sessions::next_operation_seq(&mut tx, caller.session.id).await?;
    let operation = store::operations::insert(
        &mut tx,
        NewOperation {
            session_id: caller.session.id,
            project_id: Some(project),
            seq,
            tool: failed.tool.clone(),
            kind: change.kind(),
            entity: change.entity(),
            data,
            suggestion: false,
            reason: args.reason,
            recovers: Some(failed.id),
        },
        Outcome::status(OperationStatus::Pending),
    )
    .await?;
    let flush = announce(&mut tx, &operation, true, Vec::new()).await?;
    tx.commit().await.map_err(store::StoreError::from)?;
    hub.flush(flush).await;
    Ok(tools::to_value(PendingOut {
        status: PendingStatus::PendingApproval,
        operation_id: operation.id,
        operation,
    }))
}

/// Whether an operation is new (recorded as it runs) or pending (claimed as it runs).
enum Run {
    Now(NewOperation),
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
/// `None` for an approval means someone else decided the operation first.
async fn execute(
    hub: &Hub,
    change: &dyn DynChange,
    actor: &Actor,
    run: Run,
) -> Result<(Option<Operation>, Result<Value, ErrorBody>), ErrorBody> {
    let started = Instant::now();
    let mut tx = hub.store.begin().await?;
    let data = match &run {
        Run::Now(new) => new.data.clone(),
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
            data.clone()
        }
    };
    match change.apply(&mut tx, actor, data).await {
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
            let operation = record(&mut tx, actor, &run, outcome).await?;
            let project = announce(&mut tx, &operation, matches!(run, Run::Now(_)), events).await?;
            tx.commit().await.map_err(store::StoreError::from)?;
            hub.flush(project).await;
            Ok((Some(operation), Ok(output)))
        }
        Err(error) => {
            // Nothing of the change stays; the failure is recorded on its own.
            drop(tx);
            let operation = record_failure(hub, actor, &run, &error, started).await?;
            Ok((operation, Err(error)))
        }
    }
}

/// Records a change that failed as a `failed` operation; `None` when an approved one
/// was decided by someone else meanwhile.
async fn record_failure(
    hub: &Hub,
    actor: &Actor,
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
    let operation = record(&mut tx, actor, run, outcome).await?;
    let project = announce(&mut tx, &operation, matches!(run, Run::Now(_)), Vec::new()).await?;
    tx.commit().await.map_err(store::StoreError::from)?;
    hub.flush(project).await;
    Ok(Some(operation))
}

/// Writes the events of a change into the outbox, in its transaction: the change's own
/// events, then the operation (`operation.created` when it was recorded just now, else
/// `operation.updated`). Answers the project to flush after commit; an operation
/// without a project (a failed `create_project`) has no topic.
async fn announce(
    conn: &mut store::PgConnection,
    operation: &Operation,
    created: bool,
    mut events: Vec<Event>,
) -> Result<Option<ProjectId>, ErrorBody> {
    let Some(project) = operation.project_id else {
        return Ok(None);
    };
    let operation = operation.clone();
    events.push(if created {
        Event::OperationCreated { operation }
    } else {
        Event::OperationUpdated { operation }
    });
    store::outbox::record(conn, project, &events).await?;
    Ok(Some(project))
}

async fn record(
    conn: &mut store::PgConnection,
    actor: &Actor,
    run: &Run,
    outcome: Outcome,
) -> Result<Operation, ErrorBody> {
    Ok(match run {
        Run::Now(new) => {
            let seq = store::sessions::next_operation_seq(conn, actor.session_id).await?;
            let new = NewOperation { seq, ..new.clone() };
            store::operations::insert(conn, new, outcome).await?
        }
        Run::Approved { id, project, .. } => {
            store::operations::finish(conn, *id, *project, outcome).await?
        }
    })
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
        let data = match edits.get(&op.id) {
            Some(patch) => {
                let prefix = format!("edits.{}", op.id);
                let mut data = op.data.clone();
                merge_patch(&mut data, patch);
                let data = change.check(data).map_err(|e| prefix_field(e, &prefix))?;
                recheck_project(&mut conn, change, &op, &session, &data)
                    .await
                    .map_err(|e| prefix_field(e, &prefix))?;
                data
            }
            None => op.data.clone(),
        };
        plans.push(Plan {
            operation: op,
            change,
            data,
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
        let run = Run::Approved {
            id: op.id,
            project: op.project_id,
            batch,
            data: plan.data,
            decided_by: caller.user.clone(),
        };
        match execute(hub, plan.change, &actor, run).await? {
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
    op: &Operation,
    author: &Session,
    data: &Value,
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
    match change.project(conn, &caller, data).await {
        Ok(project) if project == op.project_id => Ok(()),
        Ok(_) => Err(refused()),
        Err(error) if error.code == ErrorCode::NotFound => Err(refused()),
        Err(error) => Err(error),
    }
}

fn change_for(op: &Operation) -> Result<&'static dyn DynChange, ErrorBody> {
    match ToolName::parse(&op.tool).map(tools::handler) {
        Some(Handler::Change(change)) => Ok(change),
        _ => Err(ErrorBody::new(
            ErrorCode::Internal,
            format!("operation {} names no changing tool", op.id),
        )),
    }
}

/// Names the field of an edit's error under `edits.{id}`.
fn prefix_field(mut error: ErrorBody, prefix: &str) -> ErrorBody {
    let field = error
        .details
        .as_ref()
        .and_then(|d| d.get("field"))
        .and_then(Value::as_str)
        .map(|f| format!("{prefix}.{f}"))
        .unwrap_or_else(|| prefix.to_owned());
    error.message = format!("{prefix}.{}", error.message);
    error.details = Some(serde_json::json!({ "field": field }));
    error
}

/// RFC 7396 JSON merge patch: objects merge key by key, `null` removes a key, anything
/// else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"title": "a", "tags": ["x"], "nested": {"k": 1, "drop": 2}});
        merge_patch(
            &mut doc,
            &json!({"title": "b", "tags": null, "nested": {"drop": null, "new": 3}}),
        );
        assert_eq!(doc, json!({"title": "b", "nested": {"k": 1, "new": 3}}));
        let mut scalar = json!("x");
        merge_patch(&mut scalar, &json!({"a": 1}));
        assert_eq!(scalar, json!({"a": 1}));
    }

    #[test]
    fn edit_errors_name_the_edited_field() {
        let e = prefix_field(
            ErrorBody::invalid_field("title", "must not be blank"),
            "edits.x",
        );
        assert_eq!(e.details, Some(json!({"field": "edits.x.title"})));
        assert_eq!(e.message, "edits.x.title: must not be blank");
    }
}
