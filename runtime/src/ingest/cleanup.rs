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

use redis::aio::ConnectionManager;
use redis::RedisResult;

/// What a clean-up pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CleanupStats {
    pub participants: usize,
    pub games: usize,
}

/// Runs the clean-up for every `(game_token, user_token)` in two round trips.
pub async fn clean_games(
    conn: &mut ConnectionManager,
    items: &[(String, String)],
    ttl_secs: i64,
) -> RedisResult<CleanupStats> {
    if items.is_empty() {
        return Ok(CleanupStats::default());
    }
    let mut read = redis::pipe();
    for (g, _) in items {
        read.cmd("GET").arg(format!("games:{g}:host"));
        read.cmd("GET").arg(format!("games:{g}:participants"));
    }
    let values: Vec<Option<String>> = read.query_async(conn).await?;
    let mut write = redis::pipe();
    let mut stats = CleanupStats::default();
    for (i, (g, u)) in items.iter().enumerate() {
        stats.participants += 1;
        write
            .cmd("EXPIRE")
            .arg(format!("games:{g}:superheros:{u}"))
            .arg(ttl_secs)
            .ignore();
        let host = values.get(2 * i).cloned().flatten();
        if host.as_deref() != Some(u.as_str()) {
            continue;
        }
        stats.games += 1;
        for key in ["order", "status", "participants", "host", "superheros"] {
            write
                .cmd("EXPIRE")
                .arg(format!("games:{g}:{key}"))
                .arg(ttl_secs)
                .ignore();
        }
        write
            .cmd("EXPIRE")
            .arg(format!("games:{g}"))
            .arg(ttl_secs)
            .ignore();
        write.cmd("ZREM").arg("games:participants").arg(g).ignore();
        let size = values
            .get(2 * i + 1)
            .cloned()
            .flatten()
            .and_then(|n| n.trim().parse::<u32>().ok());
        let sizes: Vec<u32> = size.map_or_else(|| vec![2, 3], |n| vec![n]);
        for n in sizes {
            write
                .cmd("LREM")
                .arg(format!("games:players:{n}"))
                .arg(0)
                .arg(g)
                .ignore();
        }
        write.cmd("DEL").arg(format!("games:{g}:logs")).ignore();
    }
    write.query_async::<()>(conn).await?;
    Ok(stats)
}
