//! `propose_recovery`: after an approved change failed, the assistant proposes it again
//! corrected; it waits for a person's approval, linked to the failed one.

use super::pending::{announce, change_for, merge_patch, prefix_field};
use super::{Caller, Query, conn, to_value};
use crate::access::{self, Need};
use crate::hub::Hub;
use protocol::entities::{OperationStatus, Session};
use protocol::tools::args::ProposeRecoveryArgs;
use protocol::tools::output::{PendingOut, PendingStatus};
use protocol::{ErrorBody, ErrorCode};
use serde_json::Value;
use store::operations::{NewOperation, Outcome};

pub(crate) struct ProposeRecovery;

impl Query for ProposeRecovery {
    type Args = ProposeRecoveryArgs;

    async fn run(hub: &Hub, caller: &mut Caller, args: Self::Args) -> Result<Value, ErrorBody> {
        propose_recovery(hub, caller, args).await
    }
}

/// `propose_recovery`: proposes a failed operation again, its arguments patched (JSON
/// merge patch), as a pending operation naming it in `recovers`, whatever the session's
/// `auto_accept`: a person approves the correction. The failed operation must be one
/// the caller may see (else `not_found`, as a missing one) and change (`forbidden`),
/// and `failed` (`conflict`); the patched arguments are checked by its tool and must
/// stay in its project (`invalid_arguments` naming `arguments.<field>`).
async fn propose_recovery(
    hub: &Hub,
    caller: &Caller,
    args: ProposeRecoveryArgs,
) -> Result<Value, ErrorBody> {
    let mut conn = conn(hub).await?;
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
    let prepared = change
        .prepare(data)
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
    match prepared.project(&mut conn, &scoped).await {
        Ok(Some(resolved)) if resolved == project => {}
        Ok(_) => return Err(refused()),
        Err(error) if error.code == ErrorCode::NotFound => return Err(refused()),
        Err(error) => return Err(prefix_field(error, "arguments")),
    }
    drop(conn);
    let mut tx = hub.store.begin().await?;
    let operation = store::operations::insert_next(
        &mut tx,
        NewOperation {
            session_id: caller.session.id,
            project_id: Some(project),
            tool: failed.tool.clone(),
            kind: change.kind(),
            entity: change.entity(),
            data: prepared.data().clone(),
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
    Ok(to_value(PendingOut {
        status: PendingStatus::PendingApproval,
        operation_id: operation.id,
        operation,
    }))
}
