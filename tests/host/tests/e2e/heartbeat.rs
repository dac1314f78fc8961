//! The heartbeat job: its cron tick, its HTTP trigger
//! (`POST /api/internal/cron/heartbeat`, cron-heartbeat), unknown jobs
//! (`POST /api/internal/cron/...`, api-health), and replicas.

use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, App, Env, Scenario};

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new("heartbeat_tick_makes_health_ok", tick_then_health),
    Scenario::new("heartbeat_http_trigger_runs_once_per_slot", http_trigger),
    Scenario::new("cron_route_needs_a_credential", needs_credential),
    Scenario::new("cron_unknown_job_is_404_after_auth", unknown_job),
    Scenario::configured("heartbeat_replicas_record_one_run", replicas),
];

fn tick_then_health(env: &Env) -> Result<()> {
    let app = env.app()?;
    app.run_job("heartbeat")?;
    let body = expect_status(&app.get("/health").send()?, 200)?;
    let hb = &body["data"]["heartbeat"];
    check!(hb["status"] == "ok", "heartbeat after a tick: {hb}");
    check!(
        hb["age_seconds"].as_i64().is_some_and(|a| a <= 180),
        "age: {hb}"
    );
    check!(
        body["data"]["status"] == "ok",
        "status after a tick: {}",
        body["data"]["status"]
    );
    if let Some(host) = app.host() {
        // The trigger-cron plugin's call: a second tick in the same minute
        // is fine (the runner answers already_done) and not an error.
        host.tick("cron-heartbeat")?.map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

fn http_trigger(env: &Env) -> Result<()> {
    let app = env.app()?;
    let token = app
        .cron_token
        .clone()
        .context("no cron token (set ECHOPILOT_E2E_CRON_TOKEN)")?;
    // Two calls in one minute: ran, then already_done. If the minute turns
    // between them, try again (bounded).
    for attempt in 0..3 {
        let first = expect_status(
            &app.post("/api/internal/cron/heartbeat")
                .bearer(&token)
                .send()?,
            200,
        )?;
        let second = expect_status(
            &app.post("/api/internal/cron/heartbeat")
                .bearer(&token)
                .send()?,
            200,
        )?;
        if first["data"]["slot"] != second["data"]["slot"] {
            if attempt < 2 {
                continue;
            }
            anyhow::bail!("the minute kept turning between calls");
        }
        let outcome = first["data"]["outcome"].as_str().unwrap_or_default();
        if app.is_isolated() {
            check!(outcome == "ran", "first call: {first}");
        } else {
            // A real spin up's cron trigger may have run this slot already.
            check!(
                matches!(outcome, "ran" | "already_done"),
                "first call: {first}"
            );
        }
        check!(
            second["data"]["outcome"] == "already_done",
            "second call: {second}"
        );
        check!(first["data"]["job"] == "heartbeat", "job: {first}");
        return Ok(());
    }
    unreachable!()
}

fn needs_credential(env: &Env) -> Result<()> {
    let app = env.app()?;
    let none = app.post("/api/internal/cron/heartbeat").send()?;
    check!(
        none.status == 401,
        "no credential: {} {}",
        none.status,
        none.text()
    );
    check!(
        none.error_code().as_deref() == Some("unauthorized"),
        "{}",
        none.text()
    );
    let wrong = app
        .post("/api/internal/cron/heartbeat")
        .bearer("not-the-token")
        .send()?;
    check!(wrong.status == 401, "wrong token: {}", wrong.status);
    let wrong_key = app
        .post("/api/internal/cron/heartbeat")
        .header("X-Dash-Key", "nope")
        .send()?;
    check!(
        wrong_key.status == 401,
        "wrong dashboard key: {}",
        wrong_key.status
    );
    if let Some(key) = &app.dashboard_key {
        let ok = app
            .post("/api/internal/cron/heartbeat")
            .header("X-Dash-Key", key)
            .send()?;
        check!(
            ok.status == 200,
            "dashboard key: {} {}",
            ok.status,
            ok.text()
        );
    }
    let get = app.get("/api/internal/cron/heartbeat").send()?;
    check!(get.status == 405, "GET on the cron route: {}", get.status);
    Ok(())
}

fn unknown_job(env: &Env) -> Result<()> {
    let app = env.app()?;
    let anonymous = app.post("/api/internal/cron/nope").send()?;
    check!(
        anonymous.status == 401,
        "unknown job without auth: {}",
        anonymous.status
    );
    let token = app.cron_token.clone().context("no cron token")?;
    let r = app.post("/api/internal/cron/nope").bearer(&token).send()?;
    check!(r.status == 404, "unknown job: {} {}", r.status, r.text());
    check!(
        r.error_code().as_deref() == Some("unknown_job"),
        "{}",
        r.text()
    );
    Ok(())
}

fn replicas(env: &Env) -> Result<()> {
    let data = tempfile::tempdir()?;
    let a = env.app_with(|b| b.data_dir(data.path()))?;
    let b = env.app_with(|b| b.data_dir(data.path()))?;
    // Both replicas are asked to run the heartbeat at the same moment, as
    // two schedulers would; if the minute turns between the two calls, the
    // slots differ and the race is tried again (bounded).
    let mut raced = None;
    for _ in 0..3 {
        let (ra, rb) = std::thread::scope(|s| {
            let ta = s.spawn(|| heartbeat_route(&a));
            let tb = s.spawn(|| heartbeat_route(&b));
            (ta.join(), tb.join())
        });
        let ra = ra.map_err(|_| anyhow::anyhow!("replica a panicked"))??;
        let rb = rb.map_err(|_| anyhow::anyhow!("replica b panicked"))??;
        if ra["slot"] == rb["slot"] {
            raced = Some((ra, rb));
            break;
        }
    }
    let (ra, rb) = raced.context("the minute kept turning between the two calls")?;
    let mut outcomes = [
        ra["outcome"].as_str().unwrap_or_default(),
        rb["outcome"].as_str().unwrap_or_default(),
    ];
    outcomes.sort();
    check!(
        outcomes == ["already_done", "ran"] || outcomes == ["in_progress", "ran"],
        "one replica runs the slot, the other finds it taken: {ra} {rb}"
    );
    let slot = ra["slot"].as_i64().unwrap_or_default();
    let db = rusqlite::Connection::open(data.path().join("sqlite_db.db"))?;
    let beats: i64 = db.query_row(
        "SELECT COUNT(*) FROM heartbeats WHERE slot = ?1",
        [slot],
        |r| r.get(0),
    )?;
    let runs: i64 = db.query_row(
        "SELECT COUNT(*) FROM scheduler_runs WHERE job = 'heartbeat' AND slot = ?1 AND status = 'succeeded'",
        [slot],
        |r| r.get(0),
    )?;
    let (all, slots): (i64, i64) = db.query_row(
        "SELECT COUNT(*), COUNT(DISTINCT slot) FROM heartbeats",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    check!(runs == 1, "succeeded runs for the slot: {runs}");
    check!(beats == 1, "heartbeats in the slot: {beats}");
    check!(all == slots, "{all} heartbeats in {slots} slots");
    // Both replicas see the same store.
    let ha = expect_status(
        &a.get("/health")
            .header("Cache-Control", "no-cache")
            .send()?,
        200,
    )?;
    let hb = expect_status(
        &b.get("/health")
            .header("Cache-Control", "no-cache")
            .send()?,
        200,
    )?;
    check!(
        ha["data"]["heartbeat"]["last_at"] == hb["data"]["heartbeat"]["last_at"],
        "replicas disagree"
    );
    Ok(())
}

/// `POST /api/internal/cron/heartbeat` with the cron token: the report.
fn heartbeat_route(app: &App) -> Result<serde_json::Value> {
    let token = app.cron_token.clone().context("no cron token")?;
    let resp = app
        .post("/api/internal/cron/heartbeat")
        .bearer(&token)
        .send()?;
    Ok(expect_status(&resp, 200)?["data"].clone())
}
