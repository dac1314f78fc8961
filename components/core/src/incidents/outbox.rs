//! The outbox: messages waiting to go out, one row per message and
//! channel, delivered at least once.
//!
//! [`enqueue`] records a delivery (as `skipped`, reason "not configured",
//! when its channel has no configuration). [`deliver_due`] claims due
//! deliveries with one conditional `UPDATE ... RETURNING` (a lease that two
//! processes cannot both win), sends them together through the HTTP port,
//! and records each result under its lease: `sent`; a retry after 30 s,
//! 60 s, 120 s, 240 s (or the Retry-After asked for, if longer) on a
//! network error, 408, 429 or 5xx; `failed` after [`MAX_ATTEMPTS`] or on an
//! error that retrying cannot fix. A sender that dies mid-send loses its
//! lease after [`LEASE_MS`] and the delivery is claimed again.
//!
//! Not tied to incidents: a digest or a daily report is a delivery with no
//! incident id.

use super::channels::{self, Channel, NotReady, Outcome};
use crate::error::{Error, Result};
use crate::params;
use crate::ports::{ids, Db, DbExt, Env, Row, Value as SqlValue};
use crate::time::rfc3339;
use serde::Serialize;
use serde_json::Value;

/// Sends per delivery before it is given up.
pub const MAX_ATTEMPTS: i64 = 5;
/// The first retry's delay; each later one doubles it.
pub const BACKOFF_BASE_MS: i64 = 30_000;
/// The longest Retry-After honoured (a longer one is cut to this).
pub const MAX_RETRY_AFTER_MS: i64 = 3_600_000;
/// How long a claim holds a delivery.
pub const LEASE_MS: i64 = 120_000;
/// Deliveries claimed per [`deliver_due`] call.
pub const BATCH: usize = 20;

/// A delivery's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// Accepted by the channel.
    Sent,
    /// Given up.
    Failed,
    /// Not sent: the channel is not configured.
    Skipped,
}

impl DeliveryStatus {
    /// Every status.
    pub const ALL: [DeliveryStatus; 4] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Sent,
        DeliveryStatus::Failed,
        DeliveryStatus::Skipped,
    ];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Skipped => "skipped",
        }
    }

    /// Parse; 422 `invalid_status` otherwise.
    pub fn parse(s: &str) -> Result<Self> {
        DeliveryStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                Error::unprocessable(
                    "invalid_status",
                    "unknown delivery status; expected pending, sent, failed or skipped",
                )
            })
    }
}

/// A payload field: `true` marks a message whose text is for its
/// recipient only (see [`Delivery::view`]).
pub const CONFIDENTIAL: &str = "confidential";
/// What the deliveries list shows instead of a confidential text.
pub const WITHHELD: &str = "(withheld: this message carries a link for its recipient only)";

/// The reason recorded on a skipped delivery.
pub const NOT_CONFIGURED: &str = "not configured";

const COLUMNS: &str = "id, incident_id, channel, payload, status, attempts, next_attempt_at, \
last_error, last_status_code, sent_at, created_at, updated_at";

/// One delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// `dlv_` + a time-sortable id.
    pub id: String,
    /// The incident it pages for; `None` for digests and reports.
    pub incident_id: Option<String>,
    /// Where it goes.
    pub channel: Channel,
    /// What it says (`text`, and `subject` for email).
    pub payload: Value,
    /// Its state.
    pub status: DeliveryStatus,
    /// Sends so far.
    pub attempts: i64,
    /// When it is due (pending only), Unix ms.
    pub next_attempt_at: Option<i64>,
    /// Why the last attempt failed, or why it was skipped.
    pub last_error: Option<String>,
    /// The last HTTP status received.
    pub last_status_code: Option<i64>,
    /// When it was accepted.
    pub sent_at: Option<i64>,
    /// When it was enqueued.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

impl Delivery {
    fn from_row(r: &Row) -> Result<Self> {
        Ok(Delivery {
            id: r.text(0)?,
            incident_id: r.opt_text(1)?,
            channel: Channel::from_stored(&r.text(2)?)?,
            payload: serde_json::from_str(&r.text(3)?)?,
            status: DeliveryStatus::parse(&r.text(4)?)?,
            attempts: r.i64(5)?,
            next_attempt_at: r.opt_i64(6)?,
            last_error: r.opt_text(7)?,
            last_status_code: r.opt_i64(8)?,
            sent_at: r.opt_i64(9)?,
            created_at: r.i64(10)?,
            updated_at: r.i64(11)?,
        })
    }

    /// As served. A `confidential` payload (it carries a link that works
    /// as a credential, such as a job-history link) is shown without its
    /// text: the deliveries list is for operators, the link for its
    /// recipient only.
    pub fn view(&self) -> Value {
        let mut payload = self.payload.clone();
        if payload.get(CONFIDENTIAL) == Some(&Value::Bool(true)) {
            payload["text"] = WITHHELD.into();
        }
        serde_json::json!({
            "id": self.id,
            "incident_id": self.incident_id,
            "channel": self.channel,
            "status": self.status,
            "attempts": self.attempts,
            "max_attempts": MAX_ATTEMPTS,
            "next_attempt_at": self.next_attempt_at.map(rfc3339),
            "last_error": self.last_error,
            "last_status_code": self.last_status_code,
            "sent_at": self.sent_at.map(rfc3339),
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "payload": payload,
        })
    }
}

/// The delay before retry number `attempt` (1-based: after the first
/// failed send) from a base of `base_ms`: by default 30 s, 60 s, 120 s,
/// 240 s, ...
pub fn backoff_ms(base_ms: i64, attempt: i64) -> i64 {
    let exp = (attempt - 1).clamp(0, 20) as u32;
    base_ms.saturating_mul(1i64 << exp)
}

/// The first retry's delay: `alert_retry_base_ms` ([`BACKOFF_BASE_MS`] by
/// default).
pub fn backoff_base_ms(env: &Env) -> Result<i64> {
    crate::config::int(
        env.config.as_ref(),
        "alert_retry_base_ms",
        BACKOFF_BASE_MS,
        100,
        3_600_000,
    )
}

/// Enqueue `payload` for `channel` (see [`channels::check_payload`] for
/// its shape), optionally for incident `incident_id` (404 if unknown).
/// Recorded as `skipped` ("not configured") when the channel has no
/// configuration.
pub fn enqueue(
    env: &Env,
    channel: Channel,
    payload: &Value,
    incident_id: Option<&str>,
) -> Result<Delivery> {
    channels::check_payload(channel, payload)?;
    if let Some(id) = incident_id {
        let known = env
            .db
            .query_opt("SELECT 1 FROM incidents WHERE id = ?1", params![id])?;
        if known.is_none() {
            return Err(Error::not_found(format!("no incident `{id}`")));
        }
    }
    insert(env.db.as_ref(), env, channel, payload, incident_id)
}

/// Insert a delivery through `db` (which may be inside a transaction).
pub(crate) fn insert(
    db: &dyn Db,
    env: &Env,
    channel: Channel,
    payload: &Value,
    incident_id: Option<&str>,
) -> Result<Delivery> {
    let now = env.clock.now_ms();
    let id = ids::new_id("dlv_", now, env.ids.as_ref())?;
    let configured = channels::is_configured(env.config.as_ref(), channel, payload);
    let (status, next, error) = if configured {
        (DeliveryStatus::Pending, Some(now), None)
    } else {
        (DeliveryStatus::Skipped, None, Some(NOT_CONFIGURED))
    };
    let row = db.query_one(
        &format!(
            "INSERT INTO incident_deliveries (id, incident_id, channel, payload, status, attempts,
                next_attempt_at, last_error, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?8)
             RETURNING {COLUMNS}"
        ),
        params![
            id.as_str(),
            incident_id,
            channel.as_str(),
            payload.to_string(),
            status.as_str(),
            next,
            error,
            now
        ],
    )?;
    Delivery::from_row(&row)
}

/// Claim up to `limit` due deliveries for `owner`: one statement, so of two
/// claimers each delivery goes to one. Each claim counts as an attempt.
pub fn claim(env: &Env, owner: &str, limit: usize) -> Result<Vec<Delivery>> {
    let now = env.clock.now_ms();
    let rows = env.db.exec(
        &format!(
            "UPDATE incident_deliveries
             SET lease_owner = ?1, lease_expires_at = ?2 + ?3, attempts = attempts + 1, updated_at = ?2
             WHERE id IN (
                 SELECT id FROM incident_deliveries
                 WHERE status = 'pending' AND next_attempt_at <= ?2 AND attempts < ?5
                   AND (lease_expires_at IS NULL OR lease_expires_at <= ?2)
                 ORDER BY next_attempt_at, id LIMIT ?4)
               AND status = 'pending' AND attempts < ?5
               AND (lease_expires_at IS NULL OR lease_expires_at <= ?2)
             RETURNING {COLUMNS}"
        ),
        params![owner, now, LEASE_MS, limit.max(1), MAX_ATTEMPTS],
    )?;
    let mut claimed = rows
        .rows
        .iter()
        .map(Delivery::from_row)
        .collect::<Result<Vec<_>>>()?;
    claimed.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(claimed)
}

/// Give up deliveries whose sender died during their last attempt.
fn sweep_abandoned(env: &Env, now: i64) -> Result<usize> {
    let rows = env.db.exec(
        "UPDATE incident_deliveries
         SET status = 'failed', next_attempt_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
             last_error = 'the sender stopped during the last attempt (lease expired)', updated_at = ?1
         WHERE status = 'pending' AND attempts >= ?2 AND lease_expires_at <= ?1
         RETURNING id",
        params![now, MAX_ATTEMPTS],
    )?;
    Ok(rows.rows.len())
}

/// What a [`deliver_due`] call did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// Deliveries claimed.
    pub claimed: usize,
    /// Accepted by their channel.
    pub sent: usize,
    /// Scheduled for another attempt.
    pub retrying: usize,
    /// Given up (attempts spent, or an error retrying cannot fix).
    pub failed: usize,
    /// Skipped: channel not configured.
    pub skipped: usize,
    /// Results not recorded because the lease was lost meanwhile.
    pub lost_leases: usize,
    /// Given up because their sender died on the last attempt.
    pub abandoned: usize,
}

impl DeliveryReport {
    /// One line, for the scheduler's run record.
    pub fn summary(&self) -> String {
        format!(
            "claimed {}, sent {}, retrying {}, failed {}, skipped {}, lost leases {}, abandoned {}",
            self.claimed,
            self.sent,
            self.retrying,
            self.failed,
            self.skipped,
            self.lost_leases,
            self.abandoned
        )
    }
}

async fn send(env: &Env, d: &Delivery) -> Outcome {
    let prepared = match d.channel {
        Channel::Webhook => crate::compliance::forward::prepare(
            env.config.as_ref(),
            &d.payload,
            env.clock.now_ms().div_euclid(1000),
        ),
        other => channels::prepare(env.config.as_ref(), other, &d.payload),
    };
    match prepared {
        Err(NotReady::NotConfigured) => Outcome::Skip,
        Err(NotReady::Invalid(message)) => Outcome::Fail {
            status: None,
            error: message,
        },
        Ok(p) => channels::send(env.http.as_ref(), d.channel, p).await,
    }
}

/// Record `outcome` for `d` if `owner` still holds its lease.
fn finish(env: &Env, d: &Delivery, owner: &str, outcome: &Outcome) -> Result<Option<Delivery>> {
    let now = env.clock.now_ms();
    let guard = format!(
        "lease_owner = NULL, lease_expires_at = NULL, updated_at = ?3
         WHERE id = ?1 AND lease_owner = ?2 AND status = 'pending' RETURNING {COLUMNS}"
    );
    let id = d.id.as_str();
    let row = match outcome {
        Outcome::Sent { status } => env.db.query_opt(
            &format!(
                "UPDATE incident_deliveries SET status = 'sent', sent_at = ?3, last_status_code = ?4,
                    last_error = NULL, next_attempt_at = NULL, {guard}"
            ),
            params![id, owner, now, *status as i64],
        )?,
        Outcome::Retry {
            status,
            error,
            retry_after_ms,
        } => {
            let (state, next) = if d.attempts >= MAX_ATTEMPTS {
                (DeliveryStatus::Failed, None)
            } else {
                let wait = backoff_ms(backoff_base_ms(env)?, d.attempts)
                    .max(retry_after_ms.unwrap_or(0).min(MAX_RETRY_AFTER_MS));
                (DeliveryStatus::Pending, Some(now + wait))
            };
            env.db.query_opt(
                &format!(
                    "UPDATE incident_deliveries SET status = ?4, next_attempt_at = ?5, last_error = ?6,
                        last_status_code = ?7, {guard}"
                ),
                params![
                    id,
                    owner,
                    now,
                    state.as_str(),
                    next,
                    error.as_str(),
                    status.map(i64::from)
                ],
            )?
        }
        Outcome::Fail { status, error } => env.db.query_opt(
            &format!(
                "UPDATE incident_deliveries SET status = 'failed', next_attempt_at = NULL, last_error = ?4,
                    last_status_code = ?5, {guard}"
            ),
            params![id, owner, now, error.as_str(), status.map(i64::from)],
        )?,
        Outcome::Skip => env.db.query_opt(
            &format!(
                "UPDATE incident_deliveries SET status = 'skipped', next_attempt_at = NULL, last_error = ?4,
                    attempts = MAX(attempts - 1, 0), {guard}"
            ),
            params![id, owner, now, NOT_CONFIGURED],
        )?,
    };
    row.map(|r| Delivery::from_row(&r)).transpose()
}

/// Send every due delivery (up to [`BATCH`]), all in flight together, and
/// record each result.
pub async fn deliver_due(env: &Env) -> Result<DeliveryReport> {
    let now = env.clock.now_ms();
    let mut report = DeliveryReport {
        abandoned: sweep_abandoned(env, now)?,
        ..Default::default()
    };
    let owner = ids::new_id("lease_", now, env.ids.as_ref())?;
    let claimed = claim(env, &owner, BATCH)?;
    report.claimed = claimed.len();
    let outcomes = futures::future::join_all(claimed.iter().map(|d| send(env, d))).await;
    for (d, outcome) in claimed.iter().zip(outcomes) {
        if let Outcome::Retry { error, .. } | Outcome::Fail { error, .. } = &outcome {
            crate::log::warn(
                "incidents",
                &format!(
                    "delivery {} ({}), attempt {}: {error}",
                    d.id,
                    d.channel.as_str(),
                    d.attempts
                ),
            );
        }
        match finish(env, d, &owner, &outcome)? {
            None => report.lost_leases += 1,
            Some(done) => match done.status {
                DeliveryStatus::Sent => report.sent += 1,
                DeliveryStatus::Pending => report.retrying += 1,
                DeliveryStatus::Failed => report.failed += 1,
                DeliveryStatus::Skipped => report.skipped += 1,
            },
        }
    }
    Ok(report)
}

/// Filters for [`list`]. `None` means any.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// State.
    pub status: Option<DeliveryStatus>,
    /// Channel.
    pub channel: Option<Channel>,
    /// For this incident.
    pub incident_id: Option<String>,
}

/// One page of deliveries, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    /// The deliveries.
    pub deliveries: Vec<Delivery>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Deliveries, newest first, `limit` (1 to 200) at a time after `cursor`
/// (the last id of the previous page).
pub fn list(env: &Env, filter: &Filter, cursor: Option<&str>, limit: usize) -> Result<Page> {
    let mut c = crate::db::Conditions::new();
    c.add_opt("status = ?", filter.status.map(|s| s.as_str()))
        .add_opt("channel = ?", filter.channel.map(|ch| ch.as_str()))
        .add_opt("incident_id = ?", filter.incident_id.as_deref())
        .add_opt("id < ?", cursor);
    let limit = limit.clamp(1, 200);
    let rows = env.db.exec(
        &format!(
            "SELECT {COLUMNS} FROM incident_deliveries WHERE {} ORDER BY id DESC LIMIT {}",
            c.sql(),
            c.next_placeholder()
        ),
        &c.params_with([SqlValue::from(limit + 1)]),
    )?;
    let mut deliveries = rows
        .rows
        .iter()
        .map(Delivery::from_row)
        .collect::<Result<Vec<_>>>()?;
    let next_cursor = if deliveries.len() > limit {
        deliveries.truncate(limit);
        deliveries.last().map(|d| d.id.clone())
    } else {
        None
    };
    Ok(Page {
        deliveries,
        next_cursor,
    })
}

/// Every delivery of incident `incident_id`, oldest first.
pub fn for_incident(env: &Env, incident_id: &str) -> Result<Vec<Delivery>> {
    let rows = env.db.exec(
        &format!("SELECT {COLUMNS} FROM incident_deliveries WHERE incident_id = ?1 ORDER BY id"),
        params![incident_id],
    )?;
    rows.rows.iter().map(Delivery::from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_thirty_seconds() {
        let waits: Vec<i64> = (1..=4).map(|a| backoff_ms(BACKOFF_BASE_MS, a)).collect();
        assert_eq!(waits, vec![30_000, 60_000, 120_000, 240_000]);
        assert_eq!(backoff_ms(BACKOFF_BASE_MS, 0), 30_000);
        assert!(backoff_ms(BACKOFF_BASE_MS, 100) > 0);
    }

    #[test]
    fn statuses_round_trip() {
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(s.as_str()).unwrap(), s);
        }
        assert_eq!(DeliveryStatus::parse("sending").unwrap_err().status(), 422);
    }
}
