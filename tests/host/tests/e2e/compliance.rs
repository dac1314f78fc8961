//! Compliance webhooks (issue 16): "signed compliance webhooks verify and
//! tampered or replayed ones are refused", high and critical events go out
//! to the configured endpoint (a loopback mock) signed the same way,
//! through the outbox, with a retry.
//!
//! Signatures are made and checked with Python's `hmac` module, an
//! implementation no one here wrote, following docs/SECURITY.md.

use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::mock::{MockServer, Reply};
use echopilot_e2e::scenario::{expect_status, App, Env, Scenario};
use serde_json::{json, Value};

use crate::support::dash;

pub const SCENARIOS: &[Scenario] = &[Scenario::configured(
    "compliance_webhooks_verify_refuse_replays_and_forward_signed",
    webhooks,
)];

const OLD: &str = "e2e-compliance-secret-old-0123456789abcdef";
const NEW: &str = "e2e-compliance-secret-new-0123456789abcdef";
const FORWARD: &str = "e2e-compliance-forward-secret-0123456789ab";

/// `t=<t>,v1=<hex HMAC-SHA256 of "t.body">`, computed by python3.
fn python_signature(secret: &str, t: u64, body: &[u8]) -> Result<String> {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import hmac, hashlib, sys\n\
             secret, t, body = sys.argv[1], sys.argv[2], sys.stdin.buffer.read()\n\
             print('t=%s,v1=%s' % (t, hmac.new(secret.encode(), t.encode() + b'.' + body, hashlib.sha256).hexdigest()))",
        )
        .arg(secret)
        .arg(t.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().context("stdin").map_err(std::io::Error::other)?.write_all(body)?;
            child.wait_with_output()
        })
        .context("python3")?;
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

fn event(id: &str, severity: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "type": "access.review_overdue", "severity": severity, "source": "grc-tool",
        "summary": format!("{severity} event {id}"), "data": { "owner": "it-ops" },
    }))
    .unwrap_or_default()
}

fn deliver(app: &App, body: &[u8], signature: &str) -> Result<(u16, Value)> {
    let resp = app
        .post("/api/compliance/webhook")
        .header("Content-Type", "application/json")
        .header("X-EchoPilot-Signature", signature)
        .body(body.to_vec())
        .send()?;
    let v = resp.json().unwrap_or(Value::Null);
    Ok((resp.status, v))
}

fn webhooks(env: &Env) -> Result<()> {
    // The endpoint fails its first delivery (503), then accepts.
    let first = std::sync::atomic::AtomicBool::new(true);
    let siem = MockServer::start("siem", move |_req| {
        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            Reply::status(503)
        } else {
            Reply::json(202, &json!({ "accepted": true }))
        }
    })?;
    let app = env.app_with(|b| {
        b.variable("compliance_webhook_secrets", format!("{OLD},{NEW}"))
            .variable("compliance_forward_origin", siem.url())
            .variable("compliance_forward_paths", "/hooks/soc")
            .variable("compliance_forward_secret", FORWARD)
            .variable("alert_retry_base_ms", "100")
    })?;
    let now = echopilot_e2e::scenario::unix_now();

    // Signed by either secret of the rotation: stored.
    let low = event("grc-1", "low");
    let (status, body) = deliver(&app, &low, &python_signature(OLD, now, &low)?)?;
    check!(
        status == 200 && body["data"]["forwarded"] == 0,
        "low: {status} {body}"
    );
    let critical = event("grc-2", "critical");
    let (status, body) = deliver(&app, &critical, &python_signature(NEW, now, &critical)?)?;
    check!(
        status == 200 && body["data"]["secret_index"] == 1 && body["data"]["forwarded"] == 1,
        "critical: {status} {body}"
    );

    // Tampered, stale, replayed, unsigned: refused.
    let other = event("grc-3", "high");
    let mut tampered = other.clone();
    let at = tampered.len() - 3;
    tampered[at] = b'X';
    let cases = [
        (
            "tampered",
            tampered.clone(),
            python_signature(OLD, now, &other)?,
            400,
            "signature_mismatch",
        ),
        (
            "stale",
            other.clone(),
            python_signature(OLD, now - 600, &other)?,
            400,
            "signature_expired",
        ),
        (
            "wrong secret",
            other.clone(),
            python_signature(FORWARD, now, &other)?,
            400,
            "signature_mismatch",
        ),
        (
            "replayed",
            critical.clone(),
            python_signature(NEW, now, &critical)?,
            409,
            "event_replayed",
        ),
        (
            "unsigned",
            other.clone(),
            String::new(),
            400,
            "signature_missing",
        ),
    ];
    for (name, body, sig, want_status, want_code) in cases {
        let (status, out) = deliver(&app, &body, &sig)?;
        check!(
            status == want_status && out["error"]["code"] == want_code,
            "{name}: {status} {out}"
        );
    }

    // Admins see the two stored events.
    let key = dash(&app);
    let list = expect_status(
        &app.get("/api/compliance/events")
            .header("X-Dash-Key", &key)
            .send()?,
        200,
    )?;
    let ids: Vec<&str> = list["data"]["events"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["id"].as_str()).collect())
        .unwrap_or_default();
    check!(ids == ["grc-2", "grc-1"], "events: {ids:?}");
    let critical_only = expect_status(
        &app.get("/api/compliance/events?severity=critical")
            .header("X-Dash-Key", &key)
            .send()?,
        200,
    )?;
    check!(
        critical_only["data"]["events"].as_array().map(Vec::len) == Some(1),
        "{critical_only}"
    );

    // The outbox delivers the critical event: 503 first, then a retry.
    for _ in 0..20 {
        if siem.requests().len() >= 2 {
            break;
        }
        app.run_job_in_own_slot("incidents")?;
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let sent = siem.requests_to("/hooks/soc");
    check!(sent.len() == 2, "{} deliveries to the endpoint", sent.len());
    for r in &sent {
        let sig = r.header("x-echopilot-signature").unwrap_or_default();
        let t: u64 = sig
            .strip_prefix("t=")
            .and_then(|s| s.split(',').next())
            .and_then(|s| s.parse().ok())
            .context("the forward's timestamp")?;
        check!(
            python_signature(FORWARD, t, &r.body)? == sig,
            "the forward's signature does not verify: {sig}"
        );
        let b = r.json();
        check!(
            b["id"] == "grc-2" && b["severity"] == "critical" && b["source"] == "grc-tool",
            "forwarded body: {b}"
        );
    }
    Ok(())
}
