//! Off-machine backups against a real S3 implementation on loopback (moto's
//! server): cron-backup ships every verified backup (file and manifest),
//! the objects are in the bucket (listed through moto, not the app), the
//! store's retention keeps the newest `backup_s3_keep`, a restore from the
//! off-machine copy into scratch matches, a drill uses the off-machine copy,
//! an object overwritten in the store is detected, and a missing bucket
//! shows in DR status, in the restore and in the security scan.

use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::moto::MotoServer;
use echopilot_e2e::scenario::{expect_status, App, Env, Scenario};
use serde_json::{json, Value};

use crate::support::{console, dash, submit};

pub const SCENARIOS: &[Scenario] = &[Scenario::configured(
    "offsite_backups_ship_to_s3_and_restore_from_there",
    ship_and_restore,
)];

const BUCKET: &str = "echopilot-dr";
const PREFIX: &str = "echopilot/";

fn restore(app: &App, key: &str, body: Value) -> Result<Value> {
    let resp = app
        .post("/api/dr/restore")
        .header("X-Dash-Key", key)
        .json(&body)
        .send()?;
    Ok(expect_status(&resp, 200)?["data"]["run"].clone())
}

fn dr_status(app: &App, key: &str) -> Result<Value> {
    let resp = app.get("/api/dr/last").header("X-Dash-Key", key).send()?;
    Ok(expect_status(&resp, 200)?["data"].clone())
}

fn backup_id(taken: &Value) -> Result<String> {
    Ok(taken["data"]["result"]["backup"]["id"]
        .as_str()
        .context("backup id")?
        .to_string())
}

fn ship_and_restore(env: &Env) -> Result<()> {
    let Some(moto) = MotoServer::start(env.root())? else {
        return Ok(());
    };
    moto.create_bucket(BUCKET)?;
    let vars = moto.variables(BUCKET, "2");
    let app = env.app_with(|b| vars.iter().fold(b, |b, (k, v)| b.variable(k, v.clone())))?;
    let key = dash(&app);
    submit(
        &app,
        &json!({"brief": "A job the off-machine copy must bring back"}),
    )?;

    // Two backups from the console, then the nightly run takes a third and
    // ships all three (newest first); retention keeps two in the store.
    let first = backup_id(&console(
        &app,
        &key,
        json!({"command": "run_backup", "confirm": true}),
    )?)?;
    let second = backup_id(&console(
        &app,
        &key,
        json!({"command": "run_backup", "confirm": true}),
    )?)?;
    app.run_job("backup")?;
    let status = dr_status(&app, &key)?;
    let offsite = &status["offsite"];
    let third = status["backup"]["id"]
        .as_str()
        .context("latest")?
        .to_string();
    check!(third != second && third != first, "{status}");
    check!(offsite["configured"] == true, "{offsite}");
    check!(
        offsite["location"] == format!("s3://{BUCKET}/{PREFIX}").as_str(),
        "{offsite}"
    );
    check!(
        offsite["last_shipped"]["backup_id"] == third.as_str(),
        "{offsite}"
    );
    check!(
        offsite["failures"].as_array().is_some_and(Vec::is_empty) && offsite["stale"] == false,
        "{offsite}"
    );

    // In the bucket, seen through moto: the two newest, each with its manifest.
    let keys = moto.keys(BUCKET, PREFIX)?;
    check!(keys.len() == 4, "{keys:?}");
    for id in [&second, &third] {
        check!(
            keys.iter().filter(|k| k.contains(id.as_str())).count() == 2,
            "{id} and its manifest: {keys:?}"
        );
    }
    check!(
        !keys.iter().any(|k| k.contains(first.as_str())),
        "retention: {keys:?}"
    );
    let object = keys
        .iter()
        .find(|k| k.contains(third.as_str()) && k.ends_with(".sql.gz"))
        .context("the newest object")?
        .clone();
    let download = app
        .get(&format!("/api/backups/{third}/download"))
        .header("X-Dash-Key", &key)
        .send()?;
    check!(download.status == 200, "download: {}", download.status);
    check!(
        moto.get(BUCKET, &object)? == download.body,
        "the object is the backup's bytes exactly"
    );
    let manifest: Value =
        serde_json::from_slice(&moto.get(BUCKET, &format!("{object}.manifest.json"))?)?;
    check!(
        manifest["id"] == third.as_str() && manifest["table_hashes"].is_object(),
        "{manifest}"
    );

    // Restored from the store into scratch: equal counts and hashes.
    let run = restore(&app, &key, json!({"source": "offsite"}))?;
    check!(run["status"] == "ok", "{run}");
    check!(
        run["source"] == "offsite"
            && run["object_key"] == object.as_str()
            && run["backup_id"] == third.as_str(),
        "{run}"
    );
    let jobs = run["check"]["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["table"] == "jobs"))
        .context("jobs compared")?;
    check!(
        jobs["ok"] == true && jobs["restored_rows"].as_i64() >= Some(1),
        "{jobs}"
    );
    let older = restore(
        &app,
        &key,
        json!({"source": "offsite", "backup_id": second}),
    )?;
    check!(
        older["status"] == "ok" && older["backup_id"] == second.as_str(),
        "{older}"
    );
    let gone = restore(&app, &key, json!({"source": "offsite", "backup_id": first}))?;
    check!(
        gone["status"] == "failed"
            && gone["error"]
                .as_str()
                .is_some_and(|e| e.contains("is not in s3://")),
        "{gone}"
    );

    // A drill restores the off-machine copy (the disk is gone).
    console(&app, &key, json!({"command": "run_drill", "confirm": true}))?;
    app.run_job("dr")?;
    let drill = &dr_status(&app, &key)?["drill"];
    check!(
        drill["status"] == "ok" && drill["source"] == "offsite",
        "{drill}"
    );
    check!(drill["object_key"] == object.as_str(), "{drill}");

    // An object overwritten in the store: its SHA-256 gives it away.
    let mut damaged = download.body.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0xff;
    moto.put(BUCKET, &object, damaged)?;
    let bad = restore(&app, &key, json!({"source": "offsite"}))?;
    check!(bad["status"] == "failed", "{bad}");
    check!(
        bad["error"]
            .as_str()
            .is_some_and(|e| e.contains("does not match what was shipped")),
        "{bad}"
    );

    // A bucket that does not exist: the shipment fails, DR status and the
    // restore say why, and the security scan names it.
    let vars = moto.variables("no-such-bucket", "2");
    let missing = env.app_with(|b| vars.iter().fold(b, |b, (k, v)| b.variable(k, v.clone())))?;
    let key = dash(&missing);
    missing.run_job("backup")?;
    let offsite = dr_status(&missing, &key)?["offsite"].clone();
    let failure = &offsite["failures"][0];
    check!(
        failure["attempts"] == 1
            && failure["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("404 NoSuchBucket")),
        "{offsite}"
    );
    check!(offsite["last_shipped"].is_null(), "{offsite}");
    let shown = offsite.to_string();
    check!(
        !shown.contains(echopilot_e2e::moto::SECRET_ACCESS_KEY)
            && !shown.contains(echopilot_e2e::moto::ACCESS_KEY_ID),
        "no key in DR status: {shown}"
    );
    let run = restore(&missing, &key, json!({"source": "offsite"}))?;
    check!(
        run["status"] == "failed"
            && run["error"]
                .as_str()
                .is_some_and(|e| e.contains("NoSuchBucket")),
        "{run}"
    );
    let scan = missing
        .get("/api/security/scan")
        .header("X-Dash-Key", &key)
        .send()?;
    let scan = expect_status(&scan, 200)?;
    check!(
        scan["data"]["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| {
                f["check"] == "backups_not_shipped"
                    && f["problem"]
                        .as_str()
                        .is_some_and(|p| p.contains("NoSuchBucket"))
            })),
        "{scan}"
    );
    Ok(())
}
