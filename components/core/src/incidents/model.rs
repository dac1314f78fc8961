//! The incident vocabulary, parsed at the edge: severities, statuses, the
//! fingerprint, a new incident's validated parts, the stored row and its
//! view, and who performs an operator action.

use crate::app::Ctx;
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::ports::Row;
use crate::tenancy::DEFAULT_TENANT;
use crate::time::rfc3339;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How bad an incident is; decides how it is routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Pages at once (Telegram and email).
    Critical,
    /// Goes into the next digest.
    Warning,
    /// Recorded only.
    Info,
}

impl Severity {
    /// Every severity, worst first.
    pub const ALL: [Severity; 3] = [Severity::Critical, Severity::Warning, Severity::Info];

    /// As stored, served and fingerprinted: upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::Warning => "WARNING",
            Severity::Info => "INFO",
        }
    }

    /// Parse case-insensitively; 422 `invalid_severity` otherwise.
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim();
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                Error::unprocessable(
                    "invalid_severity",
                    format!(
                        "unknown severity `{}`; expected CRITICAL, WARNING or INFO",
                        t.chars().take(40).collect::<String>()
                    ),
                )
            })
    }

    fn emoji(self) -> &'static str {
        match self {
            Severity::Critical => "🚨",
            Severity::Warning => "⚠️",
            Severity::Info => "ℹ️",
        }
    }

    /// A marker for messages: `🚨 CRITICAL`.
    pub fn label(self) -> String {
        format!("{} {}", self.emoji(), self.as_str())
    }
}

/// Where an incident is in its life: open → acknowledged → resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Raised, nobody has taken it yet.
    Open,
    /// Someone is on it.
    Acknowledged,
    /// Over. A later raise with the same fingerprint opens a new incident.
    Resolved,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 3] = [Status::Open, Status::Acknowledged, Status::Resolved];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
        }
    }

    /// Parse; 422 `invalid_status` otherwise.
    pub fn parse(s: &str) -> Result<Self> {
        Status::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                Error::unprocessable(
                    "invalid_status",
                    "unknown incident status; expected open, acknowledged or resolved",
                )
            })
    }
}

/// How a raise was routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    /// CRITICAL: deliveries enqueued to every channel.
    Page,
    /// WARNING: waits for the next digest.
    Digest,
    /// INFO: recorded only.
    Record,
    /// Matched an active silence: recorded, nothing sent.
    Silenced,
    /// Same fingerprint within the dedup window: counted on the existing
    /// incident, nothing sent.
    Repeat,
}

/// The longest `source`, in characters.
pub const MAX_SOURCE_CHARS: usize = 100;
/// The longest `message`, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;
/// The largest `links` object, serialized.
pub const MAX_LINKS_BYTES: usize = 8 * 1024;
/// How much of the message the fingerprint covers, in characters.
pub const FINGERPRINT_MESSAGE_CHARS: usize = 50;

/// The fingerprint of an incident: the first 12 hex characters of
/// SHA-256 of `"{SEVERITY}:{source}:{message[:50]}"` (the first 50
/// characters, not bytes).
pub fn fingerprint(severity: Severity, source: &str, message: &str) -> String {
    let head: String = message.chars().take(FINGERPRINT_MESSAGE_CHARS).collect();
    let digest = Sha256::digest(format!("{}:{source}:{head}", severity.as_str()).as_bytes());
    crate::hex(&digest[..6])
}

/// Whether `s` looks like a fingerprint (12 lower-case hex characters).
pub fn is_fingerprint(s: &str) -> bool {
    s.len() == 12
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An incident to raise. [`crate::incidents::raise`] validates it: source
/// 1 to 100 characters, message 1 to 2,000 (both trimmed, no control
/// characters but newlines and tabs in the message), links a JSON object
/// (or null) of at most 8 KiB.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    /// How bad.
    pub severity: Severity,
    /// What raised it (`healthcheck`, `cost-guardrails`, `worker`, ...).
    pub source: String,
    /// What happened, for people.
    pub message: String,
    /// What caused it: job ids, cost figures (micro-units), metric names and
    /// values. A JSON object; `Value::Null` for none.
    pub links: Value,
}

fn invalid(code: &'static str, message: impl Into<String>) -> Error {
    Error::unprocessable(code, message)
}

impl NewIncident {
    /// Trimmed and checked.
    pub fn validated(&self) -> Result<NewIncident> {
        let source = self.source.trim();
        if source.is_empty() || source.chars().count() > MAX_SOURCE_CHARS {
            return Err(invalid(
                "invalid_source",
                format!("`source` is required: 1 to {MAX_SOURCE_CHARS} characters"),
            ));
        }
        if source.chars().any(char::is_control) {
            return Err(invalid(
                "invalid_source",
                "`source` may not contain control characters",
            ));
        }
        let message = self.message.trim();
        if message.is_empty() || message.chars().count() > MAX_MESSAGE_CHARS {
            return Err(invalid(
                "invalid_message",
                format!("`message` is required: 1 to {MAX_MESSAGE_CHARS} characters"),
            ));
        }
        if message
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(invalid(
                "invalid_message",
                "`message` may not contain control characters other than newlines and tabs",
            ));
        }
        let links = match &self.links {
            Value::Null => Value::Object(Default::default()),
            Value::Object(_) => self.links.clone(),
            _ => return Err(invalid(
                "invalid_links",
                "`links` must be a JSON object (job ids, cost figures, metric names and values)",
            )),
        };
        if links.to_string().len() > MAX_LINKS_BYTES {
            return Err(invalid(
                "invalid_links",
                format!("`links` is larger than {MAX_LINKS_BYTES} bytes"),
            ));
        }
        Ok(NewIncident {
            severity: self.severity,
            source: source.to_string(),
            message: message.to_string(),
            links,
        })
    }
}

/// The columns [`Incident::from_row`] reads, in order.
pub const INCIDENT_COLUMNS: &str = "id, severity, source, message, links, fingerprint, status, \
repeat_count, silence_id, digest_state, digested_at, created_at, last_seen_at, acknowledged_at, \
acknowledged_by, resolved_at, resolved_by, resolution_note, build_sha";

/// A stored incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// `inc_` + a time-sortable id.
    pub id: String,
    /// How bad.
    pub severity: Severity,
    /// What raised it.
    pub source: String,
    /// What happened.
    pub message: String,
    /// What caused it (a JSON object).
    pub links: Value,
    /// See [`fingerprint`].
    pub fingerprint: String,
    /// Lifecycle state.
    pub status: Status,
    /// Raises folded into this one after the first.
    pub repeat_count: i64,
    /// The silence it matched when raised, if any.
    pub silence_id: Option<String>,
    /// WARNING only: `pending` until a digest takes it, then `digested`.
    pub digest_state: Option<String>,
    /// When a digest took it.
    pub digested_at: Option<i64>,
    /// First raised (Unix ms).
    pub created_at: i64,
    /// Last raised or repeated (Unix ms).
    pub last_seen_at: i64,
    /// When acknowledged.
    pub acknowledged_at: Option<i64>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When resolved.
    pub resolved_at: Option<i64>,
    /// Who resolved it.
    pub resolved_by: Option<String>,
    /// The resolver's note.
    pub resolution_note: Option<String>,
    /// The build that raised it.
    pub build_sha: String,
}

impl Incident {
    /// Build from a row selected with [`INCIDENT_COLUMNS`].
    pub fn from_row(r: &Row) -> Result<Self> {
        Ok(Incident {
            id: r.text(0)?,
            severity: Severity::parse(&r.text(1)?)?,
            source: r.text(2)?,
            message: r.text(3)?,
            links: serde_json::from_str(&r.text(4)?)?,
            fingerprint: r.text(5)?,
            status: Status::parse(&r.text(6)?)?,
            repeat_count: r.i64(7)?,
            silence_id: r.opt_text(8)?,
            digest_state: r.opt_text(9)?,
            digested_at: r.opt_i64(10)?,
            created_at: r.i64(11)?,
            last_seen_at: r.i64(12)?,
            acknowledged_at: r.opt_i64(13)?,
            acknowledged_by: r.opt_text(14)?,
            resolved_at: r.opt_i64(15)?,
            resolved_by: r.opt_text(16)?,
            resolution_note: r.opt_text(17)?,
            build_sha: r.text(18)?,
        })
    }

    /// Whether a silence matched it when it was raised.
    pub fn silenced(&self) -> bool {
        self.silence_id.is_some()
    }

    /// As served.
    pub fn view(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "severity": self.severity,
            "source": self.source,
            "message": self.message,
            "links": self.links,
            "fingerprint": self.fingerprint,
            "status": self.status,
            "repeat_count": self.repeat_count,
            "silenced": self.silenced(),
            "silence_id": self.silence_id,
            "digest_state": self.digest_state,
            "digested_at": self.digested_at.map(rfc3339),
            "created_at": rfc3339(self.created_at),
            "last_seen_at": rfc3339(self.last_seen_at),
            "acknowledged_at": self.acknowledged_at.map(rfc3339),
            "acknowledged_by": self.acknowledged_by,
            "resolved_at": self.resolved_at.map(rfc3339),
            "resolved_by": self.resolved_by,
            "resolution_note": self.resolution_note,
            "build_sha": self.build_sha,
        })
    }
}

/// Who performs an operator action: recorded on the row and as the actor of
/// the audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `user:usr_…`, `dashboard`, `scheduler`, or a system name.
    pub actor: String,
    /// The actor's home tenant (the audit event's tenant).
    pub tenant: String,
    /// The request that did it, if any.
    pub request_id: Option<String>,
    /// The request's client address, if any.
    pub client: Option<String>,
}

impl Actor {
    /// A system actor (a job, a tool) in the default tenant.
    pub fn system(name: &str) -> Self {
        Actor {
            actor: name.to_string(),
            tenant: DEFAULT_TENANT.to_string(),
            request_id: None,
            client: None,
        }
    }

    /// The principal of a request.
    pub fn from_ctx(ctx: &Ctx) -> Self {
        Actor {
            actor: ctx.principal.actor(),
            tenant: ctx.principal.tenant.as_str().to_string(),
            request_id: Some(ctx.request_id.clone()),
            client: Some(ctx.client.clone()),
        }
    }

    /// The audit event for `action` by this actor.
    pub(crate) fn event(&self, action: &str) -> Event {
        let mut e = Event::new(&self.tenant, &self.actor, action);
        if let Some(r) = &self.request_id {
            e = e.request(r);
        }
        if let Some(c) = &self.client {
            e = e.client(c);
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_parse_case_insensitively_and_refuse_others() {
        assert_eq!(Severity::parse("critical").unwrap(), Severity::Critical);
        assert_eq!(Severity::parse(" Warning ").unwrap(), Severity::Warning);
        assert_eq!(Severity::parse("INFO").unwrap(), Severity::Info);
        for bad in ["", "error", "crit", "FATAL"] {
            assert_eq!(Severity::parse(bad).unwrap_err().code, "invalid_severity");
        }
    }

    #[test]
    fn the_fingerprint_covers_fifty_characters_not_bytes() {
        let fp = fingerprint(Severity::Critical, "db", "Database connection lost");
        assert!(is_fingerprint(&fp), "{fp}");
        let long_a = format!("{}{}", "é".repeat(50), "tail one");
        let long_b = format!("{}{}", "é".repeat(50), "tail two");
        assert_eq!(
            fingerprint(Severity::Info, "x", &long_a),
            fingerprint(Severity::Info, "x", &long_b)
        );
        assert_ne!(
            fingerprint(Severity::Info, "x", "a"),
            fingerprint(Severity::Warning, "x", "a")
        );
        assert!(!is_fingerprint("ABCDEF012345"));
        assert!(!is_fingerprint("abc"));
    }

    #[test]
    fn new_incidents_are_trimmed_and_checked() {
        let ok = NewIncident {
            severity: Severity::Info,
            source: "  worker ".into(),
            message: " slow\n".into(),
            links: Value::Null,
        }
        .validated()
        .unwrap();
        assert_eq!(
            (ok.source.as_str(), ok.message.as_str()),
            ("worker", "slow")
        );
        assert_eq!(ok.links, serde_json::json!({}));
        let base = NewIncident {
            severity: Severity::Info,
            source: "s".into(),
            message: "m".into(),
            links: Value::Null,
        };
        let cases = [
            (
                NewIncident {
                    source: " ".into(),
                    ..base.clone()
                },
                "invalid_source",
            ),
            (
                NewIncident {
                    source: "a\u{7}".into(),
                    ..base.clone()
                },
                "invalid_source",
            ),
            (
                NewIncident {
                    message: "".into(),
                    ..base.clone()
                },
                "invalid_message",
            ),
            (
                NewIncident {
                    message: "x".repeat(2001),
                    ..base.clone()
                },
                "invalid_message",
            ),
            (
                NewIncident {
                    links: serde_json::json!([1]),
                    ..base.clone()
                },
                "invalid_links",
            ),
            (
                NewIncident {
                    links: serde_json::json!({"a": "x".repeat(9000)}),
                    ..base.clone()
                },
                "invalid_links",
            ),
        ];
        for (bad, code) in cases {
            assert_eq!(bad.validated().unwrap_err().code, code, "{bad:?}");
        }
    }
}
