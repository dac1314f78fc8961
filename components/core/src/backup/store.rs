//! Stored backups: one manifest row in `backups`, the file in
//! `backup_chunks` as pieces of at most [`CHUNK_BYTES`], and retention.

use super::dump::FORMAT;
use super::model::{Manifest, VerifyStatus};
use crate::error::{Error, Result};
use crate::params;
use crate::ports::{Db, DbExt, Row, Value};
use crate::time::rfc3339;
use std::collections::BTreeMap;

/// The largest piece of a file stored in one row: far below SQLite's and
/// hosts' value limits, and one piece is all a reader holds beyond the file.
pub const CHUNK_BYTES: usize = 256 * 1024;

const COLUMNS: &str = "id, created_at, finished_at, actor, trigger, format_version, schema_version,
    tables, rows, raw_bytes, bytes, sha256, chunks, verified_at, verify_status, verify_error,
    table_hashes";

/// A manifest as stored (times in Unix ms).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// `bak_…`
    pub id: String,
    /// When the snapshot was taken.
    pub created_ms: i64,
    /// When the backup was stored.
    pub finished_ms: i64,
    /// Who took it.
    pub actor: String,
    /// What started it.
    pub trigger: String,
    /// The dump format's version.
    pub format_version: i64,
    /// The snapshot's schema version.
    pub schema_version: i64,
    /// Rows per backed-up table.
    pub tables: BTreeMap<String, i64>,
    /// Content hash per backed-up table (empty for backups taken before
    /// hashes were recorded).
    pub table_hashes: BTreeMap<String, String>,
    /// Size uncompressed.
    pub raw_bytes: i64,
    /// Size of the `.sql.gz`.
    pub bytes: i64,
    /// SHA-256 of the `.sql.gz`, hex.
    pub sha256: String,
    /// Pieces stored.
    pub chunks: i64,
    /// When last verified.
    pub verified_ms: Option<i64>,
    /// The last verification's outcome.
    pub verify_status: Option<VerifyStatus>,
    /// Why it was found corrupt.
    pub verify_error: Option<String>,
}

impl Record {
    fn from_row(r: &Row) -> Result<Self> {
        let id = r.text(0)?;
        let tables: BTreeMap<String, i64> = serde_json::from_str(&r.text(7)?).map_err(|e| {
            Error::internal(format!(
                "backup {id}: the stored table counts are not JSON: {e}"
            ))
        })?;
        let verify_status = match r.opt_text(14)? {
            None => None,
            Some(s) => Some(VerifyStatus::parse(&s).ok_or_else(|| {
                Error::internal(format!("backup {id}: unknown verify status `{s}`"))
            })?),
        };
        let table_hashes: BTreeMap<String, String> = match r.opt_text(16)? {
            None => BTreeMap::new(),
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                Error::internal(format!(
                    "backup {id}: the stored table hashes are not JSON: {e}"
                ))
            })?,
        };
        Ok(Record {
            table_hashes,
            created_ms: r.i64(1)?,
            finished_ms: r.i64(2)?,
            actor: r.text(3)?,
            trigger: r.text(4)?,
            format_version: r.i64(5)?,
            schema_version: r.i64(6)?,
            tables,
            // Column 8 (`rows`) is the sum of `tables`, stored for queries.
            raw_bytes: r.i64(9)?,
            bytes: r.i64(10)?,
            sha256: r.text(11)?,
            chunks: r.i64(12)?,
            verified_ms: r.opt_i64(13)?,
            verify_status,
            verify_error: r.opt_text(15)?,
            id,
        })
    }

    /// A manifest as served (`GET /api/backups/{id}`, or the copy shipped
    /// next to an off-machine backup) read back; `Err(why)` when a field is
    /// missing or of the wrong type. Its verification is not carried over.
    pub fn from_manifest(m: &serde_json::Value) -> std::result::Result<Self, String> {
        let text = |k: &str| {
            m.get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("`{k}` is missing"))
        };
        let int = |k: &str| {
            m.get(k)
                .and_then(serde_json::Value::as_i64)
                .ok_or_else(|| format!("`{k}` is missing"))
        };
        let map = |k: &str| m.get(k).cloned().unwrap_or(serde_json::Value::Null);
        let time =
            |k: &str| text(k).and_then(|t| crate::time::parse_rfc3339(&t).map_err(|e| e.message));
        Ok(Record {
            id: text("id")?,
            created_ms: time("created_at")?,
            finished_ms: time("finished_at")?,
            actor: text("actor")?,
            trigger: text("trigger")?,
            format_version: int("format_version")?,
            schema_version: int("schema_version")?,
            tables: serde_json::from_value(map("tables")).map_err(|e| format!("`tables`: {e}"))?,
            table_hashes: serde_json::from_value(map("table_hashes"))
                .map_err(|e| format!("`table_hashes`: {e}"))?,
            raw_bytes: int("raw_bytes")?,
            bytes: int("bytes")?,
            sha256: text("sha256")?,
            chunks: int("chunks")?,
            verified_ms: None,
            verify_status: None,
            verify_error: None,
        })
    }

    /// All rows backed up.
    pub fn rows(&self) -> i64 {
        self.tables.values().sum()
    }

    /// As served.
    pub fn manifest(&self) -> Manifest {
        Manifest {
            id: self.id.clone(),
            format: FORMAT,
            format_version: self.format_version,
            created_at: rfc3339(self.created_ms),
            finished_at: rfc3339(self.finished_ms),
            actor: self.actor.clone(),
            trigger: self.trigger.clone(),
            schema_version: self.schema_version,
            tables: self.tables.clone(),
            table_hashes: self.table_hashes.clone(),
            rows: self.rows(),
            raw_bytes: self.raw_bytes,
            bytes: self.bytes,
            sha256: self.sha256.clone(),
            chunks: self.chunks,
            filename: filename(&self.id, self.created_ms),
            verified_at: self.verified_ms.map(rfc3339),
            verify_status: self.verify_status,
            verify_error: self.verify_error.clone(),
        }
    }
}

/// The download name: `echopilot-backup-2027-01-15-bak_….sql.gz`.
pub fn filename(id: &str, created_ms: i64) -> String {
    format!(
        "echopilot-backup-{}-{id}.sql.gz",
        crate::time::date(created_ms)
    )
}

/// Store `record` and its file `gz` (inside the caller's transaction).
pub fn insert(db: &dyn Db, record: &Record, gz: &[u8]) -> Result<()> {
    db.exec(
        &format!(
            "INSERT INTO backups ({COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, NULL, NULL, NULL, ?14)"
        ),
        params![
            record.id.as_str(),
            record.created_ms,
            record.finished_ms,
            record.actor.as_str(),
            record.trigger.as_str(),
            record.format_version,
            record.schema_version,
            serde_json::to_string(&record.tables)?,
            record.rows(),
            record.raw_bytes,
            record.bytes,
            record.sha256.as_str(),
            record.chunks,
            serde_json::to_string(&record.table_hashes)?
        ],
    )?;
    for (seq, piece) in gz.chunks(CHUNK_BYTES).enumerate() {
        db.exec(
            "INSERT INTO backup_chunks (backup_id, seq, data) VALUES (?1, ?2, ?3)",
            params![record.id.as_str(), seq, piece.to_vec()],
        )?;
    }
    Ok(())
}

/// Keep the newest `keep` backups not found corrupt, plus the newest one
/// verified good; delete the others with their chunks (inside the caller's
/// transaction). Returns the ids deleted.
pub fn prune(db: &dyn Db, keep: usize) -> Result<Vec<String>> {
    // Kept: the newest `keep` backups not found corrupt, and always the
    // newest one verified good (a new backup is not verified yet when this
    // runs; if it then fails verification, the last good one is still here).
    let kept = "SELECT id FROM (SELECT id FROM backups WHERE verify_status IS NOT 'corrupt'
                    ORDER BY created_at DESC, id DESC LIMIT ?1)
                UNION SELECT id FROM (SELECT id FROM backups WHERE verify_status = 'ok'
                    ORDER BY created_at DESC, id DESC LIMIT 1)";
    db.exec(
        &format!(
            "DELETE FROM backup_chunks WHERE backup_id IN
                (SELECT id FROM backups WHERE id NOT IN ({kept}))"
        ),
        params![keep],
    )?;
    let gone = db.exec(
        &format!("DELETE FROM backups WHERE id NOT IN ({kept}) RETURNING id"),
        params![keep],
    )?;
    gone.rows.iter().map(|r| r.text(0)).collect()
}

/// How many backups are stored.
pub fn count(db: &dyn Db) -> Result<i64> {
    db.query_one("SELECT COUNT(*) FROM backups", &[])?.i64(0)
}

/// The newest `limit` backups, newest first.
pub fn list(db: &dyn Db, limit: usize) -> Result<Vec<Record>> {
    let rows = db.exec(
        &format!("SELECT {COLUMNS} FROM backups ORDER BY created_at DESC, id DESC LIMIT ?1"),
        params![limit],
    )?;
    rows.rows.iter().map(Record::from_row).collect()
}

/// One backup, if it exists.
pub fn find(db: &dyn Db, id: &str) -> Result<Option<Record>> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM backups WHERE id = ?1"),
        params![id],
    )?
    .as_ref()
    .map(Record::from_row)
    .transpose()
}

/// A stored file, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Every piece the manifest lists, joined.
    Whole(Vec<u8>),
    /// Pieces are missing, extra or of the wrong type: what is wrong.
    Damaged(String),
}

/// Read `record`'s file back, piece by piece in order. Call inside a read
/// transaction, so retention cannot delete pieces halfway.
pub fn read_file(db: &dyn Db, record: &Record) -> Result<Stored> {
    let stored = db
        .query_one(
            "SELECT COUNT(*) FROM backup_chunks WHERE backup_id = ?1",
            params![record.id.as_str()],
        )?
        .i64(0)?;
    if stored != record.chunks {
        return Ok(Stored::Damaged(format!(
            "{stored} chunks are stored, the manifest lists {}",
            record.chunks
        )));
    }
    let mut file = Vec::with_capacity(usize::try_from(record.bytes).unwrap_or(0));
    for seq in 0..record.chunks {
        let row = db.query_opt(
            "SELECT data FROM backup_chunks WHERE backup_id = ?1 AND seq = ?2",
            params![record.id.as_str(), seq],
        )?;
        match row.and_then(|r| r.values.into_iter().next()) {
            Some(Value::Blob(piece)) => file.extend_from_slice(&piece),
            Some(_) => return Ok(Stored::Damaged(format!("chunk {seq} is not a blob"))),
            None => return Ok(Stored::Damaged(format!("chunk {seq} is missing"))),
        }
    }
    Ok(Stored::Whole(file))
}

/// Record the outcome of a verification.
pub fn record_verification(
    db: &dyn Db,
    id: &str,
    at_ms: i64,
    status: VerifyStatus,
    error: Option<&str>,
) -> Result<()> {
    db.exec(
        "UPDATE backups SET verified_at = ?2, verify_status = ?3, verify_error = ?4 WHERE id = ?1",
        params![id, at_ms, status.as_str(), error],
    )?;
    Ok(())
}
