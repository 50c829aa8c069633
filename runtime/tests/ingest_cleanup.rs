//! The Redis clean-up of finished games against a real redis-server: which keys expire, which
//! lists and sets lose the game, what is left alone, and that a replay changes nothing. A missing
//! redis-server skips the test with a notice, and fails it under CI (override: REDIS_SERVER_BIN).
#![allow(clippy::unwrap_used)]

use redis::aio::ConnectionManager;
use redis::Commands;
use runtime::ingest::cleanup::{clean_games, CleanupStats};
use test_kit::{Service, Tool};

const TTL: i64 = 600;

/// A redis-server of this test's own (kept running while the `Service` lives), a plain connection
/// to seed and inspect it, and the worker's kind of connection; `None` when redis-server is missing
/// outside CI.
async fn redis_for_test() -> Option<(Service, redis::Connection, ConnectionManager)> {
    let bin = Tool::Redis.for_test()?;
    let server = test_kit::redis(&bin).unwrap();
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", server.port)).unwrap();
    let r = client.get_connection().unwrap();
    let conn = ConnectionManager::new(client).await.unwrap();
    Some((server, r, conn))
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(g, u)| (g.to_string(), u.to_string()))
        .collect()
}

/// A game as the simulator leaves it in Redis; `size` is what `games:<g>:participants` holds.
fn seed_game(r: &mut redis::Connection, g: &str, host: &str, users: &[&str], size: Option<&str>) {
    let _: () = r.set(format!("games:{g}:host"), host).unwrap();
    if let Some(size) = size {
        let _: () = r.set(format!("games:{g}:participants"), size).unwrap();
    }
    let _: () = r.set(format!("games:{g}:order"), "a,b").unwrap();
    let _: () = r.set(format!("games:{g}:status"), "END").unwrap();
    let _: () = r.hset(format!("games:{g}"), "round", 3).unwrap();
    let _: () = r.rpush(format!("games:{g}:logs"), "attack").unwrap();
    for u in users {
        let _: () = r.sadd(format!("games:{g}:superheros"), *u).unwrap();
        let _: () = r
            .hset(format!("games:{g}:superheros:{u}"), "hp", 10)
            .unwrap();
    }
    let _: () = r.zadd("games:participants", g, users.len()).unwrap();
    for n in ["2", "3", "4"] {
        let _: () = r.rpush(format!("games:players:{n}"), g).unwrap();
    }
}

fn ttl(r: &mut redis::Connection, key: &str) -> i64 {
    r.ttl(key).unwrap()
}

/// Set to expire with the clean-up's TTL (a minute of slack for a slow machine).
fn expiring(r: &mut redis::Connection, key: &str) -> bool {
    let t = ttl(r, key);
    t > TTL - 60 && t <= TTL
}

/// Script calls the server has run so far (`EVAL` and `EVALSHA`).
fn script_calls(r: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(r).unwrap();
    info.lines()
        .filter(|l| l.starts_with("cmdstat_eval:") || l.starts_with("cmdstat_evalsha:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

fn players(r: &mut redis::Connection, n: u32) -> Vec<String> {
    r.lrange(format!("games:players:{n}"), 0, -1).unwrap()
}

#[tokio::test]
async fn finished_games_expire_and_leave_the_lists_and_a_replay_changes_nothing() {
    let Some((_server, mut r, mut conn)) = redis_for_test().await else {
        return;
    };

    // g1: three players, host alice; g2: no participants count; g3: a count that is not a number;
    // g4: only a player who is not the host has finished; g5: a count written with spaces and `+`.
    seed_game(&mut r, "g1", "alice", &["alice", "bob", "cy"], Some("3"));
    seed_game(&mut r, "g2", "carol", &["carol", "dan"], None);
    seed_game(&mut r, "g3", "erin", &["erin", "fay"], Some("three"));
    seed_game(&mut r, "g4", "gus", &["gus", "hal"], Some("2"));
    seed_game(
        &mut r,
        "g5",
        "ivy",
        &["ivy", "jo", "kim", "lu"],
        Some(" +04 "),
    );
    let _: () = r.rpush("games:players:3", "other").unwrap();

    let items = pairs(&[
        ("g1", "bob"),
        ("g1", "alice"),
        ("g2", "carol"),
        ("g3", "erin"),
        ("g4", "hal"),
        ("g5", "ivy"),
    ]);
    let stats = clean_games(&mut conn, &items, TTL).await.unwrap();
    assert_eq!(
        stats,
        CleanupStats {
            participants: 6,
            games: 4
        }
    );

    for g in ["g1", "g2", "g3", "g5"] {
        for key in ["order", "status", "participants", "host", "superheros"] {
            let key = format!("games:{g}:{key}");
            if key == "games:g2:participants" {
                // Never written for g2: nothing to expire, and nothing created.
                let exists: bool = r.exists(&key).unwrap();
                assert!(!exists, "{key} was created");
                continue;
            }
            assert!(expiring(&mut r, &key), "{key}: ttl {}", ttl(&mut r, &key));
        }
        assert!(expiring(&mut r, &format!("games:{g}")), "games:{g}");
        let logs: bool = r.exists(format!("games:{g}:logs")).unwrap();
        assert!(!logs, "games:{g}:logs still there");
    }
    for key in [
        "games:g1:superheros:alice",
        "games:g1:superheros:bob",
        "games:g2:superheros:carol",
        "games:g4:superheros:hal",
    ] {
        assert!(expiring(&mut r, key), "{key}: ttl {}", ttl(&mut r, key));
    }
    // Players nobody cleaned keep their keys for good.
    assert_eq!(ttl(&mut r, "games:g1:superheros:cy"), -1);
    assert_eq!(ttl(&mut r, "games:g2:superheros:dan"), -1);

    // g4's host has not finished: the game is untouched but for hal's own key.
    for key in [
        "games:g4:host",
        "games:g4:order",
        "games:g4",
        "games:g4:logs",
    ] {
        assert_eq!(ttl(&mut r, key), -1, "{key}");
    }
    let left: Vec<String> = r.zrange("games:participants", 0, -1).unwrap();
    assert_eq!(left, vec!["g4"]);

    // Known counts leave only their own list; unknown ones (g2, g3) leave the lists of 2 and 3.
    assert_eq!(players(&mut r, 2), vec!["g1", "g4", "g5"]);
    assert_eq!(players(&mut r, 3), vec!["g4", "g5", "other"]);
    assert_eq!(players(&mut r, 4), vec!["g1", "g2", "g3", "g4"]);

    // A replayed batch changes nothing.
    let again = clean_games(&mut conn, &items, TTL).await.unwrap();
    assert_eq!(again, stats);
    assert_eq!(players(&mut r, 2), vec!["g1", "g4", "g5"]);
    assert_eq!(players(&mut r, 3), vec!["g4", "g5", "other"]);
    assert_eq!(players(&mut r, 4), vec!["g1", "g2", "g3", "g4"]);

    // Nothing to clean: no script call at all.
    let calls = script_calls(&mut r);
    let none = clean_games(&mut conn, &[], TTL).await.unwrap();
    assert_eq!(none, CleanupStats::default());
    assert_eq!(script_calls(&mut r), calls);
}

#[tokio::test]
async fn a_key_redis_refuses_is_reported_after_the_other_pairs_are_cleaned() {
    let Some((_server, mut r, mut conn)) = redis_for_test().await else {
        return;
    };

    // h2's players list of 5 is a hash (LREM fails); g9's host is a list (GET fails).
    seed_game(&mut r, "h1", "ann", &["ann", "ben"], Some("2"));
    seed_game(&mut r, "h2", "cat", &["cat", "dov"], Some("5"));
    let _: () = r.hset("games:players:5", "h2", 1).unwrap();
    let _: () = r.rpush("games:g9:host", "x").unwrap();
    let _: () = r.hset("games:g9:superheros:x", "hp", 1).unwrap();
    seed_game(&mut r, "h3", "eve", &["eve", "fin", "gil"], Some("3"));

    let items = pairs(&[("h1", "ann"), ("h2", "cat"), ("g9", "x"), ("h3", "eve")]);
    let err = clean_games(&mut conn, &items, TTL).await.unwrap_err();
    assert!(err.to_string().contains("WRONGTYPE"), "{err}");

    // Before and after the refused commands, every pair was cleaned.
    for g in ["h1", "h2", "h3"] {
        for key in ["order", "host", "superheros"] {
            let key = format!("games:{g}:{key}");
            assert!(expiring(&mut r, &key), "{key}: ttl {}", ttl(&mut r, &key));
        }
        let logs: bool = r.exists(format!("games:{g}:logs")).unwrap();
        assert!(!logs, "games:{g}:logs still there");
    }
    assert!(expiring(&mut r, "games:g9:superheros:x"));
    assert_eq!(ttl(&mut r, "games:g9:host"), -1);
    let left: Vec<String> = r.zrange("games:participants", 0, -1).unwrap();
    assert_eq!(left, Vec::<String>::new());
    assert_eq!(players(&mut r, 2), vec!["h2", "h3"]);
    assert_eq!(players(&mut r, 3), vec!["h1", "h2"]);
    let hash_kept: bool = r.hexists("games:players:5", "h2").unwrap();
    assert!(hash_kept);
}
