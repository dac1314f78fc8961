//! Restore and disaster recovery against real SQLite: a backup restores
//! into a scratch database with equal row counts and content hashes per
//! table, leaving the live database untouched; a doctored or corrupted
//! backup fails the check (and a failed drill pages); statements the dump
//! format does not write are refused; drills run weekly and on request;
//! the API answers admins only and refuses to replace the live database.

mod support;

use echopilot_core::adapters::native::{ManualClock, SqliteDb};
use echopilot_core::backup;
use echopilot_core::dr::{self, api::APP, Kind, Status};
use echopilot_core::http::{Method, Request};
use echopilot_core::params;
use echopilot_core::ports::{Db, DbExt, Env, Value};
use echopilot_core::scheduler::{run, Trigger};
use echopilot_core::time::DAY_MS;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use futures::executor::block_on;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use support::*;

fn file_env(dir: &std::path::Path) -> Env {
    file_env_clock(dir).0
}

fn file_env_clock(dir: &std::path::Path) -> (Env, ManualClock) {
    env_with(
        SqliteDb::open(dir.join("app.db")).unwrap(),
        &[("dashboard_key", DASH_KEY)],
    )
}

fn count(db: &dyn Db, sql: &str) -> i64 {
    db.query_one(sql, &[]).unwrap().i64(0).unwrap()
}

/// Rows of every shape the dump writes, in tables of every kind.
fn populate(env: &Env) {
    let db = env.db.as_ref();
    for sql in [
        "CREATE TABLE odd (id INTEGER PRIMARY KEY, v)",
        "CREATE TABLE pairs (a TEXT, b INTEGER, PRIMARY KEY (a, b)) WITHOUT ROWID",
        "CREATE TABLE counters (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT UNIQUE)",
        "CREATE TABLE gen (a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL)",
        "CREATE TABLE plain (note TEXT)",
        "CREATE VIEW odd_texts AS SELECT v FROM odd WHERE typeof(v) = 'text'",
        "CREATE TRIGGER plain_guard BEFORE DELETE ON plain BEGIN SELECT RAISE(ABORT, 'no'); END",
    ] {
        db.exec(sql, &[]).unwrap();
    }
    for v in [
        Value::Null,
        Value::Integer(i64::MIN),
        Value::Real(0.1 + 0.2),
        Value::Real(f64::INFINITY),
        Value::Text("it's; \"quoted\"\nINSERT INTO \"odd\" VALUES(1);".into()),
        Value::Text("nul\0and\r\n".into()),
        Value::Blob(vec![0, 1, 0xff]),
    ] {
        db.exec("INSERT INTO odd (v) VALUES (?1)", &[v]).unwrap();
    }
    db.exec("INSERT INTO pairs VALUES ('b', 2), ('a', 9), ('a', 1)", &[])
        .unwrap();
    db.exec(
        "INSERT INTO counters (label) VALUES ('x'), ('y'), ('z')",
        &[],
    )
    .unwrap();
    db.exec("DELETE FROM counters WHERE label = 'z'", &[])
        .unwrap();
    db.exec("INSERT INTO gen (a) VALUES (21), (NULL)", &[])
        .unwrap();
    db.exec("INSERT INTO plain VALUES ('kept')", &[]).unwrap();
    db.exec("DELETE FROM plain WHERE rowid < 0", &[]).unwrap();
}

/// Whether a scratch database is attached to the connection.
fn scratch_attached(db: &dyn Db) -> bool {
    db.exec("SELECT name FROM pragma_database_list", &[])
        .unwrap()
        .rows
        .iter()
        .any(|r| r.text(0).unwrap() == backup::SCRATCH)
}

#[test]
fn a_backup_restores_into_scratch_with_equal_counts_and_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let env = file_env(dir.path());
    populate(&env);
    let m = backup::run(&env, "ops@example.com", "console", 7).unwrap();
    for table in [
        "odd",
        "pairs",
        "counters",
        "gen",
        "plain",
        "sqlite_sequence",
    ] {
        assert_eq!(m.table_hashes[table].len(), 64, "{table}: {m:?}");
    }
    assert_eq!(
        m.table_hashes.keys().collect::<Vec<_>>(),
        m.tables.keys().collect::<Vec<_>>()
    );
    let live_odd = count(env.db.as_ref(), "SELECT COUNT(*) FROM odd");

    let run = dr::check_restore(&env, None, "ops@example.com", "api").unwrap();
    assert_eq!(run.status, Status::Ok, "{run:?}");
    assert_eq!(run.kind, Kind::RestoreCheck);
    assert_eq!(run.backup_id.as_deref(), Some(m.id.as_str()));
    let check = run.check.as_ref().unwrap();
    assert!(check.ok && check.hashes_recorded, "{check:?}");
    assert_eq!(check.rows, m.rows);
    assert_eq!(check.tables.len(), m.tables.len());
    for t in &check.tables {
        assert!(t.ok, "{t:?}");
        assert_eq!(t.restored_rows, Some(t.expected_rows));
        assert_eq!(t.restored_sha256, t.expected_sha256);
        assert!(t.expected_sha256.is_some());
    }
    assert!(check.views_and_triggers_skipped >= 2, "{check:?}");
    assert!(check.indexes > 0);
    assert_eq!(check.restored_schema_version, Some(check.schema_version));
    assert_eq!(run.rows, Some(m.rows));

    // The live database is as it was, and no scratch database is left.
    assert!(!scratch_attached(env.db.as_ref()));
    assert_eq!(count(env.db.as_ref(), "SELECT COUNT(*) FROM odd"), live_odd);
    assert_eq!(
        count(
            env.db.as_ref(),
            "SELECT COUNT(*) FROM audit_log WHERE action = 'dr.restore_checked'"
        ),
        1
    );
    let status = dr::status(&env).unwrap();
    assert_eq!(status.restore_check.unwrap().id, run.id);
    assert!(status.drill.is_none());
    assert_eq!(status.backup.unwrap().id, m.id);
}

/// Replace backup `id`'s file with `sql` (gzipped), and rewrite its
/// manifest's size and hash to match, as someone who can write the store
/// could: only the content comparison is left to notice.
fn doctor(env: &Env, id: &str, sql: &str) {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(sql.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let db = env.db.as_ref();
    db.exec(
        "DELETE FROM backup_chunks WHERE backup_id = ?1",
        params![id],
    )
    .unwrap();
    db.exec(
        "INSERT INTO backup_chunks (backup_id, seq, data) VALUES (?1, 0, ?2)",
        params![id, gz.clone()],
    )
    .unwrap();
    db.exec(
        "UPDATE backups SET chunks = 1, bytes = ?2, raw_bytes = ?3, sha256 = ?4 WHERE id = ?1",
        params![
            id,
            gz.len() as i64,
            sql.len() as i64,
            echopilot_core::hex(&Sha256::digest(&gz))
        ],
    )
    .unwrap();
}

fn dump_text(env: &Env, id: &str) -> String {
    let gz = backup::download(env, id).unwrap().1;
    let mut sql = String::new();
    GzDecoder::new(&gz[..]).read_to_string(&mut sql).unwrap();
    sql
}

#[test]
fn a_changed_value_with_counts_and_file_hash_intact_fails_on_the_content_hash() {
    let dir = tempfile::tempdir().unwrap();
    let env = file_env(dir.path());
    populate(&env);
    let m = backup::run(&env, "ops", "console", 7).unwrap();
    let sql = dump_text(&env, &m.id);
    assert!(sql.contains("INSERT INTO \"plain\" VALUES('kept');"));
    doctor(
        &env,
        &m.id,
        &sql.replace("VALUES('kept')", "VALUES('lost')"),
    );
    assert_eq!(
        backup::verify(&env, &m.id).unwrap().status,
        backup::VerifyStatus::Ok,
        "counts and file hash agree: only the content comparison can tell"
    );

    let run = dr::check_restore(&env, Some(&m.id), "ops", "api").unwrap();
    assert_eq!(run.status, Status::Failed);
    assert!(run.error.as_deref().unwrap().contains("plain"), "{run:?}");
    let check = run.check.unwrap();
    let plain = check.tables.iter().find(|t| t.table == "plain").unwrap();
    assert!(!plain.ok && plain.restored_rows == Some(1), "{plain:?}");
    assert_ne!(plain.restored_sha256, plain.expected_sha256);
    assert!(check
        .tables
        .iter()
        .filter(|t| t.table != "plain")
        .all(|t| t.ok));
}

#[test]
fn statements_the_format_does_not_write_fail_the_restore_and_touch_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let env = file_env(dir.path());
    populate(&env);
    let m = backup::run(&env, "ops", "console", 7).unwrap();
    let sql = dump_text(&env, &m.id);
    let (head, tail) = sql.split_at(sql.find("INSERT INTO \"plain\"").unwrap());
    for evil in [
        "DROP TABLE main.odd;\n",
        "DELETE FROM main.odd;\n",
        "ATTACH DATABASE 'x.db' AS x;\n",
        "CREATE TABLE main.evil (a);\n",
        "CREATE TABLE evil AS SELECT * FROM main.odd;\n",
        "INSERT INTO \"plain\" SELECT v FROM main.odd;\n",
        "INSERT INTO \"plain\" VALUES((SELECT v FROM main.odd));\n",
    ] {
        // A row statement takes the place of the one row of `plain`, so
        // the counts still agree and only the restore can refuse it.
        let doctored = if evil.starts_with("INSERT") {
            sql.replace("INSERT INTO \"plain\" VALUES('kept');\n", evil)
        } else {
            format!("{head}{evil}{tail}")
        };
        doctor(&env, &m.id, &doctored);
        let run = dr::check_restore(&env, Some(&m.id), "ops", "api").unwrap();
        assert_eq!(run.status, Status::Failed, "{evil}");
        let error = run.error.unwrap();
        assert!(error.starts_with("statement "), "{evil}: {error}");
        assert_eq!(count(env.db.as_ref(), "SELECT COUNT(*) FROM odd"), 7);
        assert_eq!(
            count(
                env.db.as_ref(),
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'evil'"
            ),
            0
        );
        assert!(!scratch_attached(env.db.as_ref()));
    }
}

fn open_dr_incidents(db: &dyn Db) -> i64 {
    count(
        db,
        "SELECT COUNT(*) FROM incidents WHERE source = 'dr' AND severity = 'CRITICAL'",
    )
}

#[test]
fn a_corrupted_backup_fails_the_drill_which_pages() {
    let dir = tempfile::tempdir().unwrap();
    let env = file_env(dir.path());
    populate(&env);
    let m = backup::run(&env, "ops", "console", 7).unwrap();
    let db = env.db.as_ref();
    let Value::Blob(mut data) = db
        .query_one(
            "SELECT data FROM backup_chunks WHERE backup_id = ?1 AND seq = 0",
            params![m.id.as_str()],
        )
        .unwrap()
        .values[0]
        .clone()
    else {
        panic!("a blob")
    };
    let mid = data.len() / 2;
    data[mid] ^= 0x40;
    db.exec(
        "UPDATE backup_chunks SET data = ?1 WHERE backup_id = ?2 AND seq = 0",
        params![data, m.id.as_str()],
    )
    .unwrap();

    let run = dr::drill(&env, "scheduler", "schedule").unwrap();
    assert_eq!((run.kind, run.status), (Kind::Drill, Status::Failed));
    assert!(run.error.as_deref().unwrap().contains("corrupt"), "{run:?}");
    assert!(run.duration_ms.is_some());
    assert_eq!(open_dr_incidents(db), 1);
    assert_eq!(
        backup::get(&env, &m.id).unwrap().verify_status,
        Some(backup::VerifyStatus::Corrupt)
    );
    let status = dr::status(&env).unwrap();
    assert_eq!(status.drill.unwrap().status, Status::Failed);
}

#[test]
fn without_any_backup_a_drill_fails_and_pages() {
    let (env, _clock) = env(&[]);
    let run = dr::drill(&env, "scheduler", "schedule").unwrap();
    assert_eq!(run.status, Status::Failed);
    assert_eq!(run.backup_id, None);
    assert_eq!(open_dr_incidents(env.db.as_ref()), 1);
    let e = dr::check_restore(&env, None, "ops", "api").unwrap_err();
    assert_eq!(e.status(), 404);
    let e = dr::check_restore(&env, Some("bak_nope"), "ops", "api").unwrap_err();
    assert_eq!(e.status(), 404);
}

#[test]
fn the_weekly_drill_is_due_from_sunday_one_am_utc() {
    // 2027-01-17 was a Sunday.
    let sunday = echopilot_core::time::parse_rfc3339("2027-01-17T01:00:00Z").unwrap();
    assert_eq!(dr::weekly_due(sunday), sunday);
    assert_eq!(dr::weekly_due(sunday + 1), sunday);
    assert_eq!(dr::weekly_due(sunday - 1), sunday - 7 * DAY_MS);
    assert_eq!(dr::weekly_due(sunday + 6 * DAY_MS), sunday);
    assert_eq!(dr::weekly_due(sunday + 7 * DAY_MS), sunday + 7 * DAY_MS);
}

#[test]
fn drills_run_weekly_and_when_the_console_asks() {
    let dir = tempfile::tempdir().unwrap();
    let (env, clock) = file_env_clock(dir.path());
    populate(&env);
    backup::run(&env, "ops", "console", 7).unwrap();
    let db = env.db.as_ref();
    let tick = |at: i64| {
        clock.set(at);
        block_on(run(&env, &dr::JOB, Trigger::Cron, at)).unwrap()
    };

    // The database was installed long before T0's week: a drill is due.
    tick(T0);
    let first = dr::status(&env)
        .unwrap()
        .drill
        .expect("the weekly drill ran");
    assert_eq!(
        (first.status, first.trigger.as_str()),
        (Status::Ok, "schedule")
    );
    tick(T0 + 60_000);
    assert_eq!(count(db, "SELECT COUNT(*) FROM dr_runs"), 1, "once a week");

    // Asked for from the console: requested (once), then run on the next tick.
    let (asked, new) = dr::request_drill(&env, "user:usr_1").unwrap();
    assert!(new);
    assert_eq!(asked.status, Status::Requested);
    let (again, new) = dr::request_drill(&env, "user:usr_1").unwrap();
    assert!(!new);
    assert_eq!(again.id, asked.id);
    assert_eq!(
        dr::status(&env).unwrap().pending_drill.unwrap().id,
        asked.id
    );
    tick(T0 + 120_000);
    let done = dr::runs::get(db, &asked.id).unwrap();
    assert_eq!(
        (done.status, done.trigger.as_str()),
        (Status::Ok, "console")
    );
    assert!(dr::status(&env).unwrap().pending_drill.is_none());
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'dr.drill_finished'"
        ),
        2
    );

    // Next week: due again.
    tick(T0 + 7 * DAY_MS);
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM dr_runs WHERE trigger = 'schedule'"
        ),
        2
    );
}

#[test]
fn a_database_installed_after_sunday_one_am_has_no_drill_due_that_week() {
    let (env, _clock) = env(&[]);
    let db = env.db.as_ref();
    echopilot_core::db::migrate::ensure_current(db).unwrap();
    db.exec("UPDATE schema_migrations SET applied_at = ?1", params![T0])
        .unwrap();
    block_on(run(&env, &dr::JOB, Trigger::Cron, T0)).unwrap();
    assert_eq!(count(db, "SELECT COUNT(*) FROM dr_runs"), 0);
    assert_eq!(open_dr_incidents(db), 0);
}

fn post(path: &str, body: serde_json::Value, key: Option<&str>) -> Request {
    let req = post_json(path, &body);
    match key {
        Some(k) => req.with_header("x-dash-key", k),
        None => req,
    }
}

#[test]
fn the_api_checks_restores_refuses_live_replacement_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let env = file_env(dir.path());
    populate(&env);
    let m = backup::run(&env, "ops", "console", 7).unwrap();

    let (resp, body) = call(
        &APP,
        &env,
        post("/api/dr/restore", json!({}), Some(DASH_KEY)),
    );
    assert_eq!(resp.status, 200, "{body}");
    assert_eq!(body["data"]["dry_run"], true);
    assert_eq!(body["data"]["run"]["status"], "ok");
    assert_eq!(body["data"]["run"]["backup_id"], m.id.as_str());

    let (resp, body) = call(
        &APP,
        &env,
        post(
            "/api/dr/restore",
            json!({"backup_id": m.id, "confirm": true}),
            Some(DASH_KEY),
        ),
    );
    assert_eq!(resp.status, 409, "{body}");
    assert_eq!(body["error"]["code"], "restore_requires_downtime");
    let steps = body["error"]["details"]["steps"].as_array().unwrap();
    assert!(steps.len() >= 5);
    assert!(steps
        .iter()
        .any(|s| s.as_str().unwrap().contains("gunzip -c")));
    assert_eq!(body["error"]["details"]["run"]["status"], "ok");
    assert_eq!(
        count(
            env.db.as_ref(),
            "SELECT COUNT(*) FROM audit_log WHERE action = 'dr.restore_refused'"
        ),
        1
    );

    for (body, status) in [
        (json!({"backup_id": "bak_nope"}), 404),
        (json!({"backup_id": ""}), 422),
        (json!({"backup_id": "x".repeat(81)}), 422),
        (json!({"bakup_id": m.id}), 400),
    ] {
        let (resp, answer) = call(
            &APP,
            &env,
            post("/api/dr/restore", body.clone(), Some(DASH_KEY)),
        );
        assert_eq!(resp.status, status, "{body}: {answer}");
    }
    let (resp, _) = call(&APP, &env, post("/api/dr/restore", json!({}), None));
    assert_eq!(resp.status, 401);

    for path in ["/api/dr/last", "/api/ops/dr/last"] {
        let (resp, body) = call(&APP, &env, op_get(path));
        assert_eq!(resp.status, 200, "{body}");
        assert_eq!(body["data"]["backup"]["id"], m.id.as_str());
        assert_eq!(body["data"]["verification"]["status"], "ok");
        assert_eq!(body["data"]["restore_check"]["status"], "ok");
        assert!(body["data"]["next_drill_at"].as_str().is_some());
        let (resp, _) = call(&APP, &env, Request::new(Method::Get, path));
        assert_eq!(resp.status, 401);
    }
}

#[test]
fn a_file_from_elsewhere_is_checked_against_the_manifest_shipped_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let env = file_env(dir.path());
    populate(&env);
    let m = backup::run(&env, "ops", "console", 7).unwrap();
    let (manifest, gz) = backup::download(&env, &m.id).unwrap();
    // The manifest as shipped next to the object, read back.
    let shipped = serde_json::to_value(&manifest).unwrap();
    let record = backup::Record::from_manifest(&shipped).unwrap();
    assert_eq!(record.id, m.id);
    assert_eq!(record.table_hashes, m.table_hashes);
    let check = backup::check_restore_file(&env, &record, &gz).unwrap();
    assert!(check.ok && check.hashes_recorded, "{check:?}");
    assert_eq!(check.rows, m.rows);
    // One byte changed: refused before anything is restored.
    let mut bad = gz.clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 1;
    let check = backup::check_restore_file(&env, &record, &bad).unwrap();
    assert!(!check.ok && check.tables.is_empty(), "{check:?}");
    assert!(check.error.unwrap().contains("SHA-256"));
    assert!(!scratch_attached(env.db.as_ref()));
    // A manifest missing a field names it.
    let mut partial = shipped.clone();
    partial.as_object_mut().unwrap().remove("sha256");
    assert!(backup::Record::from_manifest(&partial)
        .unwrap_err()
        .contains("sha256"));
}

#[test]
fn an_offsite_restore_needs_shipping_configured() {
    let dir = tempfile::tempdir().unwrap();
    let env = file_env(dir.path());
    let e = block_on(dr::check_restore_offsite(&env, None, "ops", "api")).unwrap_err();
    assert_eq!((e.status(), e.code), (409, "offsite_not_configured"));
    let status = dr::status(&env).unwrap();
    assert!(!status.offsite.configured && status.offsite.last_shipped.is_none());
    let (resp, body) = call(
        &APP,
        &env,
        post(
            "/api/dr/restore",
            json!({"source": "offsite"}),
            Some(DASH_KEY),
        ),
    );
    assert_eq!(resp.status, 409, "{body}");
    let (resp, body) = call(
        &APP,
        &env,
        post("/api/dr/restore", json!({"source": "tape"}), Some(DASH_KEY)),
    );
    assert_eq!(resp.status, 400, "{body}");
}

#[test]
fn a_store_that_refuses_is_retried_by_later_nights_and_pages_when_stale() {
    use echopilot_core::adapters::native::ScriptedHttp;
    use echopilot_core::ports::OutboundResponse;
    let dir = tempfile::tempdir().unwrap();
    let (mut env, clock) = env_with(
        SqliteDb::open(dir.path().join("app.db")).unwrap(),
        &[
            ("dashboard_key", DASH_KEY),
            ("backup_s3_bucket", "echopilot-dr"),
            ("backup_s3_endpoint", "http://127.0.0.1:9"),
            ("backup_s3_access_key_id", "AKIAEXAMPLE"),
            (
                "backup_s3_secret_access_key",
                "q8Vd2mK4pX7sN1bR6tY9wZ3cF5hJ0lA2eG4iU6oP",
            ),
        ],
    );
    let http = std::sync::Arc::new(ScriptedHttp::new(|_| {
        Ok(OutboundResponse {
            status: 403,
            headers: Vec::new(),
            body: b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
                .to_vec(),
        })
    }));
    env.http = Box::new(http.clone());
    let night = |n: i64| {
        let at = T0 + n * DAY_MS;
        clock.set(at);
        block_on(run(&env, &backup::JOB, Trigger::Cron, at)).unwrap();
    };
    let paged = |env: &Env| {
        count(
            env.db.as_ref(),
            "SELECT COUNT(*) FROM incidents WHERE source = 'backup' AND severity = 'CRITICAL'",
        )
    };
    night(0);
    let status = dr::status(&env).unwrap().offsite;
    assert!(status.configured && status.last_shipped.is_none());
    assert_eq!(status.failures.len(), 1);
    assert!(status.failures[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("403 AccessDenied"));
    assert!(!format!("{status:?}").contains("q8Vd2mK4"));
    assert_eq!(paged(&env), 0, "one failed night is not stale yet");
    // Each night retries what is not shipped (newest first, bounded).
    night(1);
    night(2);
    let failures = dr::status(&env).unwrap().offsite.failures;
    assert_eq!(failures.len(), 3);
    assert_eq!(failures.last().unwrap().attempts, 3, "{failures:?}");
    assert!(!dr::status(&env).unwrap().offsite.stale);
    assert_eq!(paged(&env), 0, "two periods is not more than two");
    night(3);
    assert!(dr::status(&env).unwrap().offsite.stale);
    assert_eq!(
        paged(&env),
        1,
        "more than two periods without a shipment pages"
    );
    let sent = http.sent();
    assert!(sent.iter().all(|r| r.method == "PUT"));
    assert!(sent.len() <= 4 * backup::offsite::MAX_PER_RUN);
}
