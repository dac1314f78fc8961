//! Incidents: what went wrong, who is told, and who is on it.
//!
//! - [`model`]: severities (CRITICAL, WARNING, INFO), the lifecycle (open →
//!   acknowledged → resolved), the fingerprint, the incident row.
//! - [`store`]: [`raise`] with one-hour deduplication by fingerprint,
//!   [`acknowledge`], [`resolve`], [`list`], [`summary`].
//! - [`routing`]: CRITICAL pages at once, WARNING waits for [`digest`]
//!   (one message per channel for every undigested warning), INFO is only
//!   recorded. A repeat within the hour never sends anything.
//! - [`outbox`]: deliveries with atomic claims, retries with backoff and
//!   Retry-After, visible results; [`enqueue`] is public so that daily
//!   reports can use it too. [`deliver_due`] sends.
//! - [`channels`]: Telegram and email (a generic HTTPS API, or
//!   [`gmail`]: the Gmail API with an OAuth refresh token), and their
//!   variables.
//! - [`silences`]: stop paging about a source or a fingerprint for a while.
//! - [`api`]: the HTTP handlers and their [`api::ROUTES`].
//! - [`JOB`]: the `cron-incidents` job: deliveries every 30 seconds, the
//!   warning digest every five minutes.
//!
//! **Tenancy.** Incidents are operator-level: they describe the platform
//! (a failing provider, a cost cap, a stuck queue), not one tenant's data,
//! so the tables have no tenant column and the handlers refuse principals
//! of other tenants. An incident about one tenant says so in its `links`.
//! Audit events of operator actions are recorded in the actor's tenant.
//!
//! **Concurrency.** A raise runs in one `BEGIN IMMEDIATE` transaction: raisers
//! in several processes queue, so one fingerprint makes one incident and the
//! others count as repeats. Pages are enqueued in the same transaction.
//! Digests take their warnings in one transaction; the outbox claims with
//! one conditional statement. Delivery is at least once.

pub mod api;
pub mod channels;
pub mod gmail;
pub mod model;
pub mod outbox;
pub mod routing;
pub mod silences;
pub mod store;

pub use channels::Channel;
pub use model::{fingerprint, Actor, Incident, NewIncident, Routing, Severity, Status};
pub use outbox::{deliver_due, enqueue, Delivery, DeliveryReport, DeliveryStatus};
pub use routing::{digest, DigestReport};
pub use silences::{NewSilence, Silence};
pub use store::{acknowledge, get, last_seen_unresolved, list, raise, resolve, summary, Raised};

use crate::error::Result;
use crate::params;
use crate::ports::{DbExt, Env};
use crate::scheduler::{self, Job, JobFn, RunContext};
use futures::future::LocalBoxFuture;

/// A warning waits at most this long for its digest, by default
/// (`alert_digest_minutes`).
pub const DIGEST_EVERY_MS: i64 = 5 * 60_000;

/// How long the oldest warning waits for its digest: `alert_digest_minutes`
/// (0 to 60, default 5; 0 sends the digest on every run, 30 s apart).
pub fn digest_wait_ms(env: &Env) -> Result<i64> {
    Ok(crate::config::int(
        env.config.as_ref(),
        "alert_digest_minutes",
        DIGEST_EVERY_MS / 60_000,
        0,
        60,
    )? * 60_000)
}

/// The incidents job (`cron-incidents`), every 30 seconds: send the due
/// deliveries (first attempts of pages raised by other components, daily
/// reports whose summary is written, and retries with backoff), then fold
/// pending warnings into one digest per
/// channel once the oldest has waited [`digest_wait_ms`] (five minutes by
/// default), so warnings go out in batches at most that late.
pub const JOB: Job = Job {
    name: "incidents",
    component: "cron-incidents",
    schedule: "*/30 * * * * *",
    period_secs: 30,
    lease_secs: 25,
    max_attempts: 3,
    exclusive: true,
    body: JobFn::Async(run),
};

scheduler::cron_http_app!("cron-incidents", "/api/internal/cron/incidents", JOB);

/// Whether the oldest undigested warning has waited long enough.
pub fn digest_due(env: &Env, now_ms: i64) -> Result<bool> {
    let oldest = env
        .db
        .query_one(
            "SELECT MIN(created_at) FROM incidents WHERE digest_state = 'pending'",
            params![],
        )?
        .opt_i64(0)?;
    let wait = digest_wait_ms(env)?;
    Ok(oldest.is_some_and(|t| now_ms - t >= wait))
}

fn run<'a>(env: &'a Env, ctx: &'a RunContext) -> LocalBoxFuture<'a, Result<String>> {
    Box::pin(async move {
        let mut summary = Vec::new();
        if digest_due(env, ctx.now_ms)? {
            summary.push(digest(env)?.summary());
        }
        let reports = crate::reports::deliver_ready(env)?;
        if reports > 0 {
            summary.push(format!("{reports} daily report(s) queued for email"));
        }
        // Deliver after digesting, so a digest and a report go out in the
        // same run.
        summary.push(deliver_due(env).await?.summary());
        Ok(summary.join("; "))
    })
}
