//! The simulator's own bytes, matched as they are: the envelope's four strings in the simulator's
//! key order with `json.dumps`' separators, then an `Attack Completed` or `Starting Match` task
//! string field by field, or any other task through the [`Reader`](super::Reader). Each key and
//! separator is one compare of a fixed byte string, where the reader skips whitespace, reads each
//! key as a string and dispatches on it: most messages are attacks, and their parse took about a
//! sixth of the worker's CPU.
//!
//! It takes a strict subset of what the reader takes (no other key order, whitespace or fields, no
//! trailing whitespace) and reads the strings, numbers and timestamps with the reader's own
//! functions, so what it takes it reads alike; for the rest it answers `None` and the reader reads
//! the message from its start (the tests compare the two on every simulator message and on
//! mutations of them).

use super::{borrowed, read_task, special_from, unsigned_at, Maybe, Reader};
use crate::ingest::records::{
    self, AttackRow, Hero, Parsed, TaskKind, GAME_TOPIC, HERO_ID_MAX, LOBBY_TOPIC,
};
use std::borrow::Cow;

/// The task string's quote.
const ESCAPED_QUOTE: &[u8] = br#"\""#;

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// The bytes `expected`, exactly. Inlined into each call, so the compare of a literal of known
    /// length is a few loads, not a `memcmp` call.
    #[inline(always)]
    fn lit(&mut self, expected: &[u8]) -> Maybe<()> {
        let end = self.pos + expected.len();
        (self.text.as_bytes().get(self.pos..end)? == expected).then(|| self.pos = end)
    }

    /// A string's text without escapes, then its closing `quote` (`"`, or `\"` in the task
    /// string), which is passed.
    #[inline(always)]
    fn string(&mut self, quote: &[u8]) -> Maybe<&'a str> {
        let b = self.text.as_bytes();
        let end = special_from(b, self.pos);
        (b.get(end..end + quote.len())? == quote).then_some(())?;
        let text = self.text.get(self.pos..end)?;
        self.pos = end + quote.len();
        Some(text)
    }

    #[inline]
    fn unsigned(&mut self, max: i64) -> Maybe<i64> {
        let (v, end) = unsigned_at(self.text.as_bytes(), self.pos, max)?;
        self.pos = end;
        Some(v)
    }

    /// `item`s separated by `, ` up to `close` (`item` reads each; none before `close` is allowed).
    #[inline(always)]
    fn list(&mut self, close: &[u8], mut item: impl FnMut(&mut Self) -> Maybe<()>) -> Maybe<()> {
        if self.lit(close).is_some() {
            return Some(());
        }
        loop {
            item(self)?;
            if self.lit(close).is_some() {
                return Some(());
            }
            self.lit(b", ")?;
        }
    }
}

/// The message `text` of `topic` if it has the simulator's shape, else `None`.
pub(super) fn parse<'a>(topic: &str, text: &'a str) -> Maybe<Parsed<'a>> {
    let mut c = Cursor { text, pos: 0 };
    c.lit(br#"{"level": ""#)?;
    let level = c.string(b"\"")?;
    c.lit(br#", "timestamp": ""#)?;
    let timestamp = c.string(b"\"")?;
    c.lit(br#", "name": ""#)?;
    let name = c.string(b"\"")?;
    c.lit(br#", "log_message": ""#)?;
    let log_message = c.string(b"\"")?;
    c.lit(br#", "task": "#)?;
    let task = if (topic, log_message) == (GAME_TOPIC, "Attack Completed") {
        TaskKind::AttackCompleted(attack_completed(&mut c)?)
    } else if (topic, log_message) == (LOBBY_TOPIC, "Starting Match") {
        starting_match(&mut c)?
    } else {
        // Inside the envelope, as the reader would be at this point.
        let mut r = Reader::at(text, c.pos, 1);
        let task = read_task(&mut r, topic, log_message)?;
        c.pos = r.pos;
        task
    };
    c.lit(b"}")?;
    (c.pos == text.len()).then_some(())?;
    borrowed([level, timestamp, name, log_message], task)
}

/// The start both task strings share, its opening quote included: `TIMESTAMP`, then `PAYLOAD`'s
/// `GAME_TOKEN`, whose closing quote it passes.
fn timestamp_and_game_token<'a>(c: &mut Cursor<'a>) -> Maybe<(&'a str, &'a str)> {
    c.lit(br#""{\"TIMESTAMP\": \""#)?;
    let timestamp = c.string(ESCAPED_QUOTE)?;
    c.lit(br#", \"PAYLOAD\": {\"GAME_TOKEN\": \""#)?;
    let game_token = c.string(ESCAPED_QUOTE)?;
    Some((timestamp, game_token))
}

/// The task string of an attack, its quotes included.
fn attack_completed<'a>(c: &mut Cursor<'a>) -> Maybe<AttackRow<'a>> {
    let (timestamp, game_token) = timestamp_and_game_token(c)?;
    c.lit(br#", \"USER_TOKEN\": \""#)?;
    let user_token = c.string(ESCAPED_QUOTE)?;
    c.lit(br#"}, \"STATUS\": {\"ACTION\": \""#)?;
    let action = c.string(ESCAPED_QUOTE)?;
    c.lit(br#", \"DETAILS\": {\"ENEMY_TOKEN\": \""#)?;
    let enemy_token = c.string(ESCAPED_QUOTE)?;
    c.lit(br#", \"ENEMY_DAMAGE\": "#)?;
    let enemy_damage = c.unsigned(i64::MAX)?;
    c.lit(br#", \"ENEMY_HEALTH_PRIOR\": "#)?;
    let enemy_health_prior = c.unsigned(i64::MAX)?;
    c.lit(br#", \"ENEMY_HEALTH_POST\": "#)?;
    let enemy_health_post = c.unsigned(i64::MAX)?;
    c.lit(br#"}}}""#)?;
    Some(AttackRow {
        timestamp: records::raw_timestamp(timestamp)?,
        game_token: Cow::Borrowed(game_token),
        user_token: Cow::Borrowed(user_token),
        action: Cow::Borrowed(action),
        enemy_token: Cow::Borrowed(enemy_token),
        enemy_damage,
        enemy_health_prior,
        enemy_health_post,
    })
}

/// The task string of a starting match, its quotes included: the participants' tokens (read and
/// not kept, as the reader skips them), then each participant's hero in document order, then the
/// status object with one string.
fn starting_match<'a>(c: &mut Cursor<'a>) -> Maybe<TaskKind<'a>> {
    let (timestamp, game_token) = timestamp_and_game_token(c)?;
    c.lit(br#", \"PARTICIPANTS\": ["#)?;
    c.list(b"]", |c| {
        c.lit(ESCAPED_QUOTE)?;
        c.string(ESCAPED_QUOTE).map(drop)
    })?;
    c.lit(br#", \"PARTICIPANTS_HEROS\": {"#)?;
    let mut heroes: Vec<Hero<'a>> = Vec::new();
    c.list(b"}", |c| {
        c.lit(ESCAPED_QUOTE)?;
        let user = c.string(ESCAPED_QUOTE)?;
        // A repeated key: serde_json keeps the last value, a case left to the reader.
        if heroes.iter().any(|h| h.user_token == user) {
            return None;
        }
        c.lit(br#": {\"token\": \""#)?;
        c.string(ESCAPED_QUOTE)?;
        c.lit(br#", \"id\": "#)?;
        let id = c.unsigned(HERO_ID_MAX)?;
        c.lit(br#", \"attack\": "#)?;
        let attack = c.unsigned(i64::MAX)?;
        c.lit(br#", \"health\": "#)?;
        let health = c.unsigned(i64::MAX)?;
        c.lit(b"}")?;
        heroes.push(Hero {
            user_token: Cow::Borrowed(user),
            id,
            attack,
            health,
        });
        Some(())
    })?;
    c.lit(br#"}, \"STATUS\": {\"GAME\": \""#)?;
    c.string(ESCAPED_QUOTE)?;
    c.lit(br#"}}""#)?;
    Some(TaskKind::StartingMatch {
        timestamp: records::raw_timestamp(timestamp)?,
        game_token: Cow::Borrowed(game_token),
        heroes,
    })
}
