//! Cost guardrails: a cap breach makes the worker really throttle
//! (non-critical jobs wait, snoozed not failed; a critical job still runs),
//! the hourly job raises the CRITICAL, and raising the cap lifts it.

use anyhow::Result;
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, App, Env, Scenario};
use serde_json::{json, Value};

use crate::support::{ai_vars, dash, job, openai, submit, work};

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new("costs_status_has_the_seed_shape", shape),
    Scenario::configured("costs_a_cap_breach_throttles_the_worker", throttles),
];

fn status(app: &App) -> Result<Value> {
    let resp = app
        .get("/api/costs/status")
        .header("X-Dash-Key", &dash(app))
        .send()?;
    Ok(expect_status(&resp, 200)?["data"].clone())
}

fn shape(env: &Env) -> Result<()> {
    let app = env.app()?;
    let s = status(&app)?;
    for field in [
        "ts",
        "period_hours",
        "total_spent_usd",
        "daily_cap_usd",
        "global_utilization_pct",
        "by_model",
        "alert_level",
        "action",
    ] {
        check!(!s[field].is_null(), "{field} missing: {s}");
    }
    let resp = app
        .post("/api/costs/set-cap")
        .header("X-Dash-Key", &dash(&app))
        .json(&json!({"scope": "global", "cap_usd": -1}))
        .send()?;
    check!(
        resp.status == 422,
        "a negative cap: {} {}",
        resp.status,
        resp.text()
    );
    check!(
        app.get("/api/costs/status").send()?.status == 401,
        "needs a credential"
    );
    Ok(())
}

fn throttles(env: &Env) -> Result<()> {
    let ai = openai()?;
    let app = env.app_with(|b| ai_vars(b, &ai))?;
    let key = dash(&app);
    // A first job spends something; then an admin sets the daily cap under
    // what has been spent today.
    let first = submit(&app, &json!({"brief": "Write the first update"}))?;
    work(&app)?;
    let j = job(&app, &first)?;
    check!(j["status"] == "completed", "the first job ran: {j}");
    let spent = status(&app)?["total_spent_usd"].as_f64().unwrap_or(0.0);
    check!(spent > 0.0, "spend recorded: {spent}");
    let resp = app
        .post("/api/costs/set-cap")
        .header("X-Dash-Key", &key)
        .json(&json!({"scope": "global", "cap_usd": spent / 2.0}))
        .send()?;
    expect_status(&resp, 200)?;
    let s = status(&app)?;
    check!(
        s["alert_level"] == "CRITICAL" && s["action"] == "THROTTLE",
        "{s}"
    );

    // Now normal jobs wait; a critical one still runs.
    let waiting = submit(&app, &json!({"brief": "Write the second update"}))?;
    let resp = app
        .post("/api/queue/enqueue")
        .header("X-Dash-Key", &key)
        .json(&json!({"brief": "Urgent: customer escalation reply", "priority": "critical"}))
        .send()?;
    let critical = expect_status(&resp, 201)?["data"]["job"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let calls_before = ai.completions().len();
    work(&app)?;
    let w = job(&app, &waiting)?;
    check!(w["status"] == "queued", "snoozed, not failed: {w}");
    check!(w["attempts"] == 0, "no attempt spent: {w}");
    check!(
        w["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("cost cap")),
        "says why: {w}"
    );
    check!(
        job(&app, &critical)?["status"] == "completed",
        "critical work goes on"
    );
    check!(
        ai.completions().len() == calls_before + 2,
        "only the critical job called the model"
    );

    // The hourly check raises the CRITICAL incident.
    app.run_job("costs")?;
    let resp = app
        .get("/api/incidents?source=costs")
        .header("X-Dash-Key", &key)
        .send()?;
    let list = expect_status(&resp, 200)?;
    check!(
        list["data"]["incidents"]
            .as_array()
            .is_some_and(|a| a.iter().any(|i| i["severity"] == "CRITICAL")),
        "{list}"
    );

    // An admin raises the cap: the status clears.
    let resp = app
        .post("/api/costs/set-cap")
        .header("X-Dash-Key", &key)
        .json(&json!({"scope": "global", "cap_usd": 1000}))
        .send()?;
    let after = expect_status(&resp, 200)?;
    check!(after["data"]["action"] == "NONE", "{after}");
    Ok(())
}
