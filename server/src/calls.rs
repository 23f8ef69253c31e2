//! The entry of a tool call, for every transport: look the tool up in the catalogue,
//! check the session's mode, then run a query itself or hand a change to the operations
//! engine. It sits above both, so the tools never depend on the operations engine.

use crate::hub::Hub;
use crate::operations;
use crate::tools::{Caller, Handler, handler};
use protocol::tools::{ToolName, tools_for};
use protocol::{ErrorBody, ErrorCode};
use serde_json::Value;

/// Runs one tool call and answers its output; records its latency by tool and outcome
/// (unknown names are counted as `unknown`, so clients cannot grow the label set).
pub async fn call(
    hub: &Hub,
    caller: &mut Caller,
    name: &str,
    raw: Value,
) -> Result<Value, ErrorBody> {
    let started = std::time::Instant::now();
    let tool = ToolName::parse(name);
    let result = match tool {
        Some(tool) => dispatch(hub, caller, tool, raw).await,
        None => Err(ErrorBody::new(
            ErrorCode::UnknownTool,
            format!("no tool named `{name}`"),
        )),
    };
    let outcome = result.as_ref().map_or_else(|e| e.code.as_str(), |_| "ok");
    metrics::histogram!(
        crate::metrics::TOOL_CALL_SECONDS,
        "tool" => tool.map_or("unknown", ToolName::as_str),
        "outcome" => outcome
    )
    .record(started.elapsed().as_secs_f64());
    result
}

async fn dispatch(
    hub: &Hub,
    caller: &mut Caller,
    tool: ToolName,
    raw: Value,
) -> Result<Value, ErrorBody> {
    let mode = caller.session.mode;
    if !tool.allowed_in(mode) {
        let allowed: Vec<&str> = tools_for(mode).map(ToolName::as_str).collect();
        return Err(ErrorBody::new(
            ErrorCode::ToolNotAllowed,
            format!("`{tool}` is not available in mode `{mode}`"),
        )
        .with_details(serde_json::json!({ "mode": mode, "allowed": allowed })));
    }
    match handler(tool) {
        Handler::Query(q) => q.run(hub, caller, raw).await,
        Handler::Change(c) => operations::propose(hub, caller, tool, c, raw).await,
    }
}
