//! Native adapters, for tests and tools: same observable behaviour as the
//! Spin adapters.

mod clock;
mod config;
mod db;
mod http;
mod kv;

pub use clock::ManualClock;
pub use config::MapConfig;
pub use db::SqliteDb;
pub use http::ScriptedHttp;
pub use kv::MemKv;

use crate::ports::{Env, NoLlm, OsRandom, SystemClock};

/// An [`Env`] on `db` with `vars`, an empty in-memory key-value store, the
/// system clock, OS randomness and no outbound hosts.
pub fn env(db: SqliteDb, vars: &[(&str, &str)]) -> Env {
    Env {
        kv: Box::new(MemKv::default()),
        db: Box::new(db),
        http: Box::new(ScriptedHttp::deny_all()),
        clock: Box::new(SystemClock::new()),
        ids: Box::new(OsRandom),
        config: Box::new(MapConfig::new(vars)),
        llm: Box::new(NoLlm),
    }
}

/// [`env`] on a fresh in-memory database.
pub fn memory_env(vars: &[(&str, &str)]) -> Env {
    env(
        SqliteDb::open_in_memory().expect("in-memory SQLite opens"),
        vars,
    )
}
