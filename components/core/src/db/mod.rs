//! Database conventions on top of the [`Db`] port: connection set-up,
//! versioned migrations and transactions.
//!
//! Every connection (each Spin `open` is a new one) gets a short busy timeout
//! and `synchronous=NORMAL` (safe in WAL mode): two statements, no more.
//!
//! Schema: request paths do not check the schema version on every
//! connection (a round trip per request, for a change that happens once per
//! release). Instead ([`guarded_execute`]) a statement that meets a missing
//! table or column migrates the database and runs again (inside a
//! transaction, the whole transaction is retried); every scheduled run
//! ([`crate::scheduler::run`], every few seconds) and `/health` call
//! [`migrate::ensure_current`] explicitly, so migrations that only add
//! indexes or rows are applied within seconds of a deploy too.
//!
//! Lock waits: SQLite's own busy handler sleeps in coarse steps (1, 2, 5,
//! 10 … 100 ms), which under many concurrent writers turns a sub-millisecond
//! wait into tens of milliseconds. So the busy timeout is short and the
//! adapters retry a busy statement themselves ([`retry_busy`]): short,
//! jittered, growing sleeps, up to [`LOCK_WAIT_MS`] in all. On Spin the sleep
//! is a WASI clock wait, so it holds no host thread.

mod conditions;
pub mod meta;
pub mod migrate;
pub mod migrations;

pub use conditions::Conditions;

use crate::error::Result;
use crate::ports::{Db, DbError, Rows, Value};

/// How long SQLite's own handler waits for a lock before reporting busy
/// (then [`retry_busy`] takes over with finer steps).
pub const BUSY_TIMEOUT_MS: u32 = 2;

/// The longest a statement waits for a lock in all, before the caller gets
/// `database_busy` (503 with Retry-After).
pub const LOCK_WAIT_MS: u64 = 5000;

/// Run `f` (one statement) until it is not busy: sleeps of 0.1 ms doubling
/// to at most 4 ms, each with up to 100 % jitter so waiters spread out,
/// bounded by [`LOCK_WAIT_MS`]. A busy statement did not run, so running it
/// again is safe.
pub fn retry_busy<T>(
    mut f: impl FnMut() -> std::result::Result<T, DbError>,
) -> std::result::Result<T, DbError> {
    let started = std::time::Instant::now();
    let mut step_us: u64 = 100;
    let mut seed = started.elapsed().subsec_nanos() as u64 ^ (&step_us as *const u64 as u64);
    loop {
        match f() {
            Err(DbError::Busy(m)) => {
                if started.elapsed().as_millis() as u64 >= LOCK_WAIT_MS {
                    return Err(DbError::Busy(m));
                }
                // xorshift: cheap jitter without a random-source call.
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let sleep = step_us + seed % (step_us + 1);
                std::thread::sleep(std::time::Duration::from_micros(sleep));
                step_us = (step_us * 2).min(4000);
            }
            other => return other,
        }
    }
}

/// Prepare a fresh connection: the tuning pragmas. They are best-effort: a
/// backend that refuses them (a remote libSQL) works, only without them.
pub fn prepare(db: &dyn Db) {
    if let Err(e) = db.execute(&format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"), &[]) {
        crate::log::warn("db", &format!("busy_timeout not applied: {e}"));
    }
    if let Err(e) = db.execute("PRAGMA synchronous = NORMAL", &[]) {
        crate::log::warn("db", &format!("synchronous=NORMAL not applied: {e}"));
    }
}

/// Run one statement on a connection for the adapters: `raw` retries busy
/// statements; this adds the schema rule. Outside a transaction, a missing
/// table or column migrates the database and the statement runs again;
/// inside one it is `SchemaOutdated`, which [`transaction`] handles by
/// rolling back, migrating and running the transaction again. `in_tx`
/// follows the connection's transaction state from the statements it runs.
pub fn guarded_execute(
    raw: &dyn Db,
    in_tx: &std::cell::Cell<bool>,
    sql: &str,
    params: &[Value],
) -> std::result::Result<Rows, DbError> {
    let result = raw.execute(sql, params);
    let verb = sql
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    match (&result, verb.as_str()) {
        (Ok(_), "BEGIN") => in_tx.set(true),
        (_, "COMMIT" | "END" | "ROLLBACK") => in_tx.set(false),
        _ => {}
    }
    match result {
        Err(e) if e.is_missing_schema() && in_tx.get() => {
            Err(DbError::SchemaOutdated(e.to_string()))
        }
        Err(e) if e.is_missing_schema() => {
            migrate::ensure_current(raw)
                .map_err(|m| DbError::Other(format!("{e}; migrating failed: {}", m.message)))?;
            raw.execute(sql, params)
        }
        other => other,
    }
}

/// Run `f` inside `BEGIN IMMEDIATE` ... `COMMIT`: the write lock is taken up
/// front, so two writers queue instead of deadlocking. If `f` fails the
/// transaction is rolled back and `f`'s error returned; a failed rollback is
/// logged, never ignored silently.
pub fn transaction<T>(db: &dyn Db, mut f: impl FnMut(&dyn Db) -> Result<T>) -> Result<T> {
    match attempt(db, &mut f) {
        Err(e) if e.code == "schema_outdated" => {
            migrate::ensure_current(db)?;
            attempt(db, &mut f)
        }
        other => other,
    }
}

fn attempt<T>(db: &dyn Db, f: &mut impl FnMut(&dyn Db) -> Result<T>) -> Result<T> {
    begin_immediate(db)?;
    let outcome = f(db);
    end(db, outcome)
}

/// Run `f` inside one read transaction (a deferred `BEGIN`: no lock is
/// taken; the snapshot is fixed by the first read and held until `COMMIT`,
/// so in WAL mode every read in `f` sees one state of the database while
/// writers on other connections carry on). Rolled back if `f` fails.
pub fn read_transaction<T>(db: &dyn Db, f: impl FnOnce(&dyn Db) -> Result<T>) -> Result<T> {
    db.execute("BEGIN", &[])?;
    let outcome = f(db);
    end(db, outcome)
}

/// Commit after `outcome` succeeded, roll back after it failed.
fn end<T>(db: &dyn Db, outcome: Result<T>) -> Result<T> {
    match outcome {
        Ok(value) => match db.execute("COMMIT", &[]) {
            Ok(_) => Ok(value),
            Err(e) => {
                rollback(db);
                Err(e.into())
            }
        },
        Err(e) => {
            rollback(db);
            Err(e)
        }
    }
}

fn begin_immediate(db: &dyn Db) -> Result<()> {
    // busy_timeout already waits inside SQLite; a few more tries cover a
    // backend without it and the rare busy that skips the handler.
    let mut last = None;
    for attempt in 0..4u64 {
        match db.execute("BEGIN IMMEDIATE", &[]) {
            Ok(_) => return Ok(()),
            Err(DbError::Busy(m)) => {
                last = Some(DbError::Busy(m));
                std::thread::sleep(std::time::Duration::from_millis(10 * (attempt + 1)));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(last
        .unwrap_or_else(|| DbError::Other("BEGIN failed".into()))
        .into())
}

fn rollback(db: &dyn Db) {
    if let Err(e) = db.execute("ROLLBACK", &[]) {
        crate::log::error("db", &format!("rollback failed: {e}"));
    }
}
