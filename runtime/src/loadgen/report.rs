//! The load generator's own counts, printed as JSON so an end-to-end test can compare them with
//! what landed in raw storage.
//!
//! ```json
//! {"seed": 7, "games": 20, "games_completed": 19, "games_timed_out": 1,
//!  "total_messages": 412, "poison_total": 0,
//!  "messages": {"lib.server.game": 310, "lib.server.lobby": 102},
//!  "valid_messages": {...}, "poison": {...},
//!  "partitions": {"lib.server.game": [80, 75, 77, 78], "lib.server.lobby": [50, 52]},
//!  "log_messages": {"Attack Completed": 300, "Cleaning Game Records": 49, ...},
//!  "lobby_rows": 123, "game_rows": 300,
//!  "delivered": 412, "delivery_failures": 0, "elapsed_secs": 1.2, "messages_per_sec": 343.3}
//! ```
//! `lobby_rows` = sum over `Starting Match` of its participants; `game_rows` = `Attack Completed`
//! count; `messages` include poison messages, `valid_messages` do not.

use crate::loadgen::plan::{Game, Kind};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Counts {
    pub seed: u64,
    pub games: u64,
    pub games_completed: u64,
    pub games_timed_out: u64,
    pub total_messages: u64,
    pub poison_total: u64,
    pub messages: BTreeMap<String, u64>,
    pub valid_messages: BTreeMap<String, u64>,
    pub poison: BTreeMap<String, u64>,
    pub partitions: BTreeMap<String, Vec<u64>>,
    pub log_messages: BTreeMap<String, u64>,
    pub lobby_rows: u64,
    pub game_rows: u64,
    pub delivered: u64,
    pub delivery_failures: u64,
    pub elapsed_secs: f64,
    pub messages_per_sec: f64,
}

impl Counts {
    pub fn new(seed: u64, lobby_partitions: i32, game_partitions: i32) -> Self {
        let mut c = Counts {
            seed,
            ..Default::default()
        };
        for (topic, n) in [
            (crate::ingest::records::LOBBY_TOPIC, lobby_partitions),
            (crate::ingest::records::GAME_TOPIC, game_partitions),
        ] {
            c.partitions
                .insert(topic.to_string(), vec![0; n.max(1) as usize]);
            c.messages.insert(topic.to_string(), 0);
            c.valid_messages.insert(topic.to_string(), 0);
            c.poison.insert(topic.to_string(), 0);
        }
        c
    }

    pub fn add(&mut self, game: &Game) {
        self.games += 1;
        if game.timed_out {
            self.games_timed_out += 1;
        } else {
            self.games_completed += 1;
        }
        for m in &game.messages {
            self.total_messages += 1;
            *self.messages.entry(m.topic.to_string()).or_default() += 1;
            if let Some(slot) = self
                .partitions
                .get_mut(m.topic)
                .and_then(|v| v.get_mut(m.partition as usize))
            {
                *slot += 1;
            }
            if m.kind == Kind::Poison {
                self.poison_total += 1;
                *self.poison.entry(m.topic.to_string()).or_default() += 1;
                continue;
            }
            *self.valid_messages.entry(m.topic.to_string()).or_default() += 1;
            *self
                .log_messages
                .entry(m.kind.log_message().to_string())
                .or_default() += 1;
            match m.kind {
                Kind::StartingMatch => self.lobby_rows += m.task_rows,
                Kind::AttackCompleted => self.game_rows += m.task_rows,
                _ => {}
            }
        }
    }
}
