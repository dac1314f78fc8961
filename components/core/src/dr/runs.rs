//! The `dr_runs` table: every restore into scratch (checks and drills) and
//! drills asked for from the console, with what they found.

use crate::backup::RestoreCheck;
use crate::error::{Error, Result};
use crate::params;
use crate::ports::{Db, DbExt, Row};
use crate::time::rfc3339;
use serde::Serialize;

/// What a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The latest backup restored into scratch, timed; a failure pages.
    Drill,
    /// A chosen backup restored into scratch (`POST /api/dr/restore`).
    RestoreCheck,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Drill => "drill",
            Kind::RestoreCheck => "restore_check",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "drill" => Some(Kind::Drill),
            "restore_check" => Some(Kind::RestoreCheck),
            _ => None,
        }
    }
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Asked for from the console; cron-dr runs it within a minute.
    Requested,
    /// Claimed and running.
    Running,
    /// Restored with equal counts and hashes.
    Ok,
    /// Did not restore, did not match, or there was no backup.
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Requested => "requested",
            Status::Running => "running",
            Status::Ok => "ok",
            Status::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "requested" => Some(Status::Requested),
            "running" => Some(Status::Running),
            "ok" => Some(Status::Ok),
            "failed" => Some(Status::Failed),
            _ => None,
        }
    }
}

/// A run, as served.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// `dr_…`, time-sortable.
    pub id: String,
    /// Drill or restore check.
    pub kind: Kind,
    /// What started it: `schedule`, `console`, `api`.
    pub trigger: String,
    /// Who.
    pub actor: String,
    /// Where it is.
    pub status: Status,
    /// The backup restored.
    pub backup_id: Option<String>,
    /// When it was asked for.
    pub requested_at: String,
    /// When the restore began.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// How long the restore and comparison took.
    pub duration_ms: Option<i64>,
    /// Rows restored.
    pub rows: Option<i64>,
    /// Tables compared.
    pub tables: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// The comparison, table by table.
    pub check: Option<RestoreCheck>,
    /// Which copy was restored: `local` (the catalogue in the database) or
    /// `offsite` (the object store).
    pub source: String,
    /// The object restored, for an off-machine copy.
    pub object_key: Option<String>,
}

const COLUMNS: &str = "id, kind, trigger, actor, status, backup_id, requested_at, started_at,
    finished_at, duration_ms, rows, tables, error, report, source, object_key";

fn from_row(r: &Row) -> Result<Run> {
    let id = r.text(0)?;
    let bad = |what: &str| Error::internal(format!("dr run {id}: unknown {what}"));
    let check = match r.opt_text(13)? {
        None => None,
        Some(json) => Some(serde_json::from_str::<RestoreCheck>(&json).map_err(|e| {
            Error::internal(format!(
                "dr run {id}: the stored report is not readable: {e}"
            ))
        })?),
    };
    Ok(Run {
        kind: Kind::parse(&r.text(1)?).ok_or_else(|| bad("kind"))?,
        trigger: r.text(2)?,
        actor: r.text(3)?,
        status: Status::parse(&r.text(4)?).ok_or_else(|| bad("status"))?,
        backup_id: r.opt_text(5)?,
        requested_at: rfc3339(r.i64(6)?),
        started_at: r.opt_i64(7)?.map(rfc3339),
        finished_at: r.opt_i64(8)?.map(rfc3339),
        duration_ms: r.opt_i64(9)?,
        rows: r.opt_i64(10)?,
        tables: r.opt_i64(11)?,
        error: r.opt_text(12)?,
        check,
        source: r.text(14)?,
        object_key: r.opt_text(15)?,
        id,
    })
}

/// A new run row.
pub struct NewRun<'a> {
    /// `dr_…`
    pub id: &'a str,
    /// Drill or check.
    pub kind: Kind,
    /// What started it.
    pub trigger: &'a str,
    /// Who.
    pub actor: &'a str,
    /// Requested or running.
    pub status: Status,
    /// When.
    pub at_ms: i64,
}

/// Insert a run (requested, or running from `at_ms`).
pub fn insert(db: &dyn Db, run: &NewRun) -> Result<()> {
    let started = (run.status == Status::Running).then_some(run.at_ms);
    db.exec(
        "INSERT INTO dr_runs (id, kind, trigger, actor, status, requested_at, started_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            run.id,
            run.kind.as_str(),
            run.trigger,
            run.actor,
            run.status.as_str(),
            run.at_ms,
            started
        ],
    )?;
    Ok(())
}

/// Claim the oldest requested drill (one statement, so of several replicas
/// exactly one gets it); its id.
pub fn claim_requested(db: &dyn Db, now_ms: i64) -> Result<Option<String>> {
    let row = db.query_opt(
        "UPDATE dr_runs SET status = 'running', started_at = ?1
         WHERE id = (SELECT id FROM dr_runs WHERE status = 'requested' AND kind = 'drill'
                     ORDER BY requested_at, id LIMIT 1)
           AND status = 'requested'
         RETURNING id",
        params![now_ms],
    )?;
    row.map(|r| r.text(0)).transpose()
}

/// Record how a run ended.
pub fn finish(
    db: &dyn Db,
    id: &str,
    backup_id: Option<&str>,
    started_ms: i64,
    finished_ms: i64,
    check: Option<&RestoreCheck>,
    error: Option<&str>,
) -> Result<()> {
    let status = if error.is_none() {
        Status::Ok
    } else {
        Status::Failed
    };
    let report = check.map(serde_json::to_string).transpose()?;
    db.exec(
        "UPDATE dr_runs SET status = ?2, backup_id = ?3, started_at = ?4, finished_at = ?5,
            duration_ms = ?6, rows = ?7, tables = ?8, error = ?9, report = ?10
         WHERE id = ?1",
        params![
            id,
            status.as_str(),
            backup_id,
            started_ms,
            finished_ms,
            finished_ms - started_ms,
            check.map(|c| c.rows),
            check.map(|c| c.tables.len() as i64),
            error,
            report
        ],
    )?;
    Ok(())
}

/// Record that run `id` restores the off-machine copy at `key` (`None`:
/// none was found).
pub fn set_offsite(db: &dyn Db, id: &str, key: Option<&str>) -> Result<()> {
    db.exec(
        "UPDATE dr_runs SET source = 'offsite', object_key = ?2 WHERE id = ?1",
        params![id, key],
    )?;
    Ok(())
}

/// One run (404 for an unknown id).
pub fn get(db: &dyn Db, id: &str) -> Result<Run> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM dr_runs WHERE id = ?1"),
        params![id],
    )?
    .as_ref()
    .map(from_row)
    .transpose()?
    .ok_or_else(|| Error::not_found(format!("no DR run `{id}`")))
}

/// The newest finished run of `kind`.
pub fn last_finished(db: &dyn Db, kind: Kind) -> Result<Option<Run>> {
    db.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM dr_runs WHERE kind = ?1 AND status IN ('ok', 'failed')
             ORDER BY requested_at DESC, id DESC LIMIT 1"
        ),
        params![kind.as_str()],
    )?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// The oldest drill waiting or running, if any.
pub fn pending_drill(db: &dyn Db) -> Result<Option<Run>> {
    db.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM dr_runs WHERE kind = 'drill' AND status IN ('requested', 'running')
             ORDER BY requested_at, id LIMIT 1"
        ),
        &[],
    )?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Whether a scheduled drill was started at or after `since_ms`.
pub fn scheduled_drill_since(db: &dyn Db, since_ms: i64) -> Result<bool> {
    Ok(db
        .query_opt(
            "SELECT 1 FROM dr_runs WHERE kind = 'drill' AND trigger = 'schedule' AND requested_at >= ?1
             LIMIT 1",
            params![since_ms],
        )?
        .is_some())
}
