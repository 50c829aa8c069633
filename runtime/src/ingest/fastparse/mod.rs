//! The typed parser of well-formed messages: one pass over the message bytes, straight into the
//! fields the records need, strings borrowed from the message. The envelope's `task` string is read
//! in its escaped form (`\"` is its quote), not unescaped into a `String` and parsed again.
//!
//! It takes the messages the simulator sends: strings without escapes (inside the task string:
//! without escapes other than its `\"` quotes), the log message before the task, unsigned integers
//! where the records need them, any other JSON in fields it does not need. For anything else it
//! answers "not sure" (`None`) and [`records::parse_general`](crate::ingest::records::parse_general)
//! decides and words the error: this parser never needs to be right about a message it leaves, only
//! about one it takes (`records` tests compare the two on mutated messages).
//!
//! It replaces a serde_json pass over derived structs, which skipped the fields it did not need
//! with serde's `IgnoredAny`: serde_json skips those without its nesting limit and without reading
//! the numbers, so it took messages the general parser refuses (nesting deeper than 128, `1e999`).

use crate::ingest::records::{
    self, AttackRow, Envelope, Hero, Parsed, TaskKind, GAME_TOPIC, HERO_ID_MAX, LOBBY_TOPIC,
};
use crate::ingest::swar;
use std::borrow::Cow;

mod shape;

/// `None`: not sure, the next parser decides.
type Maybe<T> = Option<T>;

/// Nesting deeper than this is left to serde_json, which has its own limit (128) and error.
const MAX_DEPTH: u32 = 64;

/// Integer parts longer than this are left to serde_json (it reads them as floats, and rejects
/// those too large for one).
const MAX_INT_DIGITS: usize = 18;

struct Reader<'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
    /// Inside the envelope's `task` string: a quote is the two bytes `\"`, and a bare `"` ends
    /// the task's text.
    escaped: bool,
    depth: u32,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Self::at(text, 0, 0)
    }

    /// At `pos`, outside the task string, inside `depth` containers.
    fn at(text: &'a str, pos: usize, depth: u32) -> Self {
        Reader {
            text,
            b: text.as_bytes(),
            pos,
            escaped: false,
            depth,
        }
    }

    fn peek(&self) -> Maybe<u8> {
        self.b.get(self.pos).copied()
    }

    /// JSON whitespace. Inside the task string only the space: a tab or newline there is written
    /// as an escape, which is left to serde_json.
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            let space = c == b' ' || (!self.escaped && matches!(c, b'\t' | b'\n' | b'\r'));
            if !space {
                break;
            }
            self.pos += 1;
        }
    }

    /// After whitespace, the structural byte `c` (never a quote or backslash).
    fn eat(&mut self, c: u8) -> Maybe<()> {
        self.ws();
        (self.peek()? == c).then(|| self.pos += 1)
    }

    fn at_quote(&self) -> bool {
        if self.escaped {
            self.b.get(self.pos..self.pos + 2) == Some(b"\\\"")
        } else {
            self.peek() == Some(b'"')
        }
    }

    /// A string without escapes, borrowed from the message.
    fn string(&mut self) -> Maybe<&'a str> {
        self.ws();
        if !self.at_quote() {
            return None;
        }
        self.pos += if self.escaped { 2 } else { 1 };
        let start = self.pos;
        let end = special_from(self.b, start);
        match *self.b.get(end)? {
            b'\\' if self.escaped && self.b.get(end + 1) == Some(&b'"') => self.pos = end + 2,
            b'"' if !self.escaped => self.pos = end + 1,
            // An escape, a bare quote inside the task string, a raw control character.
            _ => return None,
        }
        self.text.get(start..end)
    }

    /// An integer in `0..=max` written without sign, fraction or exponent.
    fn unsigned(&mut self, max: i64) -> Maybe<i64> {
        self.ws();
        let (v, end) = unsigned_at(self.b, self.pos, max)?;
        self.pos = end;
        Some(v)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `{ "key": value, ... }`, each key handed to `field`, which must read its value.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Maybe<()>) -> Maybe<()> {
        self.items(b'{', b'}', |r| {
            let key = r.string()?;
            r.eat(b':')?;
            field(r, key)
        })
    }

    /// An object that may appear once under its key (`seen` remembers that it did).
    fn object_once(
        &mut self,
        seen: &mut Option<()>,
        field: impl FnMut(&mut Self, &'a str) -> Maybe<()>,
    ) -> Maybe<()> {
        set(seen, ())?;
        self.object(field)
    }

    /// `open item, item, ... close` (or `open close`), each item read by `item`.
    fn items(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Maybe<()>,
    ) -> Maybe<()> {
        self.eat(open)?;
        self.enter()?;
        self.ws();
        if self.peek() == Some(close) {
            self.pos += 1;
        } else {
            loop {
                item(self)?;
                self.ws();
                match self.peek()? {
                    b',' => self.pos += 1,
                    c if c == close => {
                        self.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    fn enter(&mut self) -> Maybe<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// Any JSON value, checked and not kept.
    fn skip(&mut self) -> Maybe<()> {
        self.ws();
        if self.at_quote() {
            return self.string().map(drop);
        }
        match self.peek()? {
            b'{' => self.object(|r, _| r.skip()),
            b'[' => self.items(b'[', b']', |r| r.skip()),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Maybe<()> {
        (self.b.get(self.pos..self.pos + word.len())? == word).then(|| self.pos += word.len())
    }

    /// A JSON number without exponent and with a short integer part (always a finite `f64` or an
    /// integer to serde_json).
    fn number(&mut self) -> Maybe<()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        self.pos = int_part(self.b, self.pos)?;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        (!matches!(self.peek(), Some(b'e' | b'E'))).then_some(())
    }
}

fn set<T>(slot: &mut Option<T>, value: T) -> Maybe<()> {
    // A repeated key: serde_json keeps the last value, a case left to the next parser.
    slot.is_none().then(|| *slot = Some(value))
}

/// Where the integer part of a number at `start` of `b` ends: one to [`MAX_INT_DIGITS`] digits,
/// without a leading zero unless it is the only one.
fn int_part(b: &[u8], start: usize) -> Maybe<usize> {
    let digits = b
        .get(start..)?
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits == 0 || digits > MAX_INT_DIGITS || (digits > 1 && b[start] == b'0') {
        return None;
    }
    Some(start + digits)
}

/// The integer in `0..=max` at `start` of `b`, written without sign, fraction or exponent, and
/// where its digits end.
fn unsigned_at(b: &[u8], start: usize, max: i64) -> Maybe<(i64, usize)> {
    let end = int_part(b, start)?;
    if matches!(b.get(end), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    let v = b[start..end]
        .iter()
        .fold(0i64, |v, d| v * 10 + i64::from(d - b'0'));
    (v <= max).then_some((v, end))
}

/// A parsed message from its envelope's four strings, borrowed, and its task; `None` when the
/// envelope's timestamp is not in a form the contract accepts.
fn borrowed<'a>(
    [level, timestamp, name, log_message]: [&'a str; 4],
    task: TaskKind<'a>,
) -> Maybe<Parsed<'a>> {
    records::parse_timestamp(timestamp)?;
    Some(Parsed {
        envelope: Envelope {
            level: Cow::Borrowed(level),
            timestamp: Cow::Borrowed(timestamp),
            name: Cow::Borrowed(name),
            log_message: Cow::Borrowed(log_message),
        },
        task,
    })
}

/// Parses `text` (the message value, already checked to be UTF-8) of `topic`, or `None` when the
/// general parser must decide: the simulator's exact shape first ([`shape`]), then any layout.
pub fn parse<'a>(topic: &str, text: &'a str) -> Option<Parsed<'a>> {
    shape::parse(topic, text).or_else(|| read(topic, text))
}

/// [`parse`] by the reader alone.
fn read<'a>(topic: &str, text: &'a str) -> Option<Parsed<'a>> {
    let mut r = Reader::new(text);
    let (mut level, mut timestamp, mut name, mut log_message) = (None, None, None, None);
    let mut task = None;
    r.object(|r, key| match key {
        "level" => set(&mut level, r.string()?),
        "timestamp" => set(&mut timestamp, r.string()?),
        "name" => set(&mut name, r.string()?),
        "log_message" => set(&mut log_message, r.string()?),
        // The kind of task depends on the log message, read before it in every message sent.
        "task" => set(&mut task, read_task(r, topic, log_message?)?),
        _ => r.skip(),
    })?;
    r.ws();
    if r.pos != r.b.len() {
        return None;
    }
    borrowed([level?, timestamp?, name?, log_message?], task?)
}

/// The envelope's `task`: a string holding a JSON object (read in place) or an object.
fn read_task<'a>(r: &mut Reader<'a>, topic: &str, log_message: &str) -> Maybe<TaskKind<'a>> {
    r.ws();
    if r.peek()? != b'"' {
        return task_object(r, topic, log_message);
    }
    r.pos += 1;
    r.escaped = true;
    let kind = task_object(r, topic, log_message)?;
    r.ws();
    if r.peek()? != b'"' {
        return None;
    }
    r.pos += 1;
    r.escaped = false;
    Some(kind)
}

fn task_object<'a>(r: &mut Reader<'a>, topic: &str, log_message: &str) -> Maybe<TaskKind<'a>> {
    match (topic, log_message) {
        (LOBBY_TOPIC, "Starting Match") => starting_match(r),
        (GAME_TOPIC, "Attack Completed") => attack_completed(r).map(TaskKind::AttackCompleted),
        (_, "Cleaning Game Records") => {
            let (mut game_token, mut user_token) = (None, None);
            r.object(|r, key| match key {
                "game_token" => set(&mut game_token, r.string()?),
                "user_token" => set(&mut user_token, r.string()?),
                _ => r.skip(),
            })?;
            Some(TaskKind::Cleaning {
                game_token: game_token?.to_owned(),
                user_token: user_token?.to_owned(),
            })
        }
        _ => {
            r.object(|r, _| r.skip())?;
            Some(TaskKind::Other)
        }
    }
}

fn starting_match<'a>(r: &mut Reader<'a>) -> Maybe<TaskKind<'a>> {
    let (mut timestamp, mut game_token, mut heroes) = (None, None, None);
    let mut payload = None;
    r.object(|r, key| match key {
        "TIMESTAMP" => set(&mut timestamp, r.string()?),
        "PAYLOAD" => r.object_once(&mut payload, |r, key| match key {
            "GAME_TOKEN" => set(&mut game_token, r.string()?),
            "PARTICIPANTS_HEROS" => set(&mut heroes, read_heroes(r)?),
            _ => r.skip(),
        }),
        _ => r.skip(),
    })?;
    Some(TaskKind::StartingMatch {
        timestamp: records::raw_timestamp(timestamp?)?,
        game_token: Cow::Borrowed(game_token?),
        heroes: heroes?,
    })
}

/// `PARTICIPANTS_HEROS` in document order.
fn read_heroes<'a>(r: &mut Reader<'a>) -> Maybe<Vec<Hero<'a>>> {
    let mut heroes: Vec<Hero<'a>> = Vec::new();
    r.object(|r, user| {
        if heroes.iter().any(|h| h.user_token == user) {
            return None;
        }
        let (mut id, mut attack, mut health) = (None, None, None);
        r.object(|r, key| match key {
            "id" => set(&mut id, r.unsigned(HERO_ID_MAX)?),
            "attack" => set(&mut attack, r.unsigned(i64::MAX)?),
            "health" => set(&mut health, r.unsigned(i64::MAX)?),
            _ => r.skip(),
        })?;
        heroes.push(Hero {
            user_token: Cow::Borrowed(user),
            id: id?,
            attack: attack?,
            health: health?,
        });
        Some(())
    })?;
    Some(heroes)
}

fn attack_completed<'a>(r: &mut Reader<'a>) -> Maybe<AttackRow<'a>> {
    let (mut timestamp, mut game_token, mut user_token, mut action, mut enemy_token) =
        (None, None, None, None, None);
    let (mut damage, mut prior, mut post) = (None, None, None);
    let (mut payload, mut status, mut details) = (None, None, None);
    r.object(|r, key| match key {
        "TIMESTAMP" => set(&mut timestamp, r.string()?),
        "PAYLOAD" => r.object_once(&mut payload, |r, key| match key {
            "GAME_TOKEN" => set(&mut game_token, r.string()?),
            "USER_TOKEN" => set(&mut user_token, r.string()?),
            _ => r.skip(),
        }),
        "STATUS" => r.object_once(&mut status, |r, key| match key {
            "ACTION" => set(&mut action, r.string()?),
            "DETAILS" => r.object_once(&mut details, |r, key| match key {
                "ENEMY_TOKEN" => set(&mut enemy_token, r.string()?),
                "ENEMY_DAMAGE" => set(&mut damage, r.unsigned(i64::MAX)?),
                "ENEMY_HEALTH_PRIOR" => set(&mut prior, r.unsigned(i64::MAX)?),
                "ENEMY_HEALTH_POST" => set(&mut post, r.unsigned(i64::MAX)?),
                _ => r.skip(),
            }),
            _ => r.skip(),
        }),
        _ => r.skip(),
    })?;
    Some(AttackRow {
        timestamp: records::raw_timestamp(timestamp?)?,
        game_token: Cow::Borrowed(game_token?),
        user_token: Cow::Borrowed(user_token?),
        action: Cow::Borrowed(action?),
        enemy_token: Cow::Borrowed(enemy_token?),
        enemy_damage: damage?,
        enemy_health_prior: prior?,
        enemy_health_post: post?,
    })
}

/// The first `"`, `\\` or control character of `b` from `at` (or `b.len()`): the end of a string
/// without escapes, eight bytes at a time. It stops only at ASCII bytes, so the text before it
/// ends on a character boundary.
fn special_from(b: &[u8], mut at: usize) -> usize {
    while let Some(w) = swar::word_at(b, at) {
        let hits = swar::equal(w, b'"') | swar::equal(w, b'\\') | swar::below(w, 0x20);
        if hits != 0 {
            return at + swar::first(hits);
        }
        at += 8;
    }
    while b
        .get(at)
        .is_some_and(|c| !matches!(c, b'"' | b'\\' | 0..=0x1f))
    {
        at += 1;
    }
    at
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ingest::records::parse_general;
    use crate::ingest::records::tests::mutation_cases;
    use crate::loadgen::parse_start;
    use crate::loadgen::plan::{PlanOptions, Planner};

    /// `records`' agreement test passes even if this parser left every message to the general one:
    /// here it must take each kind of message the simulator sends itself, with the general parser's
    /// result (the task as a JSON string, or as an object for `Cleaning Game Records`).
    #[test]
    fn takes_every_kind_of_simulator_message() {
        let envelope = |topic: &str, message: &str, task: &str| {
            format!(
                r#"{{"level": "INFO", "timestamp": "2024-01-13T22:25:41.654999", "name": "kafka.{topic}", "log_message": "{message}", "task": {task}}}"#
            )
        };
        let cases = [
            (
                GAME_TOPIC,
                envelope(
                    GAME_TOPIC,
                    "Attack Completed",
                    r#""{\"TIMESTAMP\": \"2024-01-13T22:25:41.654321\", \"PAYLOAD\": {\"GAME_TOKEN\": \"g1\", \"USER_TOKEN\": \"u1\"}, \"STATUS\": {\"ACTION\": \"ATTACK\", \"DETAILS\": {\"ENEMY_TOKEN\": \"u2\", \"ENEMY_DAMAGE\": 7, \"ENEMY_HEALTH_PRIOR\": 9, \"ENEMY_HEALTH_POST\": 2}}}""#,
                ),
            ),
            (
                LOBBY_TOPIC,
                envelope(
                    LOBBY_TOPIC,
                    "Starting Match",
                    r#""{\"TIMESTAMP\": \"2024-01-13T23:59:20Z\", \"PAYLOAD\": {\"GAME_TOKEN\": \"g\", \"PARTICIPANTS_HEROS\": {\"a\": {\"id\": 14, \"attack\": 7, \"health\": 45}}}}""#,
                ),
            ),
            (
                LOBBY_TOPIC,
                envelope(
                    LOBBY_TOPIC,
                    "Cleaning Game Records",
                    r#"{"game_token": "g", "other": [1, {"x": null}], "user_token": "a"}"#,
                ),
            ),
            (
                GAME_TOPIC,
                envelope(
                    GAME_TOPIC,
                    "Cleaning Game Records",
                    r#""{\"game_token\": \"g\", \"user_token\": \"b\"}""#,
                ),
            ),
            (
                GAME_TOPIC,
                envelope(GAME_TOPIC, "Game Timed Out", r#""{\"GAME_TOKEN\": \"g\"}""#),
            ),
            (
                GAME_TOPIC,
                envelope(GAME_TOPIC, "Game Timed Out", r#"{"GAME_TOKEN": "g"}"#),
            ),
        ];
        for (topic, text) in &cases {
            let typed =
                parse(topic, text).unwrap_or_else(|| panic!("left to the general parser: {text}"));
            assert_eq!(
                Ok(typed),
                parse_general(topic, Some(text.as_bytes())),
                "{text}"
            );
        }
    }

    /// What this reader answers for `text`, checked against the general parser: a message it takes
    /// must be one the general parser takes, with the same result.
    fn checked(topic: &str, text: &str) -> bool {
        let general: Result<Parsed<'_>, _> = parse_general(topic, Some(text.as_bytes()));
        let Some(mine) = parse(topic, text) else {
            return false;
        };
        assert_eq!(Ok(mine), general, "{topic}: {text}");
        true
    }

    /// Every message of the load generator's plan that the general parser takes, this reader takes
    /// too (it is only fast if it does), with the same result, its strings borrowed from the message.
    #[test]
    fn takes_every_simulator_message_and_borrows_its_strings() {
        let opts = PlanOptions::new(11, 150, parse_start("2024-01-13T22:25:40").unwrap());
        let (mut taken, mut kinds) = (0, std::collections::HashSet::new());
        for game in Planner::new(opts) {
            for m in &game.messages {
                let text = std::str::from_utf8(&m.value).unwrap();
                if parse_general(m.topic, Some(&m.value)).is_err() {
                    assert_eq!(parse(m.topic, text), None, "{text}");
                    continue;
                }
                let p = parse(m.topic, text).unwrap_or_else(|| panic!("not taken: {text}"));
                assert!(checked(m.topic, text));
                assert!(matches!(p.envelope.log_message, Cow::Borrowed(_)));
                match &p.task {
                    TaskKind::AttackCompleted(a) => {
                        assert!(matches!(a.game_token, Cow::Borrowed(_)));
                        assert!(matches!(a.enemy_token, Cow::Borrowed(_)));
                    }
                    TaskKind::StartingMatch { heroes, .. } => {
                        assert!(heroes
                            .iter()
                            .all(|h| matches!(h.user_token, Cow::Borrowed(_))));
                    }
                    _ => {}
                }
                kinds.insert(match p.task {
                    TaskKind::StartingMatch { .. } => "start",
                    TaskKind::AttackCompleted(_) => "attack",
                    TaskKind::Cleaning { .. } => "cleaning",
                    TaskKind::Other => "other",
                });
                taken += 1;
            }
        }
        assert!(taken > 1000, "{taken}");
        assert_eq!(kinds.len(), 4, "all four task kinds seen");
    }

    /// The shape matcher takes every simulator message the general parser takes (it saves nothing
    /// on the ones it leaves), and what it takes, from the simulator or among the one-character
    /// mutations, the reader alone reads alike (and the reader agrees with the general parser,
    /// above).
    #[test]
    fn shape_takes_simulator_messages_and_reads_them_as_the_reader_does() {
        let opts = PlanOptions::new(11, 150, parse_start("2024-01-13T22:25:40").unwrap());
        let (mut attacks, mut starts) = (0, 0);
        for game in Planner::new(opts) {
            for m in &game.messages {
                let text = std::str::from_utf8(&m.value).unwrap();
                let shaped = shape::parse(m.topic, text);
                if parse_general(m.topic, Some(&m.value)).is_err() {
                    assert_eq!(shaped, None, "{text}");
                    continue;
                }
                let shaped = shaped.unwrap_or_else(|| panic!("not taken by shape: {text}"));
                attacks += usize::from(matches!(shaped.task, TaskKind::AttackCompleted(_)));
                starts += usize::from(matches!(shaped.task, TaskKind::StartingMatch { .. }));
                assert_eq!(Some(shaped), read(m.topic, text), "{text}");
            }
        }
        assert!(
            attacks > 500 && starts > 100,
            "{attacks} attacks, {starts} starts"
        );
        let (mut taken, mut left) = (0, 0);
        for (topic, text) in mutation_cases() {
            match shape::parse(topic, &text) {
                Some(shaped) => {
                    assert_eq!(Some(shaped), read(topic, &text), "{topic}: {text}");
                    taken += 1;
                }
                None => left += 1,
            }
        }
        assert!(taken > 500 && left > 10_000, "{taken} taken, {left} left");
    }

    /// On the agreement test's one-character mutations: whatever this reader takes, the general
    /// parser takes alike; and it takes many (else the agreement says nothing about it).
    #[test]
    fn agrees_with_general_parser_on_mutations() {
        let taken = mutation_cases()
            .iter()
            .filter(|(topic, text)| checked(topic, text))
            .count();
        assert!(taken > 1000, "{taken}");
    }

    const ATTACK: &str = r#"{"level": "INFO", "timestamp": "2024-01-13T22:25:41.654999", "name": "kafka.lib.server.game", "log_message": "Attack Completed", "task": "{\"TIMESTAMP\": \"2024-01-13T22:25:41.654321\", \"PAYLOAD\": {\"GAME_TOKEN\": \"g1\", \"USER_TOKEN\": \"u1\"}, \"STATUS\": {\"ACTION\": \"ATTACK\", \"DETAILS\": {\"ENEMY_TOKEN\": \"u2\", \"ENEMY_DAMAGE\": 7, \"ENEMY_HEALTH_PRIOR\": 9, \"ENEMY_HEALTH_POST\": 2}}}"}"#;
    const OTHER: &str = r#"{"level": "INFO", "timestamp": "2024-01-13T22:25:41", "name": "n", "log_message": "Game Timed Out", "task": "{\"GAME_TOKEN\": \"g\"}"}"#;

    /// Escapes and shapes this reader leaves to the general parser, which takes some of them and
    /// refuses the others: this reader must take none, whatever the answer.
    /// (The serde pass this reader replaced skipped unknown values with `IgnoredAny` and took the
    /// last four, which the general parser refuses.)
    #[test]
    fn leaves_escapes_and_odd_shapes_to_the_next_parser() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let cases = [
            // \uXXXX in the task string: a key, a value, a structural character, a space.
            ATTACK.replace(r#"\"USER_TOKEN\""#, r#"\"USER_\u0054OKEN\""#),
            ATTACK.replace("u1", r"\u00e9\u0041"),
            ATTACK.replace(r#"{\"GAME_TOKEN"#, r#"\u007b\"GAME_TOKEN"#),
            ATTACK.replace(r#", \"STATUS"#, r#",\u0020\"STATUS"#),
            // An escaped quote and backslash inside a task string's string (`\\\"`, `\\\\`).
            ATTACK.replace("u1", r#"u\\\"1"#),
            ATTACK.replace("u1", r"u\\\\1"),
            // Surrogate pairs, in the task string and inside its string; a lone one (an error).
            ATTACK.replace("u1", r"\ud83d\ude00"),
            ATTACK.replace("u1", r"\\ud83d\\ude00"),
            ATTACK.replace("u1", r"\ud83d"),
            ATTACK.replace("u1", r"\\ud83d"),
            // Whitespace written as an escape; a raw tab inside the task string (invalid).
            ATTACK.replace(r#", \"STATUS"#, r#",\n\"STATUS"#),
            ATTACK.replace(r#", \"STATUS"#, ",\t\\\"STATUS"),
            // Escapes in the envelope itself.
            ATTACK.replace("kafka.lib", r"kafka\/lib"),
            ATTACK.replace(r#""level""#, r#""lev\u0065l""#),
            // A task string that is not an object; trailing text after its object.
            OTHER.replace(r#""{\"GAME_TOKEN\": \"g\"}""#, r#""[1, 2]""#),
            OTHER.replace(r#""{\"GAME_TOKEN\": \"g\"}""#, r#""\"x\"""#),
            OTHER.replace(r#""{\"GAME_TOKEN\": \"g\"}""#, r#""7""#),
            OTHER.replace(r#""{\"GAME_TOKEN\": \"g\"}""#, r#""""#),
            OTHER.replace(r#"\"g\"}""#, r#"\"g\"} x""#),
            OTHER.replace(r#"\"g\"}""#, r#"\"g\"}}""#),
            OTHER.replace(r#""{\"GAME_TOKEN\": \"g\"}""#, "17"),
            // The task before the log message; a repeated envelope field.
            r#"{"task": "{}", "level": "INFO", "timestamp": "2024-01-13T22:25:41", "name": "n", "log_message": "m"}"#.to_string(),
            OTHER.replace(r#""name": "n""#, r#""name": "n", "name": "o""#),
            // Numbers: a sign, a fraction, an exponent, a leading zero, too long for serde_json.
            ATTACK.replace(r#"DAMAGE\": 7"#, r#"DAMAGE\": -0"#),
            ATTACK.replace(r#"DAMAGE\": 7"#, r#"DAMAGE\": 7.0"#),
            ATTACK.replace(r#"DAMAGE\": 7"#, r#"DAMAGE\": 7e0"#),
            ATTACK.replace(r#"DAMAGE\": 7"#, r#"DAMAGE\": 07"#),
            ATTACK.replace(r#"DAMAGE\": 7"#, r#"DAMAGE\": 9223372036854775807"#),
            OTHER.replace(r#"\"g\"}""#, &format!(r#"\"g\", \"N\": 1{}.5}}""#, "0".repeat(400))),
            OTHER.replace(r#"\"g\"}""#, r#"\"g\", \"N\": 1e999}""#),
            // Nesting deeper than serde_json's limit, in the envelope and in the task.
            OTHER.replace(r#""name": "n""#, &format!(r#""name": "n", "x": {deep}"#)),
            OTHER.replace(r#"\"g\"}""#, &format!(r#"\"g\", \"N\": {deep}}}""#)),
        ];
        for text in &cases {
            assert_eq!(parse(GAME_TOPIC, text), None, "taken: {text}");
            assert_eq!(
                records::parse(GAME_TOPIC, Some(text.as_bytes())),
                parse_general(GAME_TOPIC, Some(text.as_bytes())),
                "{text}"
            );
        }
        // The cases are not all refusals: the general parser decides both ways.
        let accepted = cases
            .iter()
            .filter(|t| records::parse(GAME_TOPIC, Some(t.as_bytes())).is_ok())
            .count();
        assert!((8..cases.len() - 8).contains(&accepted), "{accepted}");
        // The first surrogate pair case, decoded in the task string, is one character.
        let p = records::parse(GAME_TOPIC, Some(cases[6].as_bytes())).unwrap();
        let TaskKind::AttackCompleted(a) = p.task else {
            panic!("not an attack")
        };
        assert_eq!(a.user_token, "\u{1F600}");
    }

    /// What this reader does take beyond the simulator's exact bytes: other whitespace, unknown
    /// fields of every JSON type, raw non-ASCII text, empty strings and objects, the task as an
    /// object, the largest numbers in range.
    #[test]
    fn takes_what_needs_no_unescaping() {
        let cases = [
            (GAME_TOPIC, ATTACK.replace(": ", ":").replace(", ", ",")),
            (GAME_TOPIC, format!("\n\t{}\r\n ", ATTACK.replace(", \"task", ",\n\t\"task"))),
            (
                GAME_TOPIC,
                ATTACK.replace(
                    r#"\"STATUS\""#,
                    r#"\"X\": [true, false, null, -1.25, 0, \"\", {}, []], \"STATUS\""#,
                ),
            ),
            (
                GAME_TOPIC,
                ATTACK.replace(r#""name""#, r#""x": {"a": [1, "é"]}, "name""#),
            ),
            (GAME_TOPIC, ATTACK.replace("u1", "üñï—😀").replace("INFO", "ÉTAT")),
            (GAME_TOPIC, ATTACK.replace("u1", "")),
            (
                GAME_TOPIC,
                ATTACK.replace(r#"DAMAGE\": 7"#, r#"DAMAGE\": 922337203685477580"#),
            ),
            (
                LOBBY_TOPIC,
                r#"{"level": "INFO", "timestamp": "2024-01-13T22:25:41", "name": "n", "log_message": "Starting Match", "task": {"TIMESTAMP": "2024-01-13T23:59:20Z", "PAYLOAD": {"GAME_TOKEN": "g", "PARTICIPANTS_HEROS": {"a": {"id": 65535, "attack": 0, "health": 1}, "": {"id": 0, "attack": 2, "health": 3}}}}}"#.to_string(),
            ),
            (
                LOBBY_TOPIC,
                r#"{"level": "INFO", "timestamp": "2024-01-13T22:25:41", "name": "n", "log_message": "Starting Match", "task": "{\"TIMESTAMP\": \"2024-01-13T23:59:20Z\", \"PAYLOAD\": {\"GAME_TOKEN\": \"g\", \"PARTICIPANTS_HEROS\": {}}}"}"#.to_string(),
            ),
            (GAME_TOPIC, OTHER.replace(r#""{\"GAME_TOKEN\": \"g\"}""#, r#""{}""#)),
        ];
        for (topic, text) in &cases {
            assert!(checked(topic, text), "left: {text}");
        }
    }
}
