//! Payments: the ledger of Stripe charges and its reconciliation.
//!
//! - [`ledger`]: one row per Stripe charge (minor units, currency, refunds,
//!   disputes, the tenant from `metadata.tenant_id`), read by the daily
//!   report's revenue figures.
//! - [`reconcile()`]: lists Stripe's charges for a window and compares them
//!   with the ledger; applied, it brings the ledger in line and records
//!   the run. Dry runs write nothing.
//! - [`JOB`]: `cron-payments`, daily at 02:10 UTC over the last
//!   [`reconcile::DEFAULT_DAYS`] days (plus one per missed run); the operator console's
//!   `reconcile_payments` runs it on demand over 1 to 90 days.
//!
//! Without `stripe_secret_key`, payments are "not configured": the job
//! records that and succeeds, the console answers 503
//! `payments_not_configured`, and the report says revenue is unavailable.

pub mod api;
pub mod ledger;
pub mod reconcile;
pub mod stripe;

pub use reconcile::{reconcile, Reconciliation, Requester};

use crate::error::{Error, Result};
use crate::integrations;
use crate::params;
use crate::ports::{DbExt, Env};
use crate::scheduler::{self, Job, JobFn, RunContext};
use crate::time::DAY_MS;
use futures::future::LocalBoxFuture;
use serde_json::{json, Value};

/// The daily reconciliation.
pub const JOB: Job = Job {
    name: "payments",
    component: "cron-payments",
    schedule: "0 10 2 * * *",
    period_secs: 86_400,
    lease_secs: 600,
    max_attempts: 3,
    exclusive: true,
    body: JobFn::Async(run),
};

scheduler::cron_http_app!("cron-payments", "/api/internal/cron/payments", JOB);

/// 503 `payments_not_configured`.
pub fn not_configured() -> Error {
    Error::unavailable(
        "payments_not_configured",
        "payments are not configured: set stripe_secret_key (and stripe_base_url for a Stripe-compatible endpoint)",
    )
}

/// Reconcile over `days` days (or only compare, without `apply`) and
/// record the integration's state for `/health`.
pub async fn reconcile_and_record(
    env: &Env,
    days: i64,
    apply: bool,
    who: &Requester<'_>,
) -> Result<Reconciliation> {
    let Some(s) = stripe::settings(env.config.as_ref())? else {
        integrations::record(env, "stripe", "not_configured", "set stripe_secret_key")?;
        return Err(not_configured());
    };
    let outcome = reconcile(env, &s, days, apply, who).await;
    match &outcome {
        // /health is public: the state, never the volume of charges.
        Ok(r) if r.applied => integrations::record(
            env,
            "stripe",
            "ok",
            &format!("last reconciliation {}", r.to),
        )?,
        Ok(_) => {}
        Err(e) => integrations::record(env, "stripe", "error", &e.message)?,
    }
    outcome
}

/// The revenue of UTC day `day` and of the day before, from the ledger,
/// for the daily report. "Unavailable" (not zero) unless a complete
/// reconciliation covered both days (its window reaching back to the day
/// before, and forward to the day's end or to a run during the day), so a
/// gap of missed runs never reads as a day without sales. Reads no Stripe
/// settings, so the report's components need no payments secret.
pub fn revenue_figures(env: &Env, day: i64) -> Result<Value> {
    let (day_start, day_end) = (day * DAY_MS, (day + 1) * DAY_MS);
    let last = env
        .db
        .query_opt(
            "SELECT MAX(started_at) FROM payment_reconciliations
             WHERE truncated = 0 AND window_from <= ?1 AND (window_to >= ?2 OR started_at >= ?3)",
            params![day_start - DAY_MS, day_end, day_start],
        )?
        .map(|r| r.opt_i64(0))
        .transpose()?
        .flatten();
    let Some(last) = last else {
        return Ok(json!({
            "available": false,
            "reason": format!(
                "no complete payments reconciliation covers {} and the day before: set stripe_secret_key (cron-payments reconciles daily at 02:10 UTC) or run the console's reconcile_payments with a wide enough `days`",
                crate::time::date(day_start)
            ),
        }));
    };
    let range =
        |d: i64, live: bool| ledger::revenue(env.db.as_ref(), d * DAY_MS, (d + 1) * DAY_MS, live);
    Ok(json!({
        "available": true,
        "by_currency": range(day, true)?,
        "day_before": range(day - 1, true)?,
        "test_mode_by_currency": range(day, false)?,
        "minor_units": true,
        "last_reconciled_at": crate::time::rfc3339(last),
        "source": "payments ledger: live-mode Stripe charges created that day, refunds as of the last reconciliation",
    }))
}

fn run<'a>(env: &'a Env, run: &'a RunContext) -> LocalBoxFuture<'a, Result<String>> {
    Box::pin(async move {
        let who = Requester {
            trigger: "schedule",
            actor: "scheduler",
        };
        // Days whose run was missed are caught up in this one.
        let days = (reconcile::DEFAULT_DAYS + run.missed_slots).min(reconcile::MAX_DAYS);
        match reconcile_and_record(env, days, true, &who).await {
            Ok(r) => Ok(format!(
                "{} charges: {} added, {} changed, {} unchanged, {} local only{}",
                r.fetched,
                r.added.count,
                r.changed.count,
                r.unchanged,
                r.local_only.count,
                if r.truncated { " (truncated)" } else { "" }
            )),
            Err(e) if e.code == "payments_not_configured" => Ok(
                "payments not configured (stripe_secret_key is empty); nothing to reconcile".into(),
            ),
            Err(e) => Err(e),
        }
    })
}
