//! The tool catalogue through a real WebSocket client: what each tool answers, what it
//! stores, mode enforcement, argument checking, access by role, and the operation row
//! every auto-accepted change writes.

use crate::support::*;
use serde_json::{Value, json};

/// The session's operations, in order.
async fn operations_of(db: &sqlx::PgPool, session: &str) -> Vec<Value> {
    json_rows(
        db,
        "SELECT to_jsonb(o) FROM operations o WHERE session_id::text = $1 ORDER BY seq",
        session,
    )
    .await
}

async fn project_row(db: &sqlx::PgPool, project: &str) -> Value {
    row(db, "projects", project).await.expect("the project row")
}

fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

mod access;
mod blueprint;
mod checks;
mod documents;
mod notes_todos;
mod operations;
mod projects;
