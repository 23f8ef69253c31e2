//! Integration tests of the job runtime against real Postgres and Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod runtime;
