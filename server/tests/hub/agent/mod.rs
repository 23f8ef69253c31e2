//! The conversational agent's capabilities beyond single changes: rolling back a
//! completed operation (by tool, by approval and over HTTP), each kind of change with
//! its conflict case; suggestions from the read-only modes, applied only when a person
//! approves them; session phases seen by every client; memory kept across sessions
//! and given to drafts and chat replies; a session focused on one todo; recovering an
//! approved operation that failed.

use crate::drafting::{Jobs, job_events, queue_draft, ready_project, subscribe};
use crate::support::*;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

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
    json_rows(
        db,
        "SELECT to_jsonb(o) FROM operations o WHERE id::text = $1",
        id,
    )
    .await
    .pop()
    .expect("the operation row")
}

async fn todo_row(db: &sqlx::PgPool, id: &str) -> Option<Value> {
    json_rows(
        db,
        "SELECT to_jsonb(t) FROM todos t WHERE id::text = $1",
        id,
    )
    .await
    .pop()
}

async fn note_row(db: &sqlx::PgPool, id: &str) -> Option<Value> {
    json_rows(
        db,
        "SELECT to_jsonb(n) FROM notes n WHERE id::text = $1",
        id,
    )
    .await
    .pop()
}

/// A client subscribed to the project's topic.
async fn watcher(server: &TestServer, user: &str, project: &str) -> Client {
    let mut client = server.connect(user).await;
    let reply = client
        .request(json!({"type": "subscribe", "topic": format!("project:{project}")}))
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
    client
}

/// The next event of `kind`, skipping others.
async fn next_event(client: &mut Client, kind: &str) -> Value {
    loop {
        let message = client.ws.recv().await;
        if message["type"] == "event" && message["event"]["kind"] == kind {
            return message["event"].clone();
        }
    }
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
