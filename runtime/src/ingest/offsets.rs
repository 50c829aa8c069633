//! Consumer positions in Redis, under the original's key (seed §2.3):
//! `kafka.topic.<topic>.partition.<n>.state.last_offset` = last offset whose files are written
//! (`-1` or missing = nothing yet, start from the beginning).
//!
//! New key: `kafka.topic.<topic>.partition.<n>.state.pending_batch` = `"<first>,<last>"`, recorded just
//! before a batch's files are uploaded and removed when its offset is committed. A worker that takes
//! the partition over after a crash reproduces exactly that range, so the replay overwrites the same
//! files instead of writing overlapping ones.
//!
//! Both writes are compare-and-set on `last_offset` (Lua), so a fenced-out worker cannot move a
//! partition backwards or commit over another worker's progress.

use redis::aio::ConnectionManager;
use redis::{RedisResult, Script};

/// `kafka.topic.<topic>.partition.<n>.state.last_offset`
pub fn last_offset_key(topic: &str, partition: i32) -> String {
    format!("kafka.topic.{topic}.partition.{partition}.state.last_offset")
}

/// `kafka.topic.<topic>.partition.<n>.state.pending_batch`
pub fn pending_key(topic: &str, partition: i32) -> String {
    format!("kafka.topic.{topic}.partition.{partition}.state.pending_batch")
}

/// What Redis says about a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Committed {
    /// Last offset written (None = start from the beginning).
    pub last_offset: Option<i64>,
    /// Range of a batch that was being written when its worker stopped.
    pub pending: Option<(i64, i64)>,
}

impl Committed {
    /// Parses the two key values (`GET last_offset`, `GET pending_batch`).
    pub fn from_values(last: Option<String>, pending: Option<String>) -> Self {
        let last_offset = last
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|v| *v >= 0);
        let pending = pending.and_then(|v| {
            let (a, b) = v.split_once(',')?;
            let (a, b) = (a.trim().parse::<i64>().ok()?, b.trim().parse::<i64>().ok()?);
            (a <= b && last_offset.is_none_or(|l| a == l + 1)).then_some((a, b))
        });
        Committed {
            last_offset,
            pending,
        }
    }
}

/// Reads a partition's state with a blocking connection (used inside the rebalance callback).
pub fn read_blocking(
    conn: &mut redis::Connection,
    topic: &str,
    partition: i32,
) -> RedisResult<Committed> {
    let (last, pending): (Option<String>, Option<String>) = redis::cmd("MGET")
        .arg(last_offset_key(topic, partition))
        .arg(pending_key(topic, partition))
        .query(conn)?;
    Ok(Committed::from_values(last, pending))
}

/// Reads a partition's state.
pub async fn read(
    conn: &mut ConnectionManager,
    topic: &str,
    partition: i32,
) -> RedisResult<Committed> {
    let (last, pending): (Option<String>, Option<String>) = redis::cmd("MGET")
        .arg(last_offset_key(topic, partition))
        .arg(pending_key(topic, partition))
        .query_async(conn)
        .await?;
    Ok(Committed::from_values(last, pending))
}

// KEYS[1] = last_offset, KEYS[2] = pending_batch; ARGV[1] = expected last offset (-1 = none).
const CHECK: &str = r"
local cur = redis.call('GET', KEYS[1])
local exp = tonumber(ARGV[1])
local c = -1
if cur then c = tonumber(cur) or -1 end
if c < 0 then c = -1 end
if c ~= exp then return 0 end
";

fn intent_script() -> Script {
    Script::new(&format!(
        "{CHECK}\nredis.call('SET', KEYS[2], ARGV[2])\nreturn 1"
    ))
}

fn commit_script() -> Script {
    Script::new(&format!(
        "{CHECK}\nredis.call('SET', KEYS[1], ARGV[2])\nredis.call('DEL', KEYS[2])\nreturn 1"
    ))
}

/// Records that `(first, last)` is about to be written. `Ok(false)` = `last_offset` is no longer
/// `expected` (another worker moved it): the batch must be dropped.
pub async fn record_intent(
    conn: &mut ConnectionManager,
    topic: &str,
    partition: i32,
    expected: Option<i64>,
    range: (i64, i64),
) -> RedisResult<bool> {
    let ok: i64 = intent_script()
        .key(last_offset_key(topic, partition))
        .key(pending_key(topic, partition))
        .arg(expected.unwrap_or(-1))
        .arg(format!("{},{}", range.0, range.1))
        .invoke_async(conn)
        .await?;
    Ok(ok == 1)
}

/// Sets `last_offset` to `last` if it is still `expected`, and clears the pending range.
pub async fn commit(
    conn: &mut ConnectionManager,
    topic: &str,
    partition: i32,
    expected: Option<i64>,
    last: i64,
) -> RedisResult<bool> {
    let ok: i64 = commit_script()
        .key(last_offset_key(topic, partition))
        .key(pending_key(topic, partition))
        .arg(expected.unwrap_or(-1))
        .arg(last)
        .invoke_async(conn)
        .await?;
    Ok(ok == 1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_original() {
        assert_eq!(
            last_offset_key("lib.server.game", 3),
            "kafka.topic.lib.server.game.partition.3.state.last_offset"
        );
    }

    #[test]
    fn committed_values() {
        let c = |a: Option<&str>, b: Option<&str>| {
            Committed::from_values(a.map(String::from), b.map(String::from))
        };
        assert_eq!(c(None, None), Committed::default());
        assert_eq!(c(Some("-1"), None).last_offset, None);
        assert_eq!(c(Some("1234"), None).last_offset, Some(1234));
        assert_eq!(c(Some("junk"), None).last_offset, None);
        assert_eq!(c(Some("9"), Some("10,19")).pending, Some((10, 19)));
        // Stale: does not start right after the committed offset.
        assert_eq!(c(Some("19"), Some("10,19")).pending, None);
        assert_eq!(c(None, Some("0,4")).pending, Some((0, 4)));
        assert_eq!(c(None, Some("4,0")).pending, None);
    }
}
