//! What only real Spin shows (`ECHOPILOT_E2E_RUNTIME=spin`): the
//! trigger-cron plugin driving every schedule of spin.toml, two `spin up`
//! replicas on one state directory under it, and the scale-out
//! configuration of docs/DEPLOY.md (key-value on Debian's `redis-server`
//! through a runtime-config file) with two replicas.

use crate::auth::kit::{
    call, expect_error, identity_vars, login, text, Cred, ADMIN_EMAIL, ADMIN_PASSWORD,
};
use crate::incidents::alert_vars;
use crate::support::{self, ai_vars, check_content_length, dash, submit};
use anyhow::{bail, Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::mock::{self, MockServer, Reply};
use echopilot_e2e::redis::RedisServer;
use echopilot_e2e::scenario::{expect_status, wait_for, App, Env, Scenario};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub const SCENARIOS: &[Scenario] = &[
    Scenario::spin_only("cron_plugin_runs_the_schedules_of_spin_toml", plugin),
    Scenario::spin_only("cron_plugin_replicas_run_each_slot_once", plugin_replicas),
    Scenario::spin_only(
        "redis_key_value_carries_sessions_and_revocations_across_replicas",
        redis_replicas,
    ),
];

/// Raise a CRITICAL incident whose first Telegram send fails (a 502), so
/// only a later run of cron-incidents can deliver it; its id.
fn raise_undelivered(app: &App, tg: &MockServer, message: &str) -> Result<String> {
    tg.enqueue(Reply::json(
        502,
        &json!({"ok": false, "description": "Bad Gateway"}),
    ));
    let resp = app
        .post("/api/incidents/raise")
        .header("X-Dash-Key", &dash(app))
        .json(&json!({"severity": "CRITICAL", "source": "e2e", "message": message}))
        .send()?;
    let body = expect_status(&resp, 201)?;
    let telegram = body["data"]["deliveries"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["channel"] == "telegram").cloned())
        .unwrap_or(Value::Null);
    check!(
        telegram["status"] == "pending",
        "the first send failed and waits for the incidents job: {telegram}"
    );
    Ok(body["data"]["incident"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// The Telegram delivery of incident `id`.
fn telegram_delivery(app: &App, id: &str) -> Result<Value> {
    let resp = app
        .get(&format!("/api/incidents/{id}"))
        .header("X-Dash-Key", &dash(app))
        .send()?;
    Ok(expect_status(&resp, 200)?["data"]["deliveries"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["channel"] == "telegram").cloned())
        .unwrap_or(Value::Null))
}

/// `by_status` of `GET /api/queue/status`.
fn queue(app: &App) -> Result<Value> {
    let resp = app
        .get("/api/queue/status")
        .header("X-Dash-Key", &dash(app))
        .send()?;
    Ok(expect_status(&resp, 200)?["data"]["by_status"].clone())
}

/// `(job, trigger) -> runs` of `scheduler_runs` in `data`'s database.
fn runs_by_trigger(data: &Path) -> Result<BTreeMap<(String, String), i64>> {
    let db = rusqlite::Connection::open(data.join("sqlite_db.db"))?;
    let mut stmt = db.prepare(
        "SELECT job, trigger, COUNT(*) FROM scheduler_runs WHERE status = 'succeeded' GROUP BY job, trigger",
    )?;
    let rows = stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// spin.toml unchanged, the plugin running every schedule: the heartbeat
/// advances minute by minute, the worker drains the jobs, cron-incidents
/// delivers what the raise could not, and the internal cron routes answer
/// beside the plugin.
fn plugin(env: &Env) -> Result<()> {
    let ai = support::openai()?;
    let (tg, mail) = (mock::telegram()?, mock::email()?);
    let app = env.app_with(|b| alert_vars(ai_vars(b, &ai), &tg, &mail, "300").scheduler(true))?;
    let ids: Vec<String> = (0..5)
        .map(|i| submit(&app, &json!({"brief": format!("scheduled brief {i}")})))
        .collect::<Result<_>>()?;
    let incident = raise_undelivered(&app, &tg, "Scheduled delivery check")?;

    // Bounded: the worker runs every 5 s, incidents every 30 s, the
    // heartbeat at second 0 of every minute; two beats take at most two
    // minutes.
    let mut beats = Vec::new();
    wait_for(Duration::from_secs(150), || {
        let h = expect_status(&app.get("/health").send().ok()?, 200).ok()?;
        if let Some(at) = h["data"]["heartbeat"]["last_at"].as_str() {
            if beats.last().map(String::as_str) != Some(at) {
                beats.push(at.to_string());
            }
        }
        let drained = queue(&app).ok()?["completed"] == ids.len();
        let sent = telegram_delivery(&app, &incident).ok()?["status"] == "sent";
        (drained && sent && beats.len() >= 2).then_some(())
    })
    .with_context(|| {
        format!(
            "beats seen {beats:?}, queue {:?}, telegram delivery {:?}",
            queue(&app).ok(),
            telegram_delivery(&app, &incident).ok()
        )
    })?;
    for id in &ids {
        let j = support::job(&app, id)?;
        check!(
            j["status"] == "completed" && j["attempts"] == 1,
            "{id}: {j}"
        );
    }
    let runs = runs_by_trigger(app.data_dir()?)?;
    for job in ["heartbeat", "worker", "incidents"] {
        check!(
            runs.get(&(job.to_string(), "cron".to_string())) > Some(&0),
            "no cron run of {job}: {runs:?}"
        );
    }

    // The internal routes work beside the plugin: a slot is run once,
    // whoever asks first.
    for job in ["heartbeat", "worker"] {
        let resp = app
            .post(&format!("/api/internal/cron/{job}"))
            .bearer(app.cron_token.as_deref().unwrap_or_default())
            .send()?;
        let report = expect_status(&resp, 200)?;
        let outcome = report["data"]["outcome"].as_str().unwrap_or_default();
        check!(
            matches!(outcome, "ran" | "already_done" | "in_progress"),
            "{job} through its route: {report}"
        );
    }

    // Every outbound body left with its length: the OpenAI calls (from the
    // cron trigger's process) and the Telegram and email sends.
    for r in ai.completions() {
        check_content_length("openai", &r)?;
    }
    for r in tg.requests().iter().chain(mail.requests().iter()) {
        check_content_length("alert", r)?;
    }
    Ok(())
}

/// Two `spin up` processes on one state directory, each with its cron
/// plugin: jobs submitted through both complete exactly once, and every
/// schedule slot runs once although both plugins fire it.
fn plugin_replicas(env: &Env) -> Result<()> {
    let ai = support::openai()?;
    let (tg, mail) = (mock::telegram()?, mock::email()?);
    let data = tempfile::tempdir()?;
    let start = || {
        env.app_with(|b| {
            alert_vars(ai_vars(b, &ai), &tg, &mail, "300")
                .variable("worker_concurrency", "4")
                .data_dir(data.path())
                .scheduler(true)
        })
    };
    let (a, b) = (start()?, start()?);
    let ids: Vec<String> = (0..40)
        .map(|i| {
            let app = if i % 2 == 0 { &a } else { &b };
            submit(app, &json!({"brief": format!("replicated brief {i}")}))
        })
        .collect::<Result<_>>()?;
    let incident = raise_undelivered(&a, &tg, "Replicated delivery check")?;
    let mut first_beat = None;
    wait_for(Duration::from_secs(150), || {
        let by_status = queue(&b).ok()?;
        let sent = telegram_delivery(&b, &incident).ok()?["status"] == "sent";
        let h = expect_status(&a.get("/health").send().ok()?, 200).ok()?;
        let beat = h["data"]["heartbeat"]["last_at"].as_str().map(String::from);
        first_beat = first_beat.take().or(beat);
        (by_status["completed"] == ids.len() && sent && first_beat.is_some()).then_some(())
    })
    .with_context(|| {
        format!(
            "queue {:?}, delivery {:?}, heartbeat {first_beat:?}",
            queue(&b).ok(),
            telegram_delivery(&b, &incident).ok()
        )
    })?;

    // One work call per job, one attempt each.
    support::check_one_work_call_each(&ai, ids.len())?;
    for id in &ids {
        let j = support::job(&a, id)?;
        check!(
            j["status"] == "completed" && j["attempts"] == 1,
            "{id}: {} after {} attempts",
            j["status"],
            j["attempts"]
        );
    }
    // The failed page was retried once, by one replica: a 502, then one send.
    check!(
        tg.requests().len() == 2,
        "Telegram got {} requests",
        tg.requests().len()
    );

    // Each slot ran once: one heartbeat per minute, and no slot of any job
    // claimed twice (both plugins fire every slot; the loser finds it taken).
    let db = rusqlite::Connection::open(data.path().join("sqlite_db.db"))?;
    let (beats, minutes): (i64, i64) = db.query_row(
        "SELECT COUNT(*), COUNT(DISTINCT slot) FROM heartbeats",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    check!(
        beats >= 1 && beats == minutes,
        "{beats} heartbeats in {minutes} minutes"
    );
    let twice: Vec<(String, i64, i64)> = db
        .prepare("SELECT job, slot, attempts FROM scheduler_runs WHERE attempts > 1")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    check!(twice.is_empty(), "slots claimed more than once: {twice:?}");
    let runs = runs_by_trigger(data.path())?;
    check!(
        runs.get(&("worker".to_string(), "cron".to_string())) > Some(&0),
        "the plugins ran the worker: {runs:?}"
    );
    Ok(())
}

/// docs/DEPLOY.md's runtime-config file, for this machine: its key-value
/// section with the local Redis's URL, and (libSQL cannot run here) the
/// database on a local SQLite file both replicas share.
fn deploy_runtime_config(root: &Path, redis_url: &str, database: &Path) -> Result<String> {
    let deploy = std::fs::read_to_string(root.join("docs/DEPLOY.md"))?;
    let block = deploy
        .split("```toml\n")
        .skip(1)
        .filter_map(|s| s.split("```").next())
        .find(|b| b.contains("[key_value_store.default]"))
        .context("docs/DEPLOY.md has no ```toml block with [key_value_store.default]")?;
    let mut doc: toml::Table = toml::from_str(block).context("DEPLOY.md's runtime config")?;
    let kv = doc
        .get_mut("key_value_store")
        .and_then(|k| k.get_mut("default"))
        .and_then(toml::Value::as_table_mut)
        .context("no [key_value_store.default]")?;
    if kv.get("type").and_then(toml::Value::as_str) != Some("redis") {
        bail!("DEPLOY.md's key-value store is not Redis: {kv:?}");
    }
    kv.insert("url".into(), redis_url.into());
    let mut sqlite = toml::Table::new();
    sqlite.insert("type".into(), "spin".into());
    sqlite.insert("path".into(), database.display().to_string().into());
    let mut databases = toml::Table::new();
    databases.insert("default".into(), sqlite.into());
    doc.insert("sqlite_database".into(), databases.into());
    Ok(toml::to_string(&doc)?)
}

/// Two replicas, each with its own state directory, configured as
/// docs/DEPLOY.md says: key-value on Redis, one shared database. A session
/// begun on one works on the other; a revocation made on one (in
/// key-value) refuses the token on the other; a password flood spread over
/// both meets one limit.
fn redis_replicas(env: &Env) -> Result<()> {
    let redis = RedisServer::start()?;
    let shared = tempfile::tempdir()?;
    let rc = shared.path().join("runtime-config.toml");
    std::fs::write(
        &rc,
        deploy_runtime_config(
            env.root(),
            &redis.url(),
            &shared.path().join("sqlite_db.db"),
        )?,
    )?;
    let start = || env.app_with(|b| identity_vars(b).runtime_config_file(&rc));
    let (a, b) = (start()?, start()?);
    let me = |app: &App, token: &str| {
        call(
            app,
            "GET",
            "/api/auth/me",
            &Cred::Bearer(token.into()),
            None,
        )
    };
    let refresh = |app: &App, token: &str| {
        app.post("/api/auth/refresh")
            .json(&json!({ "refresh_token": token }))
            .send()
    };

    // A session begun on A is good on B, and B rotates its refresh token.
    let first = login(&a, ADMIN_EMAIL, ADMIN_PASSWORD)?;
    let access = text(&first, "/access_token")?;
    expect_status(&me(&b, &access)?, 200).context("A's token on B")?;
    let r1 = text(&first, "/refresh_token")?;
    let second = expect_status(&refresh(&b, &r1)?, 200).context("refresh on B")?;
    let access2 = text(&second, "/data/access_token")?;
    expect_status(&me(&a, &access2)?, 200).context("B's token on A")?;
    // The spent refresh token again, on A: the family dies, and B refuses
    // its access token (the revocation list lives in key-value: Redis).
    expect_error(&refresh(&a, &r1)?, 401, "token_reused", "reuse on A")?;
    expect_error(
        &me(&b, &access2)?,
        401,
        "token_revoked",
        "after reuse, on B",
    )?;

    // Sign out on B; A refuses the token at once.
    let third = login(&b, ADMIN_EMAIL, ADMIN_PASSWORD)?;
    let access3 = text(&third, "/access_token")?;
    let out = call(
        &b,
        "POST",
        "/api/auth/logout",
        &Cred::Bearer(access3.clone()),
        None,
    )?;
    expect_status(&out, 200).context("logout on B")?;
    expect_error(
        &me(&a, &access3)?,
        401,
        "token_revoked",
        "signed out on B, on A",
    )?;

    // The revocations are in Redis, and no replica has a local store file.
    let revoked = redis.keys("*revoked*")?;
    check!(
        revoked.len() >= 2,
        "revocation entries in Redis: {revoked:?}"
    );
    for app in [&a, &b] {
        let local = app.data_dir()?.join("sqlite_key_value.db");
        check!(
            !local.exists(),
            "a local key-value file: {}",
            local.display()
        );
    }

    // Five sign-in attempts a minute per account, counted in the shared
    // database: guesses spread over both replicas meet the limit together.
    let mut statuses = Vec::new();
    for i in 0..10 {
        let app = if i % 2 == 0 { &a } else { &b };
        let resp = app
            .post("/api/auth/login")
            .json(&json!({ "email": ADMIN_EMAIL, "password": format!("wrong guess {i:02}") }))
            .send()?;
        statuses.push(resp.status);
        if resp.status == 429 {
            break;
        }
    }
    check!(
        statuses.last() == Some(&429) && statuses.len() <= 6,
        "one limit across the replicas: {statuses:?}"
    );
    Ok(())
}
