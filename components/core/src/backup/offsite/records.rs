//! The `backup_offsite` table: one row per backup the app tried to ship,
//! with where it went, when it arrived, the failed attempts and the last
//! error.

use crate::error::Result;
use crate::params;
use crate::ports::{Db, DbExt, Row};
use crate::time::rfc3339;
use serde::Serialize;

/// A shipment, as served (times RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shipment {
    /// The backup.
    pub backup_id: String,
    /// Its object's key in the bucket.
    pub key: String,
    /// Bytes sent.
    pub bytes: i64,
    /// SHA-256 of what was sent (the backup's `.sql.gz`).
    pub sha256: String,
    /// When the backup was taken.
    pub backup_created_at: String,
    /// When it reached the store (`null`: not yet).
    pub shipped_at: Option<String>,
    /// Attempts so far.
    pub attempts: i64,
    /// When the last attempt ran.
    pub last_attempt_at: Option<String>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When retention deleted it from the store.
    pub deleted_at: Option<String>,
}

const COLUMNS: &str = "backup_id, object_key, bytes, sha256, backup_created_at, shipped_at, \
    attempts, last_attempt_at, last_error, deleted_at";

fn from_row(r: &Row) -> Result<Shipment> {
    Ok(Shipment {
        backup_id: r.text(0)?,
        key: r.text(1)?,
        bytes: r.i64(2)?,
        sha256: r.text(3)?,
        backup_created_at: rfc3339(r.i64(4)?),
        shipped_at: r.opt_i64(5)?.map(rfc3339),
        attempts: r.i64(6)?,
        last_attempt_at: r.opt_i64(7)?.map(rfc3339),
        last_error: r.opt_text(8)?,
        deleted_at: r.opt_i64(9)?.map(rfc3339),
    })
}

fn many(db: &dyn Db, sql: &str, args: &[crate::ports::Value]) -> Result<Vec<Shipment>> {
    db.exec(sql, args)?.rows.iter().map(from_row).collect()
}

/// Verified backups still to ship, newest first: never tried, or failed
/// fewer than `max_attempts` times.
pub fn to_ship(db: &dyn Db, max_attempts: i64, limit: usize) -> Result<Vec<String>> {
    let rows = db.exec(
        "SELECT b.id FROM backups b LEFT JOIN backup_offsite o ON o.backup_id = b.id
         WHERE b.verify_status = 'ok'
           AND (o.backup_id IS NULL OR (o.shipped_at IS NULL AND o.attempts < ?1))
         ORDER BY b.created_at DESC, b.id DESC LIMIT ?2",
        params![max_attempts, limit],
    )?;
    rows.rows.iter().map(|r| r.text(0)).collect()
}

/// One attempt to ship a backup.
pub struct Attempt<'a> {
    /// The backup.
    pub backup_id: &'a str,
    /// Where it was sent.
    pub key: &'a str,
    /// Its size.
    pub bytes: i64,
    /// Its SHA-256.
    pub sha256: &'a str,
    /// When it was taken.
    pub backup_created_ms: i64,
    /// When the attempt ran.
    pub at_ms: i64,
    /// Why it failed (`None`: it arrived).
    pub error: Option<&'a str>,
}

/// Record an attempt: shipped, or one more failure with its error.
pub fn record(db: &dyn Db, a: &Attempt) -> Result<()> {
    let shipped = a.error.is_none().then_some(a.at_ms);
    db.exec(
        "INSERT INTO backup_offsite (backup_id, object_key, bytes, sha256, backup_created_at,
             shipped_at, attempts, last_attempt_at, last_error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8)
         ON CONFLICT (backup_id) DO UPDATE SET object_key = ?2, bytes = ?3, sha256 = ?4,
             shipped_at = ?6, attempts = attempts + 1, last_attempt_at = ?7, last_error = ?8",
        params![
            a.backup_id,
            a.key,
            a.bytes,
            a.sha256,
            a.backup_created_ms,
            shipped,
            a.at_ms,
            a.error
        ],
    )?;
    Ok(())
}

/// Mark the shipments stored at `keys` as deleted by retention.
pub fn mark_deleted(db: &dyn Db, keys: &[String], at_ms: i64) -> Result<()> {
    for key in keys {
        db.exec(
            "UPDATE backup_offsite SET deleted_at = ?2 WHERE object_key = ?1 AND deleted_at IS NULL",
            params![key.as_str(), at_ms],
        )?;
    }
    Ok(())
}

/// The shipment of `backup_id`, if it was tried.
pub fn find(db: &dyn Db, backup_id: &str) -> Result<Option<Shipment>> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM backup_offsite WHERE backup_id = ?1"),
        params![backup_id],
    )?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// The newest backup that reached the store (by when it was taken).
pub fn last_shipped(db: &dyn Db) -> Result<Option<Shipment>> {
    Ok(many(
        db,
        &format!(
            "SELECT {COLUMNS} FROM backup_offsite WHERE shipped_at IS NOT NULL
             ORDER BY backup_created_at DESC, backup_id DESC LIMIT 1"
        ),
        &[],
    )?
    .pop())
}

/// The newest `limit` backups that have not reached the store after at
/// least one attempt, newest attempt first.
pub fn failing(db: &dyn Db, limit: usize) -> Result<Vec<Shipment>> {
    many(
        db,
        &format!(
            "SELECT {COLUMNS} FROM backup_offsite WHERE shipped_at IS NULL
             ORDER BY last_attempt_at DESC, backup_id DESC LIMIT ?1"
        ),
        params![limit],
    )
}

/// When the oldest verified backup still stored locally was taken.
pub fn oldest_local_ms(db: &dyn Db) -> Result<Option<i64>> {
    db.query_one(
        "SELECT MIN(created_at) FROM backups WHERE verify_status = 'ok'",
        &[],
    )?
    .opt_i64(0)
}

/// When the newest shipped backup was taken.
pub fn last_shipped_created_ms(db: &dyn Db) -> Result<Option<i64>> {
    db.query_one(
        "SELECT MAX(backup_created_at) FROM backup_offsite WHERE shipped_at IS NOT NULL",
        &[],
    )?
    .opt_i64(0)
}
