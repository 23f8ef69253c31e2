//! What the process tests share: where Postgres and Redis are, and databases of their own.

/// A database named `name` on the server of `DATABASE_URL`.
pub fn database_url(name: &str) -> String {
    let admin = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    store::with_database(&admin, name)
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Drops a test's database (connections and all).
pub async fn drop_database(name: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&database_url("postgres"))
        .await
        .expect("connect to the admin database");
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .expect("drop the test database");
}
