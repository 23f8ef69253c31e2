//! Integration tests of the hub: real Postgres and Redis, a real server on port 0, real
//! WebSocket and HTTP clients. One test binary (modules below) so the suite links once.
// clippy.toml allows unwrap/expect in `#[test]` functions only, not in the helpers a
// test crate is made of; allowed here once for the whole crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod agent;
mod chat;
mod connection;
mod drafting;
mod events;
mod faults;
mod http;
mod jobs;
mod limits;
mod malformed;
mod operations;
mod outbox;
mod private_postgres;
mod revocation;
mod rtc;
mod tenancy;
mod tools;
