//! What every test suite and the load harness share, so set-up and clean-up are written
//! once: a fresh database ([`Database`]) and Redis key prefix ([`Prefix`]), both removed
//! when dropped; a client that speaks the protocol over WebSocket ([`Ws`], [`Client`]);
//! and a scripted OpenAI-compatible model server ([`model`]).
//!
//! Test-facing methods panic with a message saying what did not happen in time; the
//! `try_` methods answer a [`ClientError`] instead, for the load harness.

mod cleanup;
pub mod client;
pub mod database;
pub mod model;
pub mod prefix;

pub use client::{Client, ClientError, Closed, Socket, Ws};
pub use database::Database;
pub use prefix::Prefix;

use std::time::Duration;

/// How long a test waits for any one message before failing: generous for a loaded
/// two-core machine, short enough that a hung test says so within the minute.
pub const WAIT: Duration = Duration::from_secs(10);

/// The Postgres server the tests use (`DATABASE_URL`, else the local default); fresh
/// databases are created beside the database it names.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The Redis server the tests use (`REDIS_URL`, else the local default).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A TCP port on 127.0.0.1 that was free a moment ago, for a process the test starts
/// (it binds the port itself, so the test cannot hold it open).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
}

/// A unique name part: 32 hex digits.
fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
