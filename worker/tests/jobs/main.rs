//! Integration tests of the job runtime against real Postgres and Redis.
// clippy.toml allows unwrap/expect in `#[test]` functions only, not in the helpers a
// test crate is made of; allowed here once for the whole crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
