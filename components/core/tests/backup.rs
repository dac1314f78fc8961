//! Backups against real SQLite: a backup restores into a fresh database
//! with every value exact, verification catches damage, retention keeps
//! the newest, the plan agrees with the backup, large WITHOUT ROWID tables
//! page exactly, and the dump is one snapshot while writers carry on.

mod support;

use echopilot_core::adapters::native::SqliteDb;
use echopilot_core::audit;
use echopilot_core::backup::{self, VerifyStatus, CHUNK_BYTES, PAGE_ROWS};
use echopilot_core::identity::{users, Role};
use echopilot_core::jobs::api::APP;
use echopilot_core::jobs::Email;
use echopilot_core::params;
use echopilot_core::ports::{Db, DbError, DbExt, Env, Rows, Value};
use echopilot_core::tenancy::TenantId;
use flate2::read::GzDecoder;
use serde_json::json;
use std::cell::Cell;
use std::io::Read;
use std::path::{Path, PathBuf};
use support::*;

/// A deterministic stream of 64-bit values (xorshift64*).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// An env on a database file in `dir`, with the manual clock at T0.
fn file_env(
    dir: &Path,
    vars: &[(&str, &str)],
) -> (Env, echopilot_core::adapters::native::ManualClock, PathBuf) {
    let path = dir.join("app.db");
    let (env, clock) = env_with(SqliteDb::open(&path).unwrap(), vars);
    (env, clock, path)
}

/// Gunzip a downloaded backup.
fn gunzip(gz: &[u8]) -> String {
    let mut sql = String::new();
    GzDecoder::new(gz).read_to_string(&mut sql).unwrap();
    sql
}

/// Restore a backup the way an operator would (the SQL into a new, empty
/// file), and open the file without migrating it.
fn restore(gz: &[u8], path: &Path) -> SqliteDb {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&gunzip(gz)).unwrap();
    drop(conn);
    SqliteDb::open_raw(path).unwrap()
}

fn tables(db: &dyn Db) -> Vec<String> {
    db.exec(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name",
        &[],
    )
    .unwrap()
    .rows
    .iter()
    .map(|r| r.text(0).unwrap())
    .collect()
}

/// Every row of `table` in a stable order, as exact text (`{:?}` of a
/// float is its shortest round-trip form, so equal text is equal bits).
fn contents(db: &dyn Db, table: &str) -> String {
    let quoted = quote(table);
    let n = db
        .exec(&format!("SELECT * FROM {quoted} LIMIT 0"), &[])
        .unwrap()
        .columns
        .len();
    let order = (1..=n)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let rows = db
        .exec(&format!("SELECT * FROM {quoted} ORDER BY {order}"), &[])
        .unwrap();
    format!("{:?}", rows.rows)
}

fn quote(table: &str) -> String {
    format!("\"{}\"", table.replace('"', "\"\""))
}

fn count(db: &dyn Db, table: &str) -> i64 {
    db.query_one(&format!("SELECT COUNT(*) FROM {}", quote(table)), &[])
        .unwrap()
        .i64(0)
        .unwrap()
}

fn schema_objects(db: &dyn Db) -> String {
    format!(
        "{:?}",
        db.exec(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name",
            &[]
        )
        .unwrap()
        .rows
    )
}

/// Values that are easy to get wrong in SQL text.
fn awkward_values(noise: &mut Noise) -> Vec<Value> {
    let mut values = vec![
        Value::Null,
        Value::Integer(0),
        Value::Integer(i64::MAX),
        Value::Integer(i64::MIN),
        Value::Integer(-1),
        Value::Real(0.1 + 0.2),
        Value::Real(-0.0),
        Value::Real(-1234.5678e-9),
        Value::Real(1e300),
        Value::Real(-2.5e-300),
        Value::Real(f64::MAX),
        Value::Real(f64::MIN_POSITIVE),
        Value::Real(5e-324),
        Value::Real(9_007_199_254_740_993.0),
        Value::Real(f64::INFINITY),
        Value::Real(f64::NEG_INFINITY),
        Value::Text(String::new()),
        Value::Text("it's a 'quoted' \"string\"".into()),
        Value::Text("multi\nline;\r\n-- not a comment /* nor this */".into()),
        Value::Text("ünïcödé, 日本語, emoji 🚀👩‍💻".into()),
        Value::Text("nul \0 inside".into()),
        Value::Text("');\nINSERT INTO \"jobs\" VALUES('forged');\nCOMMIT;".into()),
        Value::Blob(Vec::new()),
        Value::Blob(vec![0, 1, 2, 0xfe, 0xff, b'\'', b'"']),
    ];
    for _ in 0..300 {
        let f = f64::from_bits(noise.next());
        if f.is_finite() {
            values.push(Value::Real(f));
        }
    }
    values
}

/// Fill the app's tables through its own functions, and add tables a
/// future migration might (any values, a generated column, an awkward
/// name, AUTOINCREMENT), plus rows in a table whose rows are excluded.
fn populate(env: &Env) {
    for (brief, title) in [
        ("Write a blurb for a solar lamp", "Solar"),
        (
            "Ünïcödé brief with 'quotes', \"double quotes\" and emoji 🚀",
            "Quotes 'n' emoji",
        ),
        (
            "Line one\nINSERT INTO \"jobs\" VALUES('forged');\nCOMMIT;",
            "Forgery attempt",
        ),
    ] {
        let (resp, body) = call(
            &APP,
            env,
            post_json(
                "/api/public/create-job",
                &json!({ "brief": brief, "type": "ai_task", "title": title, "email": "ann@example.com" }),
            ),
        );
        assert_eq!(resp.status, 201, "{body}");
    }
    users::create(
        env,
        &TenantId::default_tenant(),
        &Email::parse("zoe@example.com").unwrap(),
        "correct horse battery staple",
        Role::Operator,
    )
    .unwrap();
    audit::append(
        env,
        &audit::Event::new("default", "ops@example.com", "backup.test")
            .target("tgt 'x'")
            .detail(json!({ "note": "ünïcödé 🚀 'quoted'", "n": -0.25 })),
    )
    .unwrap();

    let db = env.db.as_ref();
    db.exec("CREATE TABLE odd_values (id INTEGER PRIMARY KEY, v)", &[])
        .unwrap();
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    for v in awkward_values(&mut noise) {
        db.exec("INSERT INTO odd_values (v) VALUES (?1)", &[v])
            .unwrap();
    }
    // Incompressible, so the file spans several chunks.
    db.exec(
        "INSERT INTO odd_values (v) VALUES (?1)",
        params![noise.bytes(CHUNK_BYTES + 50_000)],
    )
    .unwrap();
    db.exec(
        "CREATE TABLE \"we\"\"ird name\" (a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL, \"sel ect\" TEXT)",
        &[],
    )
    .unwrap();
    db.exec(
        "INSERT INTO \"we\"\"ird name\" (a, \"sel ect\") VALUES (21, 'x'), (NULL, NULL)",
        &[],
    )
    .unwrap();
    db.exec(
        "CREATE TABLE counters (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT)",
        &[],
    )
    .unwrap();
    for label in ["a", "b", "c"] {
        db.exec("INSERT INTO counters (label) VALUES (?1)", params![label])
            .unwrap();
    }
    // The counter stays at 3 though the row is gone: ids are not reused.
    db.exec("DELETE FROM counters WHERE id = 3", &[]).unwrap();
    db.exec(
        "INSERT INTO request_samples (at_ms, component, route, method, status, latency_us, tenant_id, request_id)
         VALUES (?1, 'api-jobs', '/x', 'GET', 200, 1000, 'default', 'req-1')",
        params![T0],
    )
    .unwrap();
}

#[test]
fn a_backup_restores_into_a_fresh_database_with_every_value_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (env, _clock, _) = file_env(
        dir.path(),
        &[(
            "portal_signing_secret",
            "portal-secret-for-native-tests-0123456789",
        )],
    );
    populate(&env);

    let manifest = backup::run(&env, "ops@example.com", "console", 7).unwrap();
    assert!(manifest.id.starts_with("bak_"));
    assert!(manifest.chunks >= 2, "the file spans chunks: {manifest:?}");
    assert_eq!(manifest.rows, manifest.tables.values().sum::<i64>());
    assert!(manifest.filename.ends_with(".sql.gz"));
    let gz = backup::download(&env, &manifest.id).unwrap().1;
    assert_eq!(gz.len() as i64, manifest.bytes);

    let sql = gunzip(&gz);
    assert!(sql.starts_with("-- echopilot-backup\n"));
    assert!(sql.contains(&format!("-- backup_id: {}\n", manifest.id)));
    assert!(sql.contains("\nPRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n"));
    assert!(sql.ends_with("COMMIT;\n"));

    let restored = restore(&gz, &dir.path().join("restored.db"));
    let original = env.db.as_ref();
    assert_eq!(tables(&restored), tables(original), "every table is there");
    assert_eq!(
        schema_objects(&restored),
        schema_objects(original),
        "same schema, indexes and triggers"
    );
    for table in tables(original) {
        match backup::EXCLUDED.iter().find(|(t, _)| *t == table) {
            Some(_) => assert_eq!(count(&restored, &table), 0, "{table}: schema only"),
            None => {
                assert_eq!(
                    contents(&restored, &table),
                    contents(original, &table),
                    "{table}"
                );
                assert_eq!(
                    manifest.tables[&table],
                    count(original, &table),
                    "{table} in the manifest"
                );
            }
        }
    }
    assert!(count(original, "request_samples") > 0 && count(original, "backups") == 1);
    assert!(
        count(original, "jobs") == 3
            && count(original, "users") >= 1
            && count(original, "audit_log") >= 1
    );
    assert_eq!(
        contents(&restored, "sqlite_sequence"),
        contents(original, "sqlite_sequence")
    );
    for probe in [
        "SELECT MAX(version) FROM schema_migrations",
        "PRAGMA user_version",
    ] {
        assert_eq!(
            restored.query_one(probe, &[]).unwrap(),
            original.query_one(probe, &[]).unwrap(),
            "{probe}"
        );
    }
    assert_eq!(
        manifest.schema_version,
        echopilot_core::db::migrations::latest()
    );

    // The restored file is current: the app opens it without migrating,
    // and its counters continue where they were.
    let reopened = SqliteDb::open(dir.path().join("restored.db")).unwrap();
    assert!(echopilot_core::db::migrate::ensure_current(&reopened)
        .unwrap()
        .is_empty());
    let next = reopened
        .query_one(
            "INSERT INTO counters (label) VALUES ('d') RETURNING id",
            &[],
        )
        .unwrap()
        .i64(0)
        .unwrap();
    assert_eq!(next, 4, "AUTOINCREMENT does not reuse 3");

    let checked = backup::verify(&env, &manifest.id).unwrap();
    assert_eq!(
        (checked.status, checked.error.clone()),
        (VerifyStatus::Ok, None)
    );
    assert_eq!(checked.rows, manifest.rows);
    let after = backup::get(&env, &manifest.id).unwrap();
    assert_eq!(after.verify_status, Some(VerifyStatus::Ok));
    assert_eq!(
        after.verified_at.as_deref(),
        Some(checked.verified_at.as_str())
    );
}

#[test]
fn the_plan_counts_what_a_backup_then_contains() {
    let dir = tempfile::tempdir().unwrap();
    let (env, clock, _) = file_env(
        dir.path(),
        &[(
            "portal_signing_secret",
            "portal-secret-for-native-tests-0123456789",
        )],
    );
    populate(&env);
    let plan = backup::plan(&env).unwrap();
    assert_eq!(plan.backups, 0);
    assert_eq!(
        plan.schema_version,
        echopilot_core::db::migrations::latest()
    );
    assert!(plan
        .excluded
        .iter()
        .any(|e| e.table == "request_samples" && !e.reason.is_empty()));
    for (table, _) in backup::EXCLUDED {
        assert!(
            !plan.tables.contains_key(*table),
            "{table} rows are not planned"
        );
    }
    assert_eq!(plan.tables["jobs"], 3);
    assert_eq!(
        plan.tables["odd_values"],
        count(env.db.as_ref(), "odd_values")
    );
    assert_eq!(plan.rows, plan.tables.values().sum::<i64>());
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["format"], "echopilot-backup");

    let manifest = backup::run(&env, "ops@example.com", "console", 7).unwrap();
    assert_eq!(manifest.tables, plan.tables);
    assert_eq!(manifest.rows, plan.rows);
    clock.advance(1000);
    assert_eq!(backup::plan(&env).unwrap().backups, 1);
}

#[test]
fn retention_keeps_exactly_the_newest_keep_backups() {
    let (env, clock) = env(&[]);
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(backup::run(&env, "scheduler", "schedule", 3).unwrap().id);
        clock.advance(60_000);
    }
    let listed: Vec<String> = backup::list(&env, 100)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    let newest: Vec<String> = ids.iter().rev().take(3).cloned().collect();
    assert_eq!(listed, newest, "newest first, the oldest two gone");
    let with_chunks: Vec<String> = env
        .db
        .exec(
            "SELECT DISTINCT backup_id FROM backup_chunks ORDER BY backup_id DESC",
            &[],
        )
        .unwrap()
        .rows
        .iter()
        .map(|r| r.text(0).unwrap())
        .collect();
    assert_eq!(with_chunks, newest, "chunks of deleted backups are deleted");
    assert_eq!(backup::latest(&env).unwrap().unwrap().id, ids[4]);
    assert!(matches!(backup::get(&env, &ids[0]), Err(e) if e.status() == 404));

    backup::run(&env, "scheduler", "schedule", 1).unwrap();
    assert_eq!(backup::list(&env, 100).unwrap().len(), 1);
    assert_eq!(backup::list(&env, 0).unwrap().len(), 0);
}

#[test]
fn retention_never_deletes_the_last_good_backup_for_unverified_or_corrupt_ones() {
    let (env, clock) = env(&[]);
    let good = backup::run(&env, "scheduler", "schedule", 1).unwrap().id;
    assert_eq!(backup::verify(&env, &good).unwrap().status.as_str(), "ok");
    clock.advance(60_000);
    // keep = 1: the new, not yet verified backup does not push out the last good one.
    let fresh = backup::run(&env, "scheduler", "schedule", 1).unwrap().id;
    let ids = |env: &Env| -> Vec<String> {
        backup::list(env, 100)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect()
    };
    assert_eq!(ids(&env), [fresh.clone(), good.clone()]);
    // It turns out corrupt: it does not count towards keep, and goes at the next run.
    env.db
        .exec(
            "UPDATE backup_chunks SET data = X'00' WHERE backup_id = ?1 AND seq = 0",
            &[fresh.as_str().into()],
        )
        .unwrap();
    assert_eq!(
        backup::verify(&env, &fresh).unwrap().status.as_str(),
        "corrupt"
    );
    clock.advance(60_000);
    let next = backup::run(&env, "scheduler", "schedule", 1).unwrap().id;
    assert_eq!(ids(&env), [next, good]);
}

#[test]
fn a_flipped_byte_or_a_lost_chunk_is_reported_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let (env, _clock, _) = file_env(
        dir.path(),
        &[(
            "portal_signing_secret",
            "portal-secret-for-native-tests-0123456789",
        )],
    );
    populate(&env);
    let m = backup::run(&env, "ops@example.com", "console", 7).unwrap();
    assert!(m.chunks >= 2);
    assert_eq!(
        backup::verify(&env, &m.id).unwrap().status,
        VerifyStatus::Ok
    );

    let db = env.db.as_ref();
    let row = db
        .query_one(
            "SELECT data FROM backup_chunks WHERE backup_id = ?1 AND seq = 1",
            params![m.id.as_str()],
        )
        .unwrap();
    let Value::Blob(mut data) = row.values[0].clone() else {
        panic!("chunk is a blob")
    };
    data[1000] ^= 0x01;
    db.exec(
        "UPDATE backup_chunks SET data = ?1 WHERE backup_id = ?2 AND seq = 1",
        params![data, m.id.as_str()],
    )
    .unwrap();
    let v = backup::verify(&env, &m.id).unwrap();
    assert_eq!(v.status, VerifyStatus::Corrupt);
    assert!(v.error.as_deref().unwrap().contains("SHA-256"), "{v:?}");
    let stored = backup::get(&env, &m.id).unwrap();
    assert_eq!(stored.verify_status, Some(VerifyStatus::Corrupt));
    assert_eq!(stored.verify_error, v.error);

    db.exec(
        "DELETE FROM backup_chunks WHERE backup_id = ?1 AND seq = 0",
        params![m.id.as_str()],
    )
    .unwrap();
    let v = backup::verify(&env, &m.id).unwrap();
    assert_eq!(v.status, VerifyStatus::Corrupt);
    assert!(v.error.as_deref().unwrap().contains("chunks"), "{v:?}");
    let refused = backup::download(&env, &m.id).unwrap_err();
    assert_eq!((refused.status(), refused.code), (409, "backup_corrupt"));
}

/// A file that matches its manifest's hash but not its counts (a manifest
/// rewritten to match a doctored file) is caught by reading the SQL.
#[test]
fn a_file_whose_rows_disagree_with_its_manifest_is_corrupt_even_with_a_matching_hash() {
    let (env, _clock) = env(&[(
        "portal_signing_secret",
        "portal-secret-for-native-tests-0123456789",
    )]);
    populate(&env);
    let m = backup::run(&env, "ops@example.com", "console", 7).unwrap();
    let sql = gunzip(&backup::download(&env, &m.id).unwrap().1);
    let first_job = sql.find("INSERT INTO \"jobs\" VALUES(").unwrap();
    // Rows end at the first `);\n` after the start (none of these jobs' text holds one).
    let end = first_job + sql[first_job..].find(");\nINSERT INTO \"jobs\"").unwrap() + 3;
    let doctored = format!("{}{}", &sql[..first_job], &sql[end..]);

    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, doctored.as_bytes()).unwrap();
    let gz = enc.finish().unwrap();
    use sha2::Digest;
    let sha = echopilot_core::hex(&sha2::Sha256::digest(&gz));
    let db = env.db.as_ref();
    db.exec(
        "DELETE FROM backup_chunks WHERE backup_id = ?1",
        params![m.id.as_str()],
    )
    .unwrap();
    db.exec(
        "INSERT INTO backup_chunks (backup_id, seq, data) VALUES (?1, 0, ?2)",
        params![m.id.as_str(), gz.clone()],
    )
    .unwrap();
    db.exec(
        "UPDATE backups SET bytes = ?2, sha256 = ?3, chunks = 1, raw_bytes = ?4 WHERE id = ?1",
        params![m.id.as_str(), gz.len(), sha.as_str(), doctored.len()],
    )
    .unwrap();
    let v = backup::verify(&env, &m.id).unwrap();
    assert_eq!(v.status, VerifyStatus::Corrupt);
    assert!(
        v.error.as_deref().unwrap().contains("`jobs` has 2 rows"),
        "{v:?}"
    );
}

#[test]
fn tables_larger_than_a_page_are_paged_exactly_by_key() {
    let (env, _clock) = env(&[]);
    let db = env.db.as_ref();
    db.exec(
        "CREATE TABLE pairs (a TEXT NOT NULL, b INTEGER NOT NULL, v BLOB, PRIMARY KEY (a, b)) WITHOUT ROWID",
        &[],
    )
    .unwrap();
    let mut noise = Noise(7);
    let mut n = 0;
    for a in ["x", "y", "z"] {
        for b in -200..211 {
            db.exec(
                "INSERT INTO pairs (a, b, v) VALUES (?1, ?2, ?3)",
                params![a, b * 7, noise.bytes(3)],
            )
            .unwrap();
            n += 1;
        }
    }
    assert!(n > 2 * PAGE_ROWS);
    // An app table that is WITHOUT ROWID, and a rowid table with gaps.
    for minute in 0..(PAGE_ROWS as i64 + 17) {
        db.exec(
            "INSERT INTO request_minutes (minute, component, route, method, status, tenant_id, n, sum_us, max_us,
                b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11)
             VALUES (?1, 'api-jobs', '/api/jobs', 'GET', 200, 'default', 1, 10, 10, 1,0,0,0,0,0,0,0,0,0,0,0)",
            params![minute],
        )
        .unwrap();
    }
    db.exec(
        "CREATE TABLE sparse (id INTEGER PRIMARY KEY, label TEXT)",
        &[],
    )
    .unwrap();
    for i in 0..1100i64 {
        db.exec(
            "INSERT INTO sparse (id, label) VALUES (?1, ?2)",
            params![i * i - 500_000, format!("row {i}")],
        )
        .unwrap();
    }

    let m = backup::run(&env, "ops@example.com", "console", 7).unwrap();
    assert_eq!(m.tables["pairs"], n as i64);
    assert_eq!(m.tables["request_minutes"], PAGE_ROWS as i64 + 17);
    assert_eq!(m.tables["sparse"], 1100);
    let dir = tempfile::tempdir().unwrap();
    let restored = restore(
        &backup::download(&env, &m.id).unwrap().1,
        &dir.path().join("r.db"),
    );
    for table in ["pairs", "request_minutes", "sparse"] {
        assert_eq!(contents(&restored, table), contents(db, table), "{table}");
    }
    assert_eq!(
        backup::verify(&env, &m.id).unwrap().status,
        VerifyStatus::Ok
    );
}

/// The env's connection, with another connection that commits a transfer
/// between two tables just before the backup starts reading the second.
struct WriterInTheMiddle {
    inner: SqliteDb,
    other: SqliteDb,
    fired: Cell<bool>,
}

impl Db for WriterInTheMiddle {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        if !self.fired.get() && sql.contains("FROM \"acct_b\"") {
            self.fired.set(true);
            echopilot_core::db::transaction(&self.other, |tx| {
                tx.exec("UPDATE acct_a SET balance = balance - 30 WHERE id = 1", &[])?;
                tx.exec("UPDATE acct_b SET balance = balance + 30 WHERE id = 1", &[])?;
                tx.exec("INSERT INTO acct_a (id, balance) VALUES (2, 5)", &[])?;
                Ok(())
            })
            .expect("the writer is not blocked by the backup's snapshot");
        }
        self.inner.execute(sql, params)
    }
}

#[test]
fn the_dump_is_one_snapshot_while_another_connection_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let setup = SqliteDb::open(&path).unwrap();
    setup
        .exec(
            "CREATE TABLE acct_a (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)",
            &[],
        )
        .unwrap();
    setup
        .exec(
            "CREATE TABLE acct_b (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)",
            &[],
        )
        .unwrap();
    setup
        .exec("INSERT INTO acct_a VALUES (1, 100)", &[])
        .unwrap();
    setup.exec("INSERT INTO acct_b VALUES (1, 0)", &[]).unwrap();
    let db = WriterInTheMiddle {
        inner: SqliteDb::open(&path).unwrap(),
        other: SqliteDb::open(&path).unwrap(),
        fired: Cell::new(false),
    };
    let (mut env, _clock) = env(&[]);
    env.db = Box::new(db);

    let m = backup::run(&env, "ops@example.com", "console", 7).unwrap();
    // The transfer committed during the dump, between the two tables.
    assert_eq!(
        contents(&setup, "acct_a"),
        "[Row { values: [Integer(1), Integer(70)] }, Row { values: [Integer(2), Integer(5)] }]"
    );
    env.db
        .exec("INSERT INTO acct_b VALUES (2, 1)", &[])
        .unwrap();

    let restored = restore(
        &backup::download(&env, &m.id).unwrap().1,
        &dir.path().join("r.db"),
    );
    let balances = |t: &str| -> Vec<(i64, i64)> {
        restored
            .exec(&format!("SELECT id, balance FROM {t} ORDER BY id"), &[])
            .unwrap()
            .rows
            .iter()
            .map(|r| (r.i64(0).unwrap(), r.i64(1).unwrap()))
            .collect()
    };
    assert_eq!(balances("acct_a"), vec![(1, 100)], "as before the transfer");
    assert_eq!(
        balances("acct_b"),
        vec![(1, 0)],
        "not torn: the transfer is wholly absent"
    );
    assert_eq!((m.tables["acct_a"], m.tables["acct_b"]), (1, 1));
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let (env, _clock) = env(&[]);
    for (actor, trigger, keep, code) in [
        ("ops", "console", 0, "invalid_keep"),
        ("ops", "console", backup::MAX_KEEP + 1, "invalid_keep"),
        ("  ", "console", 7, "invalid_actor"),
        ("ops\u{7}", "console", 7, "invalid_actor"),
        ("ops", "", 7, "invalid_trigger"),
        ("ops", "Console Now", 7, "invalid_trigger"),
    ] {
        let e = backup::run(&env, actor, trigger, keep).unwrap_err();
        assert_eq!(
            (e.status(), e.code),
            (422, code),
            "{actor:?} {trigger:?} {keep}"
        );
    }
    assert_eq!(count(env.db.as_ref(), "backups"), 0);
    assert_eq!(count(env.db.as_ref(), "backup_chunks"), 0);
    for e in [
        backup::get(&env, "bak_nope").unwrap_err(),
        backup::download(&env, "bak_nope").unwrap_err(),
        backup::verify(&env, &"x".repeat(5000)).unwrap_err(),
    ] {
        assert_eq!((e.status(), e.code), (404, "not_found"));
        assert!(e.message.len() < 200);
    }
    assert!(backup::latest(&env).unwrap().is_none());
}

#[test]
fn keep_comes_from_the_backup_keep_variable() {
    assert_eq!(backup::configured_keep(&env(&[]).0).unwrap(), 7);
    assert_eq!(
        backup::configured_keep(&env(&[("backup_keep", "30")]).0).unwrap(),
        30
    );
    assert!(backup::configured_keep(&env(&[("backup_keep", "0")]).0).is_err());
    assert!(backup::configured_keep(&env(&[("backup_keep", "91")]).0).is_err());
}

/// Schema text may hold anything SQLite accepts: triggers whose bodies have
/// inner `;`, `CASE … END;` and strings holding `END;`, comments, and names
/// that are keywords or quoted with `[…]` and backticks. Verification still
/// finds every statement and counts every row, and the dump restores.
#[test]
fn triggers_and_odd_schema_text_are_split_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let (env, _clock, _) = file_env(dir.path(), &[]);
    let db = env.db.as_ref();
    for sql in [
        "CREATE TABLE [odd;table] (trigger TEXT, [end] INTEGER, `semi;colon` TEXT /* ; */)",
        "CREATE TABLE trail (note TEXT)",
        "CREATE TRIGGER [odd;trigger] AFTER INSERT ON [odd;table] BEGIN
            INSERT INTO trail VALUES ('END;'); -- END;
            INSERT INTO trail VALUES (CASE WHEN NEW.[end] > 1 THEN 'big' ELSE 'small' END);
            /* END; */ UPDATE trail SET note = note || ';' WHERE note = 'x';
        END",
        "CREATE INDEX trigger ON [odd;table] (trigger)",
    ] {
        db.exec(sql, &[]).unwrap();
    }
    for (i, text) in ["a';\nINSERT INTO \"trail\" VALUES('forged');", "END;"]
        .iter()
        .enumerate()
    {
        db.exec(
            "INSERT INTO [odd;table] VALUES (?1, ?2, ?3)",
            params![*text, i as i64 + 1, "x"],
        )
        .unwrap();
    }

    let m = backup::run(&env, "ops@example.com", "console", 7).unwrap();
    assert_eq!((m.tables["odd;table"], m.tables["trail"]), (2, 4));
    let v = backup::verify(&env, &m.id).unwrap();
    assert_eq!((v.status, v.error.clone()), (VerifyStatus::Ok, None));
    assert_eq!(v.rows, m.rows);

    let restored = restore(
        &backup::download(&env, &m.id).unwrap().1,
        &dir.path().join("restored.db"),
    );
    assert_eq!(schema_objects(&restored), schema_objects(db));
    for table in ["odd;table", "trail"] {
        assert_eq!(contents(&restored, table), contents(db, table), "{table}");
    }
}
