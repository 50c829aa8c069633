//! The original worker's record builders (seed §2.5): one consumed Kafka message becomes a
//! `buffer_meta` row, a `log_meta` row and, for `Starting Match` on the lobby topic or
//! `Attack Completed` on the game topic, task rows. Key order is the original's; serde writes struct
//! fields in declaration order.
//!
//! Parsing is strict where the original asserted and tolerant where the original crashed by mistake
//! (timestamps without a fraction or with one where it expected `Z`). Anything that does not parse is
//! returned as a [`BadMessage`] value, never a panic.
//!
//! A message is accepted only if the rows it yields satisfy the standard data contract
//! (`runtime/docs/data-contract.md`): timestamps are checked with the ETL's own parser and task
//! integers against their column ranges, so nothing the ingest writes to the raw tables is later
//! rejected by the ETL for its content.

use crate::etl::timestamp as contract_timestamp;
use crate::ingest::{fastparse, timefmt};
use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime};
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// The lobby topic.
pub const LOBBY_TOPIC: &str = "lib.server.lobby";
/// The game topic.
pub const GAME_TOPIC: &str = "lib.server.game";

/// A consumed Kafka record, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct RawMessage {
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    /// CreateTime (or LogAppendTime) in epoch ms, when the broker gave one.
    pub timestamp_ms: Option<i64>,
    /// 0 = CreateTime, 1 = LogAppendTime, -1 = none.
    pub timestamp_type: i32,
    pub key: Option<Bytes>,
    pub header_keys: Vec<String>,
    pub value: Option<Bytes>,
}

/// Why a message could not be turned into records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadMessage {
    #[error("message has no value")]
    NoValue,
    #[error("value is not UTF-8: {0}")]
    NotUtf8(String),
    #[error("value is not JSON: {0}")]
    NotJson(String),
    #[error("value is not a JSON object")]
    NotObject,
    #[error("envelope field `{0}` is missing")]
    Missing(&'static str),
    #[error("field `{field}` has the wrong type (expected {expected})")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("`task` string is not a JSON object: {0}")]
    TaskNotJson(String),
    #[error("timestamp `{field}` is not a recognised form: {value:?}")]
    BadTimestamp { field: &'static str, value: String },
    #[error("field `{field}` is out of range: {value} (expected {range})")]
    OutOfRange {
        field: &'static str,
        value: String,
        range: &'static str,
    },
}

/// `superhero_id` is `uint16` in the standard schema.
pub(crate) const HERO_ID_MAX: i64 = u16::MAX as i64;
/// The other task integers are `uint64`; the raw rows carry them as `i64`.
const COUNT_MAX: i64 = i64::MAX;

/// The envelope (`log_meta` content), borrowed from the message where it has no escapes.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<'a> {
    pub level: Cow<'a, str>,
    pub timestamp: Cow<'a, str>,
    pub name: Cow<'a, str>,
    pub log_message: Cow<'a, str>,
}

/// What the task of a message means for the raw tables and for Redis.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskKind<'a> {
    /// `Starting Match` on the lobby topic: one lobby row per hero.
    StartingMatch {
        timestamp: Cow<'a, str>,
        game_token: Cow<'a, str>,
        heroes: Vec<Hero<'a>>,
    },
    /// `Attack Completed` on the game topic: one game row.
    AttackCompleted(AttackRow<'a>),
    /// `Cleaning Game Records`: no task rows; the game's Redis keys get an expiry.
    Cleaning {
        game_token: String,
        user_token: String,
    },
    /// Every other message: buffer and log rows only.
    Other,
}

/// One `PARTICIPANTS_HEROS` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Hero<'a> {
    pub user_token: Cow<'a, str>,
    pub id: i64,
    pub attack: i64,
    pub health: i64,
}

/// The fields of a `lib_server_game` row taken from the task.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackRow<'a> {
    pub timestamp: Cow<'a, str>,
    pub game_token: Cow<'a, str>,
    pub user_token: Cow<'a, str>,
    pub action: Cow<'a, str>,
    pub enemy_token: Cow<'a, str>,
    pub enemy_damage: i64,
    pub enemy_health_prior: i64,
    pub enemy_health_post: i64,
}

/// A message that parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<'a> {
    pub envelope: Envelope<'a>,
    pub task: TaskKind<'a>,
}

/// Parses one message of `topic`; the result borrows from `value`.
pub fn parse<'a>(topic: &str, value: Option<&'a [u8]>) -> Result<Parsed<'a>, BadMessage> {
    let bytes = value.ok_or(BadMessage::NoValue)?;
    let text = std::str::from_utf8(bytes).map_err(|e| BadMessage::NotUtf8(e.to_string()))?;
    match fastparse::parse(topic, text) {
        Some(parsed) => Ok(parsed),
        None => parse_general(topic, value),
    }
}

/// [`parse`] through a `serde_json::Value` tree: slower than the typed parser that `parse` tries
/// first, but it takes every message that typed parser leaves to it and names what is wrong.
pub fn parse_general(topic: &str, value: Option<&[u8]>) -> Result<Parsed<'static>, BadMessage> {
    let bytes = value.ok_or(BadMessage::NoValue)?;
    let text = std::str::from_utf8(bytes).map_err(|e| BadMessage::NotUtf8(e.to_string()))?;
    let doc: Value = serde_json::from_str(text).map_err(|e| BadMessage::NotJson(e.to_string()))?;
    let obj = doc.as_object().ok_or(BadMessage::NotObject)?;
    let envelope = Envelope {
        level: owned_field(obj, "level")?,
        timestamp: owned_field(obj, "timestamp")?,
        name: owned_field(obj, "name")?,
        log_message: owned_field(obj, "log_message")?,
    };
    if parse_timestamp(&envelope.timestamp).is_none() {
        return Err(BadMessage::BadTimestamp {
            field: "timestamp",
            value: envelope.timestamp.into_owned(),
        });
    }
    let task_value = obj.get("task").ok_or(BadMessage::Missing("task"))?;
    let decoded;
    let task = match task_value {
        Value::String(s) => {
            decoded = serde_json::from_str::<Value>(s)
                .map_err(|e| BadMessage::TaskNotJson(e.to_string()))?;
            decoded.as_object().ok_or(BadMessage::TaskNotJson(
                "decoded value is not an object".into(),
            ))?
        }
        Value::Object(m) => m,
        _ => {
            return Err(BadMessage::WrongType {
                field: "task",
                expected: "JSON string or object",
            })
        }
    };
    let kind = match (topic, &*envelope.log_message) {
        (LOBBY_TOPIC, "Starting Match") => starting_match(task)?,
        (GAME_TOPIC, "Attack Completed") => TaskKind::AttackCompleted(attack_completed(task)?),
        (_, "Cleaning Game Records") => TaskKind::Cleaning {
            game_token: str_field(task, "game_token")?,
            user_token: str_field(task, "user_token")?,
        },
        _ => TaskKind::Other,
    };
    Ok(Parsed {
        envelope,
        task: kind,
    })
}

fn starting_match(task: &Map<String, Value>) -> Result<TaskKind<'static>, BadMessage> {
    let timestamp = task_timestamp(task)?;
    let payload = obj_field(task, "PAYLOAD")?;
    let game_token = owned_field(payload, "GAME_TOKEN")?;
    let heroes_obj = obj_field(payload, "PARTICIPANTS_HEROS")?;
    let mut heroes = Vec::with_capacity(heroes_obj.len());
    for (user, hero) in heroes_obj {
        let hero = hero.as_object().ok_or(BadMessage::WrongType {
            field: "PARTICIPANTS_HEROS.*",
            expected: "object",
        })?;
        heroes.push(Hero {
            user_token: Cow::Owned(user.clone()),
            id: int_field(hero, "id", HERO_ID_MAX)?,
            attack: int_field(hero, "attack", COUNT_MAX)?,
            health: int_field(hero, "health", COUNT_MAX)?,
        });
    }
    Ok(TaskKind::StartingMatch {
        timestamp,
        game_token,
        heroes,
    })
}

fn attack_completed(task: &Map<String, Value>) -> Result<AttackRow<'static>, BadMessage> {
    let timestamp = task_timestamp(task)?;
    let payload = obj_field(task, "PAYLOAD")?;
    let status = obj_field(task, "STATUS")?;
    let details = obj_field(status, "DETAILS")?;
    Ok(AttackRow {
        timestamp,
        game_token: owned_field(payload, "GAME_TOKEN")?,
        user_token: owned_field(payload, "USER_TOKEN")?,
        action: owned_field(status, "ACTION")?,
        enemy_token: owned_field(details, "ENEMY_TOKEN")?,
        enemy_damage: int_field(details, "ENEMY_DAMAGE", COUNT_MAX)?,
        enemy_health_prior: int_field(details, "ENEMY_HEALTH_PRIOR", COUNT_MAX)?,
        enemy_health_post: int_field(details, "ENEMY_HEALTH_POST", COUNT_MAX)?,
    })
}

/// The task `TIMESTAMP`, converted to the raw `%S.%f` form (UTC, as the simulator wrote it).
fn task_timestamp(task: &Map<String, Value>) -> Result<Cow<'static, str>, BadMessage> {
    let text = task
        .get("TIMESTAMP")
        .ok_or(BadMessage::Missing("TIMESTAMP"))?
        .as_str()
        .ok_or(BadMessage::WrongType {
            field: "TIMESTAMP",
            expected: "string",
        })?;
    match raw_timestamp(text) {
        Some(raw) => Ok(Cow::Owned(raw.into_owned())),
        None => Err(BadMessage::BadTimestamp {
            field: "TIMESTAMP",
            value: text.to_string(),
        }),
    }
}

/// A timestamp in one of the contract's forms ([`parse_timestamp`]) written in the raw `%S.%f`
/// form ([`timefmt::format_raw`]): `text` itself when it is already in that form.
pub(crate) fn raw_timestamp(text: &str) -> Option<Cow<'_, str>> {
    let t = contract_timestamp::parse(text)?;
    // Already `YYYY-MM-DDTHH:MM:SS.ffffff`, every field checked by the parse: the raw form is the
    // text itself (the simulator's usual form), without converting there and back.
    // (26 bytes with a `.` are also a five-digit fraction and a `Z`, which the parse accepts.)
    if text.len() == timefmt::RAW_LEN
        && text.as_bytes()[19] == b'.'
        && text.as_bytes()[25].is_ascii_digit()
    {
        return Some(Cow::Borrowed(text));
    }
    DateTime::from_timestamp(t.seconds, t.nanos)
        .map(|d| Cow::Owned(timefmt::format_raw(&d.naive_utc())))
}

/// A timestamp in one of the forms the standard contract accepts (the ETL's parser).
pub(crate) fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    let t = contract_timestamp::parse(text)?;
    DateTime::from_timestamp(t.seconds, t.nanos).map(|d| d.naive_utc())
}

fn str_field(obj: &Map<String, Value>, field: &'static str) -> Result<String, BadMessage> {
    match obj.get(field) {
        None => Err(BadMessage::Missing(field)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(BadMessage::WrongType {
            field,
            expected: "string",
        }),
    }
}

fn owned_field(
    obj: &Map<String, Value>,
    field: &'static str,
) -> Result<Cow<'static, str>, BadMessage> {
    str_field(obj, field).map(Cow::Owned)
}

/// A JSON integer in `0..=max`.
fn int_field(obj: &Map<String, Value>, field: &'static str, max: i64) -> Result<i64, BadMessage> {
    let out_of_range = |value: String| BadMessage::OutOfRange {
        field,
        value,
        range: if max == HERO_ID_MAX {
            "0 to 65535"
        } else {
            "0 to 9223372036854775807"
        },
    };
    match obj.get(field) {
        None => Err(BadMessage::Missing(field)),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => match n.as_i64() {
            Some(v) if (0..=max).contains(&v) => Ok(v),
            _ => Err(out_of_range(n.to_string())),
        },
        Some(_) => Err(BadMessage::WrongType {
            field,
            expected: "integer",
        }),
    }
}

fn obj_field<'a>(
    obj: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a Map<String, Value>, BadMessage> {
    match obj.get(field) {
        None => Err(BadMessage::Missing(field)),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(BadMessage::WrongType {
            field,
            expected: "object",
        }),
    }
}

/// `raw/etl_meta` row.
#[derive(Debug, Clone, Serialize)]
pub struct EtlRow<'a> {
    pub etl_id: &'a str,
    pub service: &'static str,
    pub mode: &'static str,
    pub timestamp_start: String,
    pub timestamp_end: String,
}

/// `raw/buffer_meta` row.
#[derive(Debug, Clone, Serialize)]
pub struct BufferRow<'a> {
    pub etl_id: &'a str,
    pub msg_id: &'a str,
    pub checksum: Option<u32>,
    pub headers: &'a [String],
    pub key: Cow<'a, str>,
    pub offset: i64,
    pub partition: i32,
    pub serialized_key_size: i64,
    pub serialized_value_size: i64,
    pub timestamp: Cow<'a, str>,
    pub timestamp_type: i32,
    pub topic: &'a str,
    #[serde(rename = "_is_protocol")]
    pub is_protocol: bool,
}

/// `raw/log_meta` row.
#[derive(Debug, Clone, Serialize)]
pub struct LogRow<'a> {
    pub etl_id: &'a str,
    pub msg_id: &'a str,
    pub level: &'a str,
    pub timestamp: &'a str,
    pub name: &'a str,
    pub log_message: &'a str,
}

/// `raw/lib_server_lobby` row.
#[derive(Debug, Clone, Serialize)]
pub struct LobbyRow<'a> {
    pub etl_id: &'a str,
    pub msg_id: &'a str,
    pub timestamp: &'a str,
    pub game_token: &'a str,
    pub user_token: &'a str,
    pub superhero_id: i64,
    pub superhero_attack: i64,
    pub superhero_health: i64,
}

/// `raw/lib_server_game` row.
#[derive(Debug, Clone, Serialize)]
pub struct GameRow<'a> {
    pub etl_id: &'a str,
    pub msg_id: &'a str,
    pub timestamp: &'a str,
    pub game_token: &'a str,
    pub user_token: &'a str,
    pub action: &'a str,
    pub enemy_token: &'a str,
    pub enemy_damage: i64,
    pub enemy_health_prior: i64,
    pub enemy_health_post: i64,
}

/// A task's row in `lib_server_lobby` or `lib_server_game`.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum TaskRow<'a> {
    Lobby(LobbyRow<'a>),
    Game(GameRow<'a>),
}

impl TaskKind<'_> {
    /// The task rows of a message: a lobby row per hero of a starting match, a game row per
    /// completed attack, none for the rest.
    pub fn for_each_row<'a>(
        &'a self,
        etl_id: &'a str,
        msg_id: &'a str,
        mut each: impl FnMut(TaskRow<'a>),
    ) {
        match self {
            TaskKind::StartingMatch {
                timestamp,
                game_token,
                heroes,
            } => {
                for h in heroes {
                    each(TaskRow::Lobby(LobbyRow {
                        etl_id,
                        msg_id,
                        timestamp,
                        game_token,
                        user_token: &h.user_token,
                        superhero_id: h.id,
                        superhero_attack: h.attack,
                        superhero_health: h.health,
                    }));
                }
            }
            TaskKind::AttackCompleted(a) => each(TaskRow::Game(GameRow {
                etl_id,
                msg_id,
                timestamp: &a.timestamp,
                game_token: &a.game_token,
                user_token: &a.user_token,
                action: &a.action,
                enemy_token: &a.enemy_token,
                enemy_damage: a.enemy_damage,
                enemy_health_prior: a.enemy_health_prior,
                enemy_health_post: a.enemy_health_post,
            })),
            TaskKind::Cleaning { .. } | TaskKind::Other => {}
        }
    }
}

/// The `log_meta` row of a message.
pub fn log_row<'a>(etl_id: &'a str, msg_id: &'a str, envelope: &'a Envelope<'_>) -> LogRow<'a> {
    LogRow {
        etl_id,
        msg_id,
        level: &envelope.level,
        timestamp: &envelope.timestamp,
        name: &envelope.name,
        log_message: &envelope.log_message,
    }
}

/// The `buffer_meta` row of a message (aiokafka's `ConsumerRecord` fields as the original saw them).
pub fn buffer_row<'a>(etl_id: &'a str, msg_id: &'a str, msg: &'a RawMessage) -> BufferRow<'a> {
    let timestamp = msg
        .timestamp_ms
        .and_then(timefmt::format_epoch_ms)
        .unwrap_or_default();
    buffer_row_at(etl_id, msg_id, msg, Cow::Owned(timestamp))
}

/// [`buffer_row`] with the message's Kafka time already written (`""` when it has none): the batch
/// writes it with [`timefmt::EpochMsText`].
pub fn buffer_row_at<'a>(
    etl_id: &'a str,
    msg_id: &'a str,
    msg: &'a RawMessage,
    timestamp: Cow<'a, str>,
) -> BufferRow<'a> {
    BufferRow {
        etl_id,
        msg_id,
        checksum: None,
        headers: &msg.header_keys,
        key: msg
            .key
            .as_ref()
            .map(|k| String::from_utf8_lossy(k))
            .unwrap_or_default(),
        offset: msg.offset,
        partition: msg.partition,
        serialized_key_size: msg.key.as_ref().map_or(-1, |k| k.len() as i64),
        serialized_value_size: msg.value.as_ref().map_or(-1, |v| v.len() as i64),
        timestamp,
        timestamp_type: msg.timestamp_type,
        topic: &msg.topic,
        is_protocol: false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    const ATTACK: &str = r#"{"level": "INFO", "timestamp": "2024-01-13T22:25:41.654999", "name": "kafka.lib.server.game", "log_message": "Attack Completed", "task": "{\"TIMESTAMP\": \"2024-01-13T22:25:41.654321\", \"PAYLOAD\": {\"GAME_TOKEN\": \"g1\", \"USER_TOKEN\": \"u1\"}, \"STATUS\": {\"ACTION\": \"ATTACK\", \"DETAILS\": {\"ENEMY_TOKEN\": \"u2\", \"ENEMY_DAMAGE\": 74378, \"ENEMY_HEALTH_PRIOR\": 401800, \"ENEMY_HEALTH_POST\": 327422}}}"}"#;

    const START: &str = r#"{"level": "INFO", "timestamp": "2024-01-13T23:59:20.999999", "name": "kafka.lib.server.lobby", "log_message": "Starting Match", "task": "{\"TIMESTAMP\": \"2024-01-13T23:59:20Z\", \"PAYLOAD\": {\"GAME_TOKEN\": \"g\", \"PARTICIPANTS\": [\"a\", \"b\"], \"PARTICIPANTS_HEROS\": {\"a\": {\"token\": \"a\", \"id\": 14, \"attack\": 73600, \"health\": 4536000}, \"b\": {\"token\": \"b\", \"id\": 243, \"attack\": 1, \"health\": 10}}}, \"STATUS\": {\"GAME\": \"START\"}}"}"#;
    const CLEAN: &str = r#"{"level": "INFO", "timestamp": "2024-01-13T23:59:25.000001", "name": "kafka.lib.server.lobby", "log_message": "Cleaning Game Records", "task": {"game_token": "g", "user_token": "a"}}"#;
    const OTHER: &str = r#"{"level": "WARNING", "timestamp": "2024-01-13T23:59:25", "name": "kafka.lib.server.game", "log_message": "Game Timed Out", "task": "{\"GAME_TOKEN\": \"g\", \"N\": [1, 2.5, null, true]}"}"#;

    /// The shortcut for text already in the raw form gives what formatting the parsed time gives,
    /// for every form the contract accepts (a five-digit fraction with `Z` is 26 bytes too), dates
    /// that do not exist, and random digits in every field (most of them invalid), fractions of
    /// every length, with and without `Z`.
    #[test]
    fn raw_timestamps_are_the_parsed_times_formatted() {
        let formatted = |text: &str| parse_timestamp(text).map(|t| timefmt::format_raw(&t));
        let mut cases: Vec<String> = [
            "2024-01-13T23:59:21.000000",
            "2024-01-13T23:59:21.654321Z",
            "2024-01-13T23:59:21Z",
            "2024-01-13T23:59:21",
            "2024-01-13T23:59:21.5",
            "2024-01-13T23:59:21.123456789",
            "2024-01-13T23:59:21.12345Z",
            "2024-01-13T23:59:21.1234567Z",
            "0001-01-01T00:00:00.000000",
            "9999-12-31T23:59:59.999999",
            "0000-01-01T00:00:00.000000",
            "2024-02-30T00:00:00.000000",
            "2023-02-29T00:00:00.000000",
            "2024-02-29T00:00:00.000000",
            "2024-01-13T24:00:00.000000",
            "2024-01-13T23:59:60.000000",
            "2024-01-13 23:59:21.000000",
            "2024-01-13T23:59:21,000000",
            "2024-01-13T23:59:21.00000a",
            "+024-01-13T23:59:21.000000",
        ]
        .map(String::from)
        .to_vec();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = |shift: u32, modulo: u64| (x >> shift) % modulo;
            // Fractions of 1 to 9 digits, mostly 6, with or without a `Z`.
            let digits = if d(62, 2) == 0 {
                6
            } else {
                1 + d(58, 9) as usize
            };
            let fraction = format!("{:09}", d(20, 1_000_000_000));
            cases.push(format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{}{}",
                d(0, 10_000),
                d(14, 14),
                d(18, 33),
                d(24, 26),
                d(30, 62),
                d(36, 62),
                &fraction[..digits],
                if d(50, 3) == 0 { "Z" } else { "" }
            ));
        }
        let valid = cases.iter().filter(|c| formatted(c).is_some()).count();
        assert!(valid > 5_000, "{valid}");
        for text in &cases {
            assert_eq!(
                raw_timestamp(text).map(String::from),
                formatted(text),
                "{text}"
            );
        }
    }

    /// The four message shapes, every one-character change of them (the inner task JSON too), and
    /// shapes a derived struct would take that the general parser must decide.
    pub(crate) fn mutation_cases() -> Vec<(&'static str, String)> {
        let templates = [
            (GAME_TOPIC, ATTACK.to_string()),
            (LOBBY_TOPIC, START.to_string()),
            (LOBBY_TOPIC, CLEAN.to_string()),
            (GAME_TOPIC, OTHER.to_string()),
            // Task given as an object, not a string; whitespace around the task.
            (
                GAME_TOPIC,
                ATTACK
                    .replace(r#""task": "{"#, r#""task":  {"#)
                    .replace(r#"}}}"}"#, "}}}  }")
                    .replace("\\\"", "\""),
            ),
        ];
        let mut cases: Vec<(&'static str, String)> = Vec::new();
        for (topic, text) in &templates {
            cases.push((topic, text.clone()));
            for (i, _) in text.char_indices() {
                let (head, tail) = text.split_at(i);
                let rest = &tail[tail.chars().next().map_or(0, char::len_utf8)..];
                cases.push((topic, format!("{head}{rest}")));
                for c in [
                    "\"", "{", "}", "[", "]", ",", ":", "1", "-", ".", "e", "\\", " ", "x", "é",
                ] {
                    cases.push((topic, format!("{head}{c}{rest}")));
                    cases.push((topic, format!("{head}{c}{tail}")));
                }
            }
        }
        // Shapes a derived struct would take and the general parser must decide.
        let structural = [
            (
                GAME_TOPIC,
                r#"["INFO", "2024-01-13T22:25:41", "n", "m", "{}"]"#.to_string(),
            ),
            (
                GAME_TOPIC,
                ATTACK.replace(
                    r#"\"PAYLOAD\": {\"GAME_TOKEN\": \"g1\", \"USER_TOKEN\": \"u1\"}"#,
                    r#"\"PAYLOAD\": [\"g1\", \"u1\"]"#,
                ),
            ),
            (
                GAME_TOPIC,
                ATTACK.replace(r#""level": "INFO""#, r#""level": "INFO", "level": "DEBUG""#),
            ),
            (GAME_TOPIC, ATTACK.replace(r#""level""#, r#""lev\u0065l""#)),
            (GAME_TOPIC, ATTACK.replace("74378", "-0")),
            (GAME_TOPIC, ATTACK.replace("74378", "74378.0")),
            (GAME_TOPIC, ATTACK.replace("74378", "18446744073709551615")),
            (GAME_TOPIC, ATTACK.replace("74378", "1e3")),
            (
                LOBBY_TOPIC,
                START.replace(r#"\"b\": {\"token\""#, r#"\"a\": {\"token\""#),
            ),
            (
                LOBBY_TOPIC,
                START.replace(r#"\"id\": 243"#, r#"\"id\": 65536"#),
            ),
            (
                LOBBY_TOPIC,
                START.replace(r#"\"id\": 243"#, r#"\"id\": 65535"#),
            ),
            (
                LOBBY_TOPIC,
                START.replace(
                    r#"{\"token\": \"b\", \"id\": 243, \"attack\": 1, \"health\": 10}"#,
                    "[243, 1, 10]",
                ),
            ),
            (
                LOBBY_TOPIC,
                START.replace(r#""task": "#, r#""task": "{}", "task": "#),
            ),
            (
                LOBBY_TOPIC,
                CLEAN.replace(r#"{"game_token": "g", "user_token": "a"}"#, r#"["g", "a"]"#),
            ),
            (
                GAME_TOPIC,
                OTHER
                    .replace(r#""task": "{"#, r#""task": "["#)
                    .replace(r#"true]}"}"#, r#"true]]"}"#),
            ),
            (GAME_TOPIC, ATTACK.replace("g1", "g\\\\u00e9\\\\n")),
        ];
        cases.extend(structural.iter().map(|(t, s)| (*t, s.clone())));
        cases
    }

    /// The typed parsers that `parse` tries first must agree with the general parser: same result
    /// when they take a message, and every message they leave goes to the general one.
    #[test]
    fn typed_parser_agrees_with_general_parser() {
        let cases = mutation_cases();
        let (mut accepted, mut refused) = (0, 0);
        for (topic, text) in &cases {
            let general = parse_general(topic, Some(text.as_bytes()));
            assert_eq!(
                parse(topic, Some(text.as_bytes())),
                general,
                "{topic}: {text}"
            );
            if general.is_ok() {
                accepted += 1
            } else {
                refused += 1
            }
        }
        // The mutations must exercise both outcomes, or this test proves nothing.
        assert!(
            accepted > 1000 && refused > 10_000,
            "{accepted} accepted, {refused} refused"
        );
    }

    #[test]
    fn attack_completed_parses_both_timestamp_forms() {
        let p = parse(GAME_TOPIC, Some(ATTACK.as_bytes())).unwrap();
        let TaskKind::AttackCompleted(row) = p.task else {
            panic!("not an attack")
        };
        assert_eq!(row.timestamp, "2024-01-13T22:25:41.654321");
        assert_eq!(row.enemy_health_post, 327_422);
        let old = ATTACK.replace("41.654321", "41Z");
        let p = parse(GAME_TOPIC, Some(old.as_bytes())).unwrap();
        let TaskKind::AttackCompleted(row) = p.task else {
            panic!("not an attack")
        };
        assert_eq!(row.timestamp, "2024-01-13T22:25:41.000000");
    }

    #[test]
    fn attack_on_lobby_topic_has_no_task_rows() {
        let p = parse(LOBBY_TOPIC, Some(ATTACK.as_bytes())).unwrap();
        assert_eq!(p.task, TaskKind::Other);
    }

    #[test]
    fn envelope_without_fraction_is_accepted_and_kept_verbatim() {
        let v = ATTACK.replace("41.654999", "41");
        let p = parse(GAME_TOPIC, Some(v.as_bytes())).unwrap();
        assert_eq!(p.envelope.timestamp, "2024-01-13T22:25:41");
    }

    #[test]
    fn cleaning_task_is_an_object() {
        let v = r#"{"level": "INFO", "timestamp": "2024-01-13T22:25:45.001234", "name": "kafka.lib.server.lobby", "log_message": "Cleaning Game Records", "task": {"game_token": "g", "user_token": "u"}}"#;
        let p = parse(LOBBY_TOPIC, Some(v.as_bytes())).unwrap();
        assert_eq!(
            p.task,
            TaskKind::Cleaning {
                game_token: "g".into(),
                user_token: "u".into()
            }
        );
    }

    #[test]
    fn bad_messages_are_values() {
        let cases: Vec<(Option<&[u8]>, &str)> = vec![
            (None, "no value"),
            (Some(b"\xff\xfe"), "not UTF-8"),
            (Some(b"not json"), "not JSON"),
            (Some(b"[1]"), "not a JSON object"),
            (
                Some(br#"{"level": "INFO", "timestamp": "2024-01-13T22:25:41", "name": "n", "log_message": "m"}"#),
                "`task` is missing",
            ),
            (
                Some(br#"{"level": 1, "timestamp": "2024-01-13T22:25:41", "name": "n", "log_message": "m", "task": "{}"}"#),
                "`level` has the wrong type",
            ),
            (
                Some(br#"{"level": "INFO", "timestamp": "13/01/2024", "name": "n", "log_message": "m", "task": "{}"}"#),
                "not a recognised form",
            ),
            (
                Some(br#"{"level": "INFO", "timestamp": "2024-01-13T22:25:41", "name": "n", "log_message": "m", "task": "{oops"}"#),
                "`task` string is not a JSON object",
            ),
        ];
        for (value, want) in cases {
            let err = parse(GAME_TOPIC, value).unwrap_err().to_string();
            assert!(err.contains(want), "{err} !~ {want}");
        }
        let bad_damage = ATTACK.replace("74378", "\\\"lots\\\"");
        let err = parse(GAME_TOPIC, Some(bad_damage.as_bytes())).unwrap_err();
        assert_eq!(
            err,
            BadMessage::WrongType {
                field: "ENEMY_DAMAGE",
                expected: "integer"
            }
        );
        for (from, to, field) in [
            ("74378", "-1", "ENEMY_DAMAGE"),
            ("74378", "9223372036854775808", "ENEMY_DAMAGE"),
            ("401800", "-401800", "ENEMY_HEALTH_PRIOR"),
        ] {
            let v = ATTACK.replace(from, to);
            assert!(
                matches!(parse(GAME_TOPIC, Some(v.as_bytes())), Err(BadMessage::OutOfRange { field: f, .. }) if f == field),
                "{to}"
            );
        }
        let leap = ATTACK.replace("41.654321", "60");
        assert!(parse(GAME_TOPIC, Some(leap.as_bytes())).is_err());
        let bad_ts = ATTACK.replace("41.654321", "yesterday");
        assert!(matches!(
            parse(GAME_TOPIC, Some(bad_ts.as_bytes())),
            Err(BadMessage::BadTimestamp {
                field: "TIMESTAMP",
                ..
            })
        ));
    }
}
