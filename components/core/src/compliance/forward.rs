//! Forwarding high and critical compliance events.
//!
//! The endpoints are `compliance_forward_origin` (an origin, also the only
//! one `cron-incidents` may reach for them: spin.toml's
//! `allowed_outbound_hosts`) joined with each path of
//! `compliance_forward_paths` (comma-separated; empty: nothing is
//! forwarded). Each event becomes one outbox delivery per endpoint, queued
//! with the event (one transaction); the outbox claims, sends and retries
//! it (30 s, 60 s, 120 s, 240 s, then failed; see
//! [`crate::incidents::outbox`]). Each send is signed afresh, so a retry
//! an hour later still carries a timestamp the receiver accepts:
//! `X-EchoPilot-Signature: t=<now>,v1=<HMAC-SHA256 of "t.body">` under
//! `compliance_forward_secret`, the scheme the receiving side of
//! `POST /api/compliance/webhook` checks.

use super::StoredEvent;
use crate::config;
use crate::error::{Error, Result};
use crate::incidents::channels::{NotReady, Prepared};
use crate::ports::{Config, OutboundRequest};
use crate::webhook_signature::{self, ECHOPILOT};
use serde_json::{json, Value};

/// The origin when `compliance_forward_origin` is not set (reserved: it
/// never resolves, and nothing is sent without paths anyway).
pub const DEFAULT_ORIGIN: &str = "https://compliance.invalid";
/// How long one send may take.
const SEND_TIMEOUT_MS: u64 = 15_000;

fn origin(c: &dyn Config) -> Result<String> {
    let o =
        config::text(c, "compliance_forward_origin")?.unwrap_or_else(|| DEFAULT_ORIGIN.to_string());
    let o = o.trim_end_matches('/').to_string();
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"));
    if rest.is_none_or(|r| r.is_empty() || r.contains('/')) {
        return Err(Error::unavailable(
            "invalid_configuration",
            "`compliance_forward_origin` must be an origin such as https://siem.example.com",
        ));
    }
    Ok(o)
}

/// The forward endpoints (none when `compliance_forward_paths` is empty);
/// 503 `invalid_configuration` for a bad origin or a path not starting
/// with `/`.
pub fn endpoints(c: &dyn Config) -> Result<Vec<String>> {
    let Some(paths) = config::text(c, "compliance_forward_paths")? else {
        return Ok(Vec::new());
    };
    let origin = origin(c)?;
    paths
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.starts_with('/') && !p.starts_with("//") && !p.contains(char::is_whitespace) {
                Ok(format!("{origin}{p}"))
            } else {
                Err(Error::unavailable(
                    "invalid_configuration",
                    "each path in `compliance_forward_paths` starts with a single `/`",
                ))
            }
        })
        .collect()
}

/// Whether forwards can be signed and sent (else they are recorded as
/// skipped, "not configured").
pub fn is_configured(c: &dyn Config) -> bool {
    endpoints(c).is_ok_and(|e| !e.is_empty())
        && config::secret(c, "compliance_forward_secret")
            .ok()
            .flatten()
            .is_some()
}

/// The outbox payload of `event` for endpoint `url`.
pub fn payload(url: &str, event: &StoredEvent) -> Value {
    json!({
        "text": format!("compliance {} {}: {}", event.severity.as_str(), event.kind, event.summary),
        "url": url,
        "body": event.forwarded_body(),
    })
}

/// The signed request for a delivery's `payload`, at `now_s`. A URL that
/// is no longer a configured endpoint fails the delivery (a payload edited
/// in the database does not choose where events go).
pub fn prepare(
    c: &dyn Config,
    payload: &Value,
    now_s: i64,
) -> std::result::Result<Prepared, NotReady> {
    let secret = config::secret(c, "compliance_forward_secret")
        .map_err(|e| NotReady::Invalid(e.message))?
        .ok_or(NotReady::NotConfigured)?;
    let url = payload["url"].as_str().unwrap_or_default();
    let known = endpoints(c).map_err(|e| NotReady::Invalid(e.message))?;
    if !known.iter().any(|k| k == url) {
        return Err(NotReady::Invalid(
            "the delivery's endpoint is no longer in `compliance_forward_paths`".into(),
        ));
    }
    let body = payload["body"].to_string().into_bytes();
    let signature = webhook_signature::header_value(&secret, now_s, &body);
    let mut request = OutboundRequest::new("POST", url)
        .header("content-type", "application/json")
        .header(ECHOPILOT.header, signature)
        .timeout_ms(SEND_TIMEOUT_MS);
    request.body = body;
    Ok(Prepared {
        request,
        secrets: vec![secret],
        authorize: None,
        origin_variable: "compliance_forward_origin",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native::MapConfig;

    const SECRET: &str = "forward-secret-0123456789abcdef0123";

    #[test]
    fn endpoints_join_the_origin_and_each_path() {
        let c = MapConfig::new(&[
            ("compliance_forward_origin", "https://siem.example.com/"),
            ("compliance_forward_paths", " /a, ,/b/c "),
        ]);
        assert_eq!(
            endpoints(&c).unwrap(),
            vec!["https://siem.example.com/a", "https://siem.example.com/b/c"]
        );
        assert!(endpoints(&MapConfig::new(&[])).unwrap().is_empty());
        for (o, p) in [
            ("ftp://x", "/a"),
            ("https://x/y", "/a"),
            ("https://x", "a"),
            ("https://x", "//evil.com/a"),
        ] {
            let c = MapConfig::new(&[
                ("compliance_forward_origin", o),
                ("compliance_forward_paths", p),
            ]);
            assert_eq!(
                endpoints(&c).unwrap_err().code,
                "invalid_configuration",
                "{o} {p}"
            );
        }
    }

    #[test]
    fn sends_are_signed_at_send_time_and_only_to_configured_endpoints() {
        let c = MapConfig::new(&[
            ("compliance_forward_origin", "http://127.0.0.1:9"),
            ("compliance_forward_paths", "/hook"),
            ("compliance_forward_secret", SECRET),
        ]);
        assert!(is_configured(&c));
        let p = json!({ "text": "t", "url": "http://127.0.0.1:9/hook", "body": { "id": "e1" } });
        let prepared = prepare(&c, &p, 1_800_000_000).unwrap();
        let sig = prepared
            .request
            .headers
            .iter()
            .find(|(k, _)| k == "X-EchoPilot-Signature")
            .map(|(_, v)| v.clone())
            .unwrap();
        let secrets = vec![SECRET.to_string()];
        assert!(webhook_signature::verify_as(
            ECHOPILOT,
            Some(&sig),
            &prepared.request.body,
            &secrets,
            1_800_000_010
        )
        .is_ok());
        let elsewhere = json!({ "text": "t", "url": "http://127.0.0.1:9/other", "body": {} });
        assert!(matches!(
            prepare(&c, &elsewhere, 0),
            Err(NotReady::Invalid(_))
        ));
        let unsigned = MapConfig::new(&[
            ("compliance_forward_origin", "http://127.0.0.1:9"),
            ("compliance_forward_paths", "/hook"),
        ]);
        assert!(!is_configured(&unsigned));
        assert!(matches!(
            prepare(&unsigned, &p, 0),
            Err(NotReady::NotConfigured)
        ));
    }
}
