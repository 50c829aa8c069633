//! Sans-io game simulation: the messages the game server would publish, as a pure function of a seed.
//!
//! Each game is 2 or 3 players with unique heroes. A normal game publishes, in order:
//! `Starting Match` once per participant (lobby; every copy carries all heroes), `Attack Completed`
//! per attack until one hero is alive (game), sometimes an `Attacked Dead Enemy` (game, ERROR), then
//! `Cleaning Game Records` once per participant (lobby; `task` is an object). A timed-out lobby
//! publishes `Game Timed Out` + `Cleaning Game Records` per waiting bot. Partitions are uniformly
//! random, keys null. Timestamps follow seed §1.5 (envelope `isoformat()` without the fraction when
//! µs = 0, `...SSZ` for lobby tasks, `...SS.ffffff` — sometimes the pre-2024-01-13 `...SSZ` — for
//! attack tasks).

use crate::ingest::pyjson;
use crate::ingest::records::{GAME_TOPIC, LOBBY_TOPIC};
use crate::ingest::timefmt::python_isoformat;
use crate::loadgen::heroes::{HeroStats, Heroes, HERO_COUNT};
use chrono::{Duration as ChronoDuration, NaiveDateTime};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// Most attacks a game may take before its heroes are re-drawn (the real maximum is about 2,250).
pub const MAX_ATTACKS: usize = 2_500;

/// What to generate.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub seed: u64,
    pub games: u64,
    /// Envelope time of the first message.
    pub start: NaiveDateTime,
    /// Virtual time between two messages.
    pub step: ChronoDuration,
    /// Share of lobbies that time out.
    pub timeout_ratio: f64,
    /// Share of games ending with an `Attacked Dead Enemy`.
    pub dead_enemy_ratio: f64,
    /// Share of attack tasks with the old `...SSZ` timestamp.
    pub old_attack_timestamp_ratio: f64,
    /// Insert one bad message after every this many good ones (0 = never).
    pub poison_every: u64,
    pub lobby_partitions: i32,
    pub game_partitions: i32,
}

impl PlanOptions {
    pub fn new(seed: u64, games: u64, start: NaiveDateTime) -> Self {
        Self {
            seed,
            games,
            start,
            step: ChronoDuration::milliseconds(5),
            timeout_ratio: 0.05,
            dead_enemy_ratio: 0.05,
            old_attack_timestamp_ratio: 0.1,
            poison_every: 0,
            lobby_partitions: 2,
            game_partitions: 4,
        }
    }
}

/// The kind of a planned message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    StartingMatch,
    AttackCompleted,
    AttackedDeadEnemy,
    GameTimedOut,
    Cleaning,
    Poison,
}

impl Kind {
    pub fn log_message(self) -> &'static str {
        match self {
            Kind::StartingMatch => "Starting Match",
            Kind::AttackCompleted => "Attack Completed",
            Kind::AttackedDeadEnemy => "Attacked Dead Enemy",
            Kind::GameTimedOut => "Game Timed Out",
            Kind::Cleaning => "Cleaning Game Records",
            Kind::Poison => "(poison)",
        }
    }
}

/// One message to produce.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub topic: &'static str,
    pub partition: i32,
    pub value: Vec<u8>,
    pub kind: Kind,
    /// Task rows this message yields downstream (lobby: participants; game: 1 per attack).
    pub task_rows: u64,
}

/// The Redis state a game server leaves for a game (seed §1.7).
#[derive(Debug, Clone, PartialEq)]
pub struct GameState {
    pub game_token: String,
    pub size: usize,
    pub host: String,
    pub participants: Vec<String>,
    /// `(user, hero, current health)`.
    pub heroes: Vec<(String, HeroStats, i64)>,
    pub status: &'static str,
    pub order: Vec<String>,
    /// `games:<g>:logs`: every attack task JSON.
    pub logs: Vec<String>,
}

/// A planned game.
#[derive(Debug, Clone, PartialEq)]
pub struct Game {
    pub messages: Vec<Planned>,
    pub state: GameState,
    pub timed_out: bool,
}

/// One attack of a fight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Attack {
    attacker: usize,
    enemy: usize,
    prior: i64,
    damage: i64,
    post: i64,
}

/// Generates games one by one (memory stays flat for long runs).
#[derive(Debug)]
pub struct Planner {
    opts: PlanOptions,
    rng: StdRng,
    heroes: Heroes,
    users: Vec<String>,
    clock: NaiveDateTime,
    produced: u64,
    good_since_poison: u64,
    poison_seq: u64,
}

fn uuid4(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.gen())
        .into_uuid()
        .to_string()
}

impl Planner {
    pub fn new(opts: PlanOptions) -> Self {
        let mut rng = StdRng::seed_from_u64(opts.seed);
        // Bots log in as USER000..USER999; each name maps to one uuid4 token.
        let users = (0..1000).map(|_| uuid4(&mut rng)).collect();
        Planner {
            clock: opts.start,
            opts,
            rng,
            heroes: Heroes::new(),
            users,
            produced: 0,
            good_since_poison: 0,
            poison_seq: 0,
        }
    }

    fn tick(&mut self) -> NaiveDateTime {
        let jitter = self
            .rng
            .gen_range(0..=self.opts.step.num_microseconds().unwrap_or(0) / 2);
        self.clock += self.opts.step + ChronoDuration::microseconds(jitter);
        // About 1% of records are logged on a whole second, where isoformat() drops the fraction.
        if self.rng.gen_bool(0.01) {
            self.clock = self.clock.with_nanosecond_zero();
        }
        self.clock
    }

    fn envelope(&mut self, topic: &'static str, level: &str, kind: Kind, task: Value) -> Planned {
        let ts = self.tick();
        let name = format!("kafka.{topic}");
        let doc = json!({
            "level": level,
            "timestamp": python_isoformat(&ts),
            "name": name,
            "log_message": kind.log_message(),
            "task": task,
        });
        let partitions = if topic == LOBBY_TOPIC {
            self.opts.lobby_partitions
        } else {
            self.opts.game_partitions
        };
        Planned {
            topic,
            partition: self.rng.gen_range(0..partitions.max(1)),
            value: pyjson::to_vec(&doc).unwrap_or_default(),
            kind,
            task_rows: 0,
        }
    }

    fn task_string(task: &Value) -> Value {
        Value::String(pyjson::to_string(task).unwrap_or_default())
    }

    fn lobby_ts(&self) -> String {
        self.clock.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    fn attack_ts(&mut self) -> String {
        if self.rng.gen_bool(self.opts.old_attack_timestamp_ratio) {
            self.clock.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            self.clock.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
        }
    }

    fn draw_heroes(&mut self, n: usize) -> Vec<HeroStats> {
        let mut ids: Vec<u32> = Vec::with_capacity(n);
        while ids.len() < n {
            let id = self.rng.gen_range(1..=HERO_COUNT);
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids.into_iter().map(|id| self.heroes.get(id)).collect()
    }

    /// Simulates the fight: round-robin over sorted tokens, random living target, dead heroes leave
    /// the order. Returns the attacks `(attacker, enemy, prior, damage, post)` and the winner, or
    /// `None` if it would take more than [`MAX_ATTACKS`].
    fn fight(
        &mut self,
        heroes: &[HeroStats],
        participants: &[String],
    ) -> Option<(Vec<Attack>, usize)> {
        let mut health: Vec<i64> = heroes.iter().map(|h| h.health).collect();
        let mut order: Vec<usize> = (0..heroes.len()).collect();
        order.sort_by(|a, b| participants[*a].cmp(&participants[*b]));
        let mut attacks = Vec::new();
        while order.len() > 1 {
            if attacks.len() >= MAX_ATTACKS {
                return None;
            }
            let attacker = order[0];
            let enemy = order[self.rng.gen_range(1..order.len())];
            let prior = health[enemy];
            let damage = heroes[attacker].attack;
            let post = (prior - damage).max(0);
            health[enemy] = post;
            attacks.push(Attack {
                attacker,
                enemy,
                prior,
                damage,
                post,
            });
            if post == 0 {
                order.retain(|i| *i != enemy);
            }
            if let Some(pos) = order.iter().position(|i| *i == attacker) {
                let a = order.remove(pos);
                order.push(a);
            }
        }
        Some((attacks, order[0]))
    }

    fn maybe_poison(&mut self, out: &mut Vec<Planned>) {
        if self.opts.poison_every == 0 {
            return;
        }
        self.good_since_poison += 1;
        if self.good_since_poison < self.opts.poison_every {
            return;
        }
        self.good_since_poison = 0;
        self.poison_seq += 1;
        let topic = if self.rng.gen_bool(0.5) {
            LOBBY_TOPIC
        } else {
            GAME_TOPIC
        };
        let ts = python_isoformat(&self.tick());
        let value: Vec<u8> = match self.poison_seq % 5 {
            0 => b"this is not json".to_vec(),
            1 => vec![0xff, 0xfe, 0x00, 0x80],
            2 => format!(r#"{{"level": "INFO", "timestamp": "{ts}", "name": "kafka.{topic}", "log_message": "Attack Completed"}}"#).into_bytes(),
            3 => format!(r#"{{"level": ["INFO"], "timestamp": "{ts}", "name": "kafka.{topic}", "log_message": "Starting Match", "task": "{{}}"}}"#).into_bytes(),
            _ => format!(r#"{{"level": "INFO", "timestamp": "13/01/2024 22:25", "name": "kafka.{topic}", "log_message": "Game Timed Out", "task": "{{}}"}}"#).into_bytes(),
        };
        let partitions = if topic == LOBBY_TOPIC {
            self.opts.lobby_partitions
        } else {
            self.opts.game_partitions
        };
        out.push(Planned {
            topic,
            partition: self.rng.gen_range(0..partitions.max(1)),
            value,
            kind: Kind::Poison,
            task_rows: 0,
        });
    }

    fn push(&mut self, out: &mut Vec<Planned>, p: Planned) {
        out.push(p);
        self.maybe_poison(out);
    }

    fn play(&mut self) -> Game {
        let n = self.rng.gen_range(2..=3usize);
        let game_token = uuid4(&mut self.rng);
        let mut participants: Vec<String> = Vec::with_capacity(n);
        while participants.len() < n {
            let u = self.users[self.rng.gen_range(0..self.users.len())].clone();
            if !participants.contains(&u) {
                participants.push(u);
            }
        }
        let host = participants[0].clone();
        let mut out = Vec::new();
        let g = game_token.clone();

        if self.rng.gen_bool(self.opts.timeout_ratio) {
            let waiting = self.rng.gen_range(1..n);
            let waiting_users: Vec<String> = participants[..waiting].to_vec();
            for _ in &waiting_users {
                let _ = self.tick();
                let task = json!({"TIMESTAMP": self.lobby_ts(), "PAYLOAD": {"GAME_TOKEN": g}, "STATUS": {"GAME": "TIMED OUT"}});
                let p = self.envelope(
                    LOBBY_TOPIC,
                    "INFO",
                    Kind::GameTimedOut,
                    Self::task_string(&task),
                );
                self.push(&mut out, p);
            }
            for u in &waiting_users {
                let task = json!({"game_token": g, "user_token": u});
                let p = self.envelope(LOBBY_TOPIC, "INFO", Kind::Cleaning, task);
                self.push(&mut out, p);
            }
            return Game {
                messages: out,
                state: GameState {
                    game_token,
                    size: n,
                    host,
                    participants: waiting_users,
                    heroes: vec![],
                    status: "Timed Out",
                    order: vec![],
                    logs: vec![],
                },
                timed_out: true,
            };
        }

        let mut heroes = self.draw_heroes(n);
        let mut outcome = self.fight(&heroes, &participants);
        for _ in 0..20 {
            if outcome.is_some() {
                break;
            }
            heroes = self.draw_heroes(n);
            outcome = self.fight(&heroes, &participants);
        }
        let (attacks, winner) = match outcome {
            Some(o) => o,
            None => {
                // Practically unreachable; all-null heroes always fight briefly.
                heroes = (0..n)
                    .map(|i| HeroStats {
                        id: i as u32 + 1,
                        health: 10,
                        attack: 1,
                    })
                    .collect();
                self.fight(&heroes, &participants).unwrap_or_default()
            }
        };

        // Starting Match, once per participant's lobby connection.
        for _ in 0..n {
            let _ = self.tick();
            let mut listed = participants.clone();
            listed.shuffle(&mut self.rng);
            let mut by_user = Map::new();
            for u in &listed {
                let i = participants.iter().position(|p| p == u).unwrap_or(0);
                by_user.insert(
                    u.clone(),
                    json!({"token": u, "id": heroes[i].id, "attack": heroes[i].attack, "health": heroes[i].health}),
                );
            }
            let task = json!({
                "TIMESTAMP": self.lobby_ts(),
                "PAYLOAD": {"GAME_TOKEN": g, "PARTICIPANTS": listed, "PARTICIPANTS_HEROS": by_user},
                "STATUS": {"GAME": "START"},
            });
            let mut p = self.envelope(
                LOBBY_TOPIC,
                "INFO",
                Kind::StartingMatch,
                Self::task_string(&task),
            );
            p.task_rows = n as u64;
            self.push(&mut out, p);
        }

        let mut health: Vec<i64> = heroes.iter().map(|h| h.health).collect();
        let mut logs = Vec::new();
        for at in &attacks {
            health[at.enemy] = at.post;
            let _ = self.tick();
            let task = json!({
                "TIMESTAMP": self.attack_ts(),
                "PAYLOAD": {"GAME_TOKEN": g, "USER_TOKEN": participants[at.attacker]},
                "STATUS": {"ACTION": "ATTACK", "DETAILS": {
                    "ENEMY_TOKEN": participants[at.enemy], "ENEMY_DAMAGE": at.damage,
                    "ENEMY_HEALTH_PRIOR": at.prior, "ENEMY_HEALTH_POST": at.post}},
            });
            let task_text = Self::task_string(&task);
            if let Value::String(s) = &task_text {
                logs.push(s.clone());
            }
            let mut p = self.envelope(GAME_TOPIC, "INFO", Kind::AttackCompleted, task_text);
            p.task_rows = 1;
            self.push(&mut out, p);
        }
        if self.rng.gen_bool(self.opts.dead_enemy_ratio) {
            let _ = self.tick();
            let task = json!({
                "TIMESTAMP": self.attack_ts(),
                "PAYLOAD": {"GAME_TOKEN": g, "USER_TOKEN": participants[winner]},
                "STATUS": {"ACTION": "NA", "DETAILS": {"ENEMY_TOKEN": null, "ENEMY_STATUS": "DEAD"}},
            });
            let p = self.envelope(
                GAME_TOPIC,
                "ERROR",
                Kind::AttackedDeadEnemy,
                Self::task_string(&task),
            );
            self.push(&mut out, p);
        }
        for u in participants.clone() {
            let task = json!({"game_token": g, "user_token": u});
            let p = self.envelope(LOBBY_TOPIC, "INFO", Kind::Cleaning, task);
            self.push(&mut out, p);
        }
        let heroes_state = participants
            .iter()
            .enumerate()
            .map(|(i, u)| (u.clone(), heroes[i], health[i]))
            .collect();
        Game {
            messages: out,
            state: GameState {
                game_token,
                size: n,
                host,
                participants: participants.clone(),
                heroes: heroes_state,
                status: "Completed",
                order: vec![participants[winner].clone()],
                logs,
            },
            timed_out: false,
        }
    }
}

trait ZeroNanos {
    fn with_nanosecond_zero(self) -> Self;
}

impl ZeroNanos for NaiveDateTime {
    fn with_nanosecond_zero(self) -> Self {
        chrono::Timelike::with_nanosecond(&self, 0).unwrap_or(self)
    }
}

impl Iterator for Planner {
    type Item = Game;
    fn next(&mut self) -> Option<Game> {
        if self.produced >= self.opts.games {
            return None;
        }
        self.produced += 1;
        Some(self.play())
    }
}

/// The whole plan's game tokens, for callers that need them.
pub fn game_tokens(opts: &PlanOptions) -> Vec<String> {
    Planner::new(opts.clone())
        .map(|g| g.state.game_token)
        .collect()
}

#[doc(hidden)]
pub fn _uuid_is_v4(s: &str) -> bool {
    Uuid::parse_str(s)
        .map(|u| u.get_version_num() == 4)
        .unwrap_or(false)
}
