//! A Redis key prefix of one test or one load run, so runs share a Redis server without
//! seeing each other's keys; every key under it is deleted at the end (and nothing else:
//! other runs share the server).

use crate::cleanup::block_on_aside;

/// Keys deleted per `DEL`: large enough for few round trips, small enough that Redis
/// (single-threaded) is never busy with one command for long.
const DELETE_BATCH: usize = 1_000;

/// A fresh key prefix, its keys deleted when this value is dropped (or by
/// [`Prefix::clean`]).
#[derive(Debug)]
pub struct Prefix {
    /// `dl:{label}:{32 hex digits}:`.
    pub prefix: String,
    /// The server the keys live on.
    pub redis_url: String,
    cleaned: bool,
}

impl Prefix {
    /// A prefix `dl:{label}:…:` on the server of `REDIS_URL`.
    pub fn new(label: &str) -> Self {
        Self::on(&crate::redis_url(), label)
    }

    /// A prefix `dl:{label}:…:` on the server at `redis_url`.
    pub fn on(redis_url: &str, label: &str) -> Self {
        Self {
            prefix: format!("dl:{label}:{}:", crate::unique()),
            redis_url: redis_url.to_owned(),
            cleaned: false,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.prefix
    }

    /// Deletes every key under the prefix; answers how many there were. The prefix
    /// stays usable (a test simulating lost Redis data calls this mid-run).
    pub async fn delete_keys(&self) -> Result<usize, redis::RedisError> {
        delete_keys(&self.redis_url, &self.prefix).await
    }

    /// Deletes the keys now, answering the error if that fails; dropping the value
    /// afterwards does nothing more.
    pub async fn clean(mut self) -> Result<usize, redis::RedisError> {
        self.cleaned = true;
        delete_keys(&self.redis_url, &self.prefix).await
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.prefix)
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        let (url, prefix) = (self.redis_url.clone(), self.prefix.clone());
        block_on_aside(async move {
            let _ = delete_keys(&url, &prefix).await;
        });
    }
}

async fn delete_keys(url: &str, prefix: &str) -> Result<usize, redis::RedisError> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    // KEYS, not SCAN: a test's prefix holds few keys, and the pattern cannot match
    // another run's keys (the prefix ends in a unique id and a colon).
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await?;
    for chunk in keys.chunks(DELETE_BATCH) {
        redis::cmd("DEL")
            .arg(chunk)
            .query_async::<()>(&mut conn)
            .await?;
    }
    Ok(keys.len())
}
