//! `suggest_operations`: a read-only session (audit, forecast) proposes changes as
//! pending operations marked `suggestion`; it changes nothing itself, and each
//! proposal runs only when a person approves it.

use super::pending::{announce, prefix_field};
use super::{Caller, Handler, Query, conn, handler, project_of, to_value};
use crate::access::{self, Need};
use crate::hub::Hub;
use protocol::entities::{OperationStatus, Session};
use protocol::tools::ToolName;
use protocol::tools::args::SuggestOperationsArgs;
use protocol::tools::output::{PendingStatus, SuggestedOut};
use protocol::{ErrorBody, ErrorCode};
use serde_json::Value;
use store::operations::{NewOperation, Outcome};

pub(crate) struct SuggestOperations;

impl Query for SuggestOperations {
    type Args = SuggestOperationsArgs;

    async fn run(hub: &Hub, caller: &mut Caller, args: Self::Args) -> Result<Value, ErrorBody> {
        suggest(hub, caller, args).await
    }
}

/// `suggest_operations`: records each proposed change as a pending operation marked
/// `suggestion`, whatever the session's `auto_accept`: only a person's
/// `operation.decide` runs it. Everything is checked before anything is recorded (the
/// caller may write to the project; each tool changes a project; its arguments parse
/// and resolve to this project, else `invalid_arguments` naming
/// `operations[i].tool` or `operations[i].arguments.<field>`), and all are recorded in
/// one transaction.
async fn suggest(
    hub: &Hub,
    caller: &Caller,
    args: SuggestOperationsArgs,
) -> Result<Value, ErrorBody> {
    let project = project_of(caller, args.project_id)?;
    let mut conn = conn(hub).await?;
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
        let Some((tool, Handler::Change(change))) = tool.map(|t| (t, handler(t))) else {
            return Err(ErrorBody::invalid_field(
                &format!("{prefix}.tool"),
                format!("`{}` is not a tool that changes a project", item.tool),
            ));
        };
        let arguments = format!("{prefix}.arguments");
        let prepared = change
            .prepare(Value::Object(item.arguments))
            .map_err(|e| prefix_field(e, &arguments))?;
        let refused = || {
            ErrorBody::invalid_field(
                &format!("{arguments}.{}", change.locator()),
                "names nothing in this project",
            )
        };
        match prepared.project(&mut conn, &scoped).await {
            Ok(Some(resolved)) if resolved == project => {}
            Ok(_) => return Err(refused()),
            Err(error) if error.code == ErrorCode::NotFound => return Err(refused()),
            Err(error) => return Err(prefix_field(error, &arguments)),
        }
        planned.push(NewOperation {
            session_id: caller.session.id,
            project_id: Some(project),
            tool: tool.as_str().to_owned(),
            kind: change.kind(),
            entity: change.entity(),
            data: prepared.data().clone(),
            suggestion: true,
            reason: item.reason,
            recovers: None,
        });
    }
    drop(conn);
    let mut tx = hub.store.begin().await?;
    let mut recorded = Vec::with_capacity(planned.len());
    for new in planned {
        let operation =
            store::operations::insert_next(&mut tx, new, Outcome::status(OperationStatus::Pending))
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
    Ok(to_value(SuggestedOut {
        status: PendingStatus::PendingApproval,
        operations: recorded,
    }))
}
