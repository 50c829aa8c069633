//! Per topic-partition batching: a pure state machine (time is passed in).
//!
//! A partition's open batch closes when it holds `max_messages` messages, or when its oldest message
//! has waited `max_age`, or at shutdown. A *forced range* (a batch a previous run started to write but
//! did not commit, read back from Redis) overrides both: the batch closes exactly at its recorded last
//! offset, so a replay rewrites the same files instead of writing overlapping ones.

use crate::ingest::layout::Batch;
use crate::ingest::records::RawMessage;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Most messages a new batch makes room for before its first message.
const MAX_PRESIZED: usize = 10_000;

/// A topic-partition.
pub type Tp = (Arc<str>, i32);

/// A map keyed by topic-partition, hashed by [`TpHasher`].
pub type TpMap<V> = HashMap<Tp, V, BuildHasherDefault<TpHasher>>;

/// Hashes a topic-partition with one multiply per eight bytes. The keys are the broker's
/// assignments, not input anyone picks to collide, and std's SipHash of the topic name cost more per
/// message than the rest of the batching.
#[derive(Default)]
pub struct TpHasher(u64);

impl TpHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for TpHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
    }
    #[inline]
    fn write_u8(&mut self, b: u8) {
        self.mix(u64::from(b));
    }
    #[inline]
    fn write_i32(&mut self, n: i32) {
        self.mix(u64::from(n as u32));
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// When to close a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_messages: usize,
    pub max_age: Duration,
}

#[derive(Debug)]
struct Open {
    messages: Vec<RawMessage>,
    opened_at: Instant,
}

#[derive(Debug, Default)]
struct Part {
    open: Option<Open>,
    /// `(first, last)` of an uncommitted batch of a previous run.
    forced: Option<(i64, i64)>,
    /// Highest offset accepted so far (drops re-deliveries).
    last_seen: Option<i64>,
}

/// What pushing a message did.
#[derive(Debug, PartialEq)]
pub enum Pushed {
    Buffered,
    /// The partition is not assigned to this worker (stale message): dropped.
    NotAssigned,
    /// Offset at or below one already seen: dropped.
    Duplicate,
}

/// The batching state of every assigned partition.
#[derive(Debug)]
pub struct Batcher {
    limits: Limits,
    parts: TpMap<Part>,
}

impl Batcher {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            parts: TpMap::default(),
        }
    }

    /// A partition was assigned. Any in-memory state for it is dropped (the consumer restarts it from
    /// the committed offset). `forced` is the range of an uncommitted batch to reproduce.
    pub fn assign(&mut self, tp: Tp, forced: Option<(i64, i64)>) {
        self.parts.insert(
            tp,
            Part {
                forced,
                ..Part::default()
            },
        );
    }

    /// A partition was revoked: its unflushed messages are dropped (its next owner re-reads them).
    pub fn revoke(&mut self, tp: &Tp) {
        self.parts.remove(tp);
    }

    pub fn is_assigned(&self, tp: &Tp) -> bool {
        self.parts.contains_key(tp)
    }

    pub fn assigned(&self) -> Vec<Tp> {
        self.parts.keys().cloned().collect()
    }

    /// Buffered message count over all partitions.
    pub fn buffered(&self) -> usize {
        self.parts
            .values()
            .filter_map(|p| p.open.as_ref())
            .map(|o| o.messages.len())
            .sum()
    }

    /// Adds a message. Returns batches that closed (at most two: a forced range the message jumped
    /// past, and the batch the message filled).
    pub fn push(&mut self, msg: RawMessage, now: Instant) -> (Pushed, Vec<Batch>) {
        let tp: Tp = (msg.topic.clone(), msg.partition);
        let limits = self.limits;
        let Some(part) = self.parts.get_mut(&tp) else {
            return (Pushed::NotAssigned, vec![]);
        };
        if part.last_seen.is_some_and(|seen| msg.offset <= seen) {
            return (Pushed::Duplicate, vec![]);
        }
        part.last_seen = Some(msg.offset);
        let mut closed = Vec::new();
        if let Some((first, last)) = part.forced {
            match &part.open {
                // The recorded range must start where we start; otherwise it is stale.
                None if msg.offset != first => part.forced = None,
                Some(_) if msg.offset > last => {
                    // Offsets jumped past the recorded end (e.g. compaction): close what we have.
                    part.forced = None;
                    closed.extend(take(&tp, part));
                }
                _ => {}
            }
        }
        let open = part.open.get_or_insert_with(|| Open {
            // Room for a full batch up front (a forced range may hold more): growing by doubling
            // moved every message of the batch about twice.
            messages: Vec::with_capacity(limits.max_messages.min(MAX_PRESIZED)),
            opened_at: now,
        });
        open.messages.push(msg);
        let full = match part.forced {
            Some((_, last)) => open.messages.last().is_some_and(|m| m.offset >= last),
            None => open.messages.len() >= limits.max_messages,
        };
        if full {
            part.forced = None;
            closed.extend(take(&tp, part));
        }
        (Pushed::Buffered, closed)
    }

    /// Batches whose oldest message has waited `max_age` (never a forced range).
    pub fn due(&mut self, now: Instant) -> Vec<Batch> {
        let max_age = self.limits.max_age;
        let mut out = Vec::new();
        for (tp, part) in self.parts.iter_mut() {
            let expired = part
                .open
                .as_ref()
                .is_some_and(|o| now.duration_since(o.opened_at) >= max_age);
            if expired && part.forced.is_none() {
                out.extend(take(tp, part));
            }
        }
        out
    }

    /// The earliest instant at which [`Batcher::due`] can return something.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.parts
            .values()
            .filter(|p| p.forced.is_none())
            .filter_map(|p| p.open.as_ref())
            .map(|o| o.opened_at + self.limits.max_age)
            .min()
    }

    /// Shutdown: every open batch except unfinished forced ranges (those are replayed next run).
    pub fn drain(&mut self) -> Vec<Batch> {
        let mut out = Vec::new();
        for (tp, part) in self.parts.iter_mut() {
            if part.forced.is_none() {
                out.extend(take(tp, part));
            }
        }
        out
    }

    /// Forgets the open batch and position of `tp` (after a failed flush the consumer seeks back).
    pub fn reset(&mut self, tp: &Tp) {
        if let Some(part) = self.parts.get_mut(tp) {
            part.open = None;
            part.last_seen = None;
        }
    }

    /// Re-arms a forced range for `tp` (after a failed flush of a recorded range).
    pub fn force(&mut self, tp: &Tp, range: (i64, i64)) {
        if let Some(part) = self.parts.get_mut(tp) {
            part.forced = Some(range);
        }
    }
}

fn take(tp: &Tp, part: &mut Part) -> Option<Batch> {
    part.open.take().map(|o| Batch {
        topic: tp.0.clone(),
        partition: tp.1,
        messages: o.messages,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(p: i32, offset: i64) -> RawMessage {
        RawMessage {
            topic: Arc::from("t"),
            partition: p,
            offset,
            timestamp_ms: Some(0),
            timestamp_type: 0,
            key: None,
            header_keys: vec![],
            value: None,
        }
    }

    fn tp(p: i32) -> Tp {
        (Arc::from("t"), p)
    }

    fn batcher(n: usize, secs: u64) -> Batcher {
        let mut b = Batcher::new(Limits {
            max_messages: n,
            max_age: Duration::from_secs(secs),
        });
        b.assign(tp(0), None);
        b.assign(tp(1), None);
        b
    }

    fn offsets(b: &Batch) -> Vec<i64> {
        b.messages.iter().map(|m| m.offset).collect()
    }

    /// Every partition of two topics gets its own hash, so lookups stay one probe.
    #[test]
    fn topic_partitions_hash_apart() {
        use std::hash::BuildHasher;
        let build = BuildHasherDefault::<TpHasher>::default();
        let mut hashes = std::collections::HashSet::new();
        for topic in ["lib.server.lobby", "lib.server.game"] {
            for p in 0..256 {
                hashes.insert(build.hash_one((Arc::<str>::from(topic), p)));
            }
        }
        assert_eq!(hashes.len(), 512);
    }

    #[test]
    fn closes_on_size_per_partition() {
        let mut b = batcher(3, 60);
        let now = Instant::now();
        for o in 0..2 {
            assert!(b.push(m(0, o), now).1.is_empty());
            assert!(b.push(m(1, o), now).1.is_empty());
        }
        let (_, closed) = b.push(m(0, 2), now);
        assert_eq!(closed.len(), 1);
        assert_eq!(
            (closed[0].partition, offsets(&closed[0])),
            (0, vec![0, 1, 2])
        );
        assert_eq!(b.buffered(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn closes_on_age_with_paused_clock() {
        let mut b = batcher(100, 5);
        b.push(m(0, 10), Instant::now());
        tokio::time::advance(Duration::from_secs(3)).await;
        b.push(m(1, 20), Instant::now());
        assert!(b.due(Instant::now()).is_empty());
        let deadline = b.next_deadline().unwrap();
        tokio::time::sleep_until(deadline).await;
        let due = b.due(Instant::now());
        assert_eq!(due.len(), 1);
        assert_eq!(offsets(&due[0]), vec![10]);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(
            b.due(Instant::now()).is_empty(),
            "second batch is only 4 s old"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        let due = b.due(Instant::now());
        assert_eq!(offsets(&due[0]), vec![20]);
        assert!(b.next_deadline().is_none());
    }

    #[test]
    fn drops_duplicates_and_unassigned() {
        let mut b = batcher(10, 60);
        let now = Instant::now();
        assert_eq!(b.push(m(0, 5), now).0, Pushed::Buffered);
        assert_eq!(b.push(m(0, 5), now).0, Pushed::Duplicate);
        assert_eq!(b.push(m(0, 4), now).0, Pushed::Duplicate);
        assert_eq!(b.push(m(7, 0), now).0, Pushed::NotAssigned);
        b.revoke(&tp(0));
        assert_eq!(b.push(m(0, 6), now).0, Pushed::NotAssigned);
        assert_eq!(b.buffered(), 0);
    }

    #[test]
    fn forced_range_ignores_size_and_age_and_closes_exactly() {
        let mut b = batcher(2, 1);
        b.assign(tp(0), Some((10, 14)));
        let t0 = Instant::now();
        for o in 10..14 {
            assert!(b.push(m(0, o), t0).1.is_empty(), "closed early at {o}");
        }
        assert!(b.due(t0 + Duration::from_secs(100)).is_empty());
        assert!(
            b.drain().is_empty(),
            "unfinished forced range must not flush at shutdown"
        );
        let (_, closed) = b.push(m(0, 14), t0);
        assert_eq!(offsets(&closed[0]), vec![10, 11, 12, 13, 14]);
        // Back to normal limits afterwards.
        assert!(b.push(m(0, 15), t0).1.is_empty());
        assert_eq!(b.push(m(0, 16), t0).1.len(), 1);
    }

    #[test]
    fn forced_range_with_gap_closes_before_the_jump() {
        let mut b = batcher(100, 60);
        b.assign(tp(0), Some((10, 14)));
        let now = Instant::now();
        b.push(m(0, 10), now);
        b.push(m(0, 12), now);
        let (_, closed) = b.push(m(0, 20), now);
        assert_eq!(offsets(&closed[0]), vec![10, 12]);
        assert_eq!(b.buffered(), 1);
    }

    #[test]
    fn stale_forced_range_is_ignored() {
        let mut b = batcher(2, 60);
        b.assign(tp(0), Some((10, 14)));
        let now = Instant::now();
        b.push(m(0, 11), now);
        assert_eq!(b.push(m(0, 12), now).1.len(), 1);
    }

    #[test]
    fn drain_returns_every_open_batch() {
        let mut b = batcher(100, 60);
        let now = Instant::now();
        b.push(m(0, 1), now);
        b.push(m(1, 1), now);
        let mut parts: Vec<_> = b.drain().iter().map(|x| x.partition).collect();
        parts.sort();
        assert_eq!(parts, vec![0, 1]);
        assert_eq!(b.buffered(), 0);
    }
}
