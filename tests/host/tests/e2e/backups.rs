//! Backups: the console's `run_backup` takes, stores and verifies one; the
//! file downloads with its SHA-256 and restores with SQLite into a database
//! that holds the job submitted before; cron-backup takes the nightly one;
//! `verify_backup` re-checks it.

use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, Env, Scenario};
use serde_json::json;
use std::io::Read;

use crate::support::{console, dash, submit};

pub const SCENARIOS: &[Scenario] = &[Scenario::new(
    "backups_are_taken_verified_downloaded_and_restore",
    backups,
)];

fn backups(env: &Env) -> Result<()> {
    let app = env.app()?;
    let key = dash(&app);
    let job = submit(
        &app,
        &json!({"brief": "Brief that must survive a restore: it's 'quoted'; and\nmultiline"}),
    )?;

    // The dry run says what a backup would hold and takes none.
    let dry = console(&app, &key, json!({"command": "run_backup"}))?;
    let plan = &dry["data"]["result"]["plan"];
    check!(plan["tables"]["jobs"].as_i64() >= Some(1), "{plan}");
    let before = app.get("/api/backups").header("X-Dash-Key", &key).send()?;
    let before = expect_status(&before, 200)?["data"]["backups"]
        .as_array()
        .map_or(0, Vec::len);

    let done = console(
        &app,
        &key,
        json!({"command": "run_backup", "confirm": true}),
    )?;
    let manifest = &done["data"]["result"]["backup"];
    check!(
        done["data"]["result"]["verification"]["status"] == "ok",
        "{done}"
    );
    let id = manifest["id"].as_str().context("backup id")?.to_string();
    let listed = app.get("/api/backups").header("X-Dash-Key", &key).send()?;
    let listed = expect_status(&listed, 200)?;
    check!(
        listed["data"]["backups"].as_array().map_or(0, Vec::len) == before + 1,
        "{listed}"
    );
    check!(
        listed["data"]["backups"][0]["id"] == id.as_str(),
        "newest first: {listed}"
    );
    let one = app
        .get(&format!("/api/backups/{id}"))
        .header("X-Dash-Key", &key)
        .send()?;
    check!(
        expect_status(&one, 200)?["data"]["verify_status"] == "ok",
        "verified"
    );

    // The file: its hash in a header, gzip, and a dump SQLite restores.
    let file = app
        .get(&format!("/api/backups/{id}/download"))
        .header("X-Dash-Key", &key)
        .send()?;
    check!(file.status == 200, "download: {}", file.status);
    check!(
        file.header("content-type") == Some("application/gzip"),
        "{:?}",
        file.headers
    );
    check!(
        file.header("content-disposition")
            .is_some_and(|d| d.contains(".sql.gz")),
        "{:?}",
        file.headers
    );
    check!(
        file.body.len() as i64 == manifest["bytes"].as_i64().unwrap_or(-1),
        "size"
    );
    let mut sql = String::new();
    flate2::read::GzDecoder::new(&file.body[..]).read_to_string(&mut sql)?;
    let dir = tempfile::tempdir()?;
    let restored = rusqlite::Connection::open(dir.path().join("restored.db"))?;
    restored.execute_batch(&sql)?;
    let brief: String = restored.query_row(
        "SELECT brief FROM jobs WHERE id = ?1",
        [job.as_str()],
        |r| r.get(0),
    )?;
    check!(brief.contains("it's 'quoted'; and\nmultiline"), "{brief}");
    let samples: i64 =
        restored.query_row("SELECT COUNT(*) FROM request_samples", [], |r| r.get(0))?;
    check!(
        samples == 0,
        "raw request samples are left out (schema only)"
    );

    // Unknown ids are 404; the nightly job takes one more; verify re-checks.
    let missing = app
        .get("/api/backups/bak_nope")
        .header("X-Dash-Key", &key)
        .send()?;
    check!(missing.status == 404, "{}", missing.status);
    app.run_job("backup")?;
    let verified = console(
        &app,
        &key,
        json!({"command": "verify_backup", "args": {"id": id}, "confirm": true}),
    )?;
    check!(
        verified["data"]["result"]["verification"]["status"] == "ok",
        "{verified}"
    );
    Ok(())
}
