//! Draftline's storage: every SQL query, one module per aggregate. The hub and the
//! workers both use this crate; nothing else knows SQL.

pub mod chat;
pub mod connections;
pub mod dispatch;
pub mod documents;
pub mod error;
pub mod jobs;
pub mod members;
pub mod memory;
pub mod notes;
pub mod operations;
pub mod outbox;
pub mod projects;
pub mod queue;
pub mod sections;
pub mod sessions;
pub mod todos;
pub mod topics;
pub mod transcript;

pub use error::StoreError;
pub use sqlx::{PgConnection, PgPool, Postgres, Transaction};

/// A connection taken from the pool; derefs to [`PgConnection`].
pub type Conn = sqlx::pool::PoolConnection<Postgres>;

use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// How long taking a connection from the pool may wait. With the server down, sqlx
/// retries a refused connection until this deadline, so it is how long every call
/// waits during a Postgres restart: the "answered within a second or two"
/// (it was 5 s, and calls took 5 s in `faults::postgres_restarted_mid_run_...`). A
/// pool that cannot hand out a connection for this long is overloaded, and answering
/// `unavailable` (which clients retry) sheds that load.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1_500);

/// A handle on the database: a connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    pub pool: PgPool,
}

impl Store {
    /// Connects a pool of at most `max_connections`. Waiting for a connection is bounded
    /// by [`ACQUIRE_TIMEOUT`] so a saturated pool or a server that is down answers
    /// `unavailable` instead of hanging a tool call.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?.application_name("draftline");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // No ping before every acquire: it doubles the round trips of a one-statement
            // call. A broken connection fails its statement and is closed, and the
            // caller's error path (retry, reclaim) covers that one failure.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    /// Creates the database named in `url` when it does not exist yet.
    pub async fn create_database_if_missing(url: &str) -> Result<(), StoreError> {
        if !sqlx::Postgres::database_exists(url).await? {
            sqlx::Postgres::create_database(url).await?;
        }
        Ok(())
    }

    /// Applies the embedded migrations that have not run yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// One round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn acquire(&self) -> Result<Conn, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    pub async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

/// `url` with its database name replaced by `name` (query parameters kept): how tests
/// and the load harness make a database of their own beside the one configured.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    if query.is_empty() {
        format!("{host}/{name}")
    } else {
        format!("{host}/{name}?{query}")
    }
}

/// Reads a text column holding a snake_case enum value.
pub(crate) fn parse_enum<T: serde::de::DeserializeOwned>(
    column: &'static str,
    row: impl std::fmt::Display,
    value: &str,
) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(value.to_owned())).map_err(|_| {
        StoreError::Decode(format!("{column} of row {row}: unexpected value {value:?}"))
    })
}

/// Writes a snake_case enum value for a text column.
pub(crate) fn enum_str<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_names_are_replaced_in_urls() {
        assert_eq!(
            super::with_database("postgres://u:p@h:5432/db?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(super::with_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(super::with_database("postgres://h/", "x"), "postgres://h/x");
    }
}
