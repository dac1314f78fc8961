//! Small named values in `app_meta` (watermarks, baselines, flags): one
//! place for reading and writing them.

use crate::error::Result;
use crate::params;
use crate::ports::{Db, DbExt};

/// The value stored under `key`, if any.
pub fn get(db: &dyn Db, key: &str) -> Result<Option<String>> {
    db.query_opt("SELECT value FROM app_meta WHERE key = ?1", params![key])?
        .map(|r| r.text(0))
        .transpose()
}

/// The integer stored under `key` (`None` when absent or not a number).
pub fn get_i64(db: &dyn Db, key: &str) -> Result<Option<i64>> {
    Ok(get(db, key)?.and_then(|v| v.parse().ok()))
}

/// Store `value` under `key`.
pub fn set(db: &dyn Db, key: &str, value: &str) -> Result<()> {
    db.exec(
        "INSERT INTO app_meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// Store the integer `value` under `key` unless a larger one is there (a
/// watermark that never moves back).
pub fn raise_i64(db: &dyn Db, key: &str, value: i64) -> Result<()> {
    db.exec(
        "INSERT INTO app_meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value
         WHERE CAST(app_meta.value AS INTEGER) < CAST(excluded.value AS INTEGER)",
        params![key, value.to_string()],
    )?;
    Ok(())
}

/// Remove `key`.
pub fn remove(db: &dyn Db, key: &str) -> Result<()> {
    db.exec("DELETE FROM app_meta WHERE key = ?1", params![key])?;
    Ok(())
}
