//! Restore and disaster recovery: a backup restores into scratch with equal
//! counts and hashes (`POST /api/dr/restore`), a confirmed restore is
//! refused with the operator's steps, a drill asked for from the console is
//! run by cron-dr and reported by `GET /api/dr/last` (and at the seeds'
//! `GET /api/ops/dr/last`, which Spin must route to api-dr before the
//! `/api/ops/...` wildcard), and a corrupted backup fails the check and the
//! drill, which pages.

use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, App, Env, Scenario};
use serde_json::{json, Value};

use crate::support::{console, dash, submit};

pub const SCENARIOS: &[Scenario] = &[Scenario::new(
    "dr_restores_into_scratch_drills_and_detects_corruption",
    restore_and_drill,
)];

fn restore(app: &App, key: &str, body: Value, status: u16) -> Result<Value> {
    let resp = app
        .post("/api/dr/restore")
        .header("X-Dash-Key", key)
        .json(&body)
        .send()?;
    expect_status(&resp, status)
}

fn last(app: &App, key: &str, path: &str) -> Result<Value> {
    let resp = app.get(path).header("X-Dash-Key", key).send()?;
    Ok(expect_status(&resp, 200)?["data"].clone())
}

fn restore_and_drill(env: &Env) -> Result<()> {
    let app = env.app()?;
    let key = dash(&app);
    submit(
        &app,
        &json!({"brief": "A job the restore must bring back: 'quoted'; ok"}),
    )?;
    let taken = console(
        &app,
        &key,
        json!({"command": "run_backup", "confirm": true}),
    )?;
    let backup = taken["data"]["result"]["backup"]["id"]
        .as_str()
        .context("backup id")?
        .to_string();

    // A dry run restores the latest backup into scratch and compares it.
    let dry = restore(&app, &key, json!({}), 200)?;
    let run = &dry["data"]["run"];
    check!(run["status"] == "ok", "{dry}");
    check!(run["backup_id"] == backup.as_str(), "{dry}");
    let tables = run["check"]["tables"].as_array().context("tables")?;
    let jobs = tables
        .iter()
        .find(|t| t["table"] == "jobs")
        .context("jobs compared")?;
    check!(
        jobs["ok"] == true
            && jobs["restored_rows"].as_i64() >= Some(1)
            && jobs["restored_sha256"] == jobs["expected_sha256"]
            && jobs["expected_sha256"].as_str().map(str::len) == Some(64),
        "{jobs}"
    );

    // Confirmed: refused with the procedure, after checking that backup.
    let refused = restore(
        &app,
        &key,
        json!({"backup_id": backup, "confirm": true}),
        409,
    )?;
    check!(
        refused["error"]["code"] == "restore_requires_downtime",
        "{refused}"
    );
    let steps = refused["error"]["details"]["steps"]
        .as_array()
        .context("steps")?;
    check!(
        steps
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.contains("sqlite3"))),
        "{refused}"
    );
    // The off-machine copy, when shipping is not configured: 409, saying so.
    let offsite = restore(&app, &key, json!({"source": "offsite"}), 409)?;
    check!(
        offsite["error"]["code"] == "offsite_not_configured",
        "{offsite}"
    );
    let status = last(&app, &key, "/api/dr/last")?;
    check!(status["offsite"]["configured"] == false, "{status}");
    let anonymous = app.post("/api/dr/restore").json(&json!({})).send()?;
    check!(anonymous.status == 401, "{}", anonymous.status);

    // The console asks for a drill; cron-dr runs it; both paths report it.
    let asked = console(&app, &key, json!({"command": "run_drill", "confirm": true}))?;
    let drill = asked["data"]["result"]["drill"]["id"]
        .as_str()
        .context("drill id")?
        .to_string();
    app.run_job("dr")?;
    let status = last(&app, &key, "/api/dr/last")?;
    check!(status["drill"]["id"] == drill.as_str(), "{status}");
    check!(status["drill"]["status"] == "ok", "{status}");
    check!(
        status["drill"]["duration_ms"].as_i64().is_some(),
        "{status}"
    );
    check!(status["backup"]["id"] == backup.as_str(), "{status}");
    check!(status["verification"]["status"] == "ok", "{status}");
    check!(status["pending_drill"].is_null(), "{status}");
    let seeds = last(&app, &key, "/api/ops/dr/last")?;
    check!(
        seeds["drill"]["id"] == drill.as_str() && seeds["next_drill_at"].is_string(),
        "/api/ops/dr/last is api-dr's: {seeds}"
    );

    // A corrupted backup: the check fails, and so does the drill, which pages.
    let db = rusqlite::Connection::open(app.data_dir()?.join("sqlite_db.db"))?;
    db.busy_timeout(std::time::Duration::from_secs(10))?;
    db.execute(
        "UPDATE backup_chunks SET data = zeroblob(length(data)) WHERE backup_id = ?1 AND seq = 0",
        [backup.as_str()],
    )?;
    drop(db);
    let bad = restore(&app, &key, json!({"backup_id": backup}), 200)?;
    check!(bad["data"]["run"]["status"] == "failed", "{bad}");
    check!(
        bad["data"]["run"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("corrupt")),
        "{bad}"
    );
    console(&app, &key, json!({"command": "run_drill", "confirm": true}))?;
    app.run_job_in_own_slot("dr")?;
    let status = last(&app, &key, "/api/dr/last")?;
    check!(status["drill"]["status"] == "failed", "{status}");
    let paged = app
        .get("/api/incidents?source=dr")
        .header("X-Dash-Key", &key)
        .send()?;
    let paged = expect_status(&paged, 200)?;
    check!(
        paged["data"]["incidents"]
            .as_array()
            .is_some_and(|l| l.iter().any(|i| i["severity"] == "CRITICAL")),
        "{paged}"
    );
    Ok(())
}
