//! Privacy against real SQLite: a data subject's export and erasure within
//! tenants, who may ask for them, consent records, and the retention
//! windows enforced in bounded batches as data ages.

mod support;

use echopilot_core::ports::{DbExt, Env};
use echopilot_core::privacy::{self, retention};
use echopilot_core::scheduler::Trigger;
use echopilot_core::time::DAY_MS;
use serde_json::{json, Value};
use support::identity::*;
use support::*;

const ALICE: &str = "alice@example.org";

fn count(env: &Env, sql: &str) -> i64 {
    env.db.query_one(sql, &[]).unwrap().i64(0).unwrap()
}

/// A job row of `tenant` for `email`, last touched `age_days` ago.
fn seed_job(env: &Env, id: &str, tenant: &str, email: &str, status: &str, age_days: i64) {
    let at = env.clock.now_ms() - age_days * DAY_MS;
    env.db
        .exec(
            "INSERT INTO jobs (id, tenant_id, source, type, priority, status, max_attempts, run_at,
                title, brief, email, input, output, build_sha, build_dirty, created_at, updated_at, finished_at)
             VALUES (?1, ?2, 'api', 'ai_task', 1, ?3, 3, ?4, 'A title', 'Write to ' || ?5, ?5,
                '{\"context\":{\"phone\":\"+1 555\"}}', 'Dear customer', 'test', 0, ?4, ?4, ?4)",
            &[id.into(), tenant.into(), status.into(), at.into(), email.into()],
        )
        .unwrap();
    env.db
        .exec(
            "INSERT INTO job_attempts (job_id, tenant_id, claim, round, worker, status, output, feedback,
                build_sha, started_at) VALUES (?1, ?2, 1, 1, 'w', 'passed', 'Dear customer', 'fine', 'test', ?3)",
            &[id.into(), tenant.into(), at.into()],
        )
        .unwrap();
}

fn seed_receipt(env: &Env, id: &str, tenant: &str, email: &str, age_days: i64) {
    let at = env.clock.now_ms() - age_days * DAY_MS;
    env.db
        .exec(
            "INSERT INTO receipts (id, tenant_id, email, payment_key, description, amount, currency,
                livemode, paid_at, updated_at) VALUES (?1, ?2, ?3, ?1, 'Job', 500, 'USD', 0, ?4, ?4)",
            &[id.into(), tenant.into(), email.into(), at.into()],
        )
        .unwrap();
}

/// Two tenants (acme with an admin and a viewer, beta), and Alice's data
/// in both.
struct World {
    env: Env,
    clock: echopilot_core::adapters::native::ManualClock,
    root: String,
    acme_admin: String,
    acme_viewer: String,
}

fn world() -> World {
    let (env, clock) = env(VARS);
    let root = admin_token(&env);
    make_tenant(&env, &root, "acme");
    make_tenant(&env, &root, "beta");
    let acme_admin = make_user(&env, &root, "boss@acme.example", "admin", "acme");
    let acme_viewer = make_user(&env, &root, "bob@acme.example", "viewer", "acme");
    make_user(&env, &root, ALICE, "viewer", "acme");
    seed_job(&env, "job_a1", "acme", ALICE, "completed", 1);
    seed_job(&env, "job_a2", "acme", ALICE, "queued", 0);
    seed_job(&env, "job_b1", "beta", ALICE, "completed", 1);
    seed_job(
        &env,
        "job_other",
        "acme",
        "carol@example.org",
        "completed",
        1,
    );
    seed_receipt(&env, "rcpt_a", "acme", ALICE, 1);
    seed_receipt(&env, "rcpt_b", "beta", ALICE, 1);
    World {
        env,
        clock,
        root,
        acme_admin,
        acme_viewer,
    }
}

fn privacy_call(w: &World, token: &str, req: echopilot_core::http::Request) -> (u16, Value) {
    let (resp, body) = call(&privacy::APP, &w.env, bearer(req, token));
    (resp.status, body)
}

fn export(w: &World, token: &str, email: &str) -> (u16, Value) {
    privacy_call(w, token, get(&format!("/api/privacy/export?email={email}")))
}

fn erase(w: &World, token: &str, email: &str) -> (u16, Value) {
    let req = post_json(
        "/api/privacy/delete",
        &json!({ "email": email, "reason": "ticket 42" }),
    );
    privacy_call(w, token, req)
}

fn ids(section: &Value) -> Vec<String> {
    let mut v: Vec<String> = section
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn an_export_lists_the_subjects_rows_of_the_callers_tenant_only() {
    let w = world();
    let (status, body) = export(&w, &w.acme_admin, "Alice@Example.org");
    assert_eq!(status, 200, "{body}");
    let d = &body["data"];
    assert_eq!(d["tenant"], "acme");
    assert_eq!(ids(&d["sections"]["jobs"]), ["job_a1", "job_a2"]);
    assert_eq!(ids(&d["sections"]["receipts"]), ["rcpt_a"]);
    assert_eq!(d["sections"]["accounts"][0]["email"], ALICE);
    assert!(d["sections"]["accounts"][0].get("password_hash").is_none());
    assert_eq!(d["sections"]["job_attempts"].as_array().unwrap().len(), 2);
    assert!(d["sections"]["jobs"][0]["created_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));

    // The platform admin sees every tenant's rows, or one tenant's on ask.
    let (_, all) = export(&w, &w.root, ALICE);
    assert_eq!(
        ids(&all["data"]["sections"]["jobs"]),
        ["job_a1", "job_a2", "job_b1"]
    );
    let (_, beta) = export(&w, &w.root, &format!("{ALICE}&tenant_id=beta"));
    assert_eq!(ids(&beta["data"]["sections"]["jobs"]), ["job_b1"]);

    // A tenant admin cannot widen the scope to another tenant.
    let (status, body) = export(&w, &w.acme_admin, &format!("{ALICE}&tenant_id=beta"));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("cross_tenant"))
    );

    // Each export is in the audit chain, with the pseudonym, not the email.
    let rows = w
        .env
        .db
        .exec(
            "SELECT target, detail FROM audit_log WHERE action = 'privacy.export'",
            &[],
        )
        .unwrap();
    assert_eq!(rows.rows.len(), 3);
    let target = rows.rows[0].text(0).unwrap();
    assert!(
        target.starts_with("sha256:") && target.len() == 71,
        "{target}"
    );
    assert_eq!(
        count(
            &w.env,
            "SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%alice%' OR target LIKE '%alice%'"
        ),
        0
    );
}

#[test]
fn users_read_their_own_data_only_and_never_erase() {
    let w = world();
    let (status, body) = export(&w, &w.acme_viewer, ALICE);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("not_your_email"))
    );
    let (status, body) = export(&w, &w.acme_viewer, "bob@acme.example");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["sections"]["accounts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (status, _) = erase(&w, &w.acme_viewer, "bob@acme.example");
    assert_eq!(status, 403);
    let (status, body) = export(&w, &w.acme_admin, "not-an-email");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_email"))
    );
    let (status, body) = privacy_call(&w, &w.acme_admin, get("/api/privacy/export"));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("missing_email"))
    );
}

#[test]
fn erasure_anonymises_the_tenants_data_keeps_payments_and_is_audited() {
    let w = world();
    let (status, body) = erase(&w, &w.acme_admin, ALICE);
    assert_eq!(status, 200, "{body}");
    let e = &body["data"]["erased"];
    assert_eq!(e["jobs"], 2);
    assert_eq!(e["jobs_cancelled"], 1);
    assert_eq!(e["job_attempts"], 2);
    assert_eq!(e["accounts"], 1);
    assert_eq!(e["receipts_kept"], 1);

    let db = &w.env.db;
    let row = db
        .query_one(
            "SELECT brief, email, output, title, input, status FROM jobs WHERE id = 'job_a2'",
            &[],
        )
        .unwrap();
    assert_eq!(row.text(0).unwrap(), "[erased]");
    assert_eq!(row.opt_text(1).unwrap(), None);
    assert_eq!(row.opt_text(2).unwrap(), None);
    assert_eq!(row.opt_text(3).unwrap(), None);
    assert!(!row.text(4).unwrap().contains("555"));
    assert_eq!(row.text(5).unwrap(), "cancelled");
    assert_eq!(count(&w.env, "SELECT COUNT(*) FROM job_attempts WHERE tenant_id = 'acme' AND output IS NOT NULL AND job_id <> 'job_other'"), 0);
    // Beta's data and other people's data are untouched; receipts kept.
    assert_eq!(count(&w.env, "SELECT COUNT(*) FROM jobs WHERE id IN ('job_b1', 'job_other') AND email IS NOT NULL AND brief <> '[erased]'"), 2);
    assert_eq!(
        count(
            &w.env,
            "SELECT COUNT(*) FROM receipts WHERE email = 'alice@example.org'"
        ),
        2
    );
    // The account is anonymised and cannot sign in.
    assert_eq!(
        count(
            &w.env,
            "SELECT COUNT(*) FROM users WHERE email = 'alice@example.org'"
        ),
        0
    );
    assert_eq!(count(&w.env, "SELECT COUNT(*) FROM users WHERE email LIKE 'erased+%@erased.invalid' AND disabled = 1"), 1);
    let (status, _) = login(&w.env, ALICE, "a long enough password");
    assert_eq!(status, 401);
    // Audited without the email.
    let detail = db
        .query_one(
            "SELECT detail, tenant_id FROM audit_log WHERE action = 'privacy.erase'",
            &[],
        )
        .unwrap();
    assert!(detail.text(0).unwrap().contains("ticket 42"));
    assert!(!detail.text(0).unwrap().contains("alice"));
    assert_eq!(detail.text(1).unwrap(), "acme");
    assert_eq!(
        body["data"]["audit_seq"],
        count(
            &w.env,
            "SELECT MAX(seq) FROM audit_log WHERE action = 'privacy.erase'"
        )
    );

    // Erasing again finds nothing; an export finds only the kept receipt.
    let (_, again) = erase(&w, &w.acme_admin, ALICE);
    assert_eq!(again["data"]["erased"]["jobs"], 0);
    let (_, after) = export(&w, &w.acme_admin, ALICE);
    let s = &after["data"]["sections"];
    assert_eq!(s["jobs"].as_array().unwrap().len(), 0);
    assert_eq!(s["accounts"].as_array().unwrap().len(), 0);
    assert_eq!(ids(&s["receipts"]), ["rcpt_a"]);
}

#[test]
fn consents_are_recorded_withdrawn_and_validated() {
    let w = world();
    let alice = {
        let (status, body) = login(&w.env, ALICE, "a long enough password");
        assert_eq!(status, 200);
        body["data"]["access_token"].as_str().unwrap().to_string()
    };
    let give = |token: &str, email: &str, purpose: &str, granted: bool| {
        privacy_call(
            &w,
            token,
            post_json(
                "/api/privacy/consents",
                &json!({ "email": email, "purpose": purpose, "version": "2026-12", "source": "dashboard", "granted": granted }),
            ),
        )
    };
    let (status, body) = give(&alice, ALICE, "marketing_email", true);
    assert_eq!(status, 201, "{body}");
    w.clock.advance(1000);
    let (status, _) = give(&alice, ALICE, "marketing_email", false);
    assert_eq!(status, 201);
    let (status, body) = give(&alice, "bob@acme.example", "terms", true);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("not_your_email"))
    );
    let (status, body) = give(&w.acme_admin, ALICE, "everything", true);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_consent"))
    );
    assert_eq!(count(&w.env, "SELECT COUNT(*) FROM privacy_consents"), 2);

    let (status, body) = privacy_call(
        &w,
        &alice,
        get(&format!("/api/privacy/consents?email={ALICE}")),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["records"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"]["current"][0]["granted"], false);
    assert_eq!(
        count(
            &w.env,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'privacy.consent'"
        ),
        2
    );
}

#[test]
fn retention_erases_aged_data_in_bounded_batches() {
    let (env, _clock) = env(&[
        ("retention_batch_size", "2"),
        ("retention_max_batches", "2"),
    ]);
    for i in 0..5 {
        seed_job(
            &env,
            &format!("old_{i}"),
            "default",
            ALICE,
            "completed",
            400 + i,
        );
    }
    seed_job(&env, "recent", "default", ALICE, "completed", 100);
    seed_job(&env, "old_but_queued", "default", ALICE, "queued", 400);
    seed_receipt(&env, "rcpt_old", "default", ALICE, 400);
    seed_receipt(&env, "rcpt_ancient", "default", ALICE, 3700);
    let now = env.clock.now_ms();
    env.db
        .exec(
            "INSERT INTO incident_deliveries (id, channel, payload, status, created_at, updated_at)
             VALUES ('d_old', 'email', '{}', 'sent', ?1, ?1), ('d_new', 'email', '{}', 'sent', ?2, ?2),
                    ('d_pending', 'email', '{}', 'pending', ?1, ?1)",
            &[(now - 40 * DAY_MS).into(), now.into()],
        )
        .unwrap();

    let first = retention::enforce(&env, now).unwrap();
    let jobs = first.iter().find(|o| o.kind == "job_content").unwrap();
    assert_eq!((jobs.rows, jobs.batches, jobs.backlog), (4, 2, true));
    let second = retention::enforce(&env, now).unwrap();
    let jobs = second.iter().find(|o| o.kind == "job_content").unwrap();
    assert_eq!((jobs.rows, jobs.backlog), (1, false));
    assert_eq!(count(&env, "SELECT COUNT(*) FROM jobs WHERE brief = '[erased]' AND email IS NULL AND output IS NULL"), 5);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM jobs WHERE id IN ('recent', 'old_but_queued') AND brief <> '[erased]'"), 2);
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM job_attempts WHERE output IS NOT NULL"
        ),
        2
    );
    // The outbox keeps 30 days and pending messages; receipts ten years.
    assert_eq!(count(&env, "SELECT COUNT(*) FROM incident_deliveries"), 2);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM receipts"), 1);

    // Through the scheduler: a third run has nothing left.
    let report = futures::executor::block_on(echopilot_core::scheduler::run(
        &env,
        &retention::JOB,
        Trigger::Http,
        now,
    ))
    .unwrap();
    assert!(
        format!("{report:?}").contains("job_content 0"),
        "{report:?}"
    );
    let summary = echopilot_core::ports::DbExt::query_one(
        env.db.as_ref(),
        "SELECT summary FROM scheduler_runs WHERE job = 'retention'",
        &[],
    )
    .unwrap()
    .text(0)
    .unwrap();
    assert!(summary.starts_with("retention: job_content 0"), "{summary}");
}

#[test]
fn retention_windows_are_validated_and_described() {
    let (env, _) = env(&[("retention_payment_records_days", "30")]);
    let err = retention::enforce(&env, env.clock.now_ms()).unwrap_err();
    assert!(
        err.to_string().contains("retention_payment_records_days"),
        "{err}"
    );
    let (env, _) = env_with_default();
    let d = retention::describe(&env).unwrap();
    assert_eq!(d["rules"][0]["kind"], "job_content");
    assert_eq!(d["rules"][0]["days"], 365);
    assert!(d["fixed"].as_array().unwrap().len() >= 5);
}

fn env_with_default() -> (Env, echopilot_core::adapters::native::ManualClock) {
    env(&[])
}
