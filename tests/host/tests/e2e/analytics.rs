//! Product analytics (api-analytics, cron-analytics) end to end: batches
//! of dashboard events accepted without cookies, bad events refused with
//! clear errors and nothing stored, floods limited, usage per tenant for
//! analysts, and the daily rollup over its internal route.

use crate::auth::kit::*;
use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::client::Response;
use echopilot_e2e::scenario::{expect_status, today_utc, App, Env, Scenario};
use serde_json::{json, Value};

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new(
        "analytics_events_are_accepted_without_cookies_and_reported",
        accepted_and_reported,
    ),
    Scenario::new(
        "analytics_bad_events_are_refused_clearly_and_store_nothing",
        bad_events,
    ),
    Scenario::host_only("analytics_floods_meet_the_address_and_daily_limits", floods),
    Scenario::host_only(
        "analytics_usage_is_for_analysts_of_their_own_tenant",
        per_tenant,
    ),
];

fn post(app: &App, cred: &Cred, body: &Value) -> Result<Response> {
    call(app, "POST", "/api/analytics/event", cred, Some(body))
}

/// The usage report as `cred` (`query` after `?`).
fn usage(app: &App, cred: &Cred, query: &str) -> Result<Value> {
    let resp = call(
        app,
        "GET",
        &format!("/api/analytics/usage?{query}"),
        cred,
        None,
    )?;
    Ok(expect_status(&resp, 200).context("usage")?["data"].clone())
}

/// Today's events in a report.
fn events_today(report: &Value) -> i64 {
    report["daily"]
        .as_array()
        .and_then(|d| d.last())
        .map(|d| d["events"].as_i64().unwrap_or(0))
        .unwrap_or(0)
}

fn accepted_and_reported(env: &Env) -> Result<()> {
    let app = env.app()?;
    let before = usage(&app, &Cred::Dashboard, "days=7")?;
    // The landing page, anonymous: counted under the default tenant.
    let resp = post(
        &app,
        &Cred::Nobody,
        &json!({"events": [
            {"name": "page.view", "view": "landing"},
            {"name": "page.view", "view": "sign_in"},
            {"name": "auth.sign_in"},
        ]}),
    )?;
    let body = expect_status(&resp, 202)?;
    check!(body["data"]["accepted"] == 3, "accepted: {body}");
    check!(
        resp.header("set-cookie").is_none(),
        "analytics sets no cookie: {:?}",
        resp.headers
    );
    // The console (an admin of the default tenant), with an explicit time.
    let at =
        echopilot_core::time::rfc3339(echopilot_e2e::scenario::unix_now() as i64 * 1000 - 60_000);
    let resp = post(
        &app,
        &Cred::Dashboard,
        &json!({"events": [{"name": "palette.open", "view": "overview", "at": at}]}),
    )?;
    expect_status(&resp, 202)?;

    let after = usage(&app, &Cred::Dashboard, "days=7")?;
    check!(after["tenant_id"] == "default", "{after}");
    check!(
        events_today(&after) >= events_today(&before) + 4,
        "today's events grew by 4: {before} -> {after}"
    );
    check!(after["dau"].as_i64().unwrap_or(0) >= 1, "{after}");
    check!(
        after["mau"].as_i64() >= after["wau"].as_i64()
            && after["wau"].as_i64() >= after["dau"].as_i64(),
        "mau >= wau >= dau: {after}"
    );
    let stickiness = after["stickiness"].as_f64().context("stickiness")?;
    check!((0.0..=1.0).contains(&stickiness), "{after}");
    let daily = after["daily"].as_array().context("daily")?;
    check!(
        daily.len() == 7 && daily[6]["date"] == today_utc(),
        "seven days ending today: {after}"
    );
    check!(after["window"]["days"] == 7, "{after}");
    let top: Vec<&str> = after["top_events"]
        .as_array()
        .context("top_events")?
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    check!(top.contains(&"page.view"), "top events: {top:?}");

    // The rollup, as an external scheduler runs it.
    let resp = call(
        &app,
        "POST",
        "/api/internal/cron/analytics",
        &Cred::Cron,
        None,
    )?;
    crate::support::ran_saying(&resp, "raw events left")?;
    let later = usage(&app, &Cred::Dashboard, "days=7")?;
    check!(
        events_today(&later) == events_today(&after),
        "today is not final: the rollup leaves it raw and counted once"
    );
    Ok(())
}

fn bad_events(env: &Env) -> Result<()> {
    let app = env.app()?;
    let before = events_today(&usage(&app, &Cred::Dashboard, "days=1")?);
    let one = |e: Value| json!({ "events": [{"name": "palette.open"}, e] });
    let old = echopilot_core::time::rfc3339(
        (echopilot_e2e::scenario::unix_now() as i64 - 2 * 86_400) * 1000,
    );
    let cases = [
        (one(json!({"name": "drop.tables"})), 400, "unknown_event"),
        (
            one(json!({"name": "page.view", "view": "settings"})),
            400,
            "unknown_view",
        ),
        // The guard's input screening refuses this before the handler.
        (
            one(json!({"name": "page.view", "view": "../../etc"})),
            400,
            "screened_input",
        ),
        (one(json!({"name": "page.view"})), 400, "missing_view"),
        (
            one(json!({"name": "job.retry", "at": old})),
            400,
            "invalid_event_time",
        ),
        (
            one(json!({"name": "job.retry", "user_email": "a@b.c"})),
            400,
            "invalid_json",
        ),
        (json!({"events": []}), 400, "invalid_batch"),
        (
            json!({"events": vec![json!({"name": "palette.open"}); 51]}),
            400,
            "invalid_batch",
        ),
        (json!({"batch": []}), 400, "invalid_json"),
    ];
    for (body, status, error) in cases {
        let resp = post(&app, &Cred::Nobody, &body)?;
        expect_error(&resp, status, error, &body.to_string())?;
        let detail = resp.json()?["error"]["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        check!(
            !detail.is_empty(),
            "{error} says what is wrong: {}",
            resp.text()
        );
    }
    // Too large (16 KiB), and not JSON.
    let huge = json!({"events": [{"name": "page.view", "view": "x".repeat(20_000)}]});
    expect_error(
        &post(&app, &Cred::Nobody, &huge)?,
        413,
        "payload_too_large",
        "20 KB",
    )?;
    let resp = app
        .post("/api/analytics/event")
        .header("Content-Type", "text/plain")
        .body("page.view")
        .send()?;
    expect_error(&resp, 415, "unsupported_media_type", "text/plain")?;
    // Reading usage needs a credential; its window is bounded.
    let resp = call(&app, "GET", "/api/analytics/usage", &Cred::Nobody, None)?;
    expect_error(&resp, 401, "unauthorized", "anonymous usage")?;
    for days in ["0", "91", "x"] {
        let resp = call(
            &app,
            "GET",
            &format!("/api/analytics/usage?days={days}"),
            &Cred::Dashboard,
            None,
        )?;
        expect_error(&resp, 400, "invalid_days", days)?;
    }
    let after = events_today(&usage(&app, &Cred::Dashboard, "days=1")?);
    check!(
        after == before,
        "refused batches stored nothing (not even their good events): {before} -> {after}"
    );
    Ok(())
}

fn floods(env: &Env) -> Result<()> {
    let app = env.app_with(|b| {
        b.variable("analytics_anonymous_per_minute", "1")
            .variable("analytics_visitor_per_minute", "10000")
            .variable("analytics_daily_events_max", "8")
    })?;
    let one = json!({"events": [{"name": "page.view", "view": "landing"}]});
    // A bucket of 5 per address, then 429 with Retry-After.
    for i in 0..5 {
        let resp = post(&app, &Cred::Nobody, &one)?;
        check!(resp.status == 202, "batch {i}: {}", resp.text());
    }
    let resp = post(&app, &Cred::Nobody, &one)?;
    expect_error(&resp, 429, "rate_limited", "sixth anonymous batch")?;
    check!(resp.header("retry-after").is_some(), "Retry-After");
    // The daily cap: 5 events so far, 3 more fit, then the tenant is done
    // for the day (whoever sends).
    let three = json!({"events": vec![json!({"name": "palette.open"}); 3]});
    expect_status(&post(&app, &Cred::Dashboard, &three)?, 202)?;
    let resp = post(&app, &Cred::Dashboard, &one)?;
    expect_error(&resp, 429, "analytics_cap_reached", "the ninth event")?;
    let wait: u64 = resp
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .context("Retry-After")?;
    check!(
        (1..=86_400).contains(&wait),
        "until the next UTC day: {wait}"
    );
    let report = usage(&app, &Cred::Dashboard, "days=1")?;
    check!(events_today(&report) == 8, "{report}");
    Ok(())
}

fn per_tenant(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let root = Cred::Bearer(root_token(&app)?);
    create_tenant(&app, &root, "acme-analytics")?;
    let (_, analyst) = user_token(
        &app,
        &root,
        "analyst@acme-analytics.test",
        "analyst",
        "acme-analytics",
    )?;
    let (_, viewer) = user_token(
        &app,
        &root,
        "viewer@acme-analytics.test",
        "viewer",
        "acme-analytics",
    )?;
    let analyst = Cred::Bearer(analyst);
    // A signed-in user's events count under its tenant.
    expect_status(
        &post(
            &app,
            &Cred::Bearer(viewer.clone()),
            &json!({"events": [{"name": "page.view", "view": "jobs"}, {"name": "job.retry"}]}),
        )?,
        202,
    )?;
    let mine = usage(&app, &analyst, "days=30")?;
    check!(
        mine["tenant_id"] == "acme-analytics" && mine["dau"] == 1 && events_today(&mine) == 2,
        "{mine}"
    );
    let platform = usage(&app, &Cred::Dashboard, "days=30")?;
    check!(
        events_today(&platform) == 0,
        "the default tenant saw none of it: {platform}"
    );
    // Tenant users see only their tenant; viewers not at all; admins of the
    // default tenant may look at any.
    let resp = call(
        &app,
        "GET",
        "/api/analytics/usage?tenant_id=default",
        &analyst,
        None,
    )?;
    expect_error(&resp, 403, "cross_tenant", "another tenant's usage")?;
    let resp = call(
        &app,
        "GET",
        "/api/analytics/usage",
        &Cred::Bearer(viewer),
        None,
    )?;
    expect_error(&resp, 403, "insufficient_role", "a viewer")?;
    let theirs = usage(&app, &root, "tenant_id=acme-analytics")?;
    check!(events_today(&theirs) == 2, "{theirs}");
    Ok(())
}
