//! The nightly backup: `cron-backup` at 00:30 UTC takes a backup, applies
//! retention (`backup_keep`), then reads it back and verifies it. A backup
//! that does not verify, or a nightly backup that cannot be taken at all,
//! raises a CRITICAL incident: the one copy that matters on a bad day must
//! not be found missing or broken on that day.

use crate::error::Result;
use crate::incidents::{self, NewIncident, Severity};
use crate::ports::Env;
use crate::scheduler::{self, Job, JobFn, RunContext};
use serde_json::json;

/// The backup job.
pub const JOB: Job = Job {
    name: "backup",
    component: "cron-backup",
    schedule: "0 30 0 * * *",
    period_secs: 86_400,
    lease_secs: 1_800,
    max_attempts: 3,
    exclusive: true,
    body: JobFn::Sync(nightly),
};

scheduler::cron_http_app!("cron-backup", "/api/internal/cron/backup", JOB);

/// Take a backup as `actor` (`trigger`: `schedule`, `console`), verify it,
/// and raise a CRITICAL incident when it does not verify.
pub fn backup_and_verify(
    env: &Env,
    actor: &str,
    trigger: &str,
) -> Result<(super::Manifest, super::Verification)> {
    let manifest = super::run(env, actor, trigger, super::configured_keep(env)?)?;
    let verification = super::verify(env, &manifest.id)?;
    if verification.status != super::VerifyStatus::Ok {
        page(
            env,
            format!(
                "Backup {} failed verification: {}",
                manifest.id,
                verification.error.as_deref().unwrap_or("unknown reason")
            ),
            json!({ "backup": manifest.id, "sha256": manifest.sha256 }),
        );
    }
    Ok((manifest, verification))
}

/// Raise a CRITICAL `backup` incident. A failure to raise it is logged, not
/// returned: it must not hide the outcome it reports.
fn page(env: &Env, message: String, links: serde_json::Value) {
    let raised = incidents::raise(
        env,
        NewIncident {
            severity: Severity::Critical,
            source: "backup".into(),
            message,
            links,
        },
    );
    if let Err(e) = raised {
        crate::log::error(
            "backup",
            &format!("could not raise the backup incident: {e}"),
        );
    }
}

/// The nightly run. A cron tick that fails is only logged by the trigger,
/// so a backup that cannot be taken pages too: backups must not stop
/// silently.
fn nightly(env: &Env, _run: &RunContext) -> Result<String> {
    let (m, v) = backup_and_verify(env, "scheduler", "schedule").inspect_err(|e| {
        page(
            env,
            format!(
                "Nightly backup failed: {}",
                e.message.chars().take(200).collect::<String>()
            ),
            json!({ "error": e.code }),
        )
    })?;
    Ok(format!(
        "backup {}: {} rows in {} tables, {} bytes; verification {}",
        m.id,
        m.rows,
        m.tables.len(),
        m.bytes,
        v.status.as_str()
    ))
}
