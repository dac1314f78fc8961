//! Compliance webhooks: external compliance events in, the serious ones
//! out.
//!
//! `POST /api/compliance/webhook` receives an event signed with
//! `X-EchoPilot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`
//! (the scheme of [`crate::webhook_signature`]) under any of the secrets in
//! `compliance_webhook_secrets` (comma-separated, so a secret is rotated by
//! adding the new one, moving senders over, then removing the old). A
//! signature more than 300 s from now is refused (`signature_expired`), and
//! an event id already received is refused (409 `event_replayed`): within
//! the window the id stops a replay, after it the timestamp does, and a
//! fresh timestamp needs a secret.
//!
//! Each event is stored with its severity (low, medium, high, critical),
//! recorded in the audit chain (`compliance.event_received`), and when high
//! or critical queued in the outbox, in the same transaction, once per
//! endpoint of `compliance_forward_urls`; `cron-incidents` delivers it signed
//! the same way with `compliance_forward_secret` at send time, retrying
//! with backoff ([`forward`]).

pub mod api;
pub mod forward;

use crate::audit::{self, Change, Who};
use crate::db::transaction;
use crate::error::{Error, Kind, Result};
use crate::incidents::channels::Channel;
use crate::incidents::outbox;
use crate::params;
use crate::ports::{DbExt, Env, Row};
use crate::tenancy::DEFAULT_TENANT;
use crate::time::{parse_rfc3339, rfc3339};
use crate::webhook_signature::{self, ECHOPILOT};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The largest body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;
/// The shortest secret accepted in `compliance_webhook_secrets`.
pub const MIN_SECRET_CHARS: usize = 32;

/// How serious an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Low,
    /// Worth a look.
    Medium,
    /// Forwarded.
    High,
    /// Forwarded.
    Critical,
}

impl Severity {
    /// Every severity, least first.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// As stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parse; 422 `invalid_severity` otherwise.
    pub fn parse(s: &str) -> Result<Self> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                Error::unprocessable(
                    "invalid_severity",
                    "severity is one of low, medium, high, critical",
                )
            })
    }

    /// Whether events of this severity go out to the forward endpoints.
    pub fn forwarded(self) -> bool {
        self >= Severity::High
    }
}

/// An event as a sender posts it (unknown fields are refused).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incoming {
    /// The sender's id for the event: 1-128 of `[A-Za-z0-9._:-]`.
    pub id: String,
    /// What happened, `[a-z0-9_.]`, e.g. `policy.violation`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// The system that saw it (1-64 characters).
    pub source: String,
    /// One line for people (1-500 characters).
    pub summary: String,
    /// When it happened, RFC 3339.
    pub occurred_at: Option<String>,
    /// Anything else (a JSON object).
    #[serde(default)]
    pub data: Option<Value>,
}

/// A stored event.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    /// The sender's id.
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: String,
    /// How serious.
    pub severity: Severity,
    /// Who saw it.
    pub source: String,
    /// For people.
    pub summary: String,
    /// The rest.
    pub data: Value,
    /// When it happened, RFC 3339.
    pub occurred_at: Option<String>,
    /// When it was received, RFC 3339.
    pub received_at: String,
    /// Which secret of `compliance_webhook_secrets` signed it (0 = first).
    pub secret_index: i64,
    /// Deliveries queued to the forward endpoints.
    pub forwarded: i64,
}

const COLUMNS: &str =
    "id, type, severity, source, summary, data, occurred_at, received_at, secret_index, forwarded";

impl StoredEvent {
    fn from_row(r: &Row) -> Result<Self> {
        Ok(StoredEvent {
            id: r.text(0)?,
            kind: r.text(1)?,
            severity: Severity::parse(&r.text(2)?)?,
            source: r.text(3)?,
            summary: r.text(4)?,
            data: serde_json::from_str(&r.text(5)?).unwrap_or(Value::Null),
            occurred_at: r.opt_i64(6)?.map(rfc3339),
            received_at: rfc3339(r.i64(7)?),
            secret_index: r.i64(8)?,
            forwarded: r.i64(9)?,
        })
    }

    /// What the forward endpoints receive.
    pub fn forwarded_body(&self) -> Value {
        json!({
            "id": self.id, "type": self.kind, "severity": self.severity, "source": self.source,
            "summary": self.summary, "data": self.data, "occurred_at": self.occurred_at,
            "received_at": self.received_at,
        })
    }
}

/// The secrets senders sign with; 503 `not_configured` when there are
/// none, 503 `invalid_configuration` for one under 32 characters.
pub fn secrets(env: &Env) -> Result<Vec<String>> {
    let list = webhook_signature::secret_list(env.config.as_ref(), "compliance_webhook_secrets")?
        .ok_or_else(|| {
        Error::unavailable(
            "not_configured",
            "compliance webhooks are off: set `compliance_webhook_secrets`",
        )
    })?;
    if list.iter().any(|s| s.chars().count() < MIN_SECRET_CHARS) {
        return Err(Error::unavailable(
            "invalid_configuration",
            "every secret in `compliance_webhook_secrets` must be at least 32 characters",
        ));
    }
    Ok(list)
}

fn check_text(field: &str, v: &str, max: usize, ok: impl Fn(char) -> bool) -> Result<()> {
    let n = v.chars().count();
    if n == 0 || n > max || !v.chars().all(ok) {
        return Err(Error::unprocessable(
            "invalid_compliance_event",
            format!("`{field}` must be 1 to {max} allowed characters"),
        ));
    }
    Ok(())
}

/// A checked event: its severity and when it happened.
struct Checked {
    severity: Severity,
    occurred_at: Option<i64>,
    data: Value,
}

fn check(e: &Incoming) -> Result<Checked> {
    check_text("id", &e.id, 128, |c| {
        c.is_ascii_alphanumeric() || "._:-".contains(c)
    })?;
    check_text("type", &e.kind, 64, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || "_.".contains(c)
    })?;
    check_text("source", &e.source, 64, |c| !c.is_control())?;
    check_text("summary", &e.summary, 500, |c| !c.is_control())?;
    let data = e.data.clone().unwrap_or_else(|| json!({}));
    if !data.is_object() {
        return Err(Error::unprocessable(
            "invalid_compliance_event",
            "`data` must be a JSON object",
        ));
    }
    Ok(Checked {
        severity: Severity::parse(&e.severity)?,
        occurred_at: e.occurred_at.as_deref().map(parse_rfc3339).transpose()?,
        data,
    })
}

/// Who delivered a webhook, for the audit chain.
pub struct Delivery<'a> {
    /// The `X-EchoPilot-Signature` header.
    pub signature: Option<&'a str>,
    /// The raw body (what was signed).
    pub body: &'a [u8],
    /// The client address.
    pub client: &'a str,
    /// The request id.
    pub request_id: &'a str,
}

/// Verify, store, audit and (high, critical) queue for forwarding one
/// delivery. Errors: 503 unconfigured; 400 `signature_missing`,
/// `signature_malformed`, `signature_mismatch`, `signature_expired`; 400
/// for a body that is not the event; 422 `invalid_compliance_event`,
/// `invalid_severity`; 409 `event_replayed`. A refused signature is logged
/// (and sampled into the audit chain); nothing is stored.
pub fn receive(env: &Env, d: &Delivery) -> Result<StoredEvent> {
    // Unsigned deliveries are refused before anything else, configured or
    // not (as Stripe's webhook is).
    if d.signature.is_none_or(|s| s.trim().is_empty()) {
        return Err(refused(env, d, webhook_signature::missing_as(ECHOPILOT)));
    }
    let secrets = secrets(env)?;
    let now = env.clock.now_ms();
    let (signed_at, secret_index) = webhook_signature::verify_as(
        ECHOPILOT,
        d.signature,
        d.body,
        &secrets,
        now.div_euclid(1000),
    )
    .map_err(|e| refused(env, d, e))?;
    let incoming: Incoming = serde_json::from_slice(d.body).map_err(|e| {
        Error::bad_request(
            "invalid_json",
            format!("the body is not a compliance event: {e}"),
        )
    })?;
    let checked = check(&incoming)?;
    let endpoints = if checked.severity.forwarded() {
        forward::endpoints(env.config.as_ref())?
    } else {
        Vec::new()
    };
    let stored = transaction(env.db.as_ref(), |db| {
        let row = db.query_opt(
            &format!(
                "INSERT INTO compliance_events (id, type, severity, source, summary, data, occurred_at,
                    signed_at, secret_index, forwarded, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}"
            ),
            params![
                incoming.id.as_str(),
                incoming.kind.as_str(),
                checked.severity.as_str(),
                incoming.source.as_str(),
                incoming.summary.as_str(),
                checked.data.to_string(),
                checked.occurred_at,
                signed_at * 1000,
                secret_index as i64,
                endpoints.len() as i64,
                now
            ],
        )?;
        let Some(row) = row else {
            return Err(Error::new(
                Kind::Conflict,
                "event_replayed",
                format!(
                    "event `{}` was received before: a replayed delivery is refused",
                    incoming.id
                ),
            ));
        };
        let event = StoredEvent::from_row(&row)?;
        for url in &endpoints {
            outbox::insert(
                db,
                env,
                Channel::Webhook,
                &forward::payload(url, &event),
                None,
            )?;
        }
        Ok(event)
    })?;
    audit::record_business(
        env,
        &Who {
            tenant: DEFAULT_TENANT.to_string(),
            actor: "webhook:compliance".to_string(),
            client: (!d.client.is_empty()).then(|| d.client.to_string()),
            request_id: Some(d.request_id.to_string()),
        },
        "compliance.event_received",
        Change::on(&stored.id).detail(json!({
            "type": stored.kind, "severity": stored.severity, "source": stored.source,
            "secret_index": stored.secret_index, "forwarded_to": stored.forwarded,
        })),
    )?;
    Ok(stored)
}

/// A refused signature: in the event log every time, in the audit chain as
/// a sample (anonymous callers cannot grow it at will).
fn refused(env: &Env, d: &Delivery, e: Error) -> Error {
    audit::record_sampled(
        env,
        &audit::Event::new(DEFAULT_TENANT, "anonymous", "compliance.signature_refused")
            .detail(json!({ "code": e.code }))
            .request(d.request_id)
            .client(d.client),
        d.client,
    );
    e
}

/// The newest `limit` events, optionally of one `severity`.
pub fn list(env: &Env, severity: Option<Severity>, limit: i64) -> Result<Vec<StoredEvent>> {
    let rows = env.db.exec(
        &format!(
            "SELECT {COLUMNS} FROM compliance_events
             WHERE (?1 IS NULL OR severity = ?1)
             ORDER BY received_at DESC, id DESC LIMIT ?2"
        ),
        params![severity.map(Severity::as_str), limit],
    )?;
    rows.rows.iter().map(StoredEvent::from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_and_forward_from_high() {
        assert!(Severity::Low < Severity::Critical);
        let forwarded: Vec<_> = Severity::ALL
            .into_iter()
            .filter(|s| s.forwarded())
            .collect();
        assert_eq!(forwarded, vec![Severity::High, Severity::Critical]);
        assert_eq!(Severity::parse("medium").unwrap(), Severity::Medium);
        assert_eq!(
            Severity::parse("HIGH").unwrap_err().code,
            "invalid_severity"
        );
    }
}
