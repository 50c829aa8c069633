//! The Redis clean-up the original meant to run for each `Cleaning Game Records` message
//! (seed §2.8), with its bugs fixed: lowercase task keys, `games:players:<n>` (not
//! `games:participants:<n>`), and a well-formed `LREM`. Every step is idempotent (EXPIRE, ZREM, LREM,
//! DEL), so replaying a batch is harmless. Beyond the original it also expires the `games:<g>` and
//! `games:<g>:superheros` sets, which nothing else ever removes.
//!
//! Per `(g, u)`:
//! ```text
//! EXPIRE games:<g>:superheros:<u> <ttl>
//! if GET games:<g>:host == <u>:
//!     EXPIRE games:<g>:order games:<g>:status games:<g>:participants games:<g>:host
//!            games:<g> games:<g>:superheros <ttl>
//!     ZREM games:participants <g>
//!     LREM games:players:<n> 0 <g>     (n = GET games:<g>:participants; 2 and 3 when unknown)
//!     DEL games:<g>:logs
//! ```
//!
//! The whole batch's clean-up is one script call (`EVALSHA`, loaded on first use): as a pipeline of
//! separate commands it cost the worker more CPU than any other step but the encoding (about 0.6
//! Redis commands per message, each encoded and its reply parsed by the client; bench numbers in
//! runtime/docs/ingest-performance.md). Each pair is read and cleaned in turn inside the script; a
//! command Redis refuses is skipped and reported after the others ran. The
//! script builds its key names from the tokens, so it needs a single Redis node (as the original's),
//! not a Redis Cluster.

use redis::aio::ConnectionManager;
use redis::{ErrorKind, RedisError, RedisResult, Script};
use std::sync::LazyLock;

/// What a clean-up pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CleanupStats {
    pub participants: usize,
    pub games: usize,
}

/// ARGV[1] = TTL, then `game_token, user_token` pairs. Returns how many pairs were their game's
/// host, and the first error Redis reported (`""` if none): a failing command (a key of the wrong
/// type) is skipped and the script goes on, so one bad key does not stop the batch's other
/// clean-ups (as in a pipeline). A pair whose host cannot be read gets only its own key expired.
/// `games:<g>:participants` counts as known when it is a `u32` written in decimal (as the simulator
/// writes it), with optional ASCII spaces and `+`.
const CLEAN: &str = r"
local first_error = ''
local function call(...)
  local r = redis.pcall(...)
  if type(r) == 'table' and r.err then
    if first_error == '' then first_error = r.err end
    return nil
  end
  return r
end
local ttl = ARGV[1]
local games = 0
for i = 2, #ARGV - 1, 2 do
  local g, u = ARGV[i], ARGV[i + 1]
  local game = 'games:' .. g
  local host = call('GET', game .. ':host')
  local size = call('GET', game .. ':participants')
  call('EXPIRE', game .. ':superheros:' .. u, ttl)
  if host == u then
    games = games + 1
    for _, key in ipairs({'order', 'status', 'participants', 'host', 'superheros'}) do
      call('EXPIRE', game .. ':' .. key, ttl)
    end
    call('EXPIRE', game, ttl)
    call('ZREM', 'games:participants', g)
    local sizes = {2, 3}
    local digits = size and string.match(size, '^%s*%+?(%d+)%s*$')
    local n = digits and tonumber(digits)
    if n and n <= 4294967295 then sizes = {n} end
    for _, n in ipairs(sizes) do
      call('LREM', 'games:players:' .. string.format('%d', n), 0, g)
    end
    call('DEL', game .. ':logs')
  end
end
return {games, first_error}
";

static CLEAN_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(CLEAN));

/// Runs the clean-up for every `(game_token, user_token)` in one script call. An error Redis
/// reported for some key comes back as this call's error, after every other pair was cleaned.
pub async fn clean_games(
    conn: &mut ConnectionManager,
    items: &[(String, String)],
    ttl_secs: i64,
) -> RedisResult<CleanupStats> {
    if items.is_empty() {
        return Ok(CleanupStats::default());
    }
    let mut call = CLEAN_SCRIPT.prepare_invoke();
    call.arg(ttl_secs);
    for (g, u) in items {
        call.arg(g).arg(u);
    }
    let (games, error): (usize, String) = call.invoke_async(conn).await?;
    if !error.is_empty() {
        return Err(RedisError::from((
            ErrorKind::ResponseError,
            "the clean-up skipped a command Redis refused (the batch's other clean-ups were done)",
            error,
        )));
    }
    Ok(CleanupStats {
        participants: items.len(),
        games,
    })
}
