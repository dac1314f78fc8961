//! Business events in the audit chain, and the offline export: what
//! `tools/verify_audit_export.py` accepts and every hostile export it must
//! refuse (forged hash, reordered rows, a forked chain, a truncated tail,
//! an edited payload, a run rewritten with fresh hashes).

mod support;

use echopilot_core::audit::{self, anchors, export, Change, Who};
use echopilot_core::identity::api::APP as AUTH;
use echopilot_core::ports::{DbExt, Env};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::identity::{admin_token, bearer, get, make_tenant, make_user};
use support::{call, env};

const AUDIT_SECRET: &str = "audit-signing-secret-for-tests-0123456789";

fn who() -> Who {
    Who {
        tenant: "default".into(),
        actor: "user:usr_auditor".into(),
        client: Some("203.0.113.9".into()),
        request_id: Some("req_1".into()),
    }
}

fn detail_of(env: &Env, seq: i64) -> Value {
    let row = env
        .db
        .query_one(
            "SELECT detail FROM audit_log WHERE seq = ?1",
            &[echopilot_core::ports::Value::from(seq)],
        )
        .unwrap();
    serde_json::from_str(&row.text(0).unwrap()).unwrap()
}

#[test]
fn business_events_say_who_from_where_before_and_after_without_secrets() {
    let (env, _) = env(&[]);
    let seq = audit::record_business(
        &env,
        &who().in_tenant("acme"),
        "config.changed",
        Change::on("tenant:acme")
            .before(json!({ "locale": "en", "smtp": { "password": "old-secret" } }))
            .after(json!({ "locale": "es", "smtp": { "password": "new-secret" } }))
            .detail(json!({ "api_key": "sk_live_x", "note": "moved to Spain" })),
    )
    .unwrap();
    let row = env
        .db
        .query_one(
            "SELECT tenant_id, actor, action, target, request_id FROM audit_log WHERE seq = ?1",
            &[echopilot_core::ports::Value::from(seq)],
        )
        .unwrap();
    assert_eq!(row.text(0).unwrap(), "acme");
    assert_eq!(row.text(1).unwrap(), "user:usr_auditor");
    assert_eq!(row.text(2).unwrap(), "config.changed");
    assert_eq!(row.text(3).unwrap(), "tenant:acme");
    assert_eq!(row.text(4).unwrap(), "req_1");
    let d = detail_of(&env, seq);
    assert_eq!(d["client"], "203.0.113.9");
    assert_eq!(d["before"]["locale"], "en");
    assert_eq!(d["after"]["locale"], "es");
    assert_eq!(d["after"]["smtp"]["password"], "[redacted]");
    assert_eq!(d["api_key"], "[redacted]");
    assert_eq!(d["note"], "moved to Spain");
    assert!(!d.to_string().contains("secret"), "{d}");
    assert!(audit::verify(&env).unwrap().valid);

    let e =
        audit::record_business(&env, &who(), "Not An Action", Change::untargeted()).unwrap_err();
    assert_eq!(e.status(), 500);
    assert_eq!(audit::verify(&env).unwrap().entries, 1);
}

/// `n` business events a minute apart, with awkward text in their details.
fn events(env: &Env, clock: &echopilot_core::adapters::native::ManualClock, n: usize, tag: &str) {
    for i in 0..n {
        clock.advance(60_000);
        audit::record_business(
            env,
            &who(),
            "job.cancel",
            Change::on(&format!("job_{tag}{i}"))
                .before(json!({ "status": "queued" }))
                .after(json!({ "status": "cancelled" }))
                .detail(json!({ "reason": format!("é \"quoted\" \\ \u{1} 😀 </script> {i}") })),
        )
        .unwrap();
    }
}

/// A chain of 30 entries, anchored at 10 and 20.
fn anchored_chain() -> (Env, echopilot_core::adapters::native::ManualClock) {
    let (env, clock) = env(&[("audit_signing_secret", AUDIT_SECRET)]);
    events(&env, &clock, 10, "a");
    anchors::anchor(&env).unwrap();
    events(&env, &clock, 10, "b");
    anchors::anchor(&env).unwrap();
    events(&env, &clock, 10, "c");
    (env, clock)
}

fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools")
}

/// Run the verifier on `doc`: (exit status, what it printed).
fn verifier(doc: &Value, secret: Option<&str>) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.json");
    std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg(tools_dir().join("verify_audit_export.py"))
        .arg(&file);
    if let Some(s) = secret {
        let sf = dir.path().join("secret.txt");
        std::fs::write(&sf, format!("{s}\n")).unwrap();
        cmd.arg("--secret-file").arg(sf);
    }
    let out = cmd.output().expect("python3 runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn broken(doc: &Value, secret: Option<&str>, why: &str) {
    let (code, text) = verifier(doc, secret);
    assert_eq!(code, 1, "expected BROKEN ({why}), got: {text}");
    assert!(text.contains(why), "expected `{why}` in: {text}");
}

/// Recompute hashes from entry `from` (an index) on, as a forger would.
fn rehash_from(doc: &mut Value, from: usize) {
    let entries = doc["entries"].as_array_mut().unwrap();
    for i in from..entries.len() {
        if i > 0 {
            entries[i]["prev_hash"] = entries[i - 1]["hash"].clone();
        }
        let e = &entries[i];
        let canonical = json!({
            "action": e["action"], "actor": e["actor"], "build_sha": e["build_sha"],
            "detail": e["detail"], "request_id": e["request_id"], "seq": e["seq"],
            "target": e["target"], "tenant": e["tenant"], "ts": e["ts"],
        })
        .to_string();
        let h = echopilot_core::hex(&sha256(
            format!("{}\n{canonical}", e["prev_hash"].as_str().unwrap()).as_bytes(),
        ));
        entries[i]["hash"] = Value::from(h);
    }
    let last = entries.last().unwrap()["hash"].clone();
    doc["last_hash"] = last;
}

fn sha256(b: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(b).to_vec()
}

fn whole(env: &Env) -> Value {
    export::build(
        env,
        export::Range {
            from: 0,
            to: i64::MAX,
        },
        "user:usr_auditor",
    )
    .unwrap()
}

#[test]
fn an_honest_export_verifies_with_and_without_the_secret() {
    let (env, _) = anchored_chain();
    let doc = whole(&env);
    assert_eq!(doc["count"], 30);
    assert_eq!(doc["anchors"]["in_range"].as_array().unwrap().len(), 2);
    let (code, text) = verifier(&doc, Some(AUDIT_SECRET));
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("VERIFIED: entries 1..30 (30)"), "{text}");
    // Without the key: consistent, but the signatures are unchecked.
    let (code, text) = verifier(&doc, None);
    assert_eq!(code, 3, "{text}");
    // Wrapped in the API's envelope, as curl saves it.
    let (code, text) = verifier(&json!({ "ok": true, "data": doc }), Some(AUDIT_SECRET));
    assert_eq!(code, 0, "{text}");
    // Another secret is another key.
    broken(
        &doc,
        Some("another-signing-secret-0123456789abcdef"),
        "signed with another key",
    );
}

#[test]
fn a_range_starts_from_the_hash_before_it_and_carries_the_anchor_before() {
    let (env, _) = anchored_chain();
    let t = |seq: i64| {
        env.db
            .query_one(
                "SELECT ts FROM audit_log WHERE seq = ?1",
                &[echopilot_core::ports::Value::from(seq)],
            )
            .unwrap()
            .i64(0)
            .unwrap()
    };
    let doc = export::build(
        &env,
        export::Range {
            from: t(12),
            to: t(25),
        },
        "user:usr_auditor",
    )
    .unwrap();
    assert_eq!(
        (doc["first_seq"].as_i64(), doc["last_seq"].as_i64()),
        (Some(12), Some(24))
    );
    assert_eq!(doc["anchors"]["previous"]["seq"], 10);
    assert_eq!(doc["anchors"]["in_range"][0]["seq"], 20);
    let (code, text) = verifier(&doc, Some(AUDIT_SECRET));
    assert_eq!(code, 0, "{text}");
    // An empty range verifies as empty.
    let doc = export::build(&env, export::Range { from: 1, to: 2 }, "x").unwrap();
    assert_eq!(doc["count"], 0);
    assert_eq!(verifier(&doc, Some(AUDIT_SECRET)).0, 0);
}

#[test]
fn hostile_exports_are_refused() {
    let (env, _) = anchored_chain();
    let doc = whole(&env);
    let s = Some(AUDIT_SECRET);

    // An edited payload.
    let mut d = doc.clone();
    d["entries"][4]["detail"] = Value::from(r#"{"reason":"nothing to see"}"#);
    broken(&d, None, "entry 5: hash does not match");

    // A forged hash: the entry's hash replaced.
    let mut d = doc.clone();
    d["entries"][6]["hash"] = Value::from("0".repeat(64));
    broken(&d, None, "entry 7: hash does not match");

    // An edit with every later hash recomputed: consistent as a chain, but
    // not with the signed anchors.
    let mut d = doc.clone();
    d["entries"][4]["actor"] = Value::from("user:usr_someone_else");
    rehash_from(&mut d, 4);
    assert_eq!(verifier(&d, None).0, 1, "the in-range anchors still hold");
    broken(&d, s, "entry 10 differs from its anchor");
    // ... and with the anchors dropped too, the manifest signature.
    d["anchors"]["in_range"] = json!([]);
    broken(&d, s, "the manifest signature does not match");

    // Reordered rows.
    let mut d = doc.clone();
    d["entries"].as_array_mut().unwrap().swap(3, 4);
    broken(&d, None, "entry 5 where 4 was expected");

    // A forked chain: a second entry 12 linked to entry 11.
    let mut d = doc.clone();
    let mut fork = d["entries"][11].clone();
    fork["detail"] = Value::from(r#"{"reason":"the other branch"}"#);
    d["entries"].as_array_mut().unwrap().insert(12, fork);
    d["count"] = Value::from(31);
    broken(&d, None, "entry 12 appears twice: a forked chain");
    // A fork spliced in place of the original branch, hashes recomputed.
    let mut d = doc.clone();
    d["entries"][11]["detail"] = Value::from(r#"{"reason":"the other branch"}"#);
    rehash_from(&mut d, 11);
    broken(&d, s, "entry 20 differs from its anchor");

    // A truncated tail: as cut, and with the declared bounds "fixed".
    let mut d = doc.clone();
    d["entries"].as_array_mut().unwrap().truncate(27);
    broken(&d, None, "declares 30 entries but holds 27");
    d["count"] = Value::from(27);
    d["last_seq"] = Value::from(27);
    d["last_hash"] = d["entries"][26]["hash"].clone();
    assert_eq!(
        verifier(&d, None).0,
        3,
        "without the key the cut is invisible"
    );
    broken(&d, s, "the manifest signature does not match");
    // Cut below an anchor: the anchor names a missing entry.
    let mut d = doc.clone();
    d["entries"].as_array_mut().unwrap().truncate(15);
    d["count"] = Value::from(15);
    d["last_seq"] = Value::from(15);
    d["last_hash"] = d["entries"][14]["hash"].clone();
    broken(&d, None, "entry 20 is anchored but missing");

    // A forged anchor.
    let mut d = doc.clone();
    d["anchors"]["in_range"][1]["anchored_at"] = Value::from(1);
    broken(&d, s, "the anchor of entry 20 does not match its signature");
    // Something that is not an export at all.
    broken(
        &json!({ "entries": [] }),
        s,
        "not an echopilot-audit-export/1",
    );
}

#[test]
fn only_the_platforms_admins_export_and_each_export_is_audited() {
    let mut vars = support::identity::VARS.to_vec();
    vars.push(("audit_signing_secret", AUDIT_SECRET));
    let (env, _) = env(&vars);
    let admin = admin_token(&env);
    make_tenant(&env, &admin, "acme");
    let acme_admin = make_user(&env, &admin, "boss@acme.test", "admin", "acme");
    let (resp, body) = call(&AUTH, &env, bearer(get("/api/audit/export"), &acme_admin));
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (403, Some("platform_only")),
        "{body}"
    );
    let (resp, body) = call(
        &AUTH,
        &env,
        bearer(
            get("/api/audit/export?from=2027-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"),
            &admin,
        ),
    );
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (422, Some("invalid_range")),
        "{body}"
    );
    let (resp, body) = call(
        &AUTH,
        &env,
        bearer(get("/api/audit/export?from=yesterday"), &admin),
    );
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (400, Some("invalid_timestamp")),
        "{body}"
    );
    let before = audit::verify(&env).unwrap().entries;
    let (resp, body) = call(&AUTH, &env, bearer(get("/api/audit/export"), &admin));
    assert_eq!(resp.status, 200, "{body}");
    assert_eq!(body["data"]["count"].as_i64(), Some(before));
    let (code, text) = verifier(&body, Some(AUDIT_SECRET));
    assert_eq!(code, 0, "{text}");
    let last: Value = serde_json::from_str(
        &env.db
            .query_one(
                "SELECT action || '|' || detail FROM audit_log ORDER BY seq DESC LIMIT 1",
                &[],
            )
            .unwrap()
            .text(0)
            .unwrap()
            .split_once('|')
            .map(|(a, d)| {
                assert_eq!(a, "audit.exported");
                d.to_string()
            })
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["count"].as_i64(), Some(before));
}
