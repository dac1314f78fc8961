//! The nightly backup: `cron-backup` at 00:30 UTC takes a backup, applies
//! retention (`backup_keep`), then reads it back and verifies it. A backup
//! that does not verify, or a nightly backup that cannot be taken at all,
//! raises a CRITICAL incident: the one copy that matters on a bad day must
//! not be found missing or broken on that day.
//!
//! When off-machine copies are configured ([`super::offsite`]), the run
//! then ships the backups not in the object store yet and applies the
//! store's retention; a failed shipment is recorded, logged and retried by
//! later runs without failing the backup. When the newest shipped backup
//! is more than two backup periods old, it raises a CRITICAL incident.

use crate::error::Result;
use crate::incidents::{self, NewIncident, Severity};
use crate::ports::Env;
use crate::scheduler::{self, Job, JobFn, RunContext};
use futures::future::LocalBoxFuture;
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
    body: JobFn::Async(nightly),
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
fn nightly<'a>(env: &'a Env, _run: &'a RunContext) -> LocalBoxFuture<'a, Result<String>> {
    Box::pin(async move {
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
        let shipped = ship(env).await?;
        Ok(format!(
            "backup {}: {} rows in {} tables, {} bytes; verification {}{shipped}",
            m.id,
            m.rows,
            m.tables.len(),
            m.bytes,
            v.status.as_str()
        ))
    })
}

/// Ship to the object store when configured, and page when the newest
/// shipped backup is stale; the summary's tail.
async fn ship(env: &Env) -> Result<String> {
    let settings = match super::offsite::settings(env.config.as_ref()) {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(String::new()),
        Err(e) => {
            crate::log::error("backup", &format!("off-machine backups: {}", e.message));
            return Ok(format!("; off-machine: {}", e.message));
        }
    };
    let report = super::offsite::ship_pending(env, &settings).await?;
    if super::offsite::stale(env, env.clock.now_ms())? {
        let why = report
            .failed
            .first()
            .map(|(_, why)| why.clone())
            .unwrap_or_else(|| "no shipment was attempted".into());
        page(
            env,
            format!(
                "Backups have not reached {} for more than two backup periods: {}",
                settings.location(),
                why.chars().take(200).collect::<String>()
            ),
            json!({ "offsite": settings.location() }),
        );
    }
    Ok(format!("; {}", report.summary()))
}
