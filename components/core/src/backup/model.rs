//! What the backup API returns: the plan of a backup, the manifest of a
//! stored one, and the result of verifying one. Times are RFC 3339.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A table whose rows a backup leaves out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExcludedTable {
    /// The table (its schema is still in the backup; only rows are left out).
    pub table: &'static str,
    /// Why its rows are not worth keeping.
    pub reason: &'static str,
}

/// What a backup taken now would contain (a dry run: nothing is written).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The dump format's name.
    pub format: &'static str,
    /// The dump format's version.
    pub format_version: i64,
    /// The database's schema version (highest applied migration).
    pub schema_version: i64,
    /// Rows per table whose rows would be backed up.
    pub tables: BTreeMap<String, i64>,
    /// All those rows.
    pub rows: i64,
    /// Tables backed up as schema only, with the reason.
    pub excluded: Vec<ExcludedTable>,
    /// Backups stored now.
    pub backups: i64,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifyStatus {
    /// The file matches its manifest and reads as a complete dump.
    Ok,
    /// It does not; `verify_error` says how.
    Corrupt,
}

impl VerifyStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyStatus::Ok => "ok",
            VerifyStatus::Corrupt => "corrupt",
        }
    }

    /// From storage; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ok" => Some(VerifyStatus::Ok),
            "corrupt" => Some(VerifyStatus::Corrupt),
            _ => None,
        }
    }
}

/// A stored backup.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    /// `bak_…`, time-sortable.
    pub id: String,
    /// The dump format's name.
    pub format: &'static str,
    /// The dump format's version.
    pub format_version: i64,
    /// When the snapshot was taken.
    pub created_at: String,
    /// When the backup was stored.
    pub finished_at: String,
    /// Who took it.
    pub actor: String,
    /// What started it (`console`, `schedule`, …).
    pub trigger: String,
    /// The schema version of the snapshot.
    pub schema_version: i64,
    /// Rows per backed-up table.
    pub tables: BTreeMap<String, i64>,
    /// Content hash per backed-up table: SHA-256 of its rows in key order
    /// (empty for backups taken before hashes were recorded). A restore is
    /// compared with these.
    pub table_hashes: BTreeMap<String, String>,
    /// All those rows.
    pub rows: i64,
    /// Size of the SQL text.
    pub raw_bytes: i64,
    /// Size of the `.sql.gz` file.
    pub bytes: i64,
    /// SHA-256 of the `.sql.gz` file, lowercase hex.
    pub sha256: String,
    /// Pieces it is stored in.
    pub chunks: i64,
    /// A file name for downloading it.
    pub filename: String,
    /// When it was last verified.
    pub verified_at: Option<String>,
    /// The last verification's outcome.
    pub verify_status: Option<VerifyStatus>,
    /// Why the last verification found it corrupt.
    pub verify_error: Option<String>,
}

/// The result of [`super::verify()`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// The backup.
    pub id: String,
    /// `ok` or `corrupt`.
    pub status: VerifyStatus,
    /// When.
    pub verified_at: String,
    /// What is wrong, when corrupt.
    pub error: Option<String>,
    /// Row statements found in the file.
    pub rows: i64,
}

/// One table of a restore, compared with the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableCheck {
    /// The table.
    pub table: String,
    /// Rows the manifest lists.
    pub expected_rows: i64,
    /// Rows restored (`None` when the table is missing).
    pub restored_rows: Option<i64>,
    /// The manifest's content hash (`None` for backups taken before hashes
    /// were recorded: counts only).
    pub expected_sha256: Option<String>,
    /// The restored table's content hash.
    pub restored_sha256: Option<String>,
    /// Rows and (when recorded) hash agree.
    pub ok: bool,
}

/// A backup restored into a scratch database and compared with its
/// manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreCheck {
    /// The backup.
    pub backup_id: String,
    /// Restored completely, equal counts and hashes in every table.
    pub ok: bool,
    /// The manifest's schema version.
    pub schema_version: i64,
    /// The restored database's (highest `schema_migrations` entry).
    pub restored_schema_version: Option<i64>,
    /// Rows restored.
    pub rows: i64,
    /// Indexes built in scratch (UNIQUE constraints checked).
    pub indexes: i64,
    /// Views and triggers not recreated in scratch.
    pub views_and_triggers_skipped: i64,
    /// Whether the manifest has content hashes (else counts only).
    pub hashes_recorded: bool,
    /// Per table.
    pub tables: Vec<TableCheck>,
    /// Why the check failed.
    pub error: Option<String>,
}
