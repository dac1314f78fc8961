//! Incidents through api-ops and cron-incidents, with the mock Telegram and
//! email APIs: a CRITICAL pages once at once, repeats are counted and not
//! re-sent, a failing Telegram is retried with backoff until it answers,
//! warnings wait for the digest, silences need an author and a comment, a
//! job that dies raises a warning, and email can go through the Gmail API
//! (OAuth refresh token, mock Google endpoints).

use anyhow::Result;
use echopilot_e2e::mock::{self, MockServer, Reply};
use echopilot_e2e::scenario::{expect_status, wait_for, App, Env, Scenario};
use echopilot_e2e::{check, HostBuilder};
use serde_json::{json, Value};
use std::time::Duration;

use crate::auth::kit::expect_error;
use crate::support::dash;

pub const SCENARIOS: &[Scenario] = &[
    Scenario::configured(
        "incident_critical_pages_once_and_repeats_are_counted",
        pages_once,
    ),
    Scenario::configured("incident_failing_telegram_is_retried_with_backoff", retried),
    Scenario::configured(
        "incident_warnings_wait_for_the_digest_and_silences_are_strict",
        digest_and_silences,
    ),
    Scenario::configured("incident_email_goes_through_gmail_oauth", gmail),
    Scenario::new("incident_routes_refuse_bad_input", bad_input),
];

const TOKEN: &str = "123456:e2e-bot-token";

/// An app whose alerts go to the mocks.
fn alerting(env: &Env, tg: &MockServer, mail: &MockServer, retry_ms: &str) -> Result<App> {
    env.app_with(|b| alert_vars(b, tg, mail, retry_ms))
}

/// The variables that send alerts to the mocks.
pub(crate) fn alert_vars(
    b: HostBuilder,
    tg: &MockServer,
    mail: &MockServer,
    retry_ms: &str,
) -> HostBuilder {
    b.variable("telegram_bot_token", TOKEN)
        .variable("telegram_chat_id", "4242")
        .variable("telegram_base_url", tg.url())
        .variable("email_api_base_url", mail.url())
        .variable("email_api_path", "/send")
        .variable("email_api_key", "e2e-mail-key")
        .variable("alert_email_from", "alerts@echopilot.test")
        .variable("alert_email_to", "ops@echopilot.test")
        .variable("alert_retry_base_ms", retry_ms)
}

/// An app whose email goes to the Gmail mock with `refresh_token`.
fn gmail_app(env: &Env, google: &MockServer, refresh_token: &str) -> Result<App> {
    env.app_with(|b| {
        b.variable("email_provider", "gmail")
            .variable("gmail_client_id", mock::GMAIL_CLIENT_ID)
            .variable("gmail_client_secret", mock::GMAIL_CLIENT_SECRET)
            .variable("gmail_refresh_token", refresh_token)
            .variable("gmail_oauth_base_url", google.url())
            .variable("gmail_api_base_url", google.url())
            .variable("alert_email_from", "alerts@echopilot.test")
            .variable("alert_email_to", "ops@echopilot.test, cto@echopilot.test")
    })
}

/// The email delivery among an incident's deliveries.
fn email_delivery(data: &Value) -> Value {
    data["deliveries"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["channel"] == "email").cloned())
        .unwrap_or(Value::Null)
}

fn gmail(env: &Env) -> Result<()> {
    let google = mock::gmail()?;
    let app = gmail_app(env, &google, mock::GMAIL_REFRESH_TOKEN)?;
    let (status, body) = raise(&app, "CRITICAL", "queue", "Queue stalled — café")?;
    check!(status == 201, "raise: {status} {body}");
    let email = email_delivery(&body["data"]);
    check!(
        email["channel"] == "email" && email["status"] == "sent",
        "the page went out by email at once: {}",
        body["data"]["deliveries"]
    );
    let tokens = google.requests_to("/token");
    check!(tokens.len() == 1, "one token exchange: {}", tokens.len());
    let form = tokens[0].form();
    check!(
        form.get("grant_type").map(String::as_str) == Some("refresh_token")
            && form.get("refresh_token").map(String::as_str) == Some(mock::GMAIL_REFRESH_TOKEN),
        "a refresh-token grant: {form:?}"
    );
    let sends = google.requests_to("/gmail/v1/users/me/messages/send");
    check!(sends.len() == 1, "one send: {}", sends.len());
    check!(
        sends[0]
            .header("authorization")
            .is_some_and(|a| a.starts_with("Bearer ya29.e2e-")),
        "authorized by the exchanged access token"
    );
    let mime = mock::gmail_message(&sends[0]).unwrap_or_default();
    check!(
        mime.starts_with(
            "From: alerts@echopilot.test\r\nTo: ops@echopilot.test, cto@echopilot.test\r\nSubject: =?UTF-8?B?"
        ),
        "an RFC 2822 message to both recipients: {mime}"
    );

    // A revoked refresh token: the delivery fails for good (a retry cannot
    // help), says why, and never shows a secret.
    let google = mock::gmail()?;
    let app = gmail_app(env, &google, "1//revoked-token")?;
    let (status, body) = raise(&app, "CRITICAL", "queue", "Queue stalled again")?;
    check!(status == 201, "raise: {status} {body}");
    let email = email_delivery(&body["data"]);
    check!(
        email["status"] == "failed"
            && email["last_status_code"] == 400
            && email["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("invalid_grant")),
        "a refused grant fails the delivery: {email}"
    );
    let shown = body.to_string();
    check!(
        !shown.contains("revoked-token") && !shown.contains(mock::GMAIL_CLIENT_SECRET),
        "no secret in the view: {shown}"
    );
    check!(
        google
            .requests_to("/gmail/v1/users/me/messages/send")
            .is_empty(),
        "nothing sent without a token"
    );
    Ok(())
}

fn raise(app: &App, severity: &str, source: &str, message: &str) -> Result<(u16, Value)> {
    let resp = app
        .post("/api/incidents/raise")
        .header("X-Dash-Key", &dash(app))
        .json(
            &json!({"severity": severity, "source": source, "message": message,
                      "links": {"metric": "e2e"}}),
        )
        .send()?;
    Ok((resp.status, resp.json().unwrap_or(Value::Null)))
}

fn get(app: &App, target: &str) -> Result<Value> {
    let resp = app.get(target).header("X-Dash-Key", &dash(app)).send()?;
    Ok(expect_status(&resp, 200)?["data"].clone())
}

/// Run cron-incidents once, in a slot of its own (30-second slots).
fn tick(app: &App) -> Result<()> {
    app.run_job_in_own_slot("incidents")
}

fn pages_once(env: &Env) -> Result<()> {
    let (tg, mail) = (mock::telegram()?, mock::email()?);
    let app = alerting(env, &tg, &mail, "30000")?;
    let (status, body) = raise(&app, "critical", "payments", "Stripe webhooks failing")?;
    check!(status == 201, "raise: {status} {body}");
    let d = &body["data"];
    let id = d["incident"]["id"].as_str().unwrap_or_default().to_string();
    check!(d["incident"]["severity"] == "CRITICAL", "{d}");
    let fp = d["incident"]["fingerprint"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    check!(fp.len() == 12, "fingerprint: {fp}");
    let sent: Vec<&Value> = d["deliveries"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    check!(
        sent.len() == 2 && sent.iter().all(|x| x["status"] == "sent"),
        "paged at once on both channels: {}",
        d["deliveries"]
    );
    let tg_reqs = tg.requests();
    check!(
        tg_reqs.len() == 1,
        "one Telegram message: {}",
        tg_reqs.len()
    );
    check!(
        tg_reqs[0].path == format!("/bot{TOKEN}/sendMessage"),
        "path: {}",
        tg_reqs[0].path
    );
    let text = tg_reqs[0].json()["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    check!(
        text.contains(&fp) && text.contains("Stripe webhooks failing"),
        "the page names the fingerprint: {text}"
    );
    let mails = mail.requests_to("/send");
    check!(mails.len() == 1, "one email");
    check!(
        mails[0].header("authorization") == Some("Bearer e2e-mail-key"),
        "email bearer key"
    );

    // The same alert again within the hour: counted, not re-sent.
    for n in 1..=2 {
        let (status, body) = raise(&app, "CRITICAL", "payments", "Stripe webhooks failing")?;
        check!(status == 200, "repeat: {status} {body}");
        check!(body["data"]["repeat"] == true, "{body}");
        check!(body["data"]["incident"]["repeat_count"] == n, "{body}");
    }
    tick(&app)?;
    check!(tg.requests().len() == 1, "repeats never page again");
    check!(mail.requests().len() == 1, "nor email");

    // The token never leaks into what operators read.
    let one = get(&app, &format!("/api/incidents/{id}"))?;
    check!(
        !one.to_string().contains(TOKEN),
        "no bot token in the incident view"
    );
    check!(
        one["deliveries"].as_array().map(Vec::len) == Some(2),
        "{one}"
    );

    // Lifecycle: acknowledge, resolve, and a second resolve is a conflict.
    let key = dash(&app);
    let ack = app
        .post(&format!("/api/incidents/{id}/acknowledge"))
        .header("X-Dash-Key", &key)
        .send()?;
    check!(
        expect_status(&ack, 200)?["data"]["status"] == "acknowledged",
        "ack"
    );
    let res = app
        .post(&format!("/api/incidents/{id}/resolve"))
        .header("X-Dash-Key", &key)
        .json(&json!({"note": "provider recovered"}))
        .send()?;
    check!(
        expect_status(&res, 200)?["data"]["status"] == "resolved",
        "resolve"
    );
    let again = app
        .post(&format!("/api/incidents/{id}/resolve"))
        .header("X-Dash-Key", &key)
        .send()?;
    check!(again.status == 409, "second resolve: {}", again.status);
    // Resolved: the same alert is a new incident and pages again.
    let (status, _) = raise(&app, "CRITICAL", "payments", "Stripe webhooks failing")?;
    check!(status == 201, "after resolution a new incident: {status}");
    check!(tg.requests().len() == 2, "and a new page");
    let summary = app
        .post("/api/incidents/summary")
        .header("X-Dash-Key", &key)
        .json(&json!({"hours": 24}))
        .send()?;
    let s = expect_status(&summary, 200)?;
    check!(s["data"]["summary"]["total_incidents"] == 2, "{s}");
    check!(s["data"]["summary"]["unique_fingerprints"] == 1, "{s}");
    Ok(())
}

fn retried(env: &Env) -> Result<()> {
    let (tg, mail) = (mock::telegram()?, mock::email()?);
    // Telegram fails twice (a 502, then a 429), then answers.
    tg.enqueue(Reply::json(
        502,
        &json!({"ok": false, "description": "Bad Gateway"}),
    ));
    tg.enqueue(Reply::rate_limited(1));
    let app = alerting(env, &tg, &mail, "300")?;
    let (status, body) = raise(&app, "CRITICAL", "slo", "Availability budget exhausted")?;
    check!(status == 201, "{body}");
    let id = body["data"]["incident"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let telegram = |data: &Value| -> Value {
        data["deliveries"]
            .as_array()
            .and_then(|a| a.iter().find(|d| d["channel"] == "telegram").cloned())
            .unwrap_or(Value::Null)
    };
    let first = telegram(&body["data"]);
    check!(
        first["status"] == "pending" && first["attempts"] == 1 && first["last_status_code"] == 502,
        "first attempt failed and waits: {first}"
    );
    check!(
        first["next_attempt_at"].is_string(),
        "with a next attempt: {first}"
    );
    // The cron job retries when due (300 ms, then at least the 1 s
    // Retry-After); bounded polling.
    let delivered = wait_for(Duration::from_secs(120), || {
        tick(&app).ok()?;
        let one = get(&app, &format!("/api/incidents/{id}")).ok()?;
        let t = telegram(&one);
        (t["status"] == "sent").then_some(t)
    })?;
    check!(
        delivered["attempts"] == 3,
        "sent on the third attempt: {delivered}"
    );
    check!(
        tg.requests().len() == 3,
        "three sends in all (502, 429, then 200)"
    );
    check!(delivered["last_status_code"] == 200, "{delivered}");
    check!(mail.requests().len() == 1, "email went out once, at once");
    let list = get(&app, "/api/incidents/deliveries?status=sent")?;
    check!(
        list["deliveries"].as_array().map(Vec::len) == Some(2),
        "both deliveries listed as sent: {list}"
    );
    Ok(())
}

fn digest_and_silences(env: &Env) -> Result<()> {
    let (tg, mail) = (mock::telegram()?, mock::email()?);
    let app = alerting(env, &tg, &mail, "30000")?;
    let key = dash(&app);
    // A silence needs its author, its comment and a bounded duration.
    for (body, code) in [
        (
            json!({"source": "costs", "duration_minutes": 60, "author": "ana"}),
            "invalid_comment",
        ),
        (
            json!({"source": "costs", "duration_minutes": 60, "comment": "deploy"}),
            "invalid_author",
        ),
        (
            json!({"source": "costs", "duration_minutes": 100000, "comment": "x", "author": "ana"}),
            "invalid_duration",
        ),
        (
            json!({"source": "costs", "fingerprint": "abcdefabcdef", "duration_minutes": 5, "comment": "x", "author": "ana"}),
            "invalid_matcher",
        ),
    ] {
        let resp = app
            .post("/api/incidents/silences")
            .header("X-Dash-Key", &key)
            .json(&body)
            .send()?;
        expect_error(&resp, 422, code, &body.to_string())?;
    }
    let active = get(&app, "/api/incidents/silences")?;
    check!(
        active["silences"].as_array().map(Vec::len) == Some(0),
        "nothing created: {active}"
    );
    let resp = app
        .post("/api/incidents/silences")
        .header("X-Dash-Key", &key)
        .json(&json!({"source": "costs", "duration_minutes": 60,
                      "comment": "planned price change", "author": "ana"}))
        .send()?;
    let silence = expect_status(&resp, 201)?["data"].clone();
    let (_, body) = raise(&app, "CRITICAL", "costs", "Daily cap reached")?;
    check!(body["data"]["incident"]["silenced"] == true, "{body}");
    check!(
        tg.requests().is_empty(),
        "a silenced critical does not page"
    );

    // Warnings are recorded, not paged; the digest takes them later.
    let (status, _) = raise(&app, "WARNING", "queue", "Queue depth above 1000")?;
    check!(status == 201, "warning raised");
    let (status, _) = raise(&app, "INFO", "deploy", "Build abc deployed")?;
    check!(status == 201, "info raised");
    tick(&app)?;
    check!(
        tg.requests().is_empty(),
        "a fresh warning waits for its digest"
    );
    // Once the oldest warning has waited `alert_digest_minutes` (a second
    // app on the same data with 0), a run sends one digest per channel
    // with the warning in it (and not the INFO, which is only recorded).
    let data = app.data_dir()?.to_path_buf();
    let eager = env.app_with(|b| {
        alert_vars(b, &tg, &mail, "30000")
            .variable("alert_digest_minutes", "0")
            .data_dir(&data)
    })?;
    tick(&eager)?;
    let digests = tg.requests();
    check!(digests.len() == 1, "one Telegram digest: {}", digests.len());
    let text = digests[0].json()["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    check!(
        text.contains("digest: 1 incident") && text.contains("Queue depth above 1000"),
        "the digest lists the warning: {text}"
    );
    check!(
        !text.contains("Build abc deployed"),
        "INFO is not in it: {text}"
    );
    let mails = mail.requests_to("/send");
    check!(
        mails.len() == 1
            && mails[0].json()["subject"]
                .as_str()
                .is_some_and(|s| s.contains("digest")),
        "one email digest: {:?}",
        mails.iter().map(|m| m.json()).collect::<Vec<_>>()
    );
    let listed = get(&app, "/api/incidents?severity=WARNING")?;
    check!(
        listed.to_string().contains("digested"),
        "the warning is marked digested: {listed}"
    );

    // The silence is in the audit chain; removing it is too.
    let sid = silence["id"].as_str().unwrap_or_default();
    let resp = app
        .request("DELETE", &format!("/api/incidents/silences/{sid}"))
        .header("X-Dash-Key", &key)
        .send()?;
    check!(
        resp.status == 200,
        "remove silence: {} {}",
        resp.status,
        resp.text()
    );
    let chain = get(&app, "/api/audit/chain?action=incident.silence_create")?;
    let entries = chain["entries"].as_array().cloned().unwrap_or_default();
    check!(!entries.is_empty(), "silence creation audited: {chain}");
    Ok(())
}

fn bad_input(env: &Env) -> Result<()> {
    let app = env.app()?;
    let key = dash(&app);
    for (body, code) in [
        (
            json!({"severity": "LOUD", "source": "x", "message": "y"}),
            "invalid_severity",
        ),
        (
            json!({"severity": "INFO", "source": "", "message": "y"}),
            "invalid_source",
        ),
        (
            json!({"severity": "INFO", "source": "x", "message": ""}),
            "invalid_message",
        ),
    ] {
        let resp = app
            .post("/api/incidents/raise")
            .header("X-Dash-Key", &key)
            .json(&body)
            .send()?;
        expect_error(&resp, 422, code, &body.to_string())?;
    }
    let resp = app
        .post("/api/incidents/raise")
        .header("X-Dash-Key", &key)
        .json(&json!({"severity": "INFO", "source": "x", "message": "y", "extra": 1}))
        .send()?;
    check!(resp.status == 400, "unknown field: {}", resp.status);
    let resp = app
        .get("/api/incidents/inc_does_not_exist")
        .header("X-Dash-Key", &key)
        .send()?;
    check!(resp.status == 404, "unknown incident: {}", resp.status);
    check!(
        app.get("/api/incidents").send()?.status == 401,
        "needs a credential"
    );
    Ok(())
}
