//! The heartbeat job: its cron tick, its HTTP trigger
//! (`POST /api/internal/cron/heartbeat`, cron-heartbeat), unknown jobs
//! (`POST /api/internal/cron/...`, api-health), and replicas.

use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, Env, Scenario, TEST_CRON_TOKEN};
use echopilot_e2e::Host;

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new("heartbeat_tick_makes_health_ok", tick_then_health),
    Scenario::new("heartbeat_http_trigger_runs_once_per_slot", http_trigger),
    Scenario::new("cron_route_needs_a_credential", needs_credential),
    Scenario::new("cron_unknown_job_is_404_after_auth", unknown_job),
    Scenario::host_only("heartbeat_replicas_record_one_run", replicas),
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
        if app.host().is_some() {
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
    let start = || {
        Host::builder(env.root())
            .data_dir(data.path())
            .variable("cron_token", TEST_CRON_TOKEN)
            .start()
    };
    let (a, b) = (start()?, start()?);
    env.watch(&a);
    env.watch(&b);
    // Ten seconds into the current minute, so the two timestamps below
    // never straddle a minute (a straddle makes the second slot an
    // `overlap` while the first still runs, which is right but not this
    // scenario's point).
    let now = echopilot_e2e::scenario::unix_now() / 60 * 60 + 10;
    // Both replicas tick the same minute at the same time, as two cron
    // processes would.
    let (ra, rb) = std::thread::scope(|s| {
        let ta = s.spawn(|| a.tick_at("cron-heartbeat", now));
        let tb = s.spawn(|| b.tick_at("cron-heartbeat", now + 1));
        (ta.join(), tb.join())
    });
    ra.map_err(|_| anyhow::anyhow!("replica a panicked"))??
        .map_err(anyhow::Error::msg)?;
    rb.map_err(|_| anyhow::anyhow!("replica b panicked"))??
        .map_err(anyhow::Error::msg)?;
    let slot = (now / 60) as i64;
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
    let slots_seen: i64 = db.query_row("SELECT COUNT(DISTINCT slot) FROM heartbeats", [], |r| {
        r.get(0)
    })?;
    check!(runs == 1, "succeeded runs for the slot: {runs}");
    check!(slots_seen == 1, "slots with a heartbeat: {slots_seen}");
    check!(beats == 1, "heartbeats in the slot: {beats}");
    // Both replicas see the same store.
    let ha = expect_status(
        &echopilot_e2e::Client::new(a.base_url())
            .get("/health")
            .send()?,
        200,
    )?;
    let hb = expect_status(
        &echopilot_e2e::Client::new(b.base_url())
            .get("/health")
            .send()?,
        200,
    )?;
    check!(
        ha["data"]["heartbeat"]["last_at"] == hb["data"]["heartbeat"]["last_at"],
        "replicas disagree"
    );
    Ok(())
}
