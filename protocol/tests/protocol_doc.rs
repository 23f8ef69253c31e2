//! Keeps the generated tables of `docs/protocol.md` in step with this crate: the tool
//! catalogue, the mode table, the tools' arguments, message types, event kinds, error
//! and close codes and the blueprint fields are rendered here and compared with the text
//! between `<!-- generated:NAME begin -->` and `<!-- generated:NAME end -->`. A drift
//! fails with the difference; `UPDATE_PROTOCOL_DOC=1 cargo test -p protocol --test
//! protocol_doc` rewrites the blocks instead.
// clippy.toml allows unwrap/expect in `#[test]` functions only, not in the helpers a
// test crate is made of; allowed here once for the whole crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use protocol::blueprint::{BlueprintField, GapPriority};
use protocol::event::Event;
use protocol::tools::{ToolName, tools_for};
use protocol::{ClientMessage, ErrorCode, Mode, ServerMessage, close};
use std::path::PathBuf;

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md")
}

/// A Markdown table cell: `|` would end the cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn code_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items
        .into_iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut out = format!("| {} |\n", header.join(" | "));
    out.push_str(&format!("|{}\n", "---|".repeat(header.len())));
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

fn tools() -> String {
    let rows = ToolName::ALL
        .into_iter()
        .map(|tool| {
            let spec = tool.spec();
            let modes = if spec.modes.len() == Mode::ALL.len() {
                "every mode".to_owned()
            } else {
                code_list(spec.modes.iter().map(|m| m.as_str()))
            };
            vec![
                format!("`{tool}`"),
                if spec.changes { "yes" } else { "no" }.to_owned(),
                modes,
                cell(spec.description),
            ]
        })
        .collect();
    table(&["tool", "changes data", "modes", "description"], rows)
}

fn modes() -> String {
    let rows = Mode::ALL
        .into_iter()
        .map(|mode| {
            vec![
                format!("`{mode}`"),
                code_list(tools_for(mode).map(ToolName::as_str)),
            ]
        })
        .collect();
    table(&["mode", "tools"], rows)
}

/// Required and optional arguments, read from each tool's JSON Schema.
fn tool_arguments() -> String {
    let rows = ToolName::ALL
        .into_iter()
        .map(|tool| {
            let schema = tool.schema();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            let properties: Vec<&str> = schema["properties"]
                .as_object()
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            // `name`, `name: a|b` for a choice, `name: [..]` for a list.
            let shown = |name: &str| {
                let property = &schema["properties"][name];
                let choices: Vec<&str> = property["enum"]
                    .as_array()
                    .map(|e| e.iter().filter_map(|v| v.as_str()).collect())
                    .unwrap_or_default();
                if !choices.is_empty() {
                    format!("{name}: {}", choices.join("|"))
                } else if property["type"] == "array" {
                    format!("{name}: [..]")
                } else {
                    name.to_owned()
                }
            };
            let listed = |names: Vec<&str>| {
                if names.is_empty() {
                    "-".to_owned()
                } else {
                    cell(&code_list(
                        names
                            .iter()
                            .map(|n| shown(n))
                            .collect::<Vec<_>>()
                            .iter()
                            .map(String::as_str),
                    ))
                }
            };
            let optional = properties.iter().filter(|p| !required.contains(p)).copied();
            vec![
                format!("`{tool}`"),
                listed(required.clone()),
                listed(optional.collect()),
            ]
        })
        .collect();
    table(&["tool", "required", "optional"], rows)
}

/// What the document says of each client message type; `None` for one it does not know
/// yet, which fails the test with its name.
fn client_message(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        "hello" => (
            "`id`, `token?`, `client: {name, version}`, `session_id?`",
            "`welcome` (first message only)",
        ),
        "session.configure" => (
            "`id`, `mode?`, `project_id?`, `auto_accept?`",
            "`ok` with `{session}`",
        ),
        "tool.call" => (
            "`id`, `call_id`, `name`, `arguments?` (object or JSON string; default `{}`)",
            "`tool.result`",
        ),
        "transcript.append" => (
            "`id`, `items: [{item_id, role, text, at}]`",
            "`ok` with `{appended}`",
        ),
        "subscribe" => ("`id`, `topic`, `since?: {epoch, offset}`", "`subscribed`"),
        "unsubscribe" => ("`id`, `topic`", "`ok`"),
        "snapshot" => ("`id`, `project_id`", "`snapshot`"),
        "operation.decide" => (
            "`id`, `operation_ids`, `decision: approve|reject`, `edits?`",
            "`ok` with `{batch_id, operations, completed, total, message}`",
        ),
        "chat.send" => (
            "`id`, `project_id`, `text`",
            "`ok` with `{message_id, job_id}`",
        ),
        "ping" => ("`id`", "`pong`"),
        "auth.refresh" => (
            "`id`, `token`",
            "`ok` with `{expires_at}`; `unauthorized` / `forbidden` (section 1.2)",
        ),
        _ => return None,
    })
}

fn server_message(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        "welcome" => (
            "`re`, `protocol`, `session_id`, `connection_id`, `node_id`, `heartbeat_ms`, `limits`, `session`",
            "answers `hello`",
        ),
        "ok" => (
            "`re`, `data?`",
            "answers a request that has no reply of its own",
        ),
        "tool.result" => (
            "`re`, `call_id`, `ok: true, output` or `ok: false, error`",
            "answers `tool.call`",
        ),
        "subscribed" => (
            "`re`, `topic`, `epoch`, `offset`, `recovered`, `publications`",
            "answers `subscribe`",
        ),
        "event" => (
            "`topic`, `epoch`, `offset`, `event: {kind, ...}`",
            "a publication on a subscribed topic",
        ),
        "snapshot" => (
            "`re`, `position`, `project`, `document`, `jobs`, `operations`, `presence`",
            "answers `snapshot`",
        ),
        "pong" => ("`re`", "answers `ping`"),
        "error" => (
            "`re?`, `code`, `message`, `retry_after_ms?`, `details?`",
            "a request failed, or a frame could not be read",
        ),
        _ => return None,
    })
}

fn event_kind(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        "job.status" => (
            "`job_id`, `job_kind`, `project_id`, `status`, `attempt`, `at`",
            "a job of the project is queued, running, retrying, completed, failed",
        ),
        "tool.progress" => (
            "`job_id`, `project_id`, `session_id`, `status`, `summary?`, `error?`, `sections?`, `narration?`",
            "a draft job moves on (also on `session:{id}` of the asking session)",
        ),
        "draft.delta" => (
            "`job_id`, `seq`, `text`",
            "a batch of a draft's streamed text",
        ),
        "document.updated" => (
            "`project_id`, `document_id`, `version`, `summary`, `sections`, `source`, `conflicts?`",
            "a new document version (an edit or a draft)",
        ),
        "operation.created" => (
            "`operation`",
            "an operation is recorded (run, pending or failed)",
        ),
        "operation.updated" => (
            "`operation`",
            "a pending operation is decided, or a completed one rolled back; a failed one also on the proposing `session:{id}`",
        ),
        "project.updated" => (
            "`project`",
            "`create_project`, `update_project`, `sync_blueprint_field`, `commit_blueprint`",
        ),
        "note.created" => ("`note`", "`create_note`, a rolled-back deletion"),
        "note.updated" => ("`note`", "`update_note`, a rolled-back update"),
        "note.deleted" => ("`note` (as it was)", "a rolled-back `create_note`"),
        "memory.created" => ("`entry`", "`remember`, `POST .../memory`"),
        "memory.deleted" => (
            "`entry` (as it was)",
            "`forget_memory`, `DELETE .../memory/{memory_id}`",
        ),
        "todo.created" => ("`todo`", "`create_todo`, a rolled-back deletion"),
        "todo.updated" => (
            "`todo`",
            "`update_todo`, `update_todo_status`, a rolled-back update",
        ),
        "todo.deleted" => (
            "`todo` (as it was)",
            "`delete_todo`, a rolled-back creation",
        ),
        "transcript.pointer" => ("`pointer`", "`record_transcript_pointer`"),
        "session.phase" => (
            "`session_id`, `project_id`, `phase`, `dimensions_covered`, `dimensions_open`",
            "`set_session_phase`, or a filled field covering a dimension (also on `session:{id}`)",
        ),
        "chat.delta" => (
            "`message_id`, `seq`, `text`",
            "a batch of a chat reply's streamed text",
        ),
        "chat.message" => (
            "`message`",
            "a chat message is stored (a person's, or a reply)",
        ),
        "presence.joined" => (
            "`session_id`, `user_id`, `client`",
            "a session becomes present",
        ),
        "presence.left" => (
            "`session_id`, `user_id`, `client`",
            "a session is no longer present",
        ),
        _ => return None,
    })
}

fn error_meaning(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadRequest => {
            "The frame or request is malformed: not JSON, unknown `type`, unknown or missing field, wrong type, bad query or path value."
        }
        ErrorCode::Unauthorized => "No valid token.",
        ErrorCode::Forbidden => {
            "The caller may not do this: a viewer changing a project, another user's session, a non-owner managing members, a non-admin on `/v1/admin/*`."
        }
        ErrorCode::NotFound => {
            "No such thing, or one the caller may not see (a project they are not a member of)."
        }
        ErrorCode::InvalidArguments => {
            "Tool (or chat) arguments break a rule; `details.field` names the field."
        }
        ErrorCode::UnknownTool => "No tool by that name.",
        ErrorCode::ToolNotAllowed => {
            "The tool exists but not in the session's mode; `details: {mode, allowed}`."
        }
        ErrorCode::Conflict => {
            "The state moved on: a stale `base_version`, an operation no longer pending, a job not in a state for the admin action."
        }
        ErrorCode::RateLimited => {
            "Too many messages (with `retry_after_ms`), or too many connections for the user."
        }
        ErrorCode::Unavailable => {
            "Postgres or Redis cannot be reached, or the node is at capacity (with `retry_after_ms`: the request was not run); retry later."
        }
        ErrorCode::Internal => "A bug or unexpected failure; never carries internal detail.",
    }
}

fn errors() -> String {
    let rows = ErrorCode::ALL
        .into_iter()
        .map(|code| {
            vec![
                format!("`{code}`"),
                code.http_status().to_string(),
                cell(error_meaning(code)),
            ]
        })
        .collect();
    table(&["code", "HTTP status", "meaning"], rows)
}

fn close_codes() -> String {
    let rows = close::ALL
        .into_iter()
        .map(|(code, meaning)| vec![code.to_string(), cell(meaning)])
        .collect();
    table(&["close code", "meaning"], rows)
}

fn blueprint_fields() -> String {
    let rows = BlueprintField::ALL
        .into_iter()
        .map(|field| {
            let priority = match field.priority() {
                GapPriority::High => "high",
                GapPriority::Medium => "medium",
                GapPriority::Low => "low",
            };
            vec![
                format!("`{}`", field.as_str()),
                field.title().to_owned(),
                priority.to_owned(),
                cell(field.question()),
            ]
        })
        .collect();
    table(&["field", "title", "gap priority", "question"], rows)
}

/// Renders a message-type table, naming the entries it has no description for.
fn described(
    header: &[&str],
    names: &[&'static str],
    describe: fn(&str) -> Option<(&'static str, &'static str)>,
    missing: &mut Vec<String>,
) -> String {
    let mut rows = Vec::new();
    for name in names {
        match describe(name) {
            Some((fields, when)) => {
                rows.push(vec![format!("`{name}`"), cell(fields), cell(when)]);
            }
            None => missing.push((*name).to_owned()),
        }
    }
    table(header, rows)
}

/// Every generated block: (marker name, its text).
fn blocks() -> Vec<(&'static str, String)> {
    let mut missing = Vec::new();
    let blocks = vec![
        (
            "client-messages",
            described(
                &["type", "fields", "reply"],
                &ClientMessage::TYPES,
                client_message,
                &mut missing,
            ),
        ),
        (
            "server-messages",
            described(
                &["type", "fields", "sent"],
                &ServerMessage::TYPES,
                server_message,
                &mut missing,
            ),
        ),
        ("errors", errors()),
        ("close-codes", close_codes()),
        (
            "events",
            described(
                &["kind", "payload", "published when"],
                &Event::KINDS,
                event_kind,
                &mut missing,
            ),
        ),
        ("modes", modes()),
        ("tools", tools()),
        ("tool-arguments", tool_arguments()),
        ("blueprint-fields", blueprint_fields()),
    ];
    assert!(
        missing.is_empty(),
        "protocol/tests/protocol_doc.rs has no description for {missing:?}: add one, then \
         run UPDATE_PROTOCOL_DOC=1 cargo test -p protocol --test protocol_doc"
    );
    blocks
}

/// `text` with the block `name` replaced by `body`; an error when its markers are
/// missing or out of order.
fn replace_block(text: &str, name: &str, body: &str) -> Result<String, String> {
    let begin = format!("<!-- generated:{name} begin -->");
    let end = format!("<!-- generated:{name} end -->");
    let start = text
        .find(&begin)
        .ok_or_else(|| format!("marker `{begin}` missing"))?
        + begin.len();
    let stop = text[start..]
        .find(&end)
        .map(|i| start + i)
        .ok_or_else(|| format!("marker `{end}` missing after its begin marker"))?;
    Ok(format!("{}\n{body}{}", &text[..start], &text[stop..]))
}

/// The lines that differ between the block in the document and the rendered one.
fn line_diff(name: &str, old: &str, new: &str) -> String {
    let block = |text: &str| -> Vec<String> {
        let begin = format!("<!-- generated:{name} begin -->");
        let end = format!("<!-- generated:{name} end -->");
        let start = text.find(&begin).map_or(0, |i| i + begin.len());
        let stop = text[start..].find(&end).map_or(text.len(), |i| start + i);
        text[start..stop].lines().map(str::to_owned).collect()
    };
    let (old, new) = (block(old), block(new));
    let mut out = String::new();
    for line in old.iter().filter(|l| !new.contains(l)) {
        out.push_str(&format!("  - {line}\n"));
    }
    for line in new.iter().filter(|l| !old.contains(l)) {
        out.push_str(&format!("  + {line}\n"));
    }
    out
}

#[test]
fn generated_tables_match_the_protocol_crate() {
    let path = doc_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut expected = text.clone();
    let mut drifted = Vec::new();
    for (name, body) in blocks() {
        let next = replace_block(&expected, name, &body)
            .unwrap_or_else(|e| panic!("docs/protocol.md, block `{name}`: {e}"));
        if next != expected {
            drifted.push(format!(
                "block `{name}`:\n{}",
                line_diff(name, &expected, &next)
            ));
        }
        expected = next;
    }
    if drifted.is_empty() {
        return;
    }
    if std::env::var_os("UPDATE_PROTOCOL_DOC").is_some_and(|v| v == "1") {
        std::fs::write(&path, expected)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        eprintln!("rewrote the generated tables of {}", path.display());
        return;
    }
    panic!(
        "docs/protocol.md has drifted from the protocol crate ({} block(s); `-` is in the \
         document, `+` is what the crate says):\n\n{}\nRun `UPDATE_PROTOCOL_DOC=1 cargo test -p \
         protocol --test protocol_doc` to rewrite the generated blocks, then review the \
         prose around them.",
        drifted.len(),
        drifted.join("\n")
    );
}

#[test]
fn markers_are_replaced_whole() {
    let text = "a\n<!-- generated:x begin -->\nold\n<!-- generated:x end -->\nb\n";
    assert_eq!(
        replace_block(text, "x", "new\n").unwrap(),
        "a\n<!-- generated:x begin -->\nnew\n<!-- generated:x end -->\nb\n"
    );
    assert!(replace_block(text, "y", "").is_err());
    assert!(replace_block("<!-- generated:x begin -->", "x", "").is_err());
}
