//! Tenancy: a member's power ends at their own projects, on every path. The attacks
//! that once crossed projects (approval edits naming another project's entity, a
//! viewer's transcript drawn into a draft), a sweep generated from the tool catalogue
//! and the router's route table (a stranger learns nothing, a viewer changes nothing),
//! and the token rules (the secret's length, query-string tokens).

use crate::support::*;
use serde_json::{Value, json};

/// `PUT /v1/projects/{project}/members/{user}` as the owner.
async fn put_member(server: &TestServer, owner: &str, project: &str, user: &str, role: &str) {
    let response = server
        .http
        .put(server.url(&format!("/v1/projects/{project}/members/{user}")))
        .bearer_auth(server.token(owner))
        .json(&json!({ "role": role }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn row(db: &sqlx::PgPool, table: &str, id: &str) -> Option<Value> {
    json_rows(
        db,
        &format!("SELECT to_jsonb(t) FROM {table} t WHERE id::text = $1"),
        id,
    )
    .await
    .pop()
}

/// Alice owns A (a note and a todo); Bob owns B (a note and a todo) and views A. Bob's
/// session works on B in mode `update` with auto-accept off, so his changes wait for his
/// own approval.
struct TwoProjects {
    server: TestServer,
    db: sqlx::PgPool,
    alice: Client,
    bob: Client,
    a: String,
    b: String,
    note_a: String,
    todo_a: String,
    note_b: String,
    todo_b: String,
}

impl TwoProjects {
    async fn new() -> Self {
        let server = TestServer::start().await;
        let db = server.db().await;
        let mut alice = server.connect("alice").await;
        let a = alice.project_in_mode("A", "update").await;
        let note_a = alice
            .call_ok("create_note", json!({"body": "Alice's own words"}))
            .await["note"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let todo_a = alice
            .call_ok("create_todo", json!({"title": "Alice's task"}))
            .await["todo"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        put_member(&server, "alice", &a, "bob", "viewer").await;

        let mut bob = server.connect("bob").await;
        let b = bob.project_in_mode("B", "update").await;
        let note_b = bob
            .call_ok("create_note", json!({"body": "Bob's note"}))
            .await["note"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let todo_b = bob
            .call_ok("create_todo", json!({"title": "Bob's task"}))
            .await["todo"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        bob.configure(json!({"auto_accept": false})).await;
        Self {
            server,
            db,
            alice,
            bob,
            a,
            b,
            note_a,
            todo_a,
            note_b,
            todo_b,
        }
    }

    /// Bob proposes `tool` on his own project, then approves it with `edit`; answers the
    /// reply to `operation.decide` and the operation's id.
    async fn approve_with_edit(&mut self, tool: &str, args: Value, edit: Value) -> (Value, String) {
        let out = self.bob.call_ok(tool, args).await;
        assert_eq!(out["status"], "pending_approval", "{out}");
        let id = out["operation_id"].as_str().unwrap().to_owned();
        let reply = self
            .bob
            .request(json!({
                "type": "operation.decide",
                "operation_ids": [id],
                "decision": "approve",
                "edits": { id.clone(): edit },
            }))
            .await;
        (reply, id)
    }

    /// The decision was refused naming `field`, and the operation still waits.
    async fn assert_refused(&self, reply: &Value, id: &str, field: &str) {
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["code"], "invalid_arguments", "{reply}");
        assert_eq!(
            reply["details"]["field"],
            format!("edits.{id}.{field}"),
            "{reply}"
        );
        let message = reply["message"].as_str().unwrap();
        assert!(!message.contains(&self.a), "A's id leaked: {reply}");
        let operation = row(&self.db, "operations", id).await.unwrap();
        assert_eq!(operation["status"], "pending", "{operation}");
    }
}

#[tokio::test]
async fn an_approval_edit_cannot_move_update_note_to_another_project() {
    let mut t = TwoProjects::new().await;
    let before = row(&t.db, "notes", &t.note_a).await.unwrap();
    let (reply, id) = t
        .approve_with_edit(
            "update_note",
            json!({"note_id": t.note_b, "body": "Bob edits his note"}),
            json!({"note_id": t.note_a, "body": "Overwritten by Bob"}),
        )
        .await;
    t.assert_refused(&reply, &id, "note_id").await;
    assert_eq!(row(&t.db, "notes", &t.note_a).await.unwrap(), before);
}

#[tokio::test]
async fn an_approval_edit_cannot_move_delete_todo_to_another_project() {
    let mut t = TwoProjects::new().await;
    let (reply, id) = t
        .approve_with_edit(
            "delete_todo",
            json!({"todo_id": t.todo_b}),
            json!({"todo_id": t.todo_a}),
        )
        .await;
    t.assert_refused(&reply, &id, "todo_id").await;
    assert!(
        row(&t.db, "todos", &t.todo_a).await.is_some(),
        "A's todo survives"
    );
    assert!(row(&t.db, "todos", &t.todo_b).await.is_some());
}

#[tokio::test]
async fn an_approval_edit_cannot_move_update_todo_to_another_project() {
    let mut t = TwoProjects::new().await;
    let before = row(&t.db, "todos", &t.todo_a).await.unwrap();
    let (reply, id) = t
        .approve_with_edit(
            "update_todo",
            json!({"todo_id": t.todo_b, "title": "Bob's task, renamed"}),
            json!({"todo_id": t.todo_a, "title": "Taken over by Bob"}),
        )
        .await;
    t.assert_refused(&reply, &id, "todo_id").await;
    assert_eq!(row(&t.db, "todos", &t.todo_a).await.unwrap(), before);
}

#[tokio::test]
async fn an_approval_edit_cannot_move_update_todo_status_to_another_project() {
    let mut t = TwoProjects::new().await;
    let before = row(&t.db, "todos", &t.todo_a).await.unwrap();
    let (reply, id) = t
        .approve_with_edit(
            "update_todo_status",
            json!({"todo_id": t.todo_b, "status": "done"}),
            json!({"todo_id": t.todo_a, "status": "blocked"}),
        )
        .await;
    t.assert_refused(&reply, &id, "todo_id").await;
    assert_eq!(row(&t.db, "todos", &t.todo_a).await.unwrap(), before);
}

#[tokio::test]
async fn an_approval_edit_cannot_move_a_creation_to_another_project() {
    let mut t = TwoProjects::new().await;
    let (reply, id) = t
        .approve_with_edit(
            "create_todo",
            json!({"project_id": t.b, "title": "For B"}),
            json!({"project_id": t.a, "title": "Planted in A"}),
        )
        .await;
    t.assert_refused(&reply, &id, "project_id").await;
    let planted = count(
        &t.db,
        "SELECT count(*) FROM todos WHERE project_id::text = $1",
        &t.a,
    )
    .await;
    assert_eq!(planted, 1, "only Alice's own todo is in A");
}

#[tokio::test]
async fn an_approval_edit_cannot_name_another_project_on_any_project_tool() {
    let mut t = TwoProjects::new().await;
    let before = state_of(&t.db, &t.a).await;
    for (tool, args, edit) in [
        (
            "update_project",
            json!({"name": "B renamed"}),
            json!({"project_id": t.a, "name": "A taken"}),
        ),
        (
            "create_note",
            json!({"body": "For B"}),
            json!({"project_id": t.a}),
        ),
        (
            "apply_document_edits",
            json!({"base_version": 0, "markdown": "# B\n"}),
            json!({"project_id": t.a, "markdown": "# A taken\n"}),
        ),
    ] {
        let (reply, id) = t.approve_with_edit(tool, args, edit).await;
        t.assert_refused(&reply, &id, "project_id").await;
    }
    assert_eq!(state_of(&t.db, &t.a).await, before, "A changed");
}

#[tokio::test]
async fn an_approval_edit_within_the_project_still_applies() {
    let mut t = TwoProjects::new().await;
    let (reply, _) = t
        .approve_with_edit(
            "update_note",
            json!({"note_id": t.note_b, "body": "First words"}),
            json!({"body": "Better words"}),
        )
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    assert_eq!(reply["data"]["completed"], 1, "{reply}");
    let note = row(&t.db, "notes", &t.note_b).await.unwrap();
    assert_eq!(note["body"], "Better words");
    // Alice, who never saw B, is unaffected; her project is untouched.
    let note_a = t
        .alice
        .call_err("update_note", json!({"note_id": t.note_b, "body": "x"}))
        .await;
    assert_eq!(note_a["code"], "not_found", "{note_a}");
    let _ = &t.server;
}

#[tokio::test]
async fn a_short_jwt_secret_is_refused_at_start() {
    let config = server::Config::new(
        "postgres://postgres@127.0.0.1:5432/unused".into(),
        redis_url(),
        "test-secret".into(),
    );
    let error = server::connect(config, tokio_util::sync::CancellationToken::new())
        .await
        .expect_err("a short secret is refused")
        .to_string();
    assert!(error.contains("DRAFTLINE_JWT_SECRET"), "{error}");
    assert!(error.contains("at least 32 bytes"), "{error}");
}

#[tokio::test]
async fn a_token_in_the_query_is_taken_only_by_the_websocket_and_sse_routes() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("A", "update").await;
    let token = server.token("alice");
    let get = |path: String| {
        let url = server.url(&path);
        let http = server.http.clone();
        async move { http.get(url).send().await.unwrap() }
    };

    let refused = get(format!(
        "/v1/projects/{project}/document?access_token={token}"
    ))
    .await;
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("access_token:"),
        "{body}"
    );
    // Even beside a valid header: the URL has already leaked it.
    let both = server
        .http
        .get(server.url(&format!(
            "/v1/projects/{project}/members?access_token={token}"
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 401);

    let sse = get(format!(
        "/v1/projects/{project}/events?access_token={token}"
    ))
    .await;
    assert_eq!(sse.status(), 200);
    drop(sse);
    let mut ws = server.raw(&format!("?access_token={token}")).await;
    let welcome = ws
        .request(json!({"type": "hello", "client": {"name": "test", "version": "1"}}))
        .await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
}

/// What a tool's arguments aim at in project A.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Aim {
    /// `project_id`.
    Project,
    Note,
    Todo,
    /// A's draft job.
    Job,
    /// A completed operation of A.
    Operation,
    /// A memory entry of A.
    Memory,
    /// Nothing of A can be named: the tool works on the caller's own data or session.
    Own,
}

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

/// Everything of A a change could touch, to compare before and after the sweep.
async fn state_of(db: &sqlx::PgPool, project: &str) -> Value {
    let mut state = serde_json::Map::new();
    for (name, sql) in [
        (
            "project",
            "SELECT to_jsonb(p) FROM projects p WHERE id::text = $1",
        ),
        (
            "notes",
            "SELECT to_jsonb(n) FROM notes n WHERE project_id::text = $1 ORDER BY id",
        ),
        (
            "todos",
            "SELECT to_jsonb(t) FROM todos t WHERE project_id::text = $1 ORDER BY id",
        ),
        (
            "document",
            "SELECT to_jsonb(d) FROM documents d WHERE project_id::text = $1",
        ),
        (
            "versions",
            "SELECT to_jsonb(v) FROM document_versions v JOIN documents d ON d.id = v.document_id \
             WHERE d.project_id::text = $1 ORDER BY v.version",
        ),
        (
            "pointers",
            "SELECT to_jsonb(p) FROM transcript_pointers p WHERE project_id::text = $1 ORDER BY id",
        ),
        (
            "operations",
            "SELECT to_jsonb(o) FROM operations o WHERE project_id::text = $1 ORDER BY id",
        ),
        (
            "members",
            "SELECT to_jsonb(m) FROM project_members m WHERE project_id::text = $1 ORDER BY user_id",
        ),
        (
            "jobs",
            "SELECT jsonb_build_object('id', id, 'status', status, 'payload', payload) \
             FROM jobs WHERE project_id::text = $1 ORDER BY id",
        ),
        (
            "chat",
            "SELECT to_jsonb(c) FROM chat_messages c WHERE project_id::text = $1 ORDER BY id",
        ),
        (
            "memory",
            "SELECT to_jsonb(m) FROM memory_entries m WHERE project_id::text = $1 ORDER BY id",
        ),
    ] {
        state.insert(name.into(), Value::Array(json_rows(db, sql, project).await));
    }
    Value::Object(state)
}

/// `message` with `id` written as `<id>`, to compare answers about different ids.
fn shape(message: &Value, id: &str) -> String {
    message.to_string().replace(id, "<id>")
}

/// Project A with one of everything, its owner, a viewer and a stranger who owns C.
struct Tenancy {
    server: TestServer,
    db: sqlx::PgPool,
    a: String,
    note: String,
    todo: String,
    job: String,
    pending: String,
    /// A's `create_note`, completed.
    completed: String,
    memory: String,
    alice_session: String,
}

impl Tenancy {
    async fn new() -> Self {
        let server = TestServer::start().await;
        let db = server.db().await;
        let mut alice = server.connect("alice").await;
        let a = alice.project_in_mode("A", "update").await;
        let note = alice
            .call_ok("create_note", json!({"body": "Alice's words"}))
            .await["note"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let todo = alice
            .call_ok("create_todo", json!({"title": "Alice's task"}))
            .await["todo"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        alice
            .call_ok(
                "apply_document_edits",
                json!({"base_version": 0, "markdown": "# Alice\n\nHer story.\n"}),
            )
            .await;
        let memory = alice
            .call_ok("remember", json!({"kind": "fact", "body": "Alice's fact"}))
            .await["entry"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        alice.configure(json!({"mode": "ghostwriting"})).await;
        alice
            .call_ok("record_transcript_pointer", json!({"item_id": "a-1"}))
            .await;
        let job = alice
            .call_ok("queue_draft_update", json!({"urgency": "normal"}))
            .await["job_id"]
            .as_str()
            .unwrap()
            .to_owned();
        alice
            .configure(json!({"mode": "update", "auto_accept": false}))
            .await;
        let pending = alice
            .call_ok("create_todo", json!({"title": "Waiting"}))
            .await;
        assert_eq!(pending["status"], "pending_approval", "{pending}");
        let pending = pending["operation_id"].as_str().unwrap().to_owned();
        put_member(&server, "alice", &a, "bob", "viewer").await;
        let alice_session = alice.session_id();
        let completed = json_rows(
            &db,
            "SELECT to_jsonb(id::text) FROM operations WHERE entity_id = $1",
            &note,
        )
        .await
        .pop()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
        Self {
            server,
            db,
            a,
            note,
            todo,
            job,
            pending,
            completed,
            memory,
            alice_session,
        }
    }

    fn target(&self, aim: Aim) -> &str {
        match aim {
            Aim::Project => &self.a,
            Aim::Note => &self.note,
            Aim::Todo => &self.todo,
            Aim::Job => &self.job,
            Aim::Operation => &self.completed,
            Aim::Memory => &self.memory,
            Aim::Own => "",
        }
    }
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

/// Who the route sweep sends a request as.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Stranger,
    Viewer,
}

/// How a route answers someone outside the project (or only reading it).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Guard {
    /// No token needed and nothing of any project in it.
    Public,
    /// Names A (or something of A) in the path: a stranger gets 404 exactly like for
    /// a missing id; a viewer reads (`writes: false`) or gets 403.
    Scoped { writes: bool },
    /// Admin scope only: 403 for both.
    Admin,
}

/// A route of the router missing here fails the sweep.
fn route_case(method: &str, path: &str) -> Option<Guard> {
    Some(match (method, path) {
        ("GET", "/healthz" | "/readyz" | "/metrics" | "/v1/tools") => Guard::Public,
        // The console's static page and scripts: the same bytes for everyone.
        ("GET", "/console" | "/console/{*path}") => Guard::Public,
        // The upgrade answers no project data; what a WebSocket reaches is the tool
        // sweep's and the subscription tests' to check.
        ("GET", "/v1/ws") => Guard::Public,
        // A peer of one's own (an offer, a hang-up of one's own peer: another user's is
        // 404) and the ICE servers: nothing of any project.
        ("POST", "/v1/rtc/offer")
        | ("DELETE", "/v1/rtc/sessions/{id}")
        | ("GET", "/v1/rtc/config") => Guard::Public,
        ("POST", "/v1/tools/{name}") => Guard::Scoped { writes: true },
        // Creating a session in A is as much as assigning A: a read.
        ("POST", "/v1/sessions") => Guard::Scoped { writes: false },
        ("GET", "/v1/sessions/{id}") => Guard::Scoped { writes: false },
        (
            "GET",
            "/v1/projects/{id}/document"
            | "/v1/projects/{id}/document/versions"
            | "/v1/projects/{id}/document/versions/{version}"
            | "/v1/projects/{id}/events"
            | "/v1/projects/{id}/presence"
            | "/v1/projects/{id}/members"
            | "/v1/projects/{id}/operations"
            | "/v1/projects/{id}/chat",
        ) => Guard::Scoped { writes: false },
        ("PUT" | "DELETE", "/v1/projects/{id}/members/{user_id}") => Guard::Scoped { writes: true },
        ("POST", "/v1/projects/{id}/chat") => Guard::Scoped { writes: true },
        ("GET", "/v1/projects/{id}/memory") => Guard::Scoped { writes: false },
        ("POST", "/v1/projects/{id}/memory") => Guard::Scoped { writes: true },
        // `{memory_id}` is A's entry; `{id}` is checked first.
        ("DELETE", "/v1/projects/{id}/memory/{memory_id}") => Guard::Scoped { writes: true },
        // `{op}` is A's completed operation; `{id}` is checked first.
        ("POST", "/v1/projects/{id}/operations/{op}/rollback") => Guard::Scoped { writes: true },
        ("GET", "/v1/jobs/{id}") => Guard::Scoped { writes: false },
        ("GET", "/v1/admin/jobs" | "/v1/admin/stats") => Guard::Admin,
        ("POST", "/v1/admin/jobs/{id}/retry" | "/v1/admin/jobs/{id}/cancel") => Guard::Admin,
        ("POST", "/v1/admin/queue/drain") => Guard::Admin,
        _ => return None,
    })
}

impl Tenancy {
    /// A session of `user` over HTTP, in mode `update`.
    async fn http_session(&self, user: &str) -> String {
        let response = self
            .server
            .http
            .post(self.server.url("/v1/sessions"))
            .bearer_auth(self.server.token(user))
            .json(&json!({"mode": "update"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let session: Value = response.json().await.unwrap();
        session["id"].as_str().unwrap().to_owned()
    }

    /// Sends `method path` as `user` with the route's placeholders filled in around
    /// `target` (A's id, or the id of A's session or job, or a missing one); answers
    /// the status and the body (empty for a stream).
    async fn send(
        &self,
        user: &str,
        session: &str,
        method: &str,
        path: &str,
        target: &str,
    ) -> (u16, Value) {
        let url = path
            .replace("{id}", target)
            .replace("{version}", "1")
            .replace("{user_id}", "dave")
            .replace("{op}", &self.completed)
            .replace("{memory_id}", &self.memory)
            .replace("{name}", "create_note")
            .replace("{*path}", "app.js");
        let http = &self.server.http;
        let url = self.server.url(&url);
        let request = match method {
            "GET" => http.get(url),
            "POST" => http.post(url),
            "PUT" => http.put(url),
            "DELETE" => http.delete(url),
            other => panic!("no client for {other}"),
        };
        let body = match path {
            "/v1/tools/{name}" => json!({"project_id": target, "body": "Planted"}),
            "/v1/sessions" => json!({"project_id": target}),
            "/v1/projects/{id}/members/{user_id}" => json!({"role": "editor"}),
            "/v1/projects/{id}/chat" => json!({"text": "Planted"}),
            "/v1/projects/{id}/memory" => json!({"kind": "fact", "body": "Planted"}),
            _ => Value::Null,
        };
        let request = if body.is_null() {
            request
        } else {
            request.json(&body)
        };
        let response = request
            .bearer_auth(self.server.token(user))
            .header("x-draftline-session", session)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let is_stream = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/event-stream"));
        if is_stream {
            return (status, Value::Null);
        }
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// The id a route's `{id}` takes for A.
    fn route_target(&self, path: &str) -> &str {
        if path.starts_with("/v1/sessions/") {
            &self.alice_session
        } else if path.starts_with("/v1/jobs/") || path.starts_with("/v1/admin/jobs/") {
            &self.job
        } else {
            &self.a
        }
    }
}

#[tokio::test]
async fn every_route_refuses_a_stranger_and_a_viewer_changes_nothing() {
    let t = Tenancy::new().await;
    let before = state_of(&t.db, &t.a).await;
    let carol_session = t.http_session("carol").await;
    let bob_session = t.http_session("bob").await;

    for &(method, path) in server::http::ROUTES {
        let guard = route_case(method, path)
            .unwrap_or_else(|| panic!("{method} {path} is not covered by the tenancy sweep"));
        let target = t.route_target(path);
        for who in [Who::Stranger, Who::Viewer] {
            let (user, session) = match who {
                Who::Stranger => ("carol", carol_session.as_str()),
                Who::Viewer => ("bob", bob_session.as_str()),
            };
            let (status, body) = t.send(user, session, method, path, target).await;
            let seen = format!("{method} {path} as {who:?}: {status} {body}");
            match guard {
                Guard::Public => {
                    assert!(!body.to_string().contains(&t.a), "{seen}");
                }
                Guard::Admin => {
                    assert_eq!(status, 403, "{seen}");
                    assert_eq!(body["code"], "forbidden", "{seen}");
                }
                Guard::Scoped { .. } if who == Who::Stranger => {
                    let missing = uuid::Uuid::now_v7().to_string();
                    let (control_status, control) =
                        t.send(user, session, method, path, &missing).await;
                    assert_eq!(status, 404, "{seen}");
                    assert_eq!(body["code"], "not_found", "{seen}");
                    assert_eq!(status, control_status, "{seen} vs {control}");
                    assert_eq!(shape(&body, target), shape(&control, &missing), "{seen}");
                    if target != t.a {
                        assert!(!body.to_string().contains(&t.a), "{seen}");
                    }
                }
                Guard::Scoped { writes: true } => {
                    assert_eq!(status, 403, "{seen}");
                    assert_eq!(body["code"], "forbidden", "{seen}");
                }
                Guard::Scoped { writes: false } => {
                    // Bob reads A, but another user's session is still not his.
                    if path == "/v1/sessions/{id}" {
                        assert_eq!(status, 404, "{seen}");
                    } else {
                        assert!(status == 200 || status == 201, "{seen}");
                    }
                }
            }
        }
    }
    assert_eq!(state_of(&t.db, &t.a).await, before, "A changed");
}

#[tokio::test]
async fn a_viewers_transcript_never_reaches_a_draft() {
    use crate::drafting::{Jobs, job_events, queue_draft, ready_project, subscribe};
    let server = TestServer::start().await;
    let _jobs = Jobs::start(&server, |_| {}).await;
    let mut alice = server.connect("alice").await;
    // Alice's transcript has item-1 (pointed at) and item-3; her draft names item-3.
    let project = ready_project(&mut alice).await;
    put_member(&server, "alice", &project, "bob", "viewer").await;

    // Bob may read A, so his session may work on it; he says things under the same
    // item ids, hoping the draft picks them up.
    let mut bob = server.connect("bob").await;
    bob.call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;
    let appended = bob
        .request(json!({"type": "transcript.append", "items": [
            {"item_id": "item-1", "role": "user", "text": "Bob planted this sentence.", "at": "2026-11-22T10:01:00Z"},
            {"item_id": "item-3", "role": "user", "text": "Bob planted this one too.", "at": "2026-11-22T10:01:05Z"},
            {"item_id": "bob-only", "role": "user", "text": "Bob planted a third.", "at": "2026-11-22T10:01:09Z"}
        ]}))
        .await;
    assert_eq!(appended["data"]["appended"], 3, "{appended}");
    // A viewer cannot point at them or ask for a draft himself.
    bob.configure(json!({"mode": "ghostwriting"})).await;
    let e = bob
        .call_err("record_transcript_pointer", json!({"item_id": "bob-only"}))
        .await;
    assert_eq!(e["code"], "forbidden", "{e}");
    let e = bob
        .call_err("queue_draft_update", json!({"urgency": "normal"}))
        .await;
    assert_eq!(e["code"], "forbidden", "{e}");

    subscribe(&mut alice, &project).await;
    let job = queue_draft(
        &mut alice,
        json!({"urgency": "normal", "message_pointers": ["item-3", "bob-only"],
               "transcript_anchors": [{"item_id": "item-1"}]}),
    )
    .await;
    job_events(&mut alice.ws, &job, "completed").await;
    let document = alice.call_ok("get_document", json!({})).await["document"].clone();
    let markdown = document["markdown"].as_str().unwrap();
    assert!(markdown.contains("Mara from the boatyard."), "{markdown}");
    assert!(
        !markdown.contains("Bob planted"),
        "a viewer's words in the draft:\n{markdown}"
    );

    // By pointer, each item comes from its own session, and never from a viewer's.
    let store = store::Store::connect(&server.db.url, 1).await.unwrap();
    let mut conn = store.acquire().await.unwrap();
    let session = |c: &Client| c.session_id().parse::<protocol::SessionId>().unwrap();
    let pointers = [
        (session(&alice), "item-3".to_owned()),
        (session(&bob), "item-1".to_owned()),
        (session(&bob), "bob-only".to_owned()),
    ];
    let items = store::transcript::pointed_items(&mut conn, project.parse().unwrap(), &pointers)
        .await
        .unwrap();
    let texts: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(texts, ["Mara from the boatyard."]);
}
