//! The decision now, as `GET /api/scale/status` serves it (the seed's
//! fields first, then the forecast, the action, what blocks it, the
//! concurrency it means and the last change).

use super::decision::{self, Action, Block, Decision, Inputs, Reason, Situation};
use super::forecast::Forecast;
use super::settings::Settings;
use super::signals::{self, Metrics, Signals};
use super::state::{self, Change, ChangeView};
use crate::ai::settings::WorkerSettings;
use crate::error::Result;
use crate::ports::{Db, Env};
use crate::time::rfc3339;
use serde::Serialize;

/// The limits the decision respects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Constraints {
    /// `scale_min`.
    pub min: i64,
    /// `scale_max`.
    pub max: i64,
    /// `scale_cooldown_min`.
    pub cooldown_min: i64,
    /// Seconds before an automatic change is allowed again.
    pub cooldown_remaining_sec: i64,
    /// The deploy gate is up (no scaling up).
    pub deploy_gate_active: bool,
}

/// The status.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// When, RFC 3339.
    pub ts: String,
    /// Workers in force.
    pub current_workers: i64,
    /// What the rules want, within min..max.
    pub desired_workers: i64,
    /// Why.
    pub reason: Reason,
    /// Whether an apply without `dry_run` only reports (`scale_dry_run`).
    pub dry_run: bool,
    /// The measurements.
    pub metrics: Metrics,
    /// The limits.
    pub constraints: Constraints,
    /// The arrival forecast in full.
    pub forecast: Forecast,
    /// Which way the rules point.
    pub action: Action,
    /// What stops the change now (`cooldown`, `deploy_gate`), if anything.
    pub blocked_by: Option<Block>,
    /// What an apply would set now.
    pub target_workers: i64,
    /// Jobs in flight per worker (`worker_concurrency`).
    pub worker_concurrency: usize,
    /// Jobs in flight per worker tick now: workers × `worker_concurrency`.
    pub effective_concurrency: usize,
    /// The last applied change.
    pub last_change: Option<ChangeView>,
}

/// Everything a decision is made from, but the state (read again inside
/// the apply's transaction).
#[derive(Debug, Clone)]
pub struct Observation {
    /// The variables.
    pub settings: Settings,
    /// The measurements.
    pub signals: Signals,
    /// `worker_concurrency`.
    pub per_worker: usize,
    /// When.
    pub now_ms: i64,
}

impl Observation {
    /// Read the variables and measure.
    pub fn take(env: &Env) -> Result<Observation> {
        Self::measure(env, Settings::load(env.config.as_ref())?)
    }

    /// Measure under `settings`.
    pub fn measure(env: &Env, settings: Settings) -> Result<Observation> {
        Ok(Observation {
            settings,
            signals: signals::gather(env, &settings)?,
            per_worker: WorkerSettings::load(env.config.as_ref())?.concurrency,
            now_ms: env.clock.now_ms(),
        })
    }

    /// The rules' inputs.
    pub fn inputs(&self) -> Inputs {
        Inputs {
            p95_ms: self.signals.metrics.p95_latency_ms,
            arrival_rate: self.signals.metrics.arrival_rate_per_min,
            forecast_rate: self.signals.forecast.arrival_rate_per_min,
        }
    }

    /// The situation given the latest change and the gate.
    pub fn situation(&self, latest: Option<&Change>, gate_up: bool) -> Situation {
        Situation {
            current: state::workers_of(&self.settings, latest),
            last_change_at: latest.map(|c| c.at),
            gate_up,
            now_ms: self.now_ms,
        }
    }

    /// The state and the gate as `db` has them now.
    pub fn read_situation(&self, db: &dyn Db) -> Result<(Option<Change>, Situation)> {
        let latest = state::latest(db)?;
        let gate_up = crate::slo::gate::state(db)?.up;
        let at = self.situation(latest.as_ref(), gate_up);
        Ok((latest, at))
    }

    /// The status of decision `d`.
    pub fn view(&self, d: &Decision, at: &Situation, latest: Option<&Change>) -> Status {
        let s = &self.settings;
        Status {
            ts: rfc3339(self.now_ms),
            current_workers: d.current,
            desired_workers: d.desired,
            reason: d.reason,
            dry_run: s.dry_run,
            metrics: self.signals.metrics.clone(),
            constraints: Constraints {
                min: s.min,
                max: s.max,
                cooldown_min: s.cooldown_min,
                cooldown_remaining_sec: d.cooldown_remaining_sec,
                deploy_gate_active: at.gate_up,
            },
            forecast: self.signals.forecast,
            action: d.action,
            blocked_by: d.blocked_by,
            target_workers: d.target(),
            worker_concurrency: self.per_worker,
            effective_concurrency: self.per_worker.saturating_mul(d.current as usize),
            last_change: latest.map(Change::view),
        }
    }
}

/// The automatic decision now, changing nothing.
pub fn status(env: &Env) -> Result<Status> {
    let o = Observation::take(env)?;
    let (latest, at) = o.read_situation(env.db.as_ref())?;
    let d = decision::decide(&o.inputs(), &o.settings, &at);
    Ok(o.view(&d, &at, latest.as_ref()))
}
