//! Demo mode end to end: every write route of the permission table is
//! refused with 403 `demo_read_only` except signing in and out and the
//! dashboard's analytics; the seeder (cron-demo) fills the demo once; with
//! demo mode switched off, the console's `remove_demo_data` removes it all
//! and the database is as it was.

use crate::auth::kit::*;
use crate::matrix::concrete;
use crate::support;
use anyhow::{Context, Result};
use echopilot_core::access::POLICY;
use echopilot_core::demo::ALLOWED_WRITES;
use echopilot_core::http::Method;
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, unix_now, App, Env, Scenario};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new("demo_version_says_whether_this_is_a_demo", version),
    Scenario::host_only(
        "demo_mode_refuses_every_write_route_except_sign_in_and_analytics",
        refuses_writes,
    ),
    Scenario::host_only(
        "demo_seeds_once_and_the_console_removes_every_trace",
        seed_and_remove,
    ),
];

fn version(env: &Env) -> Result<()> {
    let app = env.app()?;
    let body = expect_status(&app.get("/api/version").send()?, 200)?;
    check!(body["data"]["demo_mode"].is_boolean(), "{body}");
    if !env.is_external() {
        check!(body["data"]["demo_mode"] == false, "off by default: {body}");
    }
    Ok(())
}

fn demo_app(env: &Env, data: Option<&std::path::Path>, on: bool) -> Result<App> {
    env.app_with(|b| {
        let b = identity_vars(b).variable("demo_mode", if on { "on" } else { "off" });
        match data {
            Some(d) => b.data_dir(d),
            None => b,
        }
    })
}

fn refuses_writes(env: &Env) -> Result<()> {
    let app = demo_app(env, None, true)?;
    let body = expect_status(&app.get("/api/version").send()?, 200)?;
    check!(body["data"]["demo_mode"] == true, "{body}");
    // Signing in, refreshing and signing out still work.
    let session = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD)?;
    let refresh = text(&session, "/refresh_token")?;
    let resp = call(
        &app,
        "POST",
        "/api/auth/refresh",
        &Cred::Nobody,
        Some(&json!({ "refresh_token": refresh })),
    )?;
    let refreshed = expect_status(&resp, 200).context("refresh in demo mode")?;
    let token = text(&refreshed["data"], "/access_token")?;
    let resp = call(
        &app,
        "POST",
        "/api/auth/logout",
        &Cred::Bearer(token),
        Some(&json!({})),
    )?;
    check!(
        resp.status < 300,
        "logout in demo mode: {} {}",
        resp.status,
        resp.text()
    );
    let resp = call(
        &app,
        "POST",
        "/api/analytics/event",
        &Cred::Nobody,
        Some(&json!({"events": [{"name": "demo.banner_dismiss"}]})),
    )?;
    expect_status(&resp, 202).context("analytics in demo mode")?;

    // Every other write route of the permission table, as an admin, in
    // Urdu: refused before its body is read.
    let mut refused = 0;
    let mut failures = Vec::new();
    for p in POLICY {
        if matches!(p.method, Method::Get | Method::Head | Method::Options)
            || ALLOWED_WRITES.contains(&(p.method, p.pattern))
        {
            continue;
        }
        let target = concrete(p.pattern);
        let resp = Cred::Dashboard
            .apply(app.request(p.method.as_str(), &target))
            .header("Accept-Language", "ur")
            .json(&json!({}))
            .send()?;
        let ok = resp.status == 403
            && code(&resp) == "demo_read_only"
            && resp.header("content-language") == Some("ur");
        if ok {
            refused += 1;
        } else {
            failures.push(format!(
                "{} {target}: {} {}",
                p.method.as_str(),
                resp.status,
                resp.text()
            ));
        }
    }
    check!(
        failures.is_empty(),
        "write routes not refused in demo mode:\n{}",
        failures.join("\n")
    );
    check!(refused > 30, "{refused} write routes refused");
    // The scheduler still runs the jobs; reads still work; nothing changed.
    let resp = call(
        &app,
        "POST",
        "/api/internal/cron/heartbeat",
        &Cred::Cron,
        None,
    )?;
    expect_status(&resp, 200).context("the scheduler in demo mode")?;
    let jobs = expect_status(
        &call(&app, "GET", "/api/jobs", &Cred::Dashboard, None)?,
        200,
    )?;
    check!(
        jobs["data"]["jobs"]
            .as_array()
            .is_some_and(|j| j.is_empty()),
        "no job was created: {jobs}"
    );
    Ok(())
}

/// Tables that record traffic and scheduled runs rather than data: they
/// legitimately grow while the scenario talks to the host.
const TRAFFIC: &[&str] = &[
    "request_samples",
    "request_minutes",
    "request_totals",
    "slo_minutes",
    "scheduler_runs",
    "audit_log",
    "audit_anchors",
    "rate_buckets",
    "event_log",
    "heartbeats",
    "refresh_tokens",
    "jwt_keys",
    "users",
    "integration_status",
    "model_prices",
    "app_meta",
];

/// Rows per table of the host's database, traffic tables aside.
fn row_counts(data: &std::path::Path) -> Result<BTreeMap<String, i64>> {
    let db = rusqlite::Connection::open(data.join("sqlite_db.db"))?;
    let names: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = BTreeMap::new();
    for n in names {
        if TRAFFIC.contains(&n.as_str()) {
            continue;
        }
        let c: i64 = db.query_row(&format!("SELECT COUNT(*) FROM \"{n}\""), [], |r| r.get(0))?;
        out.insert(n, c);
    }
    Ok(out)
}

fn command(app: &App, name: &str, confirm: bool) -> Result<echopilot_e2e::Response> {
    call(
        app,
        "POST",
        "/api/ops/command",
        &Cred::Dashboard,
        Some(&json!({ "command": name, "confirm": confirm })),
    )
}

fn list(app: &App, target: &str, pointer: &str) -> Result<Vec<Value>> {
    let body = expect_status(&call(app, "GET", target, &Cred::Dashboard, None)?, 200)
        .with_context(|| target.to_string())?;
    Ok(body
        .pointer(pointer)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

fn seed_and_remove(env: &Env) -> Result<()> {
    let data = tempfile::tempdir()?;
    let demo = demo_app(env, Some(data.path()), true)?;
    expect_status(&demo.get("/health").send()?, 200)?;
    let before = row_counts(data.path())?;

    // The seeder, as the cron trigger runs it; then in the next minute's
    // slot, and over HTTP (an external scheduler, or another replica): it
    // seeds once.
    demo.run_job("demo")?;
    let after_seed = row_counts(data.path())?;
    check!(after_seed != before, "the demo was seeded");
    demo.host()
        .context("host only")?
        .tick_at("cron-demo", unix_now() + 60)?
        .map_err(|e| anyhow::anyhow!("demo tick failed: {e}"))?;
    let resp = call(&demo, "POST", "/api/internal/cron/demo", &Cred::Cron, None)?;
    support::ran_saying(&resp, "was seeded")?;
    check!(
        row_counts(data.path())? == after_seed,
        "later runs seed nothing"
    );

    // What a visitor of the demo sees.
    let tenants = list(&demo, "/api/tenants", "/data/tenants")?;
    let demo_tenants = tenants
        .iter()
        .filter(|t| t["id"].as_str().is_some_and(|i| i.starts_with("demo-")))
        .count();
    check!(demo_tenants == 4, "four demo clients: {tenants:?}");
    let jobs = list(&demo, "/api/jobs?limit=200", "/data/jobs")?;
    check!(jobs.len() > 30, "{} demo jobs", jobs.len());
    let statuses: Vec<&str> = jobs.iter().filter_map(|j| j["status"].as_str()).collect();
    for s in ["completed", "failed", "dead", "cancelled"] {
        check!(statuses.contains(&s), "a {s} job among {statuses:?}");
    }
    let first = jobs
        .iter()
        .find(|j| j["status"] == "completed")
        .context("a completed job")?;
    let id = first["id"].as_str().context("job id")?;
    let detail = expect_status(
        &call(
            &demo,
            "GET",
            &format!("/api/jobs/{id}"),
            &Cred::Dashboard,
            None,
        )?,
        200,
    )?;
    let d = &detail["data"];
    check!(
        d["output"].is_string()
            && d["qa"]["score"].as_f64().unwrap_or(0.0) >= 80.0
            && d["qa"]["scores"]["clarity"]["score"].is_number()
            && d["attempt_records"]
                .as_array()
                .is_some_and(|a| !a.is_empty()),
        "a job with its output, QA and attempts: {detail}"
    );
    let incidents = list(&demo, "/api/incidents", "/data/incidents")?;
    check!(incidents.len() == 4, "{incidents:?}");
    let keys = list(&demo, "/api/partners", "/data/keys")?;
    check!(keys.len() == 3, "three partner keys: {keys:?}");
    let costs = expect_status(
        &call(&demo, "GET", "/api/costs/status", &Cred::Dashboard, None)?,
        200,
    )?;
    check!(costs.to_string().contains("spent"), "{costs}");
    let usage = expect_status(
        &call(
            &demo,
            "GET",
            "/api/analytics/usage?tenant_id=demo-northwind",
            &Cred::Dashboard,
            None,
        )?,
        200,
    )?;
    check!(usage["data"]["mau"].as_i64().unwrap_or(0) > 50, "{usage}");

    // Removal is a write: refused while the demo runs.
    expect_error(
        &command(&demo, "remove_demo_data", true)?,
        403,
        "demo_read_only",
        "removal in demo mode",
    )?;
    drop(demo);

    // Demo mode off (a restart with the variable changed), then remove.
    let app = demo_app(env, Some(data.path()), false)?;
    app.host()
        .context("host only")?
        .tick_at("cron-demo", unix_now() + 120)?
        .map_err(|e| anyhow::anyhow!("demo tick failed: {e}"))?;
    let resp = call(&app, "POST", "/api/internal/cron/demo", &Cred::Cron, None)?;
    support::ran_saying(&resp, "off")?;
    check!(
        row_counts(data.path())? == after_seed,
        "with demo mode off the seeder rests"
    );
    let dry = expect_status(&command(&app, "remove_demo_data", false)?, 200)?;
    let planned = dry["data"]["result"]["demo"]["rows"]["jobs"]
        .as_i64()
        .unwrap_or(0);
    check!(
        planned == jobs.len() as i64,
        "the dry run lists the jobs: {dry}"
    );
    check!(
        row_counts(data.path())? == after_seed,
        "a dry run changes nothing"
    );
    let done = expect_status(&command(&app, "remove_demo_data", true)?, 200)?;
    check!(
        done["data"]["result"]["removed"]["jobs"] == planned,
        "{done}"
    );
    check!(
        row_counts(data.path())? == before,
        "every table is back to its rows before seeding"
    );
    check!(
        list(&app, "/api/jobs", "/data/jobs")?.is_empty(),
        "no demo job left"
    );
    check!(
        !list(&app, "/api/tenants", "/data/tenants")?
            .iter()
            .any(|t| t["id"].as_str().is_some_and(|i| i.starts_with("demo-"))),
        "no demo tenant left"
    );
    Ok(())
}
