//! Autoscaling: the status in the seed's shape, dry runs that change
//! nothing, and an applied scale-up that really raises the drain rate (jobs
//! finished per worker tick follow workers × worker_concurrency).

use anyhow::Result;
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, App, Env, Scenario};
use serde_json::{json, Value};
use std::time::Duration;

use crate::support::{ai_vars, dash, openai, submit, work};

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new("scale_status_has_the_seed_shape", shape),
    Scenario::configured("scale_apply_raises_the_drain_rate", drain_rate),
];

fn status(app: &App) -> Result<Value> {
    let resp = app
        .get("/api/scale/status")
        .header("X-Dash-Key", &dash(app))
        .send()?;
    Ok(expect_status(&resp, 200)?["data"].clone())
}

fn apply(app: &App, body: Value) -> Result<(u16, Value)> {
    let resp = app
        .post("/api/scale/apply")
        .header("X-Dash-Key", &dash(app))
        .json(&body)
        .send()?;
    Ok((resp.status, resp.json().unwrap_or(Value::Null)))
}

fn shape(env: &Env) -> Result<()> {
    let app = env.app()?;
    let s = status(&app)?;
    for field in [
        "ts",
        "current_workers",
        "desired_workers",
        "reason",
        "dry_run",
        "metrics",
        "constraints",
    ] {
        check!(!s[field].is_null(), "{field} missing: {s}");
    }
    for field in ["queue_depth", "p95_latency_ms", "arrival_rate_per_min"] {
        check!(
            s["metrics"].get(field).is_some(),
            "metrics.{field} missing: {s}"
        );
    }
    for field in [
        "min",
        "max",
        "cooldown_min",
        "cooldown_remaining_sec",
        "deploy_gate_active",
    ] {
        check!(
            !s["constraints"][field].is_null(),
            "constraints.{field} missing: {s}"
        );
    }
    check!(s["forecast"].is_object(), "the forecast: {s}");
    // Dry run by default: nothing changes.
    let (status_code, body) = apply(&app, json!({"workers": 2}))?;
    check!(
        status_code == 200 && body["data"]["applied"] == false,
        "{body}"
    );
    check!(
        status(&app)?["current_workers"] == s["current_workers"],
        "unchanged"
    );
    let (code, body) = apply(&app, json!({"workers": 99, "dry_run": false}))?;
    check!(
        code == 422 && body["error"]["code"] == "workers_out_of_range",
        "{body}"
    );
    Ok(())
}

fn drain_rate(env: &Env) -> Result<()> {
    let ai = openai()?;
    ai.set_delay(Duration::from_millis(400));
    let app = env.app_with(|b| {
        ai_vars(b, &ai)
            .variable("worker_concurrency", "2")
            .variable("worker_tick_budget_ms", "100")
            .variable("scale_max", "4")
    })?;
    for i in 0..12 {
        submit(&app, &json!({"brief": format!("Scaling brief {i}")}))?;
    }
    let completed = |app: &App| -> Result<i64> {
        let resp = app
            .get("/api/queue/status")
            .header("X-Dash-Key", &dash(app))
            .send()?;
        Ok(expect_status(&resp, 200)?["data"]["by_status"]["completed"]
            .as_i64()
            .unwrap_or(0))
    };
    // One worker: a tick (its budget far shorter than a job) finishes the
    // jobs it claimed at once: worker_concurrency of them.
    work(&app)?;
    let one = completed(&app)?;
    check!(one == 2, "1 worker x 2: {one} per tick");
    let (code, body) = apply(&app, json!({"workers": 2, "dry_run": false}))?;
    check!(code == 200 && body["data"]["applied"] == true, "{body}");
    let s = status(&app)?;
    check!(
        s["current_workers"] == 2 && s["effective_concurrency"] == 4,
        "{s}"
    );
    work(&app)?;
    let two = completed(&app)? - one;
    check!(two == 4, "2 workers x 2: {two} per tick");
    // The change is audited.
    let resp = app
        .get("/api/audit/chain?action=scale.apply")
        .header("X-Dash-Key", &dash(&app))
        .send()?;
    let chain = expect_status(&resp, 200)?;
    check!(
        chain["data"]["entries"]
            .as_array()
            .is_some_and(|e| !e.is_empty()),
        "{chain}"
    );
    // The cron jobs run from their internal routes too.
    app.run_job("autoscale")?;
    app.run_job("anomaly")?;
    Ok(())
}
