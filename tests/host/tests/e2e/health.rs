//! `GET /health` and `GET /api/version` (api-health).

use anyhow::Result;
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, Env, Scenario};
use serde_json::Value;

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new("health_reports_build_store_and_heartbeat", health_fields),
    Scenario::new("version_reports_the_build", version),
    // configured: it sets the worker's variables, which an external
    // server does not take from the scenario.
    Scenario::configured(
        "health_names_a_variable_the_worker_cannot_run_with",
        misconfigured_worker,
    ),
];

fn check_build(data: &Value) -> Result<()> {
    check!(data["version"].is_string(), "version missing: {data}");
    let sha = data["git_sha"].as_str().unwrap_or_default();
    check!(
        sha == "unknown" || (sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit())),
        "git_sha is not a sha: {sha:?}"
    );
    check!(data["dirty"].is_boolean(), "dirty missing: {data}");
    check!(data["build_time"].is_string(), "build_time missing: {data}");
    Ok(())
}

fn health_fields(env: &Env) -> Result<()> {
    let app = env.app()?;
    let resp = app.get("/health").send()?;
    let body = expect_status(&resp, 200)?;
    check!(body["ok"] == true, "not an ok envelope: {body}");
    let data = &body["data"];
    check!(
        matches!(data["status"].as_str(), Some("ok" | "degraded")),
        "status: {}",
        data["status"]
    );
    check!(
        data["service"] == "echopilot",
        "service: {}",
        data["service"]
    );
    check_build(data)?;
    check!(data["time"].is_string(), "time missing");
    let store = &data["store"];
    check!(store["status"] == "ok", "store: {store}");
    check!(
        store["schema_version"].as_i64().unwrap_or(0) >= 1,
        "schema_version: {store}"
    );
    check!(
        store["uptime_seconds"].as_i64().is_some_and(|s| s >= 0),
        "uptime: {store}"
    );
    check!(
        store["initialized_at"].is_string(),
        "initialized_at: {store}"
    );
    let hb = &data["heartbeat"];
    check!(
        matches!(hb["status"].as_str(), Some("ok" | "stale" | "never")),
        "heartbeat: {hb}"
    );
    if app.is_isolated() {
        // A fresh data directory: no heartbeat yet, so the app is degraded.
        check!(hb["status"] == "never", "fresh host heartbeat: {hb}");
        check!(
            data["status"] == "degraded",
            "fresh host status: {}",
            data["status"]
        );
    }
    check!(
        resp.header("content-type") == Some("application/json"),
        "content-type: {:?}",
        resp.header("content-type")
    );
    Ok(())
}

fn version(env: &Env) -> Result<()> {
    let app = env.app()?;
    let resp = app.get("/api/version").send()?;
    let body = expect_status(&resp, 200)?;
    check_build(&body["data"])?;
    let health = expect_status(&app.get("/health").send()?, 200)?;
    check!(
        health["data"]["git_sha"] == body["data"]["git_sha"],
        "health and version disagree on the sha"
    );
    let head = app.request("HEAD", "/api/version").send()?;
    check!(
        head.status == 200 && head.body.is_empty(),
        "HEAD: {}",
        head.status
    );
    Ok(())
}

/// `openai_base_url` in the form OpenAI-compatible servers document (with
/// `/v1`) cannot work under Spin: the worker fails, and `/health` says so
/// with the variable and the two settings that work, never the key.
fn misconfigured_worker(env: &Env) -> Result<()> {
    let app = env.app_with(|b| {
        b.variable("openai_api_key", "sk-e2e-never-shown")
            .variable("openai_base_url", "http://127.0.0.1:11434/v1")
    })?;
    let before = expect_status(&app.get("/health").send()?, 200)?;
    check!(
        before["data"]["configuration"]["status"] == "ok",
        "before the worker ran: {before}"
    );
    check!(
        app.run_job("worker").is_err(),
        "the worker ran with a path in the origin"
    );
    // Right after the change: ask past the one-second micro-cache.
    let resp = app
        .get("/health")
        .header("Cache-Control", "no-cache")
        .send()?;
    let body = expect_status(&resp, 200)?;
    let data = &body["data"];
    check!(data["status"] == "degraded", "status: {data}");
    let config = &data["configuration"];
    check!(config["status"] == "invalid", "configuration: {config}");
    let problem = &config["problems"][0];
    check!(problem["job"] == "worker", "{problem}");
    check!(problem["variable"] == "openai_base_url", "{problem}");
    let expected = problem["expected"].as_str().unwrap_or_default();
    check!(
        expected.contains("openai_base_url=http://127.0.0.1:11434")
            && expected.contains("openai_chat_path=/v1/chat/completions"),
        "the fix: {expected}"
    );
    check!(
        !resp.text().contains("sk-e2e-never-shown"),
        "/health shows the key: {}",
        resp.text()
    );
    Ok(())
}
