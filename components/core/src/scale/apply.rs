//! Applying a decision: dry-run by default (`scale_dry_run`); otherwise the
//! decision is made again inside one write transaction from the state as
//! it is then (so two appliers, a replica's cron and an operator, cannot
//! both change it within the cooldown), recorded in `scale_changes`, and
//! appended to the audit chain (after the commit, as the other audited
//! changes are). A dry run refuses what the real apply would refuse (an
//! operator count out of bounds, or above the current one while the deploy
//! gate is up), so it can be used to check a change before making it.

use super::decision::{self, Decision, Reason, Situation};
use super::settings::Settings;
use super::state::{self, Change};
use super::status::{Observation, Status};
use crate::audit::{self, Who};
use crate::db::transaction;
use crate::error::Result;
use crate::ports::Env;
use serde::{Deserialize, Serialize};

/// The body of `POST /api/scale/apply`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    /// `false` applies; `true` only reports; absent: `scale_dry_run`.
    pub dry_run: Option<bool>,
    /// An explicit count within `scale_min..=scale_max` instead of the
    /// rules' (bypasses the cooldown, never the deploy gate).
    pub workers: Option<i64>,
}

/// What an apply did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// Only reported.
    pub dry_run: bool,
    /// The state changed.
    pub applied: bool,
    /// Workers before.
    pub from: i64,
    /// Workers after (or that a real apply would set).
    pub to: i64,
    /// Why.
    pub reason: Reason,
    /// The decision as it was made.
    pub decision: Status,
}

impl Applied {
    /// One line for the scheduler's run record.
    pub fn summary(&self) -> String {
        let m = &self.decision.metrics;
        let what = match (self.dry_run, self.from == self.to) {
            (_, true) => format!("hold at {}", self.from),
            (true, false) => format!("dry run: would scale {} -> {}", self.from, self.to),
            (false, false) => format!("scaled {} -> {}", self.from, self.to),
        };
        let blocked = self
            .decision
            .blocked_by
            .map(|b| {
                format!(
                    ", wanted {} but blocked by {}",
                    self.decision.desired_workers,
                    b.as_str()
                )
            })
            .unwrap_or_default();
        format!(
            "{what} ({}{blocked}); p95 {} ms over {} requests, {} jobs/min, forecast {} jobs/min in {} min, queue {}",
            self.reason.as_str(),
            m.p95_latency_ms.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
            m.requests_10m,
            m.arrival_rate_per_min,
            m.forecast_arrival_rate_per_min,
            self.decision.forecast.horizon_minutes,
            m.queue_depth,
        )
    }
}

fn decide(o: &Observation, req: &ApplyRequest, at: &Situation) -> Result<Decision> {
    match req.workers {
        Some(w) => decision::operator(w, &o.settings, at),
        None => Ok(decision::decide(&o.inputs(), &o.settings, at)),
    }
}

fn audit_change(env: &Env, by: &Who, d: &Decision, status: &Status) -> Result<()> {
    audit::record_business(
        env,
        by,
        "scale.apply",
        audit::Change::on("workers")
            .before(serde_json::json!({ "workers": d.current }))
            .after(serde_json::json!({ "workers": d.target() }))
            .detail(serde_json::json!({
                "from": d.current,
                "to": d.target(),
                "reason": d.reason,
                "metrics": status.metrics,
                "forecast": status.forecast,
            })),
    )?;
    Ok(())
}

/// Apply (or, in a dry run, only decide) as `by`.
pub fn apply(env: &Env, req: &ApplyRequest, by: &Who) -> Result<Applied> {
    let settings = Settings::load(env.config.as_ref())?;
    if let Some(w) = req.workers {
        decision::within_bounds(w, &settings)?;
    }
    let o = Observation::measure(env, settings)?;
    let dry_run = req.dry_run.unwrap_or(o.settings.dry_run);
    let (d, at, latest) = if dry_run {
        let (latest, at) = o.read_situation(env.db.as_ref())?;
        (decide(&o, req, &at)?, at, latest)
    } else {
        transaction(env.db.as_ref(), |db| {
            let (latest, at) = o.read_situation(db)?;
            let d = decide(&o, req, &at)?;
            if d.changes() {
                state::record(
                    db,
                    &Change {
                        at: o.now_ms,
                        workers: d.target(),
                        previous: d.current,
                        reason: d.reason.as_str().into(),
                        actor: by.actor.clone(),
                        request_id: by.request_id.clone(),
                    },
                )?;
            }
            Ok((d, at, latest))
        })?
    };
    let status = o.view(&d, &at, latest.as_ref());
    let applied = !dry_run && d.changes();
    if applied {
        audit_change(env, by, &d, &status)?;
    }
    Ok(Applied {
        dry_run,
        applied,
        from: d.current,
        to: d.target(),
        reason: d.reason,
        decision: status,
    })
}
