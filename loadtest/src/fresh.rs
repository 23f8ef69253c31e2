//! Clean-up shared by the scenarios: each runs in a database and a Redis key prefix of
//! its own, dropped when it ends.

/// Drops `database` (through the server's `postgres` database) and every Redis key
/// under `prefix`.
pub async fn drop_install(
    database_url: &str,
    database: &str,
    redis: &mut impl redis::aio::ConnectionLike,
    prefix: &str,
) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut admin =
        sqlx::PgConnection::connect(&store::with_database(database_url, "postgres")).await?;
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
    ))
    .execute(&mut admin)
    .await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(redis)
        .await?;
    for chunk in keys.chunks(1_000) {
        redis::cmd("DEL")
            .arg(chunk)
            .query_async::<()>(redis)
            .await?;
    }
    Ok(())
}
