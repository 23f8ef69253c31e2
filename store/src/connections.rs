//! The Redis side of the per-user connection limit across nodes: one hash per user,
//! `{prefix}conns:{user}`, with a field per node holding `count:expires_ms`. A node
//! takes a place with one script (sweep the entries of dead nodes, sum, add its own),
//! gives it back on close, and refreshes its entries while it lives, so a node that dies
//! without a goodbye stops counting once its entries expire.

use redis::aio::ConnectionManager;
use std::sync::LazyLock;
use std::time::Duration;

/// Shared by the scripts: Redis' own clock in milliseconds (one clock for every node,
/// whatever their skew).
const NOW: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"#;

/// `acquire(hash; node, max, ttl_ms)` → `{taken, total}`: drops expired entries of
/// other nodes, then takes one place for `node` unless the user's live total is at
/// `max` already. `total` counts the taken place.
const ACQUIRE: &str = r#"
local total = 0
local mine = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local count, expires = string.match(all[i + 1], '^(%d+):(%d+)$')
  if all[i] == ARGV[1] then
    mine = tonumber(count or '0')
    total = total + mine
  elseif count == nil or tonumber(expires) < now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    total = total + tonumber(count)
  end
end
if total >= tonumber(ARGV[2]) then
  return {0, total}
end
redis.call('HSET', KEYS[1], ARGV[1], (mine + 1) .. ':' .. (now + tonumber(ARGV[3])))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, total + 1}
"#;

/// `set(hash; node, count, ttl_ms)`: this node's entry is `count` (its own tally, the
/// truth for its field) for another `ttl_ms`; zero removes it. Used on release and on
/// every refresh.
const SET: &str = r#"
if tonumber(ARGV[2]) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (now + tonumber(ARGV[3])))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"#;

struct Scripts {
    acquire: redis::Script,
    set: redis::Script,
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    acquire: redis::Script::new(&format!("{NOW}{ACQUIRE}")),
    set: redis::Script::new(&format!("{NOW}{SET}")),
});

/// One user's connections counted over every node. Cheap to clone.
#[derive(Clone)]
pub struct ConnectionCounts {
    redis: ConnectionManager,
    prefix: String,
    node: String,
    ttl: Duration,
}

impl std::fmt::Debug for ConnectionCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionCounts")
            .field("prefix", &self.prefix)
            .field("node", &self.node)
            .field("ttl", &self.ttl)
            .finish()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl ConnectionCounts {
    /// Counts for `node`; its entries live `ttl` past each refresh.
    pub fn new(
        redis: ConnectionManager,
        prefix: impl Into<String>,
        node: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        Self {
            redis,
            prefix: prefix.into(),
            node: node.into(),
            ttl,
        }
    }

    /// How long a node's share lives without a refresh.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn key(&self, user: &str) -> String {
        format!("{}conns:{user}", self.prefix)
    }

    /// Takes a place for one more connection of `user` unless they have `max` open
    /// over all live nodes; answers whether it was taken and the total.
    pub async fn acquire(&self, user: &str, max: usize) -> Result<(bool, u64), redis::RedisError> {
        let (taken, total): (i64, u64) = SCRIPTS
            .acquire
            .key(self.key(user))
            .arg(&self.node)
            .arg(max)
            .arg(millis(self.ttl))
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok((taken == 1, total))
    }

    /// Sets this node's entry for `user` to `count` (its local tally), pushing its
    /// expiry forward; zero removes it.
    pub async fn set(&self, user: &str, count: usize) -> Result<(), redis::RedisError> {
        let _: i64 = SCRIPTS
            .set
            .key(self.key(user))
            .arg(&self.node)
            .arg(count)
            .arg(millis(self.ttl))
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }
}
