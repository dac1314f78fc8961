//! # Restore and disaster recovery
//!
//! A backup is only as good as the restore it allows. This module restores
//! backups into a scratch database and compares them with their manifests
//! ([`crate::backup::check_restore`]: row counts and content hashes per
//! table), and records every such run in `dr_runs`:
//!
//! - **Restore checks**: `POST /api/dr/restore` restores a chosen backup
//!   (the latest by default) into scratch. With `confirm` it does not
//!   replace the live database: under Spin the database file is held open
//!   by every process of the app (the HTTP and cron triggers run as
//!   separate processes, replicas share it), so swapping it from inside a
//!   request would race their writes. It refuses (409
//!   `restore_requires_downtime`) with the operator's procedure
//!   ([`procedure`]) and the check of the backup it would restore.
//! - **Drills**: the latest backup restored into scratch, timed. cron-dr
//!   runs one every Sunday from 01:00 UTC (and catches up when the app was
//!   down then), and runs drills asked for from the console
//!   (`run_drill`, recorded as `requested`) within a minute. A drill that
//!   fails, or finds no backup, raises a CRITICAL `dr` incident.
//!
//! - **Off-machine copies**: with shipping configured
//!   ([`crate::backup::offsite`]), a restore check may take the copy in the
//!   object store (`source: "offsite"`), and drills always do (the disk is
//!   gone): the object and its manifest are downloaded, the SHA-256 checked
//!   against what was shipped and the manifest, then restored and compared
//!   as above. Runs record which copy they used (`source`, `object_key`).
//!
//! Every run appends to the audit chain. [`status`] (`GET /api/dr/last`)
//! reports the latest backup and its verification, the last drill and
//! restore check, a drill waiting to run, when the next is due, and the
//! off-machine copy (last shipped, failures).

pub mod api;
mod job;
pub mod runs;

pub use job::{APP, JOB};
pub use runs::{Kind, Run, Status};

use crate::audit::{self, Event};
use crate::backup::{self, offsite};
use crate::error::{Error, Result};
use crate::incidents::{self, NewIncident, Severity};
use crate::ports::{ids, Env};
use crate::time::DAY_MS;
use runs::NewRun;
use serde::Serialize;
use serde_json::json;

/// Audit and incident source.
const SOURCE: &str = "dr";
/// The drill's weekday and hour: Sundays, 01:00 UTC.
const DRILL_HOUR_MS: i64 = 3_600_000;
const WEEK_MS: i64 = 7 * DAY_MS;

/// Restore backup `backup_id` (the latest when `None`) into scratch and
/// compare it with its manifest; recorded and audited as a restore check.
pub fn check_restore(
    env: &Env,
    backup_id: Option<&str>,
    actor: &str,
    trigger: &str,
) -> Result<Run> {
    let backup_id = match backup_id {
        Some(id) => backup::get(env, id)?.id,
        None => {
            backup::latest(env)?
                .ok_or_else(|| Error::not_found("there are no backups yet: run_backup takes one"))?
                .id
        }
    };
    let id = start(env, Kind::RestoreCheck, trigger, actor)?;
    execute(env, &id, Some(&backup_id))
}

/// Restore the off-machine copy of backup `backup_id` (the newest in the
/// store when `None`) into scratch: download it and its manifest, check
/// its SHA-256 against what was shipped and against the manifest, restore
/// and compare; recorded and audited as a restore check. 409
/// `offsite_not_configured` when shipping is off.
pub async fn check_restore_offsite(
    env: &Env,
    backup_id: Option<&str>,
    actor: &str,
    trigger: &str,
) -> Result<Run> {
    let settings = offsite::settings(env.config.as_ref())?.ok_or_else(offsite::not_configured)?;
    let id = start(env, Kind::RestoreCheck, trigger, actor)?;
    execute_offsite(env, &id, &settings, backup_id).await
}

/// Run a drill now: the latest backup restored into scratch, timed,
/// recorded and audited; a failure pages.
pub fn drill(env: &Env, actor: &str, trigger: &str) -> Result<Run> {
    let id = start(env, Kind::Drill, trigger, actor)?;
    execute(env, &id, None)
}

/// Run the claimed drill `run_id`: the newest off-machine copy when
/// shipping is configured (the real test: the disk is gone), the latest
/// local backup otherwise.
pub async fn run_drill(env: &Env, run_id: &str) -> Result<Run> {
    match offsite::settings(env.config.as_ref()) {
        Ok(Some(settings)) => execute_offsite(env, run_id, &settings, None).await,
        Ok(None) => execute(env, run_id, None),
        Err(e) => {
            let now = env.clock.now_ms();
            runs::set_offsite(env.db.as_ref(), run_id, None)?;
            conclude(env, run_id, now, None, None, Some(e.message))
        }
    }
}

/// Ask for a drill from the console: recorded as `requested`, run by
/// cron-dr within a minute. A drill already waiting is returned instead of
/// a second one (`false`).
pub fn request_drill(env: &Env, actor: &str) -> Result<(Run, bool)> {
    let db = env.db.as_ref();
    if let Some(waiting) = runs::pending_drill(db)? {
        return Ok((waiting, false));
    }
    let now = env.clock.now_ms();
    let id = ids::new_id("dr_", now, env.ids.as_ref())?;
    runs::insert(
        db,
        &NewRun {
            id: &id,
            kind: Kind::Drill,
            trigger: "console",
            actor,
            status: Status::Requested,
            at_ms: now,
        },
    )?;
    Ok((runs::get(db, &id)?, true))
}

fn start(env: &Env, kind: Kind, trigger: &str, actor: &str) -> Result<String> {
    let now = env.clock.now_ms();
    let id = ids::new_id("dr_", now, env.ids.as_ref())?;
    runs::insert(
        env.db.as_ref(),
        &NewRun {
            id: &id,
            kind,
            trigger,
            actor,
            status: Status::Running,
            at_ms: now,
        },
    )?;
    Ok(id)
}

/// Run the restore of a claimed run: `backup_id`, or the latest backup
/// (drills). Records the outcome, audits it, pages for a failed drill.
fn execute(env: &Env, run_id: &str, backup_id: Option<&str>) -> Result<Run> {
    let started = env.clock.now_ms();
    let target = match backup_id {
        Some(id) => Some(id.to_string()),
        None => backup::latest(env)?.map(|m| m.id),
    };
    let (check, error) = match &target {
        None => (None, Some("there is no backup to restore".to_string())),
        Some(id) => checked(backup::check_restore(env, id).map(|(_, c)| c))?,
    };
    conclude(env, run_id, started, target.as_deref(), check, error)
}

/// Run the restore of a claimed run from the off-machine store: backup
/// `backup_id`, or the newest there. A store that cannot be read, a copy
/// that does not match what was shipped or its manifest, or a restore that
/// does not compare equal fails the run.
async fn execute_offsite(
    env: &Env,
    run_id: &str,
    settings: &offsite::Settings,
    backup_id: Option<&str>,
) -> Result<Run> {
    let started = env.clock.now_ms();
    let fetched = offsite::fetch(env, settings, backup_id).await;
    runs::set_offsite(
        env.db.as_ref(),
        run_id,
        fetched.as_ref().ok().map(|f| f.key.as_str()),
    )?;
    let (target, check, error) = match fetched {
        Err(why) => (
            backup_id.map(str::to_string),
            None,
            Some(format!("the off-machine copy could not be read: {why}")),
        ),
        Ok(f) => {
            let target = Some(f.record.id.clone());
            match offsite::check_fetched(env, &f)? {
                Err(why) => (target, None, Some(why)),
                Ok(()) => {
                    let (check, error) =
                        checked(backup::check_restore_file(env, &f.record, &f.gz))?;
                    (target, check, error)
                }
            }
        }
    };
    conclude(env, run_id, started, target.as_deref(), check, error)
}

/// A restore check's outcome as a run records it: the check and its error,
/// or the error of a restore that could not run (the database's own
/// errors other than internal ones are returned).
type Outcome = (Option<backup::RestoreCheck>, Option<String>);

fn checked(result: Result<backup::RestoreCheck>) -> Result<Outcome> {
    match result {
        Ok(check) => {
            let error = check.error.clone();
            Ok((Some(check), error))
        }
        Err(e) if e.kind == crate::error::Kind::Internal => Ok((
            None,
            Some(format!("the restore could not run: {}", e.message)),
        )),
        Err(e) => Err(e),
    }
}

/// Record how run `run_id` ended, audit it, page for a failed drill.
fn conclude(
    env: &Env,
    run_id: &str,
    started: i64,
    target: Option<&str>,
    check: Option<backup::RestoreCheck>,
    error: Option<String>,
) -> Result<Run> {
    let db = env.db.as_ref();
    let finished = env.clock.now_ms();
    runs::finish(
        db,
        run_id,
        target,
        started,
        finished,
        check.as_ref(),
        error.as_deref(),
    )?;
    let run = runs::get(db, run_id)?;
    let action = match run.kind {
        Kind::Drill => "dr.drill_finished",
        Kind::RestoreCheck => "dr.restore_checked",
    };
    audit::append(
        env,
        &Event::new(crate::tenancy::DEFAULT_TENANT, &run.actor, action)
            .target(&run.id)
            .detail(json!({
                "backup": run.backup_id,
                "status": run.status,
                "trigger": run.trigger,
                "duration_ms": run.duration_ms,
                "rows": run.rows,
                "error": run.error,
                "source": run.source,
                "object_key": run.object_key,
            })),
    )?;
    if run.kind == Kind::Drill && run.status == Status::Failed {
        page(env, &run);
    }
    crate::log::info(
        SOURCE,
        &format!(
            "{action} {}: backup {}, {:?}, {} ms",
            run.id,
            run.backup_id.as_deref().unwrap_or("none"),
            run.status,
            run.duration_ms.unwrap_or(0)
        ),
    );
    Ok(run)
}

/// Raise a CRITICAL `dr` incident for a failed drill. A failure to raise it
/// is logged: it must not hide the drill's outcome.
fn page(env: &Env, run: &Run) {
    let raised = incidents::raise(
        env,
        NewIncident {
            severity: Severity::Critical,
            source: SOURCE.into(),
            message: format!(
                "DR drill {} failed: {}",
                run.id,
                run.error.as_deref().unwrap_or("unknown reason")
            ),
            links: json!({ "drill": run.id, "backup": run.backup_id }),
        },
    );
    if let Err(e) = raised {
        crate::log::error(SOURCE, &format!("could not raise the DR incident: {e}"));
    }
}

/// When the weekly drill of the week holding `now_ms` was due: the latest
/// Sunday 01:00 UTC at or before it.
pub fn weekly_due(now_ms: i64) -> i64 {
    let day = now_ms.div_euclid(DAY_MS);
    // 1970-01-01 was a Thursday: (day + 4) % 7 is 0 on Sundays.
    let since_sunday = (day + 4).rem_euclid(7);
    let due = (day - since_sunday) * DAY_MS + DRILL_HOUR_MS;
    if due > now_ms {
        due - WEEK_MS
    } else {
        due
    }
}

/// The latest backup, as DR status shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LatestBackup {
    /// `bak_…`
    pub id: String,
    /// When it was taken.
    pub created_at: String,
    /// What started it.
    pub trigger: String,
    /// Rows backed up.
    pub rows: i64,
    /// Size of the `.sql.gz`.
    pub bytes: i64,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Whether its manifest has content hashes per table.
    pub hashes_recorded: bool,
}

/// The last verification of the latest backup.
#[derive(Debug, Clone, Serialize)]
pub struct LastVerification {
    /// The backup.
    pub backup_id: String,
    /// `ok`, `corrupt`, or `null` when not verified yet.
    pub status: Option<backup::VerifyStatus>,
    /// When.
    pub verified_at: Option<String>,
    /// What was wrong.
    pub error: Option<String>,
}

/// `GET /api/dr/last`.
#[derive(Debug, Clone, Serialize)]
pub struct DrStatus {
    /// The latest backup, if any.
    pub backup: Option<LatestBackup>,
    /// Its last verification.
    pub verification: Option<LastVerification>,
    /// The last drill that finished.
    pub drill: Option<Run>,
    /// The last restore check that finished.
    pub restore_check: Option<Run>,
    /// A drill asked for and not finished yet.
    pub pending_drill: Option<Run>,
    /// When the next weekly drill is due (Sundays 01:00 UTC).
    pub next_drill_at: String,
    /// The off-machine copy: where, last shipped, failures.
    pub offsite: offsite::Status,
}

/// The DR status: latest backup and verification, last drill and check.
pub fn status(env: &Env) -> Result<DrStatus> {
    let db = env.db.as_ref();
    let latest = backup::latest(env)?;
    Ok(DrStatus {
        verification: latest.as_ref().map(|m| LastVerification {
            backup_id: m.id.clone(),
            status: m.verify_status,
            verified_at: m.verified_at.clone(),
            error: m.verify_error.clone(),
        }),
        backup: latest.map(|m| LatestBackup {
            hashes_recorded: !m.table_hashes.is_empty(),
            id: m.id,
            created_at: m.created_at,
            trigger: m.trigger,
            rows: m.rows,
            bytes: m.bytes,
            sha256: m.sha256,
        }),
        drill: runs::last_finished(db, Kind::Drill)?,
        restore_check: runs::last_finished(db, Kind::RestoreCheck)?,
        pending_drill: runs::pending_drill(db)?,
        next_drill_at: crate::time::rfc3339(weekly_due(env.clock.now_ms()) + WEEK_MS),
        offsite: offsite::status(env)?,
    })
}

/// The operator's procedure to replace the live database with backup
/// `backup_id` (with `filename`), in order. Under Spin it cannot be done
/// from inside the app: every process of the app holds the file open.
pub fn procedure(backup_id: &str, filename: &str) -> Vec<String> {
    vec![
        format!(
            "Download the backup: GET /api/backups/{backup_id}/download (admin) saves {filename}; \
             check `sha256sum {filename}` against the X-Backup-SHA256 header."
        ),
        "Stop every process of the app: `spin up` runs one process per trigger type (HTTP and \
         cron) and both hold .spin/sqlite_db.db open; on SpinKube scale the SpinApp to 0 \
         replicas. Writes made after the backup was taken will be lost."
            .into(),
        format!(
            "Restore into a new, empty file: `gunzip -c {filename} | sqlite3 restored.db`, then \
             `sqlite3 restored.db 'PRAGMA journal_mode=WAL'`. The dump is one transaction: it \
             restores completely or not at all."
        ),
        "Keep the old database: move .spin/sqlite_db.db and its -wal and -shm files aside \
         (e.g. to .spin/before-restore/)."
            .into(),
        "Put restored.db in place as .spin/sqlite_db.db (for libSQL/Turso, load it with the \
         provider's import instead)."
            .into(),
        "Start the app again, then check it: GET /api/dr/last, and POST /api/dr/restore (a \
         dry run) after the next backup."
            .into(),
    ]
}
