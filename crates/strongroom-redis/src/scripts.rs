//! The Lua scripts: each touches the keys of one secret only (one hash tag, so one cluster
//! slot) and runs atomically on the server. An empty channel argument means "do not publish
//! here" (on a cluster the sharded channel lives in another slot, so the caller publishes with
//! `SPUBLISH` after the script).

use std::sync::LazyLock;

use redis::Script;

/// Stores an entry, unless the secret's generation moved since the reader looked (a write
/// landed while it read the backend): then nothing is stored and it answers 0.
///
/// KEYS: entry, generation, index. ARGV: value, ttl ms, expected generation (`*` = do not
/// check), variant id (index member), channel, message.
pub(crate) static STORE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local g = redis.call('GET', KEYS[2]) or ''
if ARGV[3] ~= '*' and g ~= ARGV[3] then return 0 end
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('SADD', KEYS[3], ARGV[4])
local left = redis.call('PTTL', KEYS[3])
if left < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return 1
"#,
    )
});

/// Drops every variant of a secret (the ids in its index), the index, and moves its
/// generation to a fresh random value (kept an hour: longer than any backend read).
///
/// KEYS: index, generation. ARGV: new generation, key base (`P S:{T}:`), channel, message.
pub(crate) static INVALIDATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local ids = redis.call('SMEMBERS', KEYS[1])
for _, id in ipairs(ids) do redis.call('UNLINK', ARGV[2] .. 'v:' .. id) end
redis.call('UNLINK', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', 3600000)
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return #ids
"#,
    )
});

/// Before a backend read: an entry filled since this process last saw one (its fill id
/// differs) answers `{2, value, generation}`; a fill that just ended without an entry answers
/// `{3, '', generation}` (read for yourself); else the lease is taken (`{1, '', generation}`)
/// or held by someone else (`{0, '', generation}`). A lease time of 0 only looks.
///
/// KEYS: entry, lease, generation. ARGV: token, lease ms, fill id seen (or ''), nonce offset.
pub(crate) static BEGIN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local g = redis.call('GET', KEYS[3]) or ''
local e = redis.call('GET', KEYS[1])
local at = tonumber(ARGV[4])
if e and string.sub(e, at + 1, at + 12) ~= ARGV[3] then return {2, e, g} end
if redis.call('GET', KEYS[2]) == '!failed' then return {3, '', g} end
if tonumber(ARGV[2]) > 0 and redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, '', g}
end
return {0, '', g}
"#,
    )
});

/// Keeps a lease alive while its holder reads. KEYS: lease. ARGV: token, lease ms.
pub(crate) static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"#,
    )
});

/// Releases a lease (if still ours) and tells the waiters. A fill that ended without an entry
/// leaves `!failed` in its place for a short while, so the waiters (and newcomers) read for
/// themselves instead of queueing for a failing backend one at a time.
///
/// KEYS: lease. ARGV: token, channel, message, failed marker ms (0 = the fill stored an entry).
pub(crate) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local mine = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  mine = 1
  if tonumber(ARGV[4]) > 0 then
    redis.call('SET', KEYS[1], '!failed', 'PX', ARGV[4])
  else
    redis.call('DEL', KEYS[1])
  end
end
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return mine
"#,
    )
});
