//! Database conventions on top of the [`Db`] port: connection set-up,
//! versioned migrations and transactions.
//!
//! Every connection (each Spin `open` is a new one) gets a busy timeout and
//! `synchronous=NORMAL` (safe in WAL mode), then a one-statement schema check
//! (`PRAGMA user_version`); only an out-of-date database pays for more.

pub mod migrate;
pub mod migrations;

use crate::error::Result;
use crate::ports::{Db, DbError};

/// How long SQLite waits for a lock before reporting busy.
pub const BUSY_TIMEOUT_MS: u32 = 5000;

/// Prepare a fresh connection: tuning pragmas, then bring the schema up to
/// date. Tuning pragmas are best-effort: a backend that refuses them (a remote
/// libSQL) works, only without the tuning.
pub fn prepare(db: &dyn Db) -> Result<()> {
    if let Err(e) = db.execute(&format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"), &[]) {
        crate::log::warn("db", &format!("busy_timeout not applied: {e}"));
    }
    if let Err(e) = db.execute("PRAGMA synchronous = NORMAL", &[]) {
        crate::log::warn("db", &format!("synchronous=NORMAL not applied: {e}"));
    }
    migrate::ensure_current(db).map(|_| ())
}

/// Run `f` inside `BEGIN IMMEDIATE` ... `COMMIT`: the write lock is taken up
/// front, so two writers queue instead of deadlocking. If `f` fails the
/// transaction is rolled back and `f`'s error returned; a failed rollback is
/// logged, never ignored silently.
pub fn transaction<T>(db: &dyn Db, f: impl FnOnce(&dyn Db) -> Result<T>) -> Result<T> {
    begin_immediate(db)?;
    match f(db) {
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
