//! # Backups of the system of record
//!
//! A backup is a logical copy of the SQLite database (Spin's `default`
//! database): a gzip-compressed SQL text dump, stored in the database
//! itself, verifiable without restoring it, and downloadable.
//!
//! ## Format (`echopilot-backup`, version 1)
//! The same layout as `sqlite3 .dump`, so any SQLite can read it:
//! - a header of `--` comments: format name and version, the schema version
//!   (highest `schema_migrations` entry), `created_at` (RFC 3339), the
//!   backup id;
//! - `PRAGMA foreign_keys=OFF;` and `BEGIN TRANSACTION;`;
//! - for each table in `sqlite_master`, its `CREATE TABLE` statement as
//!   SQLite stored it, then one `INSERT INTO "table" VALUES(…);` per row;
//! - SQLite's AUTOINCREMENT counters (`sqlite_sequence`), so restored ids
//!   are never handed out again;
//! - the indexes, views and triggers (after the rows: triggers must not
//!   fire while rows are restored, and each index is built once);
//! - `PRAGMA user_version=N;` (the schema marker migrations read first)
//!   and `COMMIT;`.
//!
//! Values are written to read back exactly: integers as written, reals in
//! Rust's shortest round-trip form (infinities as `9e999`), text quoted
//! with `'` doubled, blobs as `X'…'`. Text holding a control character
//! other than newline and tab goes as `CAST(X'…' AS TEXT)`, because the
//! `sqlite3` shell reads line by line (a NUL ends a line, a carriage return
//! before a newline is dropped). Identifiers are always double-quoted.
//!
//! Reals come back bit for bit when a current SQLite reads them (the 3.5x
//! bundled for tests parsed 400,000 random doubles exactly). Older
//! `sqlite3` shells parse decimals less precisely: Debian 12's 3.40 misreads
//! about one real in 10,000 by one unit in the last place.
//!
//! ## Restoring
//! Into a new, empty file:
//! ```text
//! gunzip -c echopilot-backup-2027-01-15-bak_….sql.gz | sqlite3 restored.db
//! sqlite3 restored.db 'PRAGMA journal_mode=WAL'
//! ```
//! The dump is one transaction: it restores completely or not at all. The
//! second command puts the file in WAL mode, which the app expects of a
//! busy database (journal mode belongs to the file, not to a dump; the app
//! sets it only while migrating, and a restored file is already current).
//!
//! ## What is left out, and why
//! The tables in [`EXCLUDED`] are written as schema only: their `CREATE`
//! statements and indexes are in the dump, their rows are not. The schema
//! has to stay, because the restored file records the schema version it
//! came from, and migrations only add what is missing from an *older*
//! version: a table missing from a current file would never come back.
//! SQLite's own `sqlite_stat*` tables are left out entirely (`ANALYZE`
//! rebuilds them).
//!
//! ## Consistency
//! Every table is read inside one read transaction on the env's
//! connection: in WAL mode the whole dump is one snapshot of the database,
//! however long it takes, while writers on other connections carry on.
//! Tables are paged by key (rowid, or a WITHOUT ROWID table's primary key)
//! 500 rows at a time, never by OFFSET. Rows stream into the gzip encoder,
//! so memory holds the compressed file, not the SQL text. The result is
//! then stored in a separate, short write transaction.
//!
//! ## Storage and retention
//! The manifest is a row of `backups`; the file is split into `backup_chunks`
//! of at most 256 KiB. Each [`run`] keeps the newest `keep` backups
//! ([`configured_keep`]: the `backup_keep` variable, 7 by default, 1 to 90)
//! and deletes older ones with their chunks, in the same transaction that
//! stores the new one.
//!
//! ## Verification
//! [`verify()`] reads the chunks in order, checks size and SHA-256 against the
//! manifest, gunzips, and checks the header, the row count per table and
//! the final `COMMIT;`. The outcome is recorded on the manifest. A corrupt
//! backup is a result (`status: "corrupt"`), not an error of the call.

pub mod api;
mod digest;
mod dump;
mod job;
mod model;
pub mod offsite;
mod parse;
mod restore;
mod scan;
mod schema;
mod snapshot;
mod store;
mod verify;

pub use dump::{FORMAT, FORMAT_VERSION};
pub use job::{backup_and_verify, APP, JOB};
pub use model::{
    ExcludedTable, Manifest, Plan, RestoreCheck, TableCheck, Verification, VerifyStatus,
};
pub use restore::SCRATCH;
pub use snapshot::PAGE_ROWS;
pub use store::CHUNK_BYTES;

use crate::db::migrate::ensure_current;
use crate::db::{read_transaction, transaction};
use crate::error::{Error, Result};
use crate::ports::{ids, Db, Env};
use sha2::{Digest, Sha256};

pub use store::Record;
use store::Stored;

/// Tables whose rows are not backed up (their schema is), with the reason.
pub const EXCLUDED: &[(&str, &str)] = &[
    (
        "request_samples",
        "raw per-request telemetry: kept one hour, already folded into the per-minute \
         rollups (request_minutes, slo_minutes, which are backed up for the 30-day SLO \
         windows), and by far the largest, fastest-growing table",
    ),
    (
        "backups",
        "the backup catalogue itself: a restored database starts its own catalogue",
    ),
    (
        "backup_chunks",
        "the stored backup files: a backup inside every backup would grow without bound",
    ),
    (
        "backup_offsite",
        "the record of shipments to the object store: it describes the backup catalogue, \
         which a restored database starts afresh",
    ),
];

/// The variable holding how many backups to keep.
pub const KEEP_VARIABLE: &str = "backup_keep";
/// Backups kept when `backup_keep` is not set.
pub const DEFAULT_KEEP: usize = 7;
/// The most backups `backup_keep` may keep.
pub const MAX_KEEP: usize = 90;
/// The most manifests one [`list`] call returns.
pub const MAX_LIST: usize = 100;
/// The media type of a downloaded backup.
pub const CONTENT_TYPE: &str = "application/gzip";

const MAX_ACTOR_CHARS: usize = 200;
const MAX_TRIGGER_CHARS: usize = 32;

/// How many backups to keep: the `backup_keep` variable (1 to 90), 7 when
/// unset.
pub fn configured_keep(env: &Env) -> Result<usize> {
    let keep = crate::config::int(
        env.config.as_ref(),
        KEEP_VARIABLE,
        DEFAULT_KEEP as i64,
        1,
        MAX_KEEP as i64,
    )?;
    usize::try_from(keep).map_err(|_| Error::internal("backup_keep out of range"))
}

/// What a backup taken now would contain: tables and row counts (from one
/// snapshot), the tables left out and why, and how many backups are stored.
/// Writes nothing.
pub fn plan(env: &Env) -> Result<Plan> {
    let db = env.db.as_ref();
    ensure_current(db)?;
    let (schema_version, tables) = read_transaction(db, |db| {
        let schema = schema::read(db)?;
        Ok((schema.schema_version, snapshot::counts(db, &schema)?))
    })?;
    Ok(Plan {
        format: FORMAT,
        format_version: FORMAT_VERSION,
        schema_version,
        rows: tables.values().sum(),
        tables,
        excluded: excluded_tables(),
        backups: store::count(db)?,
    })
}

/// [`EXCLUDED`], as served.
pub fn excluded_tables() -> Vec<ExcludedTable> {
    EXCLUDED
        .iter()
        .map(|(table, reason)| ExcludedTable { table, reason })
        .collect()
}

/// Take a backup: dump one snapshot, store it, keep the newest `keep`
/// backups (1 to [`MAX_KEEP`]) and return the new manifest. `actor` is who
/// asked (for the record); `trigger` what started it (`console`,
/// `schedule`, …: lowercase letters, digits, `_` and `-`). Invalid input is
/// refused (422) before anything is read or written.
pub fn run(env: &Env, actor: &str, trigger: &str, keep: usize) -> Result<Manifest> {
    validate(actor, trigger, keep)?;
    let db = env.db.as_ref();
    ensure_current(db)?;
    let created_ms = env.clock.now_ms();
    let id = ids::new_id("bak_", created_ms, env.ids.as_ref())?;
    let dumped = snapshot::dump(db, &id, created_ms)?;
    let record = Record {
        id,
        created_ms,
        finished_ms: env.clock.now_ms(),
        actor: actor.trim().to_string(),
        trigger: trigger.to_string(),
        format_version: FORMAT_VERSION,
        schema_version: dumped.schema_version,
        tables: dumped.tables,
        table_hashes: dumped.hashes,
        raw_bytes: dumped.raw_bytes,
        bytes: dumped.gz.len() as i64,
        sha256: crate::hex(&Sha256::digest(&dumped.gz)),
        chunks: dumped.gz.len().div_ceil(CHUNK_BYTES) as i64,
        verified_ms: None,
        verify_status: None,
        verify_error: None,
    };
    let pruned = transaction(db, |tx| {
        store::insert(tx, &record, &dumped.gz)?;
        store::prune(tx, keep)
    })?;
    crate::log::info(
        "backup",
        &format!(
            "backup {} stored: {} rows, {} bytes compressed from {}; {} older deleted",
            record.id,
            record.rows(),
            record.bytes,
            record.raw_bytes,
            pruned.len()
        ),
    );
    Ok(record.manifest())
}

fn validate(actor: &str, trigger: &str, keep: usize) -> Result<()> {
    if !(1..=MAX_KEEP).contains(&keep) {
        return Err(Error::unprocessable(
            "invalid_keep",
            format!("keep must be between 1 and {MAX_KEEP} backups"),
        ));
    }
    let actor = actor.trim();
    if actor.is_empty()
        || actor.chars().count() > MAX_ACTOR_CHARS
        || actor.chars().any(char::is_control)
    {
        return Err(Error::unprocessable(
            "invalid_actor",
            format!("the actor is 1 to {MAX_ACTOR_CHARS} printable characters"),
        ));
    }
    let trigger_ok = !trigger.is_empty()
        && trigger.len() <= MAX_TRIGGER_CHARS
        && trigger
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !trigger_ok {
        return Err(Error::unprocessable(
            "invalid_trigger",
            format!(
                "the trigger is 1 to {MAX_TRIGGER_CHARS} lowercase letters, digits, `_` or `-` (e.g. `console`, `schedule`)"
            ),
        ));
    }
    Ok(())
}

/// The newest `limit` backups (at most [`MAX_LIST`]), newest first.
pub fn list(env: &Env, limit: usize) -> Result<Vec<Manifest>> {
    let records = store::list(env.db.as_ref(), limit.min(MAX_LIST))?;
    Ok(records.iter().map(Record::manifest).collect())
}

/// The newest backup, if there is one.
pub fn latest(env: &Env) -> Result<Option<Manifest>> {
    Ok(list(env, 1)?.into_iter().next())
}

/// One backup's manifest (404 for an unknown id).
pub fn get(env: &Env, id: &str) -> Result<Manifest> {
    Ok(find(env.db.as_ref(), id)?.manifest())
}

fn find(db: &dyn Db, id: &str) -> Result<Record> {
    store::find(db, id)?.ok_or_else(|| {
        let shown: String = id.chars().take(80).collect();
        Error::not_found(format!("no backup `{shown}`"))
    })
}

/// A backup's manifest and its file, read in one snapshot (404 for an
/// unknown id).
fn read_stored(db: &dyn Db, id: &str) -> Result<(Record, Stored)> {
    ensure_current(db)?;
    read_transaction(db, |db| {
        let record = find(db, id)?;
        let stored = store::read_file(db, &record)?;
        Ok((record, stored))
    })
}

/// One backup's manifest and `.sql.gz` file, read in one snapshot (404 for
/// an unknown id; 409 `backup_corrupt` when chunks are missing). The bytes
/// are returned as stored: the manifest's `sha256` lets the receiver check
/// them.
pub fn download(env: &Env, id: &str) -> Result<(Manifest, Vec<u8>)> {
    let (record, stored) = read_stored(env.db.as_ref(), id)?;
    match stored {
        Stored::Whole(file) => Ok((record.manifest(), file)),
        Stored::Damaged(why) => Err(Error::conflict(
            "backup_corrupt",
            format!("backup `{id}` cannot be downloaded: {why}"),
        )),
    }
}

/// Verify one backup against its manifest and record the outcome on it
/// (404 for an unknown id). A corrupt backup is reported in the result.
pub fn verify(env: &Env, id: &str) -> Result<Verification> {
    Ok(verify_file(env, id)?.1)
}

/// Verify one backup, then restore it into a scratch database and compare
/// it with its manifest: row counts and content hashes per table (404 for
/// an unknown id). A corrupt backup is not restored: the check fails with
/// the verification's reason. Nothing of the live database is written but
/// the verification's outcome.
pub fn check_restore(env: &Env, id: &str) -> Result<(Manifest, RestoreCheck)> {
    let (record, verification, file) = verify_file(env, id)?;
    let check = match file {
        Some(gz) => restore::check(env.db.as_ref(), &record, &gz)?,
        None => restore::unrestored(
            &record,
            Some(format!(
                "the backup is corrupt: {}",
                verification
                    .error
                    .as_deref()
                    .unwrap_or("verification failed")
            )),
        ),
    };
    Ok((record.manifest(), check))
}

/// Verify a backup file that came from elsewhere (the off-machine store)
/// against `record`, its manifest, then restore it into scratch and compare
/// it: what [`check_restore`] does for a stored backup. Nothing of the live
/// database is written.
pub fn check_restore_file(env: &Env, record: &Record, gz: &[u8]) -> Result<RestoreCheck> {
    match verify::check_file(record, gz) {
        Ok(_) => restore::check(env.db.as_ref(), record, gz),
        Err(why) => Ok(restore::unrestored(
            record,
            Some(format!("the backup is corrupt: {why}")),
        )),
    }
}

/// Verify one backup and record the outcome; the file too when it is whole
/// and matches.
fn verify_file(env: &Env, id: &str) -> Result<(Record, Verification, Option<Vec<u8>>)> {
    let db = env.db.as_ref();
    let (record, stored) = read_stored(db, id)?;
    let (status, error, rows) = match verify::check(&record, &stored) {
        Ok(rows) => (VerifyStatus::Ok, None, rows),
        Err(why) => (VerifyStatus::Corrupt, Some(why), 0),
    };
    let now = env.clock.now_ms();
    store::record_verification(db, &record.id, now, status, error.as_deref())?;
    if status == VerifyStatus::Corrupt {
        crate::log::warn(
            "backup",
            &format!(
                "backup {} is corrupt: {}",
                record.id,
                error.as_deref().unwrap_or("")
            ),
        );
    }
    let verification = Verification {
        id: record.id.clone(),
        status,
        verified_at: crate::time::rfc3339(now),
        error,
        rows,
    };
    let file = match stored {
        Stored::Whole(file) if status == VerifyStatus::Ok => Some(file),
        _ => None,
    };
    Ok((record, verification, file))
}
