//! The Lua that runs inside Redis. Each script does its whole job in one atomic step:
//! numbering an event, appending it to the topic's history and PUBLISHing it cannot
//! interleave with another publisher, so every subscriber sees one order.
//!
//! Keys of a topic (all with the topic's hash tag): `meta` = hash `{epoch, offset, ct}`,
//! `log` = stream of frames with ids `{offset}-0`, `times` = sorted set of
//! `offset` members scored by publish time (one per second at most), the index that
//! lets history be trimmed by age. Presence adds `pres` (hash session → `conn json`)
//! and `pexp` (sorted set session → expiry, unix ms).

/// `ensure(meta, log, times, new_epoch, ttl)`: the topic's epoch, starting a new one
/// (and dropping any leftover history) when the meta hash is gone, and when the age
/// index last took an entry (`ct`, 0 for none), read in the same call.
/// `append(...)`: numbers, stores, trims and publishes one frame. The keys' expiry is
/// renewed with the age index, at most once a second per topic, not with every frame:
/// the idle expiry is hours long, and Redis spends more on each call a script makes
/// than on most of the commands themselves (five calls a frame now, nine before).
const PRELUDE: &str = r#"
local function ensure(meta, log, times, new_epoch, ttl)
  local read = redis.call('HMGET', meta, 'epoch', 'ct')
  local epoch = read[1]
  if not epoch then
    epoch = new_epoch
    redis.call('DEL', log, times)
    redis.call('HSET', meta, 'epoch', epoch, 'offset', 0)
    redis.call('PEXPIRE', meta, ttl)
    return epoch, 0
  end
  return epoch, tonumber(read[2] or '0')
end

local function append(meta, log, times, epoch, last, head, tail, kind, channel, min_events, min_age, ttl)
  local offset = redis.call('HINCRBY', meta, 'offset', 1)
  local frame = head .. '"' .. epoch .. '","offset":' .. offset .. tail
  redis.call('XADD', log, offset .. '-0', 'k', kind, 'f', frame)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if now - last >= 1000 then
    redis.call('ZADD', times, now, offset)
    redis.call('HSET', meta, 'ct', now)
    redis.call('PEXPIRE', meta, ttl)
    redis.call('PEXPIRE', log, ttl)
    redis.call('PEXPIRE', times, ttl)
  end
  if offset % 16 == 0 then
    local cut = redis.call('ZREVRANGEBYSCORE', times, now - min_age, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
    local old = 0
    if cut[1] then
      old = tonumber(cut[1])
      redis.call('ZREMRANGEBYSCORE', times, '-inf', '(' .. cut[2])
    end
    local keep_after = math.min(old, offset - min_events)
    if keep_after > 0 then
      redis.call('XTRIM', log, 'MINID', '~', (keep_after + 1) .. '-0')
    end
  end
  redis.call('PUBLISH', channel, offset .. ' ' .. epoch .. ' ' .. kind .. '\n' .. frame)
  return offset
end
"#;

/// KEYS: meta, log, times. ARGV: new_epoch, head, tail, kind, channel, min_events,
/// min_age_ms, ttl_ms. Returns `{epoch, offset}`.
const PUBLISH: &str = r#"
local epoch, last = ensure(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[8])
local offset = append(KEYS[1], KEYS[2], KEYS[3], epoch, last, ARGV[2], ARGV[3], ARGV[4], ARGV[5],
  tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8])
return {epoch, offset}
"#;

/// KEYS: meta, log, times. ARGV: the eight of PUBLISH, then the outbox field (`ob:{project}`)
/// and the outbox row's id. Publishes like PUBLISH unless the meta hash records that row
/// (or a later one of the same project) as applied already: a row replayed after a crash
/// between publish and delete is skipped, so each row takes one position. Returns
/// `{epoch, offset, published}`.
const PUBLISH_ONCE: &str = r#"
local applied = tonumber(redis.call('HGET', KEYS[1], ARGV[9]) or '0')
local id = tonumber(ARGV[10])
if applied >= id then
  return {redis.call('HGET', KEYS[1], 'epoch'), tonumber(redis.call('HGET', KEYS[1], 'offset')), 0}
end
local epoch, last = ensure(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[8])
local offset = append(KEYS[1], KEYS[2], KEYS[3], epoch, last, ARGV[2], ARGV[3], ARGV[4], ARGV[5],
  tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8])
redis.call('HSET', KEYS[1], ARGV[9], ARGV[10])
return {epoch, offset, 1}
"#;

/// KEYS: meta, log, times. ARGV: new_epoch, ttl_ms. Returns `{epoch, offset}`.
const POSITION: &str = r#"
local epoch = ensure(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])
return {epoch, tonumber(redis.call('HGET', KEYS[1], 'offset'))}
"#;

/// KEYS: meta, log, times. ARGV: new_epoch, ttl_ms, since_epoch, since_offset, max.
/// Returns `{epoch, top, recovered, kind1, frame1, kind2, frame2, ...}`: every event
/// after `since_offset` when the epoch matches and the history holds all of them
/// (and there are at most `max`), else `recovered = 0` and no events.
const SINCE: &str = r#"
local epoch = ensure(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])
local top = tonumber(redis.call('HGET', KEYS[1], 'offset'))
local since = tonumber(ARGV[4])
if ARGV[3] ~= epoch or since > top or top - since > tonumber(ARGV[5]) then
  return {epoch, top, 0}
end
if since == top then
  return {epoch, top, 1}
end
local entries = redis.call('XRANGE', KEYS[2], (since + 1) .. '-0', '+', 'COUNT', top - since)
if #entries ~= top - since or entries[1][1] ~= (since + 1) .. '-0' then
  return {epoch, top, 0}
end
local out = {epoch, top, 1}
for _, e in ipairs(entries) do
  out[#out + 1] = e[2][2]
  out[#out + 1] = e[2][4]
end
return out
"#;

/// KEYS: meta, log, times, pres, pexp. ARGV: the eight of PUBLISH (for
/// `presence.joined`), session, `conn json`, expires_at_ms. Records the session as
/// present until `expires_at`; publishes `presence.joined` only when it was not
/// present. Returns 1 when it published.
const JOIN: &str = r#"
local ttl = ARGV[8]
local existed = redis.call('HEXISTS', KEYS[4], ARGV[9])
redis.call('HSET', KEYS[4], ARGV[9], ARGV[10])
redis.call('ZADD', KEYS[5], ARGV[11], ARGV[9])
redis.call('PEXPIRE', KEYS[4], ttl)
redis.call('PEXPIRE', KEYS[5], ttl)
if existed == 1 then
  return 0
end
local epoch, last = ensure(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ttl)
append(KEYS[1], KEYS[2], KEYS[3], epoch, last, ARGV[2], ARGV[3], ARGV[4], ARGV[5],
  tonumber(ARGV[6]), tonumber(ARGV[7]), ttl)
return 1
"#;

/// KEYS: as JOIN. ARGV: the eight of PUBLISH (for `presence.left`), session, conn.
/// Removes the session when `conn` still holds it (a session that moved to another
/// connection stays) and publishes `presence.left`. Returns 1 when it published.
const LEAVE: &str = r#"
local v = redis.call('HGET', KEYS[4], ARGV[9])
if not v or string.match(v, '^(%S+) ') ~= ARGV[10] then
  return 0
end
redis.call('HDEL', KEYS[4], ARGV[9])
redis.call('ZREM', KEYS[5], ARGV[9])
local epoch, last = ensure(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[8])
append(KEYS[1], KEYS[2], KEYS[3], epoch, last, ARGV[2], ARGV[3], ARGV[4], ARGV[5],
  tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8])
return 1
"#;

/// KEYS: as JOIN. ARGV: new_epoch, head, channel, min_events, min_age_ms, ttl_ms,
/// now_ms. Removes every session whose expiry has passed (its node died without
/// saying goodbye) and publishes `presence.left` for each: the stored presence JSON
/// is the event's body. Returns the number removed.
const SWEEP: &str = r#"
local gone = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', ARGV[7])
local n = 0
for _, s in ipairs(gone) do
  local v = redis.call('HGET', KEYS[4], s)
  redis.call('ZREM', KEYS[5], s)
  if v then
    redis.call('HDEL', KEYS[4], s)
    local json = string.match(v, '^%S+ (.*)$')
    if json then
      local tail = ',"event":{"kind":"presence.left",' .. string.sub(json, 2) .. '}'
      local epoch, last = ensure(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[6])
      append(KEYS[1], KEYS[2], KEYS[3], epoch, last, ARGV[2], tail, 'presence.left', ARGV[3],
        tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6])
      n = n + 1
    end
  end
end
return n
"#;

fn with_prelude(body: &str) -> redis::Script {
    redis::Script::new(&format!("{PRELUDE}\n{body}"))
}

/// The scripts, loaded once per process (Redis caches them by hash; `Script`
/// re-sends the source when a restarted Redis has forgotten it).
pub(crate) struct Scripts {
    pub publish: redis::Script,
    pub publish_once: redis::Script,
    pub position: redis::Script,
    pub since: redis::Script,
    pub join: redis::Script,
    pub leave: redis::Script,
    pub sweep: redis::Script,
}

pub(crate) static SCRIPTS: std::sync::LazyLock<Scripts> = std::sync::LazyLock::new(|| Scripts {
    publish: with_prelude(PUBLISH),
    publish_once: with_prelude(PUBLISH_ONCE),
    position: with_prelude(POSITION),
    since: with_prelude(SINCE),
    join: with_prelude(JOIN),
    leave: with_prelude(LEAVE),
    sweep: with_prelude(SWEEP),
});
