//! Integration tests of the job runtime against real Postgres and Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../fake_model/mod.rs"]
mod fake_model;
mod support;

mod chat;
mod cron;
mod draft;
mod drain;
mod enqueue;
mod exactly_once;
mod failures;
mod redis_loss;
mod revision;
mod runtime;
mod transcript_check;
