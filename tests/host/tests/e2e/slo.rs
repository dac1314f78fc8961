//! SLOs: `GET /api/slo/budget` in the seed's shape, and errors and latency
//! induced through the mock LLM moving the job SLO's alert, flipping
//! `/healthz/strict` to 503 and back (after a rebaseline), paging once
//! through the mock Telegram from the SLO job, repeats counted.

use anyhow::Result;
use echopilot_e2e::check;
use echopilot_e2e::mock::{self, Reply};
use echopilot_e2e::scenario::{expect_status, App, Env, Scenario};
use serde_json::{json, Value};
use std::time::Duration;

use crate::support::{ai_vars, dash, openai, submit, work};

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new("slo_budget_has_the_seed_shape", budget_shape),
    Scenario::host_only(
        "slo_llm_errors_and_latency_flip_strict_health_and_page_once",
        induced,
    ),
];

fn budget(app: &App) -> Result<Value> {
    let resp = app
        .get("/api/slo/budget")
        .header("X-Dash-Key", &dash(app))
        .send()?;
    Ok(expect_status(&resp, 200)?["data"].clone())
}

fn strict(app: &App) -> Result<(u16, Value)> {
    let resp = app.get("/healthz/strict").send()?;
    Ok((resp.status, resp.json()?))
}

fn budget_shape(env: &Env) -> Result<()> {
    let app = env.app()?;
    let b = budget(&app)?;
    for field in [
        "ts",
        "period_days",
        "error_rate",
        "remaining_budget_pct",
        "burn_rate_pct",
        "burn_alert",
    ] {
        check!(!b[field].is_null(), "{field} missing: {b}");
    }
    check!(b["slo_targets"]["p95_ms"].is_number(), "{b}");
    check!(b["slo_targets"]["p99_ms"].is_number(), "{b}");
    check!(
        b["slo_targets"]["daily_error_budget_pct"].is_number(),
        "{b}"
    );
    check!(
        b["availability"]["rules"].as_array().map(Vec::len) == Some(3),
        "three burn-rate rules: {b}"
    );
    check!(b["windows"]["1h"]["requests"].is_number(), "{b}");
    check!(b["deploy_gate"]["up"].is_boolean(), "{b}");
    if app.is_isolated() {
        check!(b["burn_alert"] == "OK", "a fresh host is OK: {b}");
        let (status, body) = strict(&app)?;
        check!(status == 200, "a fresh host is healthy: {body}");
    }
    check!(
        app.get("/api/slo/budget").send()?.status == 401,
        "the budget needs a credential"
    );
    Ok(())
}

fn rebaseline(app: &App) -> Result<Value> {
    let resp = app
        .post("/api/slo/rebaseline")
        .header("X-Dash-Key", &dash(app))
        .json(&json!({"reason": "e2e: incident over"}))
        .send()?;
    Ok(expect_status(&resp, 200)?["data"].clone())
}

fn induced(env: &Env) -> Result<()> {
    let ai = openai()?;
    let tg = mock::telegram()?;
    let app = env.app_with(|b| {
        ai_vars(b, &ai)
            .variable("slo_min_events", "3")
            .variable("slo_job_p95_ms", "300")
            .variable("telegram_bot_token", "42:e2e")
            .variable("telegram_chat_id", "7")
            .variable("telegram_base_url", tg.url())
    })?;
    // 1. The provider fails every work call (three tries each, 500 every
    // time): each job's round is a job error.
    for _ in 0..12 {
        ai.server
            .enqueue(Reply::json(500, &json!({"error": {"message": "induced"}})));
    }
    for i in 0..4 {
        submit(&app, &json!({"brief": format!("SLO brief {i}")}))?;
    }
    work(&app)?;
    let b = budget(&app)?;
    check!(
        b["windows"]["1h"]["job_errors"] == 4,
        "four failed rounds: {}",
        b["windows"]
    );
    check!(
        b["jobs"]["level"] == "CRITICAL",
        "100% errors on a 1% budget: {}",
        b["jobs"]
    );
    check!(
        b["burn_alert"] == "OK",
        "HTTP itself is fine: {}",
        b["burn_alert"]
    );
    let (status, body) = strict(&app)?;
    check!(status == 503, "strict health fails: {body}");
    check!(
        body["data"]["reasons"]
            .to_string()
            .contains("job processing burn is CRITICAL"),
        "{body}"
    );

    // 2. The SLO job pages once; a later run counts a repeat.
    let host = app.host().expect("host-only scenario");
    let now = echopilot_e2e::scenario::unix_now();
    host.tick_at("cron-slo", now)?
        .map_err(|e| anyhow::anyhow!("slo tick: {e}"))?;
    // cron-incidents delivers what the SLO job raised.
    host.tick_at("cron-incidents", now)?
        .map_err(|e| anyhow::anyhow!("incidents tick: {e}"))?;
    let pages = tg.wait_for_requests(1, Duration::from_secs(10));
    check!(pages.len() == 1, "one page: {}", pages.len());
    check!(
        pages[0].json()["text"]
            .as_str()
            .unwrap_or_default()
            .contains("job processing"),
        "{}",
        pages[0].json()
    );
    host.tick_at("cron-slo", now + 900)?
        .map_err(|e| anyhow::anyhow!("slo tick: {e}"))?;
    host.tick_at("cron-incidents", now + 30)?
        .map_err(|e| anyhow::anyhow!("incidents tick: {e}"))?;
    check!(
        tg.requests().len() == 1,
        "the repeat is counted, not re-sent"
    );
    let list = app
        .get("/api/incidents?source=slo")
        .header("X-Dash-Key", &dash(&app))
        .send()?;
    let list = expect_status(&list, 200)?;
    let first = &list["data"]["incidents"][0];
    check!(first["repeat_count"] == 1, "{list}");

    // 3. After the fix an operator rebaselines: strict health is back.
    let b = rebaseline(&app)?;
    check!(b["jobs"]["level"] == "OK", "{}", b["jobs"]);
    let (status, body) = strict(&app)?;
    check!(status == 200, "recovered: {body}");

    // 4. A slow model breaks the job latency SLO (300 ms for a round).
    ai.set_delay(Duration::from_millis(250));
    for i in 0..3 {
        submit(&app, &json!({"brief": format!("slow brief {i}")}))?;
    }
    work(&app)?;
    let b = budget(&app)?;
    check!(
        b["job_latency_1h"]["breached"] == true,
        "{}",
        b["job_latency_1h"]
    );
    check!(
        b["job_latency_1h"]["p95_ms"]
            .as_f64()
            .is_some_and(|p| p > 300.0),
        "{}",
        b["job_latency_1h"]
    );
    let (status, body) = strict(&app)?;
    check!(status == 503, "{body}");
    check!(
        body["data"]["reasons"].to_string().contains("slower"),
        "{body}"
    );
    ai.set_delay(Duration::ZERO);
    rebaseline(&app)?;
    let (status, body) = strict(&app)?;
    check!(status == 200, "and back: {body}");
    Ok(())
}
