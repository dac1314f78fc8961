//! Payments: money moving through the product, and EchoPilot's copy of it.
//!
//! - [`ledger`]: one row per Stripe charge (minor units, currency, refunds,
//!   disputes, the tenant from `metadata.tenant_id`), read by the daily
//!   report's revenue figures and by finance.
//! - [`reconcile()`]: lists Stripe's charges for a window and compares them
//!   with the ledger; applied, it brings the ledger in line and records
//!   the run. Dry runs write nothing.
//! - [`stripe`]: the REST client (form-encoded, an idempotency key on every
//!   POST).
//! - [`checkout`]: Checkout Sessions for jobs and the unpaid-jobs policy;
//!   [`webhook`] and [`signature`]: Stripe's events, verified and applied
//!   once; [`refunds`]: refunds under the guardrail; [`receipts`] and
//!   [`portal`]: receipts per customer and their signed links;
//!   [`invoicing`]: usage invoices sent through Stripe; [`routes`]: the
//!   api-billing component.
//! - [`JOB`]: `cron-payments`, daily at 02:10 UTC over the last
//!   [`reconcile::DEFAULT_DAYS`] days (plus one per missed run); the operator console's
//!   `reconcile_payments` runs it on demand over 1 to 90 days. The same run
//!   settles checkouts whose events never arrived ([`sweep_checkouts`]) and
//!   prunes portal access records older than a year.
//!
//! Without `stripe_secret_key`, payments are "not configured": the job
//! records that and succeeds, the console and the billing routes answer
//! 503 `payments_not_configured`, and the report says revenue is
//! unavailable.

pub mod api;
pub mod checkout;
pub mod invoicing;
pub mod ledger;
pub mod portal;
pub mod receipts;
pub mod reconcile;
pub mod refunds;
pub mod routes;
pub use crate::webhook_signature as signature;
pub mod stripe;
pub mod webhook;

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

/// Checkout sessions settled per run at most.
const SWEEP_LIMIT: usize = 50;
/// A session is asked about this long after its expiry (Stripe sends
/// `checkout.session.expired` within minutes).
const SWEEP_GRACE_MS: i64 = 3_600_000;

/// Settle open checkout sessions past their expiry whose events never
/// arrived: ask Stripe for each and apply what it says (paid: the job is
/// released and receipted; expired: a held job is cancelled). How many
/// were settled.
pub async fn sweep_checkouts(env: &Env, s: &stripe::Stripe) -> Result<usize> {
    let now = env.clock.now_ms();
    let hold_ms = crate::referrals::hold_ms(env.config.as_ref())?;
    let mut settled = 0;
    for session in checkout::overdue(env.db.as_ref(), now - SWEEP_GRACE_MS, SWEEP_LIMIT)? {
        let call = stripe::Call::get(
            format!("/v1/checkout/sessions/{}", session.id),
            "Checkout Sessions: read",
        );
        let object = stripe::call(env, s, &call).await?;
        let status = object.get("status").and_then(Value::as_str).unwrap_or("");
        if !matches!(status, "complete" | "expired") {
            continue;
        }
        let livemode = object
            .get("livemode")
            .and_then(Value::as_bool)
            .unwrap_or(session.livemode);
        crate::db::transaction(env.db.as_ref(), |db| {
            webhook::apply_session(env, db, &object, livemode, hold_ms, now)
        })?;
        settled += 1;
    }
    Ok(settled)
}

fn run<'a>(env: &'a Env, run: &'a RunContext) -> LocalBoxFuture<'a, Result<String>> {
    Box::pin(async move {
        let who = Requester {
            trigger: "schedule",
            actor: "scheduler",
        };
        let pruned = portal::prune(env)?;
        // Days whose run was missed are caught up in this one.
        let days = (reconcile::DEFAULT_DAYS + run.missed_slots).min(reconcile::MAX_DAYS);
        let summary = match reconcile_and_record(env, days, true, &who).await {
            Ok(r) => format!(
                "{} charges: {} added, {} changed, {} unchanged, {} local only{}",
                r.fetched,
                r.added.count,
                r.changed.count,
                r.unchanged,
                r.local_only.count,
                if r.truncated { " (truncated)" } else { "" }
            ),
            Err(e) if e.code == "payments_not_configured" => {
                return Ok(format!(
                    "payments not configured (stripe_secret_key is empty); nothing to reconcile; {pruned} portal access records pruned"
                ))
            }
            Err(e) => return Err(e),
        };
        let s = stripe::settings(env.config.as_ref())?.ok_or_else(not_configured)?;
        let settled = sweep_checkouts(env, &s).await?;
        Ok(format!(
            "{summary}; {settled} overdue checkouts settled; {pruned} portal access records pruned"
        ))
    })
}
