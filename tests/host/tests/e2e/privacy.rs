//! Privacy (api-privacy, cron-retention) end to end: a data subject's
//! export and erasure within tenants, who may ask (tenant admins in their
//! tenant, users for their own email only), the audit entries, consent
//! records, and the retention job erasing data once it has aged.

use crate::auth::kit::*;
use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, App, Env, Scenario};
use serde_json::{json, Value};

pub const SCENARIOS: &[Scenario] = &[
    Scenario::configured(
        "privacy_export_and_erasure_respect_tenants_and_are_audited",
        export_and_erasure,
    ),
    Scenario::configured(
        "privacy_consents_are_recorded_and_withdrawn_by_their_subject",
        consents,
    ),
    Scenario::configured(
        "privacy_retention_erases_job_content_once_it_has_aged",
        retention,
    ),
];

const SUBJECT: &str = "subject@privacy.test";

fn export(app: &App, cred: &Cred, query: &str) -> Result<echopilot_e2e::Response> {
    call(
        app,
        "GET",
        &format!("/api/privacy/export?{query}"),
        cred,
        None,
    )
}

fn job(app: &App, cred: &Cred, id: &str) -> Result<Value> {
    let resp = call(app, "GET", &format!("/api/jobs/{id}"), cred, None)?;
    Ok(expect_status(&resp, 200).with_context(|| format!("job {id}"))?["data"].clone())
}

fn job_ids(export: &Value) -> Vec<String> {
    export["data"]["sections"]["jobs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|j| j["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn export_and_erasure(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let root = Cred::Bearer(root_token(&app)?);
    create_tenant(&app, &root, "priv-a")?;
    create_tenant(&app, &root, "priv-b")?;
    let (_, a) = user_token(&app, &root, "admin@priv-a.test", "admin", "priv-a")?;
    let (_, b) = user_token(&app, &root, "admin@priv-b.test", "admin", "priv-b")?;
    let (_, viewer) = user_token(&app, &root, "viewer@priv-a.test", "viewer", "priv-a")?;
    let (a, b, viewer) = (Cred::Bearer(a), Cred::Bearer(b), Cred::Bearer(viewer));
    let job_a = enqueue(
        &app,
        &a,
        &json!({ "brief": "A's secret brief", "email": SUBJECT }),
    )?;
    let job_b = enqueue(
        &app,
        &b,
        &json!({ "brief": "B's secret brief", "email": SUBJECT }),
    )?;

    // A tenant admin's export holds their tenant's rows only.
    let resp = export(&app, &a, &format!("email={SUBJECT}"))?;
    let body = expect_status(&resp, 200).context("export as A")?;
    check!(
        job_ids(&body) == vec![job_a.clone()],
        "A sees its job only: {body}"
    );
    check!(body["data"]["tenant"] == "priv-a", "{body}");
    let resp = export(&app, &a, &format!("email={SUBJECT}&tenant_id=priv-b"))?;
    expect_error(&resp, 403, "cross_tenant", "A asking for B's tenant")?;
    // The platform admin sees both.
    let all = expect_status(&export(&app, &root, &format!("email={SUBJECT}"))?, 200)?;
    check!(
        job_ids(&all).len() == 2,
        "the platform admin sees both: {all}"
    );

    // A user reads their own data only, and never erases.
    let resp = export(&app, &viewer, &format!("email={SUBJECT}"))?;
    expect_error(
        &resp,
        403,
        "not_your_email",
        "a viewer exporting someone else",
    )?;
    let own = expect_status(&export(&app, &viewer, "email=viewer@priv-a.test")?, 200)?;
    check!(
        own["data"]["sections"]["accounts"][0]["email"] == "viewer@priv-a.test",
        "{own}"
    );
    let resp = call(
        &app,
        "POST",
        "/api/privacy/delete",
        &viewer,
        Some(&json!({ "email": "viewer@priv-a.test" })),
    )?;
    expect_error(&resp, 403, "insufficient_role", "a viewer erasing")?;
    let resp = export(&app, &a, "email=not-an-email")?;
    expect_error(&resp, 422, "invalid_email", "a malformed email")?;

    // Erasure by A: A's job anonymised, B's untouched.
    let resp = call(
        &app,
        "POST",
        "/api/privacy/delete",
        &a,
        Some(&json!({ "email": SUBJECT, "reason": "ticket 7" })),
    )?;
    let body = expect_status(&resp, 200).context("erasure")?;
    check!(body["data"]["erased"]["jobs"] == 1, "{body}");
    // Queued (cancelled by the erasure), unless a worker finished it first.
    check!(
        body["data"]["erased"]["jobs_cancelled"].as_i64() <= Some(1),
        "{body}"
    );
    let pseudonym = text(&body, "/data/pseudonym")?;
    check!(pseudonym.starts_with("sha256:"), "{body}");
    let erased = job(&app, &a, &job_a)?;
    check!(
        erased["brief"] == "[erased]" && erased["email"].is_null() && erased["output"].is_null(),
        "A's job erased: {erased}"
    );
    let kept = job(&app, &b, &job_b)?;
    check!(kept["brief"] == "B's secret brief", "B's job kept: {kept}");

    // Audited in A's tenant, by pseudonym, never by email.
    let entries = audit_entries(&app, &root, "action=privacy.erase", 2)?;
    check!(entries.len() == 1, "one erasure entry: {entries:?}");
    check!(
        entries[0]["target"] == pseudonym.as_str() && entries[0]["tenant_id"] == "priv-a",
        "{entries:?}"
    );
    check!(
        !entries[0].to_string().contains(SUBJECT),
        "the entry holds no email: {entries:?}"
    );
    let exports = audit_entries(&app, &root, "action=privacy.export", 2)?;
    check!(exports.len() >= 3, "exports audited: {exports:?}");

    // The retention windows are an admin's to read.
    let resp = call(&app, "GET", "/api/privacy/retention", &a, None)?;
    let r = expect_status(&resp, 200)?;
    check!(
        r["data"]["rules"][0]["kind"] == "job_content" && r["data"]["rules"][0]["days"] == 365,
        "{r}"
    );
    let resp = call(&app, "GET", "/api/privacy/retention", &viewer, None)?;
    expect_error(
        &resp,
        403,
        "insufficient_role",
        "a viewer reading retention",
    )?;
    Ok(())
}

fn consents(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let root = Cred::Bearer(root_token(&app)?);
    create_tenant(&app, &root, "priv-c")?;
    let (_, me) = user_token(&app, &root, "me@priv-c.test", "viewer", "priv-c")?;
    let me = Cred::Bearer(me);
    let consent = |granted: bool, email: &str, purpose: &str| {
        call(
            &app,
            "POST",
            "/api/privacy/consents",
            &me,
            Some(&json!({
                "email": email, "purpose": purpose, "version": "2026-12",
                "source": "dashboard", "granted": granted
            })),
        )
    };
    let body = expect_status(&consent(true, "me@priv-c.test", "marketing_email")?, 201)?;
    check!(body["data"]["state"] == "given", "{body}");
    expect_status(&consent(false, "me@priv-c.test", "marketing_email")?, 201)?;
    expect_error(
        &consent(true, "someone@priv-c.test", "terms")?,
        403,
        "not_your_email",
        "consent for someone else",
    )?;
    expect_error(
        &consent(true, "me@priv-c.test", "everything")?,
        400,
        "invalid_consent",
        "an unknown purpose",
    )?;
    let resp = call(
        &app,
        "GET",
        "/api/privacy/consents?email=me@priv-c.test",
        &me,
        None,
    )?;
    let body = expect_status(&resp, 200)?;
    check!(
        body["data"]["records"].as_array().map(Vec::len) == Some(2),
        "two records: {body}"
    );
    check!(
        body["data"]["current"][0]["granted"] == false,
        "withdrawn now: {body}"
    );
    Ok(())
}

fn retention(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let root = Cred::Bearer(root_token(&app)?);
    let old = enqueue(
        &app,
        &root,
        &json!({ "brief": "an old brief", "email": SUBJECT }),
    )?;
    let recent = enqueue(
        &app,
        &root,
        &json!({ "brief": "a recent brief", "email": SUBJECT }),
    )?;
    for id in [&old, &recent] {
        let resp = call(
            &app,
            "POST",
            &format!("/api/jobs/{id}/cancel"),
            &root,
            Some(&json!({ "reason": "finished for the test" })),
        )?;
        // A worker (real Spin's cron) may have finished it already: done
        // either way.
        check!(
            resp.status == 200 || code(&resp) == "not_cancellable",
            "cancel: {}",
            resp.text()
        );
    }
    // Age the old job past the 365-day window, straight in the database.
    let db = rusqlite::Connection::open(app.data_dir()?.join("sqlite_db.db"))?;
    db.busy_timeout(std::time::Duration::from_secs(10))?;
    let aged = db.execute(
        "UPDATE jobs SET updated_at = updated_at - 400 * 86400000 WHERE id = ?1",
        [&old],
    )?;
    check!(aged == 1, "aged the job");
    drop(db);

    let resp = call(
        &app,
        "POST",
        "/api/internal/cron/retention",
        &Cred::Cron,
        None,
    )?;
    crate::support::ran_saying(&resp, "job_content 1")?;
    let gone = job(&app, &root, &old)?;
    check!(
        gone["brief"] == "[erased]" && gone["email"].is_null(),
        "the aged job's content is gone: {gone}"
    );
    let kept = job(&app, &root, &recent)?;
    check!(
        kept["brief"] == "a recent brief",
        "the recent job is kept: {kept}"
    );
    Ok(())
}
