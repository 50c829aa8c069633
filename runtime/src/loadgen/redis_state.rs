//! Writes a game's Redis keys the way the game server leaves them (seed §1.7), so the ingest's
//! clean-up has real work to do.

use crate::loadgen::plan::GameState;
use redis::aio::ConnectionManager;
use redis::RedisResult;

/// One pipeline per game.
pub async fn write_game(conn: &mut ConnectionManager, s: &GameState) -> RedisResult<()> {
    let g = &s.game_token;
    let mut p = redis::pipe();
    p.cmd("RPUSH")
        .arg(format!("games:players:{}", s.size))
        .arg(g)
        .ignore();
    p.cmd("ZADD")
        .arg("games:participants")
        .arg(s.participants.len())
        .arg(g)
        .ignore();
    if !s.participants.is_empty() {
        p.cmd("SADD")
            .arg(format!("games:{g}"))
            .arg(&s.participants)
            .ignore();
    }
    p.cmd("SET")
        .arg(format!("games:{g}:participants"))
        .arg(s.size)
        .ignore();
    p.cmd("SET")
        .arg(format!("games:{g}:status"))
        .arg(s.status)
        .ignore();
    p.cmd("SET")
        .arg(format!("games:{g}:host"))
        .arg(&s.host)
        .ignore();
    for (user, hero, health) in &s.heroes {
        p.cmd("SADD")
            .arg(format!("games:{g}:superheros"))
            .arg(hero.id)
            .ignore();
        p.cmd("HSET")
            .arg(format!("games:{g}:superheros:{user}"))
            .arg("id")
            .arg(hero.id)
            .arg("attack")
            .arg(hero.attack)
            .arg("health")
            .arg(*health)
            .ignore();
    }
    if !s.order.is_empty() {
        p.cmd("RPUSH")
            .arg(format!("games:{g}:order"))
            .arg(&s.order)
            .ignore();
    }
    if !s.logs.is_empty() {
        p.cmd("RPUSH")
            .arg(format!("games:{g}:logs"))
            .arg(&s.logs)
            .ignore();
    }
    p.query_async::<()>(conn).await
}
