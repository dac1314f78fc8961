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
//! - [`channels`]: Telegram and an HTTPS email API, and their variables.
//! - [`silences`]: stop paging about a source or a fingerprint for a while.
//! - [`api`]: the HTTP handlers and their [`api::ROUTES`].
//! - [`digest_job`], [`deliver_job`]: the two scheduled bodies, in the
//!   scheduler's [`crate::scheduler::JobFn`] shapes (not registered here).
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
pub use store::{acknowledge, get, list, raise, resolve, summary, Raised};

use crate::error::Result;
use crate::ports::Env;
use crate::scheduler::RunContext;
use futures::future::LocalBoxFuture;

/// Scheduled body (`JobFn::Sync`): fold undigested warnings into one
/// message per channel.
pub fn digest_job(env: &Env, _run: &RunContext) -> Result<String> {
    digest(env).map(|r| r.summary())
}

/// Scheduled body (`JobFn::Async`): send the due deliveries.
pub fn deliver_job<'a>(env: &'a Env, _run: &'a RunContext) -> LocalBoxFuture<'a, Result<String>> {
    Box::pin(async move { deliver_due(env).await.map(|r| r.summary()) })
}
