//! Applying migrations: idempotent, and safe when several instances (Spin's
//! HTTP and cron processes, replicas) start at once on one database.
//!
//! Fast path: `PRAGMA user_version` equals the latest version, done (one
//! statement, no table read). Slow path: switch to WAL (persistent, so once
//! per database), take the write lock with `BEGIN IMMEDIATE`, re-read the
//! version under the lock, apply what is missing, record each step in
//! `schema_migrations`, set `user_version`, commit. A second migrator waits
//! on the lock, then finds nothing to do.

use super::migrations::{latest, Migration, MIGRATIONS};
use crate::error::{Error, Result};
use crate::params;
use crate::ports::{Db, DbExt};

/// The schema version recorded in the database (0 for a new one).
pub fn current_version(db: &dyn Db) -> Result<i64> {
    match db.query_opt("PRAGMA user_version", &[]) {
        Ok(Some(row)) => {
            let v = row.i64(0)?;
            if v > 0 {
                return Ok(v);
            }
            // 0 can mean "new" or "a backend without user_version": ask the table.
            recorded_version(db)
        }
        _ => recorded_version(db),
    }
}

fn recorded_version(db: &dyn Db) -> Result<i64> {
    // Look before querying: a query of a missing table would itself
    // migrate (see `db::guarded_execute`).
    let exists = db
        .query_opt(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            &[],
        )?
        .is_some();
    if !exists {
        return Ok(0);
    }
    db.query_one(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        &[],
    )?
    .i64(0)
}

/// Bring the schema up to [`latest`]. Returns the migrations applied by this
/// call (none when another instance got there first).
pub fn ensure_current(db: &dyn Db) -> Result<Vec<i64>> {
    let target = latest();
    let version = current_version(db)?;
    if version >= target {
        if version > target {
            crate::log::warn(
                "db",
                &format!("database schema {version} is newer than this build's {target}; running without migrating"),
            );
        }
        return Ok(Vec::new());
    }
    if let Err(e) = db.execute("PRAGMA journal_mode = WAL", &[]) {
        crate::log::warn("db", &format!("WAL mode not enabled: {e}"));
    }
    super::transaction(db, |db| {
        let version = current_version(db)?;
        let mut applied = Vec::new();
        for m in MIGRATIONS.iter().filter(|m| m.version > version) {
            apply(db, m)?;
            applied.push(m.version);
        }
        if !applied.is_empty() {
            db.exec(&format!("PRAGMA user_version = {target}"), &[])?;
        }
        Ok(applied)
    })
}

fn apply(db: &dyn Db, m: &Migration) -> Result<()> {
    for (i, sql) in m.statements.iter().enumerate() {
        db.exec(sql, &[]).map_err(|e| {
            Error::internal(format!(
                "migration {} ({}), statement {}: {}",
                m.version,
                m.name,
                i + 1,
                e.message
            ))
        })?;
    }
    db.exec(
        "INSERT OR IGNORE INTO schema_migrations (version, name, applied_at)
         VALUES (?1, ?2, CAST(strftime('%s', 'now') AS INTEGER) * 1000)",
        params![m.version, m.name],
    )?;
    Ok(())
}
