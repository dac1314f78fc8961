//! The audit chain, the issue's acceptance: "1,000 appends from concurrent
//! requests give one chain that verifies; editing any stored entry makes
//! verify report it".
//!
//! The appends come from real requests (an operator's
//! `POST /api/queue/enqueue`, which appends `job.enqueue`) sent by 8 client
//! threads at once; the tampering edits the app's SQLite file
//! (`<data_dir>/sqlite_db.db`, table `audit_log`) directly, as an attacker
//! with access to the volume would. It reads the app's data, so it runs on
//! apps the harness starts (a test host or a real `spin up`).
//!
//! The signed anchors (EchoPilot issue 13, item 5): the `audit` job checks
//! the new entries and anchors the head; a chain cut short, or rewritten
//! from some entry on with fresh and correctly linked hashes, still
//! verifies as a chain but not against its anchors.

use crate::auth::kit::*;
use crate::auth::sha::sha256;
use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, App, Env, Scenario};
use rusqlite::types::Value as Sql;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const SCENARIOS: &[Scenario] = &[
    Scenario::configured(
        "audit_1000_concurrent_appends_make_one_chain_and_any_edit_is_found",
        concurrent_chain,
    ),
    Scenario::configured("audit_chain_filters_and_paging", filters),
    Scenario::host_only(
        "audit_signed_anchors_find_a_cut_or_rewritten_chain",
        signed_anchors,
    ),
    Scenario::configured(
        "audit_export_verifies_offline_and_tampering_is_found",
        export_offline,
    ),
];

const THREADS: usize = 8;
const PER_THREAD: usize = 125;

fn verify(app: &App, cred: &Cred) -> Result<Value> {
    let body = expect_status(&call(app, "GET", "/api/audit/verify", cred, None)?, 200)?;
    Ok(body["data"].clone())
}

fn concurrent_chain(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let root = Cred::Bearer(root_token(&app)?);
    let (op_id, op) = user_token(&app, &root, "op@audit.test", "operator", "default")?;
    let base = verify(&app, &root)?;
    check!(base["valid"] == true, "fresh chain: {base}");
    let base_entries = base["entries"].as_i64().context("entries")?;

    // 1,000 audited requests from 8 threads at once.
    let statuses: Vec<Vec<u16>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let client = app.client.clone();
                let op = op.clone();
                s.spawn(move || -> Result<Vec<u16>> {
                    let mut out = Vec::with_capacity(PER_THREAD);
                    for i in 0..PER_THREAD {
                        let resp = client
                            .post("/api/queue/enqueue")
                            .bearer(&op)
                            .json(&json!({ "brief": format!("audit load {t}-{i}") }))
                            .send()?;
                        out.push(resp.status);
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a client thread panicked"))?
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for s in statuses.iter().flatten() {
        *by_status.entry(*s).or_default() += 1;
    }
    println!("1,000 concurrent enqueues answered {by_status:?}");
    check!(
        by_status.get(&201) == Some(&(THREADS * PER_THREAD)),
        "not every concurrent request was accepted: {by_status:?}"
    );

    // One chain: it verifies, and has exactly one entry per append.
    let v = verify(&app, &root)?;
    check!(
        v["valid"] == true && v["first_broken"].is_null(),
        "after the load: {v}"
    );
    let total = v["entries"].as_i64().context("entries")?;
    check!(
        total == base_entries + (THREADS * PER_THREAD) as i64,
        "{total} entries after {base_entries} + 1,000 appends"
    );
    check!(total >= 1000, "{total} entries");

    // Paging: newest first, uneven pages, in order, no gap, no overlap, and
    // the links visible through the API.
    let mut seqs = Vec::new();
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0..100 {
        let target = match &cursor {
            None => "/api/audit/chain?limit=97".to_string(),
            Some(c) => format!("/api/audit/chain?limit=97&cursor={c}"),
        };
        let body = expect_status(&call(&app, "GET", &target, &root, None)?, 200)?;
        let got = body["data"]["entries"]
            .as_array()
            .context("entries")?
            .clone();
        let next = body["data"]["next_cursor"].as_str().map(str::to_string);
        check!(
            got.len() == 97 || next.is_none(),
            "page {page}: {} entries and a next cursor",
            got.len()
        );
        if let Some(n) = &next {
            check!(
                got.last().map(|e| e["seq"].to_string()) == Some(n.clone()),
                "page {page}: the cursor {n} is not the last entry's seq"
            );
        }
        seqs.extend(got.iter().filter_map(|e| e["seq"].as_i64()));
        entries.extend(got);
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let want: Vec<i64> = (1..=total).rev().collect();
    check!(
        seqs == want,
        "paging gave {} seqs, from {:?} to {:?}, not {total}..1 without gaps",
        seqs.len(),
        seqs.first(),
        seqs.last()
    );
    for w in entries.windows(2) {
        check!(
            w[0]["prev_hash"] == w[1]["hash"],
            "entry {} does not link to {}",
            w[0]["seq"],
            w[1]["seq"]
        );
    }
    check!(
        entries.last().map(|e| e["prev_hash"] == "genesis") == Some(true),
        "the first entry does not start at genesis"
    );
    let enqueues: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "job.enqueue")
        .collect();
    check!(
        enqueues.len() == 1000,
        "{} job.enqueue entries",
        enqueues.len()
    );
    let actor = format!("user:{op_id}");
    check!(
        enqueues
            .iter()
            .all(|e| e["actor"] == actor.as_str() && e["tenant_id"] == "default"),
        "an enqueue entry has another actor or tenant"
    );
    let request_ids: std::collections::BTreeSet<&str> = enqueues
        .iter()
        .filter_map(|e| e["request_id"].as_str())
        .collect();
    check!(
        request_ids.len() == 1000,
        "{} distinct request ids for 1,000 requests",
        request_ids.len()
    );

    // Tampering, straight in the app's database file.
    let db = rusqlite::Connection::open(app.data_dir()?.join("sqlite_db.db"))?;
    db.busy_timeout(std::time::Duration::from_secs(10))?;
    let edited: i64 = 437;
    for column in [
        "ts",
        "tenant_id",
        "actor",
        "action",
        "target",
        "detail",
        "request_id",
        "build_sha",
        "prev_hash",
        "hash",
    ] {
        let original: Sql = db.query_row(
            &format!("SELECT {column} FROM audit_log WHERE seq = ?1"),
            [edited],
            |r| r.get(0),
        )?;
        let changed = match &original {
            Sql::Integer(i) => Sql::Integer(i + 1),
            Sql::Text(t) if column == "actor" => Sql::Text(if t == "mallory" {
                "eve".into()
            } else {
                "mallory".into()
            }),
            Sql::Text(t) => Sql::Text(format!("{t}x")),
            _ => Sql::Text("x".into()),
        };
        db.execute(
            &format!("UPDATE audit_log SET {column} = ?1 WHERE seq = ?2"),
            rusqlite::params![changed, edited],
        )?;
        let v = verify(&app, &root)?;
        check!(
            v["valid"] == false && v["first_broken"]["seq"] == edited,
            "editing {column} of entry {edited}: verify said {v}"
        );
        check!(
            v["entries"] == edited - 1,
            "{column}: entries checked before the break: {v}"
        );
        let reason = v["first_broken"]["reason"].as_str().unwrap_or_default();
        check!(
            if column == "prev_hash" {
                reason.contains("prev_hash")
            } else {
                reason.contains("hash")
            },
            "{column}: reason {reason:?}"
        );
        db.execute(
            &format!("UPDATE audit_log SET {column} = ?1 WHERE seq = ?2"),
            rusqlite::params![original, edited],
        )?;
        let v = verify(&app, &root)?;
        check!(
            v["valid"] == true,
            "restoring {column} did not restore the chain: {v}"
        );
    }

    // An attacker who also recomputes the edited entry's hash is caught at
    // the next link.
    let row = read_entry(&db, edited)?;
    let mut forged = row.clone();
    forged.insert("actor".into(), Sql::Text("mallory".into()));
    let new_hash = entry_hash(&forged)?;
    check!(
        entry_hash(&row)? == text_of(&row, "hash")?,
        "the test's hash of entry {edited} differs from the stored one"
    );
    db.execute(
        "UPDATE audit_log SET actor = 'mallory', hash = ?1 WHERE seq = ?2",
        rusqlite::params![new_hash, edited],
    )?;
    let v = verify(&app, &root)?;
    check!(
        v["valid"] == false
            && v["first_broken"]["seq"] == edited + 1
            && v["first_broken"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("prev_hash")),
        "rewritten entry {edited} with its hash: verify said {v}"
    );
    db.execute(
        "UPDATE audit_log SET actor = ?1, hash = ?2 WHERE seq = ?3",
        rusqlite::params![row["actor"], row["hash"], edited],
    )?;
    check!(
        verify(&app, &root)?["valid"] == true,
        "restored after the rehash"
    );

    // Deleting an entry leaves a gap, reported at the entry after it.
    let deleted: i64 = 700;
    let saved = read_entry(&db, deleted)?;
    db.execute("DELETE FROM audit_log WHERE seq = ?1", [deleted])?;
    let v = verify(&app, &root)?;
    check!(
        v["valid"] == false
            && v["first_broken"]["seq"] == deleted + 1
            && v["first_broken"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("gap") && r.contains(&deleted.to_string())),
        "deleting entry {deleted}: verify said {v}"
    );
    // Deleting entry 1 is a gap too.
    let first = read_entry(&db, 1)?;
    db.execute("DELETE FROM audit_log WHERE seq = 1", [])?;
    let v = verify(&app, &root)?;
    check!(
        v["valid"] == false && v["first_broken"]["seq"] == 2,
        "deleting entry 1: verify said {v}"
    );
    for e in [&first, &saved] {
        db.execute(
            "INSERT INTO audit_log (seq, ts, tenant_id, actor, action, target, detail, request_id, build_sha, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            rusqlite::params![
                e["seq"], e["ts"], e["tenant_id"], e["actor"], e["action"], e["target"],
                e["detail"], e["request_id"], e["build_sha"], e["prev_hash"], e["hash"]
            ],
        )?;
    }
    let v = verify(&app, &root)?;
    check!(
        v["valid"] == true && v["entries"] == total,
        "after restoring the deleted entries: {v}"
    );
    // The chain keeps growing from its last entry after all this.
    enqueue(
        &app,
        &Cred::Bearer(op),
        &json!({ "brief": "after the tampering" }),
    )?;
    let v = verify(&app, &root)?;
    check!(
        v["valid"] == true && v["entries"] == total + 1,
        "after one more append: {v}"
    );
    Ok(())
}

const COLUMNS: [&str; 11] = [
    "seq",
    "ts",
    "tenant_id",
    "actor",
    "action",
    "target",
    "detail",
    "request_id",
    "build_sha",
    "prev_hash",
    "hash",
];

fn read_entry(db: &rusqlite::Connection, seq: i64) -> Result<BTreeMap<String, Sql>> {
    let sql = format!(
        "SELECT {} FROM audit_log WHERE seq = ?1",
        COLUMNS.join(", ")
    );
    db.query_row(&sql, [seq], |r| {
        let mut m = BTreeMap::new();
        for (i, c) in COLUMNS.iter().enumerate() {
            m.insert(c.to_string(), r.get::<_, Sql>(i)?);
        }
        Ok(m)
    })
    .with_context(|| format!("reading audit entry {seq}"))
}

fn text_of(row: &BTreeMap<String, Sql>, col: &str) -> Result<String> {
    match row.get(col) {
        Some(Sql::Text(t)) => Ok(t.clone()),
        other => anyhow::bail!("{col} is {other:?}"),
    }
}

fn json_of(v: &Sql) -> Value {
    match v {
        Sql::Null => Value::Null,
        Sql::Integer(i) => json!(i),
        Sql::Text(t) => json!(t),
        Sql::Real(f) => json!(f),
        Sql::Blob(_) => Value::Null,
    }
}

/// The entry's hash as docs/SECURITY.md defines it:
/// SHA-256(prev_hash + "\n" + canonical JSON of the content).
fn entry_hash(row: &BTreeMap<String, Sql>) -> Result<String> {
    let g = |c: &str| row.get(c).map(json_of).unwrap_or(Value::Null);
    let canonical = json!({
        "action": g("action"), "actor": g("actor"), "build_sha": g("build_sha"),
        "detail": g("detail"), "request_id": g("request_id"), "seq": g("seq"),
        "target": g("target"), "tenant": g("tenant_id"), "ts": g("ts"),
    })
    .to_string();
    let input = format!("{}\n{canonical}", text_of(row, "prev_hash")?);
    Ok(echopilot_core::hex(&sha256(input.as_bytes())))
}

/// The secret the anchors are signed with (the database never holds it).
const AUDIT_SECRET: &str = "e2e-audit-signing-secret-0123456789abcdef";

/// Rewrite entries `from..=to` with `actor` changed on the first and every
/// hash recomputed, so the chain links again: what an attacker with the
/// database but not the signing secret can do.
fn rewrite(db: &rusqlite::Connection, from: i64, to: i64) -> Result<()> {
    let mut prev = text_of(&read_entry(db, from - 1)?, "hash")?;
    for seq in from..=to {
        let mut row = read_entry(db, seq)?;
        if seq == from {
            row.insert("actor".into(), Sql::Text("mallory".into()));
        }
        row.insert("prev_hash".into(), Sql::Text(prev.clone()));
        let hash = entry_hash(&row)?;
        db.execute(
            "UPDATE audit_log SET actor = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
            rusqlite::params![row["actor"], prev, hash, seq],
        )?;
        prev = hash;
    }
    Ok(())
}

/// Verify: the chain is reported broken at `seq`, for a reason saying `why`.
fn expect_broken(app: &App, root: &Cred, seq: i64, why: &str) -> Result<()> {
    let v = verify(app, root)?;
    check!(
        v["valid"] == false
            && v["first_broken"]["seq"] == seq
            && v["first_broken"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains(why)),
        "expected a break at {seq} saying {why:?}: {v}"
    );
    Ok(())
}

fn signed_anchors(env: &Env) -> Result<()> {
    let app = env.app_with(|b| identity_vars(b).variable("audit_signing_secret", AUDIT_SECRET))?;
    let root = Cred::Bearer(root_token(&app)?);
    let (_, op) = user_token(&app, &root, "op@anchors.test", "operator", "default")?;
    let op = Cred::Bearer(op);
    for i in 0..30 {
        enqueue(&app, &op, &json!({ "brief": format!("anchored work {i}") }))?;
    }
    // The job runs through its route (an external scheduler's way)...
    let resp = call(&app, "POST", "/api/internal/cron/audit", &Cred::Cron, None)?;
    let run = expect_status(&resp, 200)?;
    check!(
        run["data"]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("anchored entry")),
        "the audit job's run: {run}"
    );
    let v = verify(&app, &root)?;
    let head = v["entries"].as_i64().context("entries")?;
    check!(
        v["valid"] == true
            && v["anchors"]["status"] == "ok"
            && v["anchors"]["newest_seq"] == head
            && v["anchors"]["kv_copy"] == "matches",
        "anchored: {v}"
    );
    // ...and on schedule, here a cron tick of the next minutes.
    let host = app.host().context("host-only")?;
    let minute = echopilot_e2e::scenario::unix_now() / 60 * 60 + 60;
    for i in 0..5 {
        enqueue(&app, &op, &json!({ "brief": format!("more work {i}") }))?;
    }
    host.tick_at("cron-audit", minute + 20)?
        .map_err(anyhow::Error::msg)?;
    let v = verify(&app, &root)?;
    let head = v["entries"].as_i64().context("entries")?;
    check!(
        v["valid"] == true && v["anchors"]["newest_seq"] == head && v["anchors"]["anchors"] == 2,
        "two anchors: {v}"
    );

    let db = rusqlite::Connection::open(host.data_dir().join("sqlite_db.db"))?;
    db.busy_timeout(std::time::Duration::from_secs(10))?;
    let saved: Vec<BTreeMap<String, Sql>> = (head - 3..=head)
        .map(|seq| read_entry(&db, seq))
        .collect::<Result<_>>()?;
    // The attack: rewrite the last four entries (after the first anchor,
    // up to the second) with fresh hashes. The chain alone would verify;
    // its anchor does not.
    rewrite(&db, head - 3, head)?;
    expect_broken(&app, &root, head, "rewritten").context("a rewritten tail")?;
    // The job does not anchor it: it fails and pages.
    let failed = host.tick_at("cron-audit", minute + 80)?;
    check!(
        failed
            .as_ref()
            .is_err_and(|e| e.contains("audit_chain_broken") || e.contains("rewritten")),
        "the audit job anchored a rewritten chain: {failed:?}"
    );
    let incidents = expect_status(
        &call(
            &app,
            "GET",
            "/api/incidents?source=audit",
            &Cred::Dashboard,
            None,
        )?,
        200,
    )?;
    check!(
        incidents.to_string().contains("CRITICAL"),
        "no CRITICAL incident for the tampered chain: {incidents}"
    );
    // Put the entries back: valid again.
    for e in &saved {
        db.execute(
            "UPDATE audit_log SET actor = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
            rusqlite::params![e["actor"], e["prev_hash"], e["hash"], e["seq"]],
        )?;
    }
    check!(verify(&app, &root)?["valid"] == true, "restored");
    // The attack: cut the tail, and the anchors that name it.
    db.execute("DELETE FROM audit_log WHERE seq > ?1", [head - 3])?;
    expect_broken(&app, &root, head, "cut").context("a cut tail")?;
    db.execute(
        "DELETE FROM audit_signed_anchors WHERE seq > ?1",
        [head - 3],
    )?;
    expect_broken(&app, &root, head, "missing from the database")
        .context("a cut tail with its anchor deleted (the key-value copy names it)")?;
    Ok(())
}

fn filters(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let root = Cred::Bearer(root_token(&app)?);
    create_tenant(&app, &root, "acme")?;
    let (op_id, op) = user_token(&app, &root, "op@audit.test", "operator", "default")?;
    let (acme_op_id, acme_op) = user_token(&app, &root, "op@acme.test", "operator", "acme")?;
    let (_, acme_admin) = user_token(&app, &root, "admin@acme.test", "admin", "acme")?;
    let (op, acme_op, acme_admin) = (
        Cred::Bearer(op),
        Cred::Bearer(acme_op),
        Cred::Bearer(acme_admin),
    );
    for i in 0..12 {
        enqueue(&app, &op, &json!({ "brief": format!("default job {i}") }))?;
    }
    for i in 0..5 {
        enqueue(&app, &acme_op, &json!({ "brief": format!("acme job {i}") }))?;
    }
    let all = audit_entries(&app, &root, "", 5)?;
    let total = all.len();
    let get = |cred: &Cred, query: &str| -> Result<Value> {
        let body = expect_status(
            &call(
                &app,
                "GET",
                &format!("/api/audit/chain?{query}"),
                cred,
                None,
            )?,
            200,
        )
        .with_context(|| format!("chain?{query}"))?;
        Ok(body["data"].clone())
    };
    let entries = |d: &Value| d["entries"].as_array().cloned().unwrap_or_default();
    let seqs = |d: &Value| -> Vec<i64> {
        entries(d)
            .iter()
            .filter_map(|e| e["seq"].as_i64())
            .collect()
    };

    // Default page: newest first, 50 at most.
    let d = get(&root, "")?;
    let s = seqs(&d);
    check!(
        s.windows(2).all(|w| w[0] == w[1] + 1),
        "default page order: {s:?}"
    );
    check!(s.first() == Some(&(total as i64)), "newest first: {s:?}");
    // action
    let d = get(&root, "action=job.enqueue&limit=500")?;
    check!(
        entries(&d).len() == 17 && entries(&d).iter().all(|e| e["action"] == "job.enqueue"),
        "action filter: {d}"
    );
    check!(d["next_cursor"].is_null(), "a cursor after the last page");
    // actor
    let d = get(&root, &format!("actor=user:{acme_op_id}&limit=500"))?;
    let e = entries(&d);
    check!(
        e.iter()
            .all(|x| x["actor"] == format!("user:{acme_op_id}").as_str())
            && e.len() == 6,
        "actor filter (5 enqueues and a sign-in): {d}"
    );
    let d = get(
        &root,
        &format!("actor=user:{op_id}&action=job.enqueue&limit=500"),
    )?;
    check!(
        entries(&d).len() == 12,
        "actor and action: {}",
        entries(&d).len()
    );
    // limit and cursor
    let d = get(&root, "limit=7")?;
    let first = seqs(&d);
    check!(first.len() == 7, "limit 7: {first:?}");
    check!(
        d["next_cursor"] == first[6].to_string().as_str(),
        "next cursor: {}",
        d["next_cursor"]
    );
    let d = get(&root, &format!("limit=7&cursor={}", first[6]))?;
    let second = seqs(&d);
    check!(
        second.first() == Some(&(first[6] - 1)) && second.len() == 7,
        "second page: {second:?}"
    );
    let d = get(&root, "cursor=5&limit=500")?;
    check!(seqs(&d) == vec![4, 3, 2, 1], "cursor 5: {:?}", seqs(&d));
    let d = get(&root, "cursor=1")?;
    check!(
        entries(&d).is_empty() && d["next_cursor"].is_null(),
        "before the first entry: {d}"
    );
    // since
    let d = get(&root, "since=2999-01-01T00:00:00Z")?;
    check!(entries(&d).is_empty(), "entries from the future: {d}");
    let d = get(&root, "since=2000-01-01T00:00:00Z&limit=500")?;
    check!(
        entries(&d).len() == total,
        "since 2000: {}",
        entries(&d).len()
    );
    // tenant scope: a tenant admin sees its own tenant's entries only;
    // the default tenant's admin can pick one.
    let d = get(&acme_admin, "limit=500")?;
    let e = entries(&d);
    check!(
        !e.is_empty() && e.iter().all(|x| x["tenant_id"] == "acme"),
        "acme admin's view: {d}"
    );
    let d = get(&root, "tenant_id=acme&limit=500")?;
    check!(
        entries(&d).len() == e.len(),
        "root's view of acme: {}",
        entries(&d).len()
    );
    // Bad parameters.
    for (q, code_) in [
        ("limit=0", "invalid_limit"),
        ("limit=501", "invalid_limit"),
        ("limit=ten", "invalid_limit"),
        ("cursor=abc", "invalid_cursor"),
    ] {
        let resp = call(&app, "GET", &format!("/api/audit/chain?{q}"), &root, None)?;
        expect_error(&resp, 400, code_, q)?;
    }
    let resp = call(&app, "GET", "/api/audit/chain?since=yesterday", &root, None)?;
    check!(resp.status == 400, "bad since: {}", resp.status);
    // Admins only.
    for cred in [&op, &acme_op] {
        expect_error(
            &call(&app, "GET", "/api/audit/chain", cred, None)?,
            403,
            "insufficient_role",
            "operator reading the chain",
        )?;
        expect_error(
            &call(&app, "GET", "/api/audit/verify", cred, None)?,
            403,
            "insufficient_role",
            "operator verifying",
        )?;
    }
    expect_error(
        &call(&app, "GET", "/api/audit/chain", &Cred::Nobody, None)?,
        401,
        "unauthorized",
        "anonymous",
    )?;
    let v = verify(&app, &Cred::Dashboard)?;
    check!(v["valid"] == true && v["entries"] == total, "verify: {v}");
    Ok(())
}

/// Run `tools/verify_audit_export.py` on `doc` (with the signing secret when
/// `signed`): its exit status and what it printed.
fn offline_verifier(doc: &Value, signed: bool) -> Result<(i32, String)> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("export.json");
    std::fs::write(&file, serde_json::to_vec(doc)?)?;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/verify_audit_export.py");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(script).arg(&file);
    if signed {
        let secret = dir.path().join("secret");
        std::fs::write(&secret, AUDIT_SECRET)?;
        cmd.arg("--secret-file").arg(secret);
    }
    let out = cmd.output().context("running python3")?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

/// The issue: "`GET /api/audit/export?from=&to=` exports a range with what
/// an auditor needs to verify it offline"; business events say who, from
/// where, and the state before and after.
fn export_offline(env: &Env) -> Result<()> {
    let app = env.app_with(|b| identity_vars(b).variable("audit_signing_secret", AUDIT_SECRET))?;
    let root = Cred::Bearer(root_token(&app)?);
    create_tenant(&app, &root, "acme")?;
    let (_, op) = user_token(&app, &root, "op@export.test", "operator", "default")?;
    let (_, acme_admin) = user_token(&app, &root, "admin@acme.test", "admin", "acme")?;
    let op = Cred::Bearer(op);
    let job = enqueue(&app, &op, &json!({ "brief": "to be cancelled" }))?;
    expect_status(
        &call(
            &app,
            "POST",
            &format!("/api/jobs/{job}/cancel"),
            &op,
            Some(&json!({ "reason": "customer asked" })),
        )?,
        200,
    )?;
    // A business event: actor, client address, before and after.
    let chain = expect_status(
        &call(
            &app,
            "GET",
            "/api/audit/chain?action=job.cancel",
            &root,
            None,
        )?,
        200,
    )?;
    let cancel = &chain["data"]["entries"][0];
    check!(
        cancel["target"] == job.as_str()
            && cancel["detail"]["before"]["status"] == "queued"
            && cancel["detail"]["after"]["status"] == "cancelled"
            && cancel["detail"]["reason"] == "customer asked"
            && cancel["detail"]["client"]
                .as_str()
                .is_some_and(|c| !c.is_empty()),
        "the job.cancel entry: {cancel}"
    );
    expect_status(
        &call(&app, "POST", "/api/internal/cron/audit", &Cred::Cron, None)?,
        200,
    )?;
    enqueue(&app, &op, &json!({ "brief": "after the anchor" }))?;

    // A tenant's admin cannot export: a subset does not verify.
    let refused = call(
        &app,
        "GET",
        "/api/audit/export",
        &Cred::Bearer(acme_admin),
        None,
    )?;
    let body = expect_status(&refused, 403)?;
    check!(
        body["error"]["code"] == "platform_only",
        "tenant admin: {body}"
    );
    let bad = call(
        &app,
        "GET",
        "/api/audit/export?from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z",
        &root,
        None,
    )?;
    check!(
        expect_status(&bad, 422)?["error"]["code"] == "invalid_range",
        "a reversed range"
    );

    let export = expect_status(&call(&app, "GET", "/api/audit/export", &root, None)?, 200)?;
    let doc = &export["data"];
    let count = doc["count"].as_i64().context("count")?;
    check!(
        count >= 8
            && doc["anchors"]["in_range"]
                .as_array()
                .is_some_and(|a| !a.is_empty()),
        "the export: {count} entries, anchors {}",
        doc["anchors"]
    );
    let (code, out) = offline_verifier(&export, true)?;
    check!(
        code == 0 && out.starts_with("VERIFIED"),
        "the honest export: {code} {out}"
    );
    let (code, out) = offline_verifier(&export, false)?;
    check!(code == 3, "without the secret: {code} {out}");

    // Hostile copies of it.
    let cancel_at = doc["entries"]
        .as_array()
        .and_then(|es| es.iter().position(|e| e["action"] == "job.cancel"))
        .context("the cancel entry in the export")?;
    let mut edited = export.clone();
    edited["data"]["entries"][cancel_at]["detail"] = json!(r#"{"reason":"nothing happened"}"#);
    let mut truncated = export.clone();
    let entries = truncated["data"]["entries"]
        .as_array_mut()
        .context("entries")?;
    entries.pop();
    let kept = entries.len();
    let last = entries.last().cloned().context("an entry")?;
    // The bounds "fixed" to match: only the manifest signature tells.
    truncated["data"]["count"] = json!(kept);
    truncated["data"]["last_seq"] = last["seq"].clone();
    truncated["data"]["last_hash"] = last["hash"].clone();
    let mut reordered = export.clone();
    reordered["data"]["entries"]
        .as_array_mut()
        .context("entries")?
        .swap(1, 2);
    for (name, hostile, why) in [
        ("edited payload", edited, "hash does not match"),
        (
            "truncated tail",
            truncated,
            "manifest signature does not match",
        ),
        ("reordered rows", reordered, "expected"),
    ] {
        let (code, out) = offline_verifier(&hostile, true)?;
        check!(code == 1 && out.contains(why), "{name}: {code} {out}");
    }
    // The export is on record.
    let chain = expect_status(
        &call(
            &app,
            "GET",
            "/api/audit/chain?action=audit.exported",
            &root,
            None,
        )?,
        200,
    )?;
    check!(
        chain["data"]["entries"][0]["detail"]["count"] == count,
        "the audit.exported entry: {chain}"
    );
    Ok(())
}
