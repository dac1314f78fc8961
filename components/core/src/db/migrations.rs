//! The schema, as numbered migrations. Append only: a released migration is
//! never edited or removed (a checksum test guards the released ones), and
//! every statement is idempotent (`IF NOT EXISTS`, `INSERT OR IGNORE`).

/// One schema version.
pub struct Migration {
    /// Strictly increasing from 1.
    pub version: i64,
    /// What it adds, for people.
    pub name: &'static str,
    /// One statement per entry (the SQL port runs one statement per call).
    pub statements: &'static [&'static str],
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "foundation: metadata, scheduler runs, heartbeats",
    statements: &[
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at INTEGER NOT NULL
        )",
        "CREATE TABLE IF NOT EXISTS app_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )",
        "INSERT OR IGNORE INTO app_meta (key, value)
            VALUES ('initialized_at', CAST(strftime('%s', 'now') AS INTEGER) * 1000)",
        "CREATE TABLE IF NOT EXISTS scheduler_runs (
            job TEXT NOT NULL,
            slot INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
            owner TEXT NOT NULL,
            trigger TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1,
            lease_expires_at INTEGER NOT NULL,
            started_at INTEGER NOT NULL,
            finished_at INTEGER,
            summary TEXT,
            error TEXT,
            PRIMARY KEY (job, slot)
        )",
        "CREATE INDEX IF NOT EXISTS scheduler_runs_by_status
            ON scheduler_runs (job, status, lease_expires_at)",
        "CREATE INDEX IF NOT EXISTS scheduler_runs_by_start ON scheduler_runs (started_at)",
        "CREATE TABLE IF NOT EXISTS heartbeats (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at INTEGER NOT NULL,
            slot INTEGER NOT NULL,
            trigger TEXT NOT NULL,
            git_sha TEXT NOT NULL,
            dirty INTEGER NOT NULL,
            missed_slots INTEGER NOT NULL DEFAULT 0
        )",
        "CREATE INDEX IF NOT EXISTS heartbeats_by_time ON heartbeats (at)",
    ],
}];

/// The schema version this build expects.
pub fn latest() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}
