//! Compliance webhooks through the component's routes: signed deliveries
//! are stored and audited; unsigned, tampered, stale, replayed and
//! malformed ones are refused and change nothing; a rotated-in secret
//! works; high and critical events are forwarded through the outbox,
//! signed at send time, and retried.

mod support;

use echopilot_core::adapters::native::ScriptedHttp;
use echopilot_core::compliance::api::APP;
use echopilot_core::http::{Method, Request};
use echopilot_core::incidents;
use echopilot_core::ports::{DbExt, Env, HttpError, OutboundResponse};
use echopilot_core::webhook_signature::{header_value, verify_as, ECHOPILOT};
use futures::executor::block_on;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::{call, SharedHttp, DASH_KEY, T0};

const OLD: &str = "compliance-secret-old-0123456789abcdef";
const NEW: &str = "compliance-secret-new-0123456789abcdef";
const FORWARD: &str = "compliance-forward-secret-0123456789ab";

fn vars() -> Vec<(&'static str, &'static str)> {
    vec![
        ("dashboard_key", DASH_KEY),
        (
            "compliance_webhook_secrets",
            "compliance-secret-old-0123456789abcdef, compliance-secret-new-0123456789abcdef",
        ),
        ("compliance_forward_origin", "http://siem.test"),
        ("compliance_forward_paths", "/soc,/legal"),
        ("compliance_forward_secret", FORWARD),
    ]
}

fn event(id: &str, severity: &str) -> Vec<u8> {
    json!({
        "id": id, "type": "policy.violation", "severity": severity, "source": "dlp-scanner",
        "summary": "a customer list left the building", "occurred_at": "2027-01-15T07:59:00Z",
        "data": { "records": 120 },
    })
    .to_string()
    .into_bytes()
}

fn post(body: &[u8], signature: Option<String>) -> Request {
    let mut r = Request::new(Method::Post, "/api/compliance/webhook")
        .with_header("content-type", "application/json")
        .with_body(body.to_vec());
    if let Some(s) = signature {
        r = r.with_header("x-echopilot-signature", &s);
    }
    r
}

fn signed(secret: &str, t_s: i64, body: &[u8]) -> Option<String> {
    Some(header_value(secret, t_s, body))
}

fn count(env: &Env, sql: &str) -> i64 {
    env.db.query_one(sql, &[]).unwrap().i64(0).unwrap()
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

const NOW_S: i64 = T0 / 1000;

#[test]
fn signed_events_are_stored_and_audited_and_bad_ones_change_nothing() {
    let (env, _) = support::env(&vars());
    let body = event("evt_low_1", "low");
    let (resp, out) = call(&APP, &env, post(&body, signed(OLD, NOW_S - 30, &body)));
    assert_eq!(resp.status, 200, "{out}");
    assert_eq!(out["data"]["severity"], "low");
    assert_eq!(out["data"]["secret_index"], 0);
    assert_eq!(out["data"]["forwarded"], 0);
    // The rotated-in secret signs too.
    let body2 = event("evt_medium_1", "medium");
    let (resp, out) = call(&APP, &env, post(&body2, signed(NEW, NOW_S, &body2)));
    assert_eq!(
        (resp.status, out["data"]["secret_index"].as_i64()),
        (200, Some(1)),
        "{out}"
    );
    assert_eq!(count(&env, "SELECT COUNT(*) FROM compliance_events"), 2);
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM audit_log WHERE action = 'compliance.event_received' AND actor = 'webhook:compliance'"),
        2
    );

    let body3 = event("evt_bad", "high");
    let tampered = {
        let mut b = body3.clone();
        let i = b.len() - 5;
        b[i] = b'9';
        b
    };
    let cases: Vec<(&str, Request, u16, &str)> = vec![
        ("unsigned", post(&body3, None), 400, "signature_missing"),
        (
            "malformed",
            post(&body3, Some("v1=zz".into())),
            400,
            "signature_malformed",
        ),
        (
            "tampered",
            post(&tampered, signed(OLD, NOW_S, &body3)),
            400,
            "signature_mismatch",
        ),
        (
            "another secret",
            post(
                &body3,
                signed("some-other-secret-0123456789abcdefgh", NOW_S, &body3),
            ),
            400,
            "signature_mismatch",
        ),
        (
            "stale",
            post(&body3, signed(OLD, NOW_S - 301, &body3)),
            400,
            "signature_expired",
        ),
        (
            "from the future",
            post(&body3, signed(OLD, NOW_S + 301, &body3)),
            400,
            "signature_expired",
        ),
        (
            "replayed",
            post(&body, signed(OLD, NOW_S - 30, &body)),
            409,
            "event_replayed",
        ),
        (
            "replayed, re-signed",
            post(&body, signed(NEW, NOW_S, &body)),
            409,
            "event_replayed",
        ),
    ];
    for (name, req, status, want) in cases {
        let (resp, out) = call(&APP, &env, req);
        assert_eq!((resp.status, code(&out)), (status, want), "{name}: {out}");
    }
    let bad = |v: Value| {
        let b = v.to_string().into_bytes();
        let (resp, out) = call(&APP, &env, post(&b, signed(OLD, NOW_S, &b)));
        (resp.status, code(&out).to_string())
    };
    let base = json!({ "id": "e", "type": "t", "severity": "low", "source": "s", "summary": "x" });
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    assert_eq!(
        bad(with("severity", json!("urgent"))),
        (422, "invalid_severity".into())
    );
    assert_eq!(
        bad(with("id", json!("has space"))),
        (422, "invalid_compliance_event".into())
    );
    assert_eq!(
        bad(with("type", json!("Policy"))),
        (422, "invalid_compliance_event".into())
    );
    assert_eq!(
        bad(with("data", json!([1]))),
        (422, "invalid_compliance_event".into())
    );
    assert_eq!(bad(with("extra", json!(1))).0, 400);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM compliance_events"), 2);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM incident_deliveries"), 0);
    assert!(echopilot_core::audit::verify(&env).unwrap().valid);

    // Admins of the default tenant read them, newest first, by severity.
    let list = |q: &str| {
        let (resp, out) = call(
            &APP,
            &env,
            Request::new(Method::Get, &format!("/api/compliance/events{q}"))
                .with_header("x-dash-key", DASH_KEY),
        );
        assert_eq!(resp.status, 200, "{out}");
        out["data"]["events"].as_array().unwrap().clone()
    };
    assert_eq!(list("").len(), 2);
    let medium = list("?severity=medium");
    assert_eq!(
        (medium.len(), medium[0]["id"].as_str()),
        (1, Some("evt_medium_1"))
    );
    let (resp, _) = call(
        &APP,
        &env,
        Request::new(Method::Get, "/api/compliance/events"),
    );
    assert_eq!(resp.status, 401);
}

#[test]
fn without_secrets_the_webhook_is_not_configured() {
    let (env, _) = support::env(&[("dashboard_key", DASH_KEY)]);
    let body = event("evt_1", "low");
    let (resp, out) = call(&APP, &env, post(&body, signed(OLD, NOW_S, &body)));
    assert_eq!((resp.status, code(&out)), (503, "not_configured"), "{out}");
    // Unsigned is refused as such, configured or not.
    let (resp, out) = call(&APP, &env, post(&body, None));
    assert_eq!(
        (resp.status, code(&out)),
        (400, "signature_missing"),
        "{out}"
    );
    let (env, _) = support::env(&[("compliance_webhook_secrets", "short")]);
    let (resp, out) = call(&APP, &env, post(&body, signed("short", NOW_S, &body)));
    assert_eq!(
        (resp.status, code(&out)),
        (503, "invalid_configuration"),
        "{out}"
    );
}

#[test]
fn high_and_critical_events_are_forwarded_signed_and_retried() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    // The SOC endpoint fails its first call (503), then takes everything.
    let http = Arc::new(ScriptedHttp::new(move |req| {
        let first_soc = req.url.ends_with("/soc") && seen.fetch_add(1, Ordering::SeqCst) == 0;
        let status = if first_soc { 503 } else { 202 };
        Ok(OutboundResponse {
            status,
            headers: vec![],
            body: b"{}".to_vec(),
        })
    }));
    let (mut env, clock) = support::env(&vars());
    env.http = Box::new(SharedHttp(http.clone()));
    for (id, sev) in [
        ("evt_h", "high"),
        ("evt_c", "critical"),
        ("evt_m", "medium"),
    ] {
        let body = event(id, sev);
        let (resp, out) = call(&APP, &env, post(&body, signed(NEW, NOW_S, &body)));
        assert_eq!(resp.status, 200, "{out}");
        let want = if sev == "medium" { 0 } else { 2 };
        assert_eq!(out["data"]["forwarded"], want, "{id}");
    }
    assert_eq!(count(&env, "SELECT COUNT(*) FROM incident_deliveries WHERE channel = 'webhook' AND status = 'pending'"), 4);

    block_on(incidents::deliver_due(&env)).unwrap();
    let first = http.sent();
    assert_eq!(first.len(), 4);
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM incident_deliveries WHERE status = 'sent'"
        ),
        3
    );
    // What the endpoints get verifies under the forward secret.
    let forward = vec![FORWARD.to_string()];
    for r in &first {
        let sig = r
            .headers
            .iter()
            .find(|(k, _)| k == "X-EchoPilot-Signature")
            .map(|(_, v)| v.as_str());
        assert!(
            verify_as(ECHOPILOT, sig, &r.body, &forward, NOW_S).is_ok(),
            "{}",
            r.url
        );
        let b: Value = serde_json::from_slice(&r.body).unwrap();
        assert!(
            ["high", "critical"].contains(&b["severity"].as_str().unwrap()),
            "{b}"
        );
        assert_eq!(b["source"], "dlp-scanner");
    }
    // The failed one is retried after its backoff, signed afresh.
    clock.advance(31_000);
    block_on(incidents::deliver_due(&env)).unwrap();
    let all = http.sent();
    assert_eq!(all.len(), 5);
    let retry = &all[4];
    assert!(retry.url.ends_with("/soc"));
    let sig = retry
        .headers
        .iter()
        .find(|(k, _)| k == "X-EchoPilot-Signature")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(sig.starts_with(&format!("t={},", NOW_S + 31)), "{sig}");
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM incident_deliveries WHERE status = 'sent'"
        ),
        4
    );
}

#[test]
fn forwards_without_a_signing_secret_are_skipped_not_sent() {
    let http = Arc::new(ScriptedHttp::new(|r| {
        Err(HttpError::NotAllowed(r.url.clone()))
    }));
    let v: Vec<_> = vars()
        .into_iter()
        .filter(|(k, _)| *k != "compliance_forward_secret")
        .collect();
    let (mut env, _) = support::env(&v);
    env.http = Box::new(SharedHttp(http.clone()));
    let body = event("evt_c", "critical");
    let (resp, out) = call(&APP, &env, post(&body, signed(OLD, NOW_S, &body)));
    assert_eq!(resp.status, 200, "{out}");
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM incident_deliveries WHERE status = 'skipped'"
        ),
        2
    );
    block_on(incidents::deliver_due(&env)).unwrap();
    assert!(http.sent().is_empty());
}
