//! The load generator's plan: deterministic, in the original's shapes, counts consistent.
#![allow(clippy::unwrap_used)]

use runtime::ingest::records::{self, TaskKind, GAME_TOPIC, LOBBY_TOPIC};
use runtime::loadgen::plan::{Kind, PlanOptions, Planner};
use runtime::loadgen::{count_plan, parse_start};
use serde_json::Value;
use std::collections::HashSet;

fn opts(seed: u64, games: u64) -> PlanOptions {
    PlanOptions::new(seed, games, parse_start("2024-01-13T22:25:40").unwrap())
}

#[test]
fn same_seed_same_messages_other_seed_other_messages() {
    let a: Vec<_> = Planner::new(opts(7, 30)).collect();
    let b: Vec<_> = Planner::new(opts(7, 30)).collect();
    let c: Vec<_> = Planner::new(opts(8, 30)).collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(count_plan(&opts(7, 30)), count_plan(&opts(7, 30)));
}

#[test]
fn envelopes_are_python_json_in_the_original_key_order() {
    let mut seen = HashSet::new();
    for game in Planner::new(opts(3, 200)) {
        for m in &game.messages {
            let text = std::str::from_utf8(&m.value).unwrap();
            assert!(text.is_ascii());
            assert!(
                !text.contains("\":\"") && !text.contains(",\""),
                "compact separators: {text}"
            );
            let v: Value = serde_json::from_str(text).unwrap();
            let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
            assert_eq!(keys, ["level", "timestamp", "name", "log_message", "task"]);
            assert_eq!(v["name"], format!("kafka.{}", m.topic));
            // Re-serialising with the Python formatter gives the same bytes.
            assert_eq!(runtime::ingest::pyjson::to_vec(&v).unwrap(), m.value);
            let task = &v["task"];
            match m.kind {
                Kind::Cleaning => assert!(task.is_object(), "{text}"),
                _ => assert!(task.is_string(), "{text}"),
            }
            let ts = v["timestamp"].as_str().unwrap();
            seen.insert((m.kind, ts.len()));
            // Every message parses with the ingest's own parser.
            let parsed = records::parse(m.topic, Some(&m.value)).unwrap();
            match (m.kind, &parsed.task) {
                (Kind::StartingMatch, TaskKind::StartingMatch { heroes, .. }) => {
                    assert_eq!(heroes.len() as u64, m.task_rows);
                    let ids: HashSet<_> = heroes.iter().map(|h| h.id).collect();
                    assert_eq!(ids.len(), heroes.len(), "heroes unique within a game");
                    for h in heroes {
                        assert!((1..=732).contains(&h.id));
                        assert!((10..=10_000_000).contains(&h.health));
                        assert!((1..=1_000_000).contains(&h.attack));
                    }
                }
                (Kind::AttackCompleted, TaskKind::AttackCompleted(a)) => {
                    assert_eq!(
                        a.enemy_health_post,
                        (a.enemy_health_prior - a.enemy_damage).max(0)
                    );
                }
                (Kind::Cleaning, TaskKind::Cleaning { .. }) => {}
                (Kind::GameTimedOut | Kind::AttackedDeadEnemy, TaskKind::Other) => {}
                other => panic!("unexpected {other:?}"),
            }
            let topic_ok = match m.kind {
                Kind::AttackCompleted | Kind::AttackedDeadEnemy => m.topic == GAME_TOPIC,
                _ => m.topic == LOBBY_TOPIC,
            };
            assert!(topic_ok, "{:?} on {}", m.kind, m.topic);
            let parts = if m.topic == LOBBY_TOPIC { 2 } else { 4 };
            assert!((0..parts).contains(&m.partition));
        }
    }
    // Both envelope forms occur: with fraction (26 chars) and without (19 chars, isoformat at µs=0).
    assert!(seen.contains(&(Kind::AttackCompleted, 26)));
    assert!(
        seen.iter().any(|(_, len)| *len == 19),
        "no whole-second timestamp in 200 games"
    );
}

#[test]
fn games_follow_the_original_sequence() {
    for game in Planner::new(opts(11, 100)) {
        let kinds: Vec<Kind> = game.messages.iter().map(|m| m.kind).collect();
        let n = game.state.size;
        assert!(n == 2 || n == 3);
        if game.timed_out {
            let waiting = game.state.participants.len();
            assert!(waiting >= 1 && waiting < n);
            assert_eq!(
                kinds.iter().filter(|k| **k == Kind::GameTimedOut).count(),
                waiting
            );
            assert_eq!(
                kinds.iter().filter(|k| **k == Kind::Cleaning).count(),
                waiting
            );
            continue;
        }
        assert_eq!(&kinds[..n], vec![Kind::StartingMatch; n].as_slice());
        assert_eq!(
            &kinds[kinds.len() - n..],
            vec![Kind::Cleaning; n].as_slice()
        );
        let attacks = kinds
            .iter()
            .filter(|k| **k == Kind::AttackCompleted)
            .count();
        assert!(attacks >= n - 1, "at least one kill per loser");
        // Exactly one hero is left alive.
        let alive = game.state.heroes.iter().filter(|(_, _, h)| *h > 0).count();
        assert_eq!(alive, 1);
        assert_eq!(game.state.logs.len(), attacks);
    }
}

#[test]
fn counts_add_up() {
    let mut o = opts(5, 150);
    o.poison_every = 25;
    let c = count_plan(&o);
    assert_eq!(c.games, 150);
    assert_eq!(c.games_completed + c.games_timed_out, 150);
    let sum: u64 = c.messages.values().sum();
    assert_eq!(sum, c.total_messages);
    let parts: u64 = c.partitions.values().flatten().sum();
    assert_eq!(parts, c.total_messages);
    assert_eq!(c.partitions["lib.server.lobby"].len(), 2);
    assert_eq!(c.partitions["lib.server.game"].len(), 4);
    assert_eq!(c.game_rows, c.log_messages["Attack Completed"]);
    assert!(c.poison_total > 0);
    assert_eq!(c.poison_total, c.total_messages / 26);
    let valid: u64 = c.valid_messages.values().sum();
    assert_eq!(valid + c.poison_total, c.total_messages);
    // lobby_rows = participants summed over Starting Match messages (n per message, n messages).
    let mut rows = 0;
    for g in Planner::new(o.clone()) {
        if !g.timed_out {
            rows += (g.state.size * g.state.size) as u64;
        }
    }
    assert_eq!(c.lobby_rows, rows);
    let poison = Planner::new(o)
        .flat_map(|g| g.messages)
        .filter(|m| m.kind == Kind::Poison)
        .filter(|m| records::parse(m.topic, Some(&m.value)).is_ok())
        .count();
    assert_eq!(
        poison, 0,
        "every poison message must be rejected by the ingest parser"
    );
}
