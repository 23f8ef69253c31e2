//! The sweep over the tool catalogue: a stranger learns nothing of project A through
//! any tool, and a viewer changes nothing.

use super::*;

/// A tool's arguments built around the id of what they aim at.
type ArgsAround = fn(&str) -> Value;

/// How the sweep calls a tool: what it aims at, its arguments around the target id, and
/// whether it writes to the caller's project (so a viewer must be refused;
/// `create_project` writes only a new project of the caller's own). A tool of the
/// catalogue missing here fails the sweep.
fn tool_case(name: &str) -> Option<(Aim, bool, ArgsAround)> {
    Some(match name {
        "list_projects" => (Aim::Own, false, |_| json!({})),
        "create_project" => (Aim::Own, false, |_| json!({"name": "Mine"})),
        "assign_project_to_session" => (Aim::Project, false, |t| json!({"project_id": t})),
        "get_project" => (Aim::Project, false, |t| json!({"project_id": t})),
        "update_project" => (
            Aim::Project,
            true,
            |t| json!({"project_id": t, "name": "Taken"}),
        ),
        "sync_blueprint_field" => (
            Aim::Project,
            true,
            |t| json!({"project_id": t, "field": "summary", "value": "Planted"}),
        ),
        "get_blueprint_gaps" => (Aim::Project, false, |t| json!({"project_id": t})),
        "commit_blueprint" => (Aim::Project, true, |t| json!({"project_id": t})),
        "create_note" => (
            Aim::Project,
            true,
            |t| json!({"project_id": t, "body": "Planted"}),
        ),
        "update_note" => (Aim::Note, true, |t| json!({"note_id": t, "body": "Taken"})),
        "list_notes" => (Aim::Project, false, |t| json!({"project_id": t})),
        "create_todo" => (
            Aim::Project,
            true,
            |t| json!({"project_id": t, "title": "Planted"}),
        ),
        "update_todo" => (Aim::Todo, true, |t| json!({"todo_id": t, "title": "Taken"})),
        "update_todo_status" => (
            Aim::Todo,
            true,
            |t| json!({"todo_id": t, "status": "blocked"}),
        ),
        "delete_todo" => (Aim::Todo, true, |t| json!({"todo_id": t})),
        "list_todos" => (Aim::Project, false, |t| json!({"project_id": t})),
        // Works on the session's project only: a stranger's session never holds A (the
        // sweep checks that assigning it fails), so this records in the stranger's own.
        "record_transcript_pointer" => (Aim::Own, true, |_| json!({"item_id": "i-1"})),
        "get_document" => (Aim::Project, false, |t| json!({"project_id": t})),
        "apply_document_edits" => (
            Aim::Project,
            true,
            |t| json!({"project_id": t, "base_version": 1, "markdown": "# Taken\n"}),
        ),
        "queue_draft_update" => (
            Aim::Project,
            true,
            |t| json!({"project_id": t, "urgency": "normal"}),
        ),
        // With its own project, the caller names A's draft job.
        "get_draft_status" => (Aim::Job, false, |t| json!({"job_id": t})),
        "rollback_operation" => (Aim::Operation, true, |t| json!({"operation_id": t})),
        // Only the caller's own session (published on its own project's topic).
        "get_session_phase" => (Aim::Own, false, |_| json!({})),
        "set_session_phase" => (Aim::Own, false, |_| json!({"phase": "clarifying"})),
        // Changes only the caller's session; a viewer may focus on a todo they can read.
        "focus_todo" => (Aim::Todo, false, |t| json!({"todo_id": t})),
        // A's completed operation: a stranger finds nothing, a viewer may not propose.
        "propose_recovery" => (Aim::Operation, true, |t| json!({"operation_id": t})),
        "remember" => (
            Aim::Project,
            true,
            |t| json!({"project_id": t, "kind": "fact", "body": "Planted"}),
        ),
        "list_memory" => (Aim::Project, false, |t| json!({"project_id": t})),
        "forget_memory" => (Aim::Memory, true, |t| json!({"memory_id": t})),
        // Records pending operations in the project: a write, though nothing applies.
        "suggest_operations" => (
            Aim::Project,
            true,
            |t| json!({"project_id": t, "operations": [{"tool": "create_note", "arguments": {"body": "Planted"}}]}),
        ),
        _ => return None,
    })
}

#[tokio::test]
async fn every_tool_refuses_a_stranger_and_a_viewer_changes_nothing() {
    let t = Tenancy::new().await;
    let before = state_of(&t.db, &t.a).await;

    let mut carol = t.server.connect("carol").await;
    carol.project_in_mode("C", "update").await;
    let mut bob = t.server.connect("bob").await;
    bob.call_ok("assign_project_to_session", json!({"project_id": t.a}))
        .await;

    for tool in protocol::tools::ToolName::ALL {
        let name = tool.as_str();
        let (aim, writes, args) = tool_case(name)
            .unwrap_or_else(|| panic!("`{name}` is not covered by the tenancy sweep"));
        let mode = tool.spec().modes[0].to_string();
        carol.configure(json!({"mode": mode})).await;
        bob.configure(json!({"mode": mode})).await;

        // The stranger: A's entity answers exactly as one that does not exist.
        let target = t.target(aim);
        let reply = carol.call(name, args(target)).await;
        if aim == Aim::Own {
            assert!(
                !reply.to_string().contains(&t.a),
                "{name} leaked A: {reply}"
            );
        } else {
            let missing = uuid::Uuid::now_v7().to_string();
            let control = carol.call(name, args(&missing)).await;
            assert_eq!(reply["ok"], false, "{name} let a stranger in: {reply}");
            assert_eq!(reply["error"]["code"], "not_found", "{name}: {reply}");
            assert_eq!(
                shape(&reply["error"], target),
                shape(&control["error"], &missing),
                "{name}: A's {aim:?} answers unlike a missing one"
            );
            if aim != Aim::Project {
                assert!(
                    !reply.to_string().contains(&t.a),
                    "{name} leaked A: {reply}"
                );
            }
        }

        // The viewer reads but changes nothing.
        let reply = bob.call(name, args(target)).await;
        if writes {
            assert_eq!(reply["ok"], false, "{name} let a viewer write: {reply}");
            assert_eq!(reply["error"]["code"], "forbidden", "{name}: {reply}");
        } else {
            assert_eq!(reply["ok"], true, "{name} refused a viewer a read: {reply}");
        }
        // A stays assigned to the viewer's session for the next tool.
        bob.call_ok("assign_project_to_session", json!({"project_id": t.a}))
            .await;
    }
    // Nor decide A's pending operation: it answers as a missing one.
    let decide =
        |id: &str| json!({"type": "operation.decide", "operation_ids": [id], "decision": "reject"});
    let error = |v: &Value| json!({"code": v["code"], "message": v["message"]});
    let missing = uuid::Uuid::now_v7().to_string();
    let reply = carol.request(decide(&t.pending)).await;
    let control = carol.request(decide(&missing)).await;
    assert_eq!(reply["code"], "not_found", "{reply}");
    assert_eq!(
        shape(&error(&reply), &t.pending),
        shape(&error(&control), &missing)
    );
    let reply = bob.request(decide(&t.pending)).await;
    assert_eq!(reply["code"], "forbidden", "{reply}");
    // A stranger cannot put A into a session either way.
    let reply = carol
        .request(json!({"type": "session.configure", "project_id": t.a}))
        .await;
    assert_eq!(reply["code"], "not_found", "{reply}");
    assert_eq!(state_of(&t.db, &t.a).await, before, "A changed");
}
