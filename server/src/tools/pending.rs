//! What proposing and deciding changes share, kept on the tools' side so the
//! operations engine depends on the tools and never the other way round: the events a
//! recorded operation publishes, the change an operation names, JSON merge patches of
//! arguments, and naming an edited argument in an error.

use super::{Handler, handler};
use crate::tools::DynChange;
use protocol::entities::Operation;
use protocol::event::Event;
use protocol::tools::ToolName;
use protocol::{ErrorBody, ErrorCode, ProjectId};
use serde_json::Value;

/// Writes the events of a change into the outbox, in its transaction: the change's own
/// events, then the operation (`operation.created` when it was recorded just now, else
/// `operation.updated`). Answers the project to flush after commit; an operation
/// without a project (a failed `create_project`) has no topic.
pub(crate) async fn announce(
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

pub(crate) fn change_for(op: &Operation) -> Result<&'static dyn DynChange, ErrorBody> {
    match ToolName::parse(&op.tool).map(handler) {
        Some(Handler::Change(change)) => Ok(change),
        _ => Err(ErrorBody::new(
            ErrorCode::Internal,
            format!("operation {} names no changing tool", op.id),
        )),
    }
}

/// Names the field of an edit's error under `edits.{id}`.
pub(crate) fn prefix_field(mut error: ErrorBody, prefix: &str) -> ErrorBody {
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
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
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
