//! A Postgres database of one test or one load run: a unique name on the configured
//! server, migrated with the embedded migrations, dropped `WITH (FORCE)` at the end
//! (connections still open to it are ended).

use crate::cleanup::block_on_aside;
use sqlx::Connection;

/// A database of its own, dropped when this value is dropped (or by [`Database::drop_now`]).
#[derive(Debug)]
pub struct Database {
    /// `dl_{label}_{32 hex digits}`.
    pub name: String,
    /// Its connection URL.
    pub url: String,
    /// The server's `postgres` database, which the drop runs in.
    admin_url: String,
    dropped: bool,
}

impl Database {
    /// A migrated database on the server of `DATABASE_URL`, named `dl_test_…`; panics
    /// saying what failed (is Postgres running?).
    pub async fn create() -> Self {
        Self::try_create(&crate::database_url(), "test")
            .await
            .unwrap_or_else(|e| {
                panic!("create the test database (is Postgres reachable at DATABASE_URL?): {e}")
            })
    }

    /// A migrated database `dl_{label}_…` beside the database `server_url` names.
    pub async fn try_create(server_url: &str, label: &str) -> Result<Self, store::StoreError> {
        let database = Self::reserve_on(server_url, label);
        store::Store::create_database_if_missing(&database.url).await?;
        let store = store::Store::connect(&database.url, 2).await?;
        let migrated = store.migrate().await;
        store.pool.close().await;
        migrated?;
        Ok(database)
    }

    /// A name and URL on the server of `DATABASE_URL` with nothing created yet (for
    /// tests of what creates it, such as `draftline migrate`); still dropped at the end.
    pub fn reserve(label: &str) -> Self {
        Self::reserve_on(&crate::database_url(), label)
    }

    /// [`Database::reserve`] beside the database `server_url` names.
    pub fn reserve_on(server_url: &str, label: &str) -> Self {
        let name = format!("dl_{label}_{}", crate::unique());
        Self {
            url: store::with_database(server_url, &name),
            admin_url: store::with_database(server_url, "postgres"),
            name,
            dropped: false,
        }
    }

    /// Drops the database now, answering the error if that fails (the load harness
    /// reports it); dropping the value afterwards does nothing more.
    pub async fn drop_now(mut self) -> Result<(), sqlx::Error> {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        block_on_aside(async move {
            let _ = drop_database(&admin_url, &name).await;
        });
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    admin.close().await
}

/// Waits until a statement of `pool`'s database waits for a lock of the kind `wait_event`
/// names (`relation` for a table's, `advisory`, `tuple`, ...), one whose text starts
/// with `statement` (`""` for any). Panics saying so if none does within [`crate::WAIT`].
pub async fn until_a_statement_waits(pool: &sqlx::PgPool, wait_event: &str, statement: &str) {
    let deadline = std::time::Instant::now() + crate::WAIT;
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'
               AND wait_event = $1 AND starts_with(query, $2)",
        )
        .bind(wait_event)
        .bind(statement)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("read pg_stat_activity: {e}"));
        if waiting > 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no statement starting `{statement}` came to wait for a {wait_event} lock"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Waits until `pool`'s database has no outbox row left (every committed event is in
/// Redis); panics with the count left if that takes longer than `within`.
pub async fn until_outbox_empty(pool: &sqlx::PgPool, within: std::time::Duration) {
    let deadline = std::time::Instant::now() + within;
    loop {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM event_outbox")
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("count the outbox's rows: {e}"));
        if left == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{left} rows still in the outbox"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
