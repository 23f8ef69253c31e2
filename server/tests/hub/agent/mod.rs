//! The conversational agent's capabilities beyond single changes: rolling back a
//! completed operation (by tool, by approval and over HTTP), each kind of change with
//! its conflict case; suggestions from the read-only modes, applied only when a person
//! approves them; session phases seen by every client; memory kept across sessions
//! and given to drafts and chat replies; a session focused on one todo; recovering an
//! approved operation that failed.

use crate::drafting::{Jobs, job_events, queue_draft, ready_project};
use crate::support::*;
use serde_json::{Value, json};

/// The latest operation of `tool` on `entity_id`, as its row.
async fn operation_of(db: &sqlx::PgPool, tool: &str, entity_id: &str) -> Value {
    sqlx::query_scalar::<_, Value>(
        "SELECT to_jsonb(o) FROM operations o WHERE tool = $1 AND entity_id = $2 \
         ORDER BY created_at DESC, seq DESC LIMIT 1",
    )
    .bind(tool)
    .bind(entity_id)
    .fetch_one(db)
    .await
    .unwrap()
}

async fn operation_row(db: &sqlx::PgPool, id: &str) -> Value {
    row(db, "operations", id).await.expect("the operation row")
}

async fn todo_row(db: &sqlx::PgPool, id: &str) -> Option<Value> {
    row(db, "todos", id).await
}

async fn note_row(db: &sqlx::PgPool, id: &str) -> Option<Value> {
    row(db, "notes", id).await
}

fn id_of(output: &Value, entity: &str) -> String {
    output[entity]["id"].as_str().unwrap().to_owned()
}

fn str_of(value: &Value) -> String {
    value.as_str().unwrap().to_owned()
}

mod focus;
mod memory;
mod phases;
mod recovery;

async fn decide(client: &mut Client, ids: &[&str], decision: &str) -> Value {
    let reply = client
        .request(json!({"type": "operation.decide", "operation_ids": ids, "decision": decision}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    reply["data"].clone()
}

mod rollback;
mod suggestions;
