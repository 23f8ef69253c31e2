//! Tenancy: a member's power ends at their own projects, on every path. The attacks
//! that once crossed projects (approval edits naming another project's entity, a
//! viewer's transcript drawn into a draft), a sweep generated from the tool catalogue
//! and the router's route table (a stranger learns nothing, a viewer changes nothing),
//! and the token rules (the secret's length, query-string tokens). One module per
//! family; this one holds what they share: members, rows, the state of project A, and
//! `Tenancy`, project A with one of everything and the people around it.

use crate::support::*;
use serde_json::{Value, json};

mod drafts;
mod edits;
mod routes;
mod tokens;
mod tools;

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
