//! The typed parser of well-formed messages: one serde pass straight into the fields the records
//! need, borrowing unescaped strings, instead of a `serde_json::Value` tree (an ordered map per
//! object) that is then searched key by key.
//!
//! It only ever answers "parsed, and here is the result" or "not sure": any message it does not take
//! (bad JSON, a missing or mistyped field, a duplicate key, an out-of-range number, ...) goes to
//! [`records::parse_general`](crate::ingest::records::parse_general), which decides and words the
//! error. Both run on the same serde_json reader, so a message this parser accepts is one the
//! general parser accepts with the same result (`records` tests compare the two on mutated
//! messages).

use crate::ingest::records::{
    self, AttackRow, Envelope, Hero, Parsed, TaskKind, GAME_TOPIC, HERO_ID_MAX, LOBBY_TOPIC,
};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// `T` read only from a JSON object (a derived struct alone would also take an array of its fields,
/// which the general parser refuses).
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(V(PhantomData)).map(Obj)
    }
}

#[derive(Deserialize)]
struct EnvelopeIn<'a> {
    #[serde(borrow)]
    level: Cow<'a, str>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    log_message: Cow<'a, str>,
    #[serde(borrow)]
    task: TaskIn<'a>,
}

/// The envelope's `task`, read in the envelope's own pass. A string (every kind but `Cleaning Game
/// Records`) is unescaped there, once, into the task's JSON text, parsed next; before, it was first
/// skipped over as raw JSON, then unescaped, then parsed: three passes, each stopping at every one
/// of its many escaped quotes. An object is read as a `Cleaning Game Records` task (the kind sent as
/// one); any other kind with an object task is left to the general parser.
enum TaskIn<'a> {
    Text(Cow<'a, str>),
    Object {
        game_token: Option<Cow<'a, str>>,
        user_token: Option<Cow<'a, str>>,
    },
}

impl<'de: 'a, 'a> Deserialize<'de> for TaskIn<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = TaskIn<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON string or object")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<TaskIn<'a>, E> {
                Ok(TaskIn::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TaskIn<'a>, E> {
                Ok(TaskIn::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<TaskIn<'a>, E> {
                Ok(TaskIn::Text(Cow::Owned(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TaskIn<'a>, A::Error> {
                let (mut game_token, mut user_token) = (None, None);
                while let Some(Borrowed(key)) = map.next_key()? {
                    let slot = match &*key {
                        "game_token" => &mut game_token,
                        "user_token" => &mut user_token,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if slot.is_some() {
                        // The general parser keeps the last value; left to it.
                        return Err(de::Error::custom("repeated token"));
                    }
                    *slot = Some(map.next_value::<Borrowed<'de>>()?.0);
                }
                Ok(TaskIn::Object {
                    game_token,
                    user_token,
                })
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A string, borrowed from the message when it has no escapes.
struct Borrowed<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Borrowed<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wrap<'a>(#[serde(borrow)] Cow<'a, str>);
        Wrap::deserialize(d).map(|Wrap(s)| Borrowed(s))
    }
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct StartIn<'a> {
    #[serde(borrow)]
    TIMESTAMP: Cow<'a, str>,
    #[serde(borrow)]
    PAYLOAD: Obj<StartPayloadIn<'a>>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct StartPayloadIn<'a> {
    #[serde(borrow)]
    GAME_TOKEN: Cow<'a, str>,
    PARTICIPANTS_HEROS: Heroes,
}

#[derive(Deserialize)]
struct HeroIn {
    id: u64,
    attack: u64,
    health: u64,
}

/// `PARTICIPANTS_HEROS` in document order; a repeated user is refused (the general parser keeps
/// the first position and the last value, a case left to it).
struct Heroes(Vec<Hero>);

impl<'de> Deserialize<'de> for Heroes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Heroes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of heroes")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Heroes, A::Error> {
                let mut heroes: Vec<Hero> = Vec::new();
                while let Some(user) = map.next_key::<Cow<'de, str>>()? {
                    let Obj(hero): Obj<HeroIn> = map.next_value()?;
                    if heroes.iter().any(|h| h.user_token == user) {
                        return Err(de::Error::custom("repeated user"));
                    }
                    heroes.push(Hero {
                        user_token: user.into_owned(),
                        id: in_range(hero.id, HERO_ID_MAX)?,
                        attack: in_range(hero.attack, i64::MAX)?,
                        health: in_range(hero.health, i64::MAX)?,
                    });
                }
                Ok(Heroes(heroes))
            }
        }
        d.deserialize_map(V)
    }
}

fn in_range<E: de::Error>(v: u64, max: i64) -> Result<i64, E> {
    i64::try_from(v)
        .ok()
        .filter(|v| *v <= max)
        .ok_or_else(|| E::custom("out of range"))
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct AttackIn<'a> {
    #[serde(borrow)]
    TIMESTAMP: Cow<'a, str>,
    #[serde(borrow)]
    PAYLOAD: Obj<AttackPayloadIn<'a>>,
    #[serde(borrow)]
    STATUS: Obj<AttackStatusIn<'a>>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct AttackPayloadIn<'a> {
    #[serde(borrow)]
    GAME_TOKEN: Cow<'a, str>,
    #[serde(borrow)]
    USER_TOKEN: Cow<'a, str>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct AttackStatusIn<'a> {
    #[serde(borrow)]
    ACTION: Cow<'a, str>,
    #[serde(borrow)]
    DETAILS: Obj<AttackDetailsIn<'a>>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct AttackDetailsIn<'a> {
    #[serde(borrow)]
    ENEMY_TOKEN: Cow<'a, str>,
    ENEMY_DAMAGE: u64,
    ENEMY_HEALTH_PRIOR: u64,
    ENEMY_HEALTH_POST: u64,
}

#[derive(Deserialize)]
struct CleaningIn<'a> {
    #[serde(borrow)]
    game_token: Cow<'a, str>,
    #[serde(borrow)]
    user_token: Cow<'a, str>,
}

/// Any JSON object, not kept (the task of a message without task rows must still be one).
struct AnyObject;

impl<'de> Deserialize<'de> for AnyObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AnyObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyObject, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AnyObject)
            }
        }
        d.deserialize_map(V)
    }
}

/// Parses `text` (the message value, already checked to be UTF-8) of `topic`, or `None` when the
/// general parser must decide.
pub fn parse(topic: &str, text: &str) -> Option<Parsed> {
    let Obj(env): Obj<EnvelopeIn> = serde_json::from_str(text).ok()?;
    records::parse_timestamp(&env.timestamp)?;
    // The task is a JSON object, or a string holding one.
    let task_text = match env.task {
        TaskIn::Text(text) => text,
        TaskIn::Object {
            game_token,
            user_token,
        } => {
            let task = match &*env.log_message {
                "Cleaning Game Records" => TaskKind::Cleaning {
                    game_token: game_token?.into_owned(),
                    user_token: user_token?.into_owned(),
                },
                "Starting Match" if topic == LOBBY_TOPIC => return None,
                "Attack Completed" if topic == GAME_TOPIC => return None,
                _ => TaskKind::Other,
            };
            return Some(Parsed {
                envelope: envelope(env.level, env.timestamp, env.name, env.log_message),
                task,
            });
        }
    };
    let task_text: &str = &task_text;
    let kind = match (topic, &*env.log_message) {
        (LOBBY_TOPIC, "Starting Match") => {
            let Obj(t): Obj<StartIn> = serde_json::from_str(task_text).ok()?;
            let Obj(payload) = t.PAYLOAD;
            TaskKind::StartingMatch {
                timestamp: task_timestamp(&t.TIMESTAMP)?,
                game_token: payload.GAME_TOKEN.into_owned(),
                heroes: payload.PARTICIPANTS_HEROS.0,
            }
        }
        (GAME_TOPIC, "Attack Completed") => {
            let Obj(t): Obj<AttackIn> = serde_json::from_str(task_text).ok()?;
            let (Obj(payload), Obj(status)) = (t.PAYLOAD, t.STATUS);
            let Obj(d) = status.DETAILS;
            TaskKind::AttackCompleted(AttackRow {
                timestamp: task_timestamp(&t.TIMESTAMP)?,
                game_token: payload.GAME_TOKEN.into_owned(),
                user_token: payload.USER_TOKEN.into_owned(),
                action: status.ACTION.into_owned(),
                enemy_token: d.ENEMY_TOKEN.into_owned(),
                enemy_damage: in_range::<serde_json::Error>(d.ENEMY_DAMAGE, i64::MAX).ok()?,
                enemy_health_prior: in_range::<serde_json::Error>(d.ENEMY_HEALTH_PRIOR, i64::MAX)
                    .ok()?,
                enemy_health_post: in_range::<serde_json::Error>(d.ENEMY_HEALTH_POST, i64::MAX)
                    .ok()?,
            })
        }
        (_, "Cleaning Game Records") => {
            let Obj(t): Obj<CleaningIn> = serde_json::from_str(task_text).ok()?;
            TaskKind::Cleaning {
                game_token: t.game_token.into_owned(),
                user_token: t.user_token.into_owned(),
            }
        }
        _ => {
            serde_json::from_str::<AnyObject>(task_text).ok()?;
            TaskKind::Other
        }
    };
    Some(Parsed {
        envelope: envelope(env.level, env.timestamp, env.name, env.log_message),
        task: kind,
    })
}

fn envelope(
    level: Cow<str>,
    timestamp: Cow<str>,
    name: Cow<str>,
    log_message: Cow<str>,
) -> Envelope {
    Envelope {
        level: level.into_owned(),
        timestamp: timestamp.into_owned(),
        name: name.into_owned(),
        log_message: log_message.into_owned(),
    }
}

fn task_timestamp(text: &str) -> Option<String> {
    records::parse_timestamp(text).map(|t| crate::ingest::timefmt::format_raw(&t))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ingest::records::parse_general;

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
}
