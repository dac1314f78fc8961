//! Filing finished jobs to Google Drive on real SQLite, with a scripted
//! OpenAI and Drive: the outbox row is written when a job completes (and
//! only for a tenant that files, only when QA passed), the worker delivers
//! it once, retries what may pass with backoff up to the bound, fails what
//! will not at once, and finds a file whose upload answer was lost.

mod support;

use echopilot_core::adapters::native::{ManualClock, ScriptedHttp};
use echopilot_core::ai::worker::drain;
use echopilot_core::identity::tenants;
use echopilot_core::jobs::filing::{self, SettingChange, MAX_ATTEMPTS};
use echopilot_core::jobs::model::{Brief, JobType, NewJob, Title};
use echopilot_core::jobs::store;
use echopilot_core::ports::{Env, OutboundResponse};
use echopilot_core::tenancy::{Scope, TenantId};
use futures::executor::block_on;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use support::*;

/// What the scripted Drive holds and how it misbehaves.
#[derive(Default)]
struct DriveState {
    /// (id, metadata JSON, content) of every file stored.
    files: Vec<(String, Value, String)>,
    /// Answer this many uploads 503 without storing.
    refuse: usize,
    /// Store this many uploads but answer 503.
    lose: usize,
    /// The token endpoint refuses the grant.
    revoked: bool,
    /// Upload requests received.
    uploads: usize,
}

fn answer(status: u16, body: Value) -> OutboundResponse {
    OutboundResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

/// The multipart body's metadata and content.
fn parts(body: &[u8]) -> (Value, String) {
    let text = String::from_utf8_lossy(body).into_owned();
    let sections: Vec<&str> = text.split("--echopilot-").collect();
    let part = |s: &str| {
        let (_, rest) = s.split_once("\r\n\r\n").unwrap_or(("", ""));
        rest.trim_end_matches("\r\n").to_string()
    };
    let meta = serde_json::from_str(&part(sections[1])).unwrap_or(Value::Null);
    (meta, part(sections[2]))
}

/// An env whose AI passes QA unless the brief says FAIL, and whose Drive
/// is `state`.
fn setup(state: Arc<Mutex<DriveState>>) -> (Env, ManualClock) {
    let mut vars = OPENAI_VARS.to_vec();
    vars.extend_from_slice(&[
        ("drive_client_id", "cid"),
        ("drive_client_secret", "drive-client-secret-value"),
        ("drive_refresh_token", "1//drive-refresh-token-value"),
        ("drive_oauth_base_url", "http://drive.test"),
        ("drive_api_base_url", "http://drive.test"),
        ("drive_filing_retry_base_ms", "1000"),
        ("workflow_integration_tenants", "acme, beta"),
    ]);
    let (mut env, clock) = env(&vars);
    let http = ScriptedHttp::new(move |req| {
        if req.url.starts_with("http://mock.test") {
            let body = String::from_utf8_lossy(&req.body);
            return Ok(if is_grading(req) {
                let fail = body.contains("FAIL");
                let g = if fail { 10 } else { 95 };
                completion(&grades(g, g, g, g), "gpt-4o-mini", 800, 100)
            } else {
                completion(
                    "The finished memo.\n\nSecond paragraph.",
                    "gpt-4o",
                    1000,
                    500,
                )
            });
        }
        let mut s = state.lock().unwrap();
        if req.url.ends_with("/token") {
            return Ok(if s.revoked {
                answer(
                    400,
                    json!({"error": "invalid_grant", "error_description": "Token 1//drive-refresh-token-value revoked"}),
                )
            } else {
                answer(200, json!({"access_token": "ya29.secret-access"}))
            });
        }
        if req.method == "GET" {
            let found: Vec<Value> = s
                .files
                .iter()
                .filter(|(_, meta, _)| {
                    let job = meta["appProperties"]["echopilot_job"]
                        .as_str()
                        .unwrap_or("-");
                    req.url.contains(&format!("value%3D%27{job}%27"))
                })
                .map(|(id, meta, _)| json!({"id": id, "name": meta["name"]}))
                .collect();
            return Ok(answer(200, json!({ "files": found })));
        }
        s.uploads += 1;
        if s.refuse > 0 {
            s.refuse -= 1;
            return Ok(answer(503, json!({"error": {"message": "unavailable"}})));
        }
        let (meta, content) = parts(&req.body);
        let id = format!("file{}", s.files.len() + 1);
        s.files.push((id.clone(), meta.clone(), content));
        if s.lose > 0 {
            s.lose -= 1;
            return Ok(answer(503, json!({"error": {"message": "backend error"}})));
        }
        Ok(answer(
            200,
            json!({"id": id, "name": meta["name"], "webViewLink": format!("https://drive.test/{id}")}),
        ))
    });
    env.http = Box::new(http);
    for t in ["acme", "beta", "other"] {
        tenants::create(&env, &TenantId::parse(t).unwrap(), &Default::default()).unwrap();
    }
    (env, clock)
}

fn turn_on(env: &Env, tenant: &str, folder: &str, format: &str) {
    filing::change(
        env,
        &TenantId::parse(tenant).unwrap(),
        &SettingChange {
            enabled: Some(true),
            folder_id: Some(folder.into()),
            format: Some(format.into()),
        },
        "admin:test",
    )
    .unwrap();
}

fn submit(env: &Env, tenant: &str, brief: &str) -> String {
    let mut job = NewJob::new(JobType::AiTask, Brief::parse(brief).unwrap());
    job.title = Some(Title::parse(&format!("Memo {brief}")).unwrap());
    store::create(env, &TenantId::parse(tenant).unwrap(), &job, None)
        .unwrap()
        .job
        .id
}

fn tick(env: &Env, clock: &ManualClock, advance_ms: i64) {
    clock.advance(advance_ms);
    block_on(drain(env)).unwrap();
}

#[test]
fn a_completed_job_is_filed_once_into_its_tenants_folder_and_no_other_is() {
    let state = Arc::new(Mutex::new(DriveState::default()));
    let (env, clock) = setup(state.clone());
    turn_on(&env, "acme", "acme-folder", "html");
    let filed = submit(&env, "acme", "a board memo");
    let failed_qa = submit(&env, "acme", "FAIL this one");
    let elsewhere = submit(&env, "beta", "beta's memo");
    tick(&env, &clock, 1000);
    tick(&env, &clock, 1000);
    let f = filing::of_job(&env, &filed).unwrap().expect("a filing");
    assert_eq!((f.status.as_str(), f.attempts), ("filed", 1));
    assert_eq!(f.link.as_deref(), Some("https://drive.test/file1"));
    assert_eq!(
        store::get(&env, &Scope::All, &failed_qa)
            .unwrap()
            .status
            .as_str(),
        "failed"
    );
    assert!(
        filing::of_job(&env, &failed_qa).unwrap().is_none(),
        "failed QA is not filed"
    );
    assert!(
        filing::of_job(&env, &elsewhere).unwrap().is_none(),
        "beta files nothing"
    );
    let s = state.lock().unwrap();
    assert_eq!(s.files.len(), 1);
    let (_, meta, content) = &s.files[0];
    assert_eq!(meta["parents"], json!(["acme-folder"]));
    assert_eq!(meta["mimeType"], "text/html");
    assert_eq!(meta["name"], format!("Memo a board memo ({filed}).html"));
    assert_eq!(meta["appProperties"]["echopilot_job"], filed.as_str());
    assert!(content.contains("<p>The finished memo.</p>"), "{content}");
    // A beta operator's list is empty; the platform's holds acme's.
    let beta = Scope::Tenant(TenantId::parse("beta").unwrap());
    assert!(filing::list(&env, &beta, None, 50).unwrap().0.is_empty());
    let (all, counts) = filing::list(&env, &Scope::All, None, 50).unwrap();
    assert_eq!((all.len(), counts["filed"].as_i64()), (1, Some(1)));
}

#[test]
fn failures_that_may_pass_retry_with_backoff_until_the_bound_then_fail() {
    let state = Arc::new(Mutex::new(DriveState {
        refuse: 100,
        ..Default::default()
    }));
    let (env, clock) = setup(state.clone());
    turn_on(&env, "acme", "acme-folder", "markdown");
    let id = submit(&env, "acme", "a memo");
    tick(&env, &clock, 1000);
    let mut waits = Vec::new();
    for _ in 1..MAX_ATTEMPTS {
        let f = filing::of_job(&env, &id).unwrap().unwrap();
        assert_eq!(f.status, "pending");
        assert!(f.last_error.as_deref().unwrap().contains("503"));
        waits.push(f.next_attempt_at - f.updated_at);
        // Not due yet: nothing is tried.
        let before = state.lock().unwrap().uploads;
        tick(&env, &clock, 0);
        assert_eq!(state.lock().unwrap().uploads, before);
        tick(&env, &clock, 30 * 60_000);
    }
    let f = filing::of_job(&env, &id).unwrap().unwrap();
    assert_eq!((f.status.as_str(), f.attempts), ("failed", MAX_ATTEMPTS));
    assert!(
        waits.windows(2).all(|w| w[1] >= w[0]),
        "backoff grows: {waits:?}"
    );
    assert!(waits[0] >= 500 && waits[0] <= 1000, "{waits:?}");
    // An operator's retry starts over and, Drive back, files it.
    state.lock().unwrap().refuse = 0;
    let acme = Scope::Tenant(TenantId::parse("acme").unwrap());
    let other = Scope::Tenant(TenantId::parse("beta").unwrap());
    assert_eq!(filing::retry(&env, &other, &id).unwrap_err().status(), 404);
    let again = filing::retry(&env, &acme, &id).unwrap();
    assert_eq!((again.status.as_str(), again.attempts), ("pending", 0));
    assert_eq!(filing::retry(&env, &acme, &id).unwrap_err().status(), 409);
    tick(&env, &clock, 1000);
    let f = filing::of_job(&env, &id).unwrap().unwrap();
    assert_eq!((f.status.as_str(), f.attempts), ("filed", 1));
    assert_eq!(state.lock().unwrap().files.len(), 1);
}

#[test]
fn a_lost_answer_is_found_again_and_a_refused_grant_fails_at_once_without_secrets() {
    let state = Arc::new(Mutex::new(DriveState {
        lose: 1,
        ..Default::default()
    }));
    let (env, clock) = setup(state.clone());
    turn_on(&env, "acme", "acme-folder", "text");
    let id = submit(&env, "acme", "a memo");
    tick(&env, &clock, 1000);
    tick(&env, &clock, 60_000);
    let f = filing::of_job(&env, &id).unwrap().unwrap();
    assert_eq!((f.status.as_str(), f.attempts), ("filed", 2));
    assert_eq!(f.file_id.as_deref(), Some("file1"));
    {
        let s = state.lock().unwrap();
        assert_eq!(
            (s.files.len(), s.uploads),
            (1, 1),
            "found, not uploaded again"
        );
    }

    state.lock().unwrap().revoked = true;
    let id = submit(&env, "acme", "another memo");
    tick(&env, &clock, 1000);
    let f = filing::of_job(&env, &id).unwrap().unwrap();
    assert_eq!((f.status.as_str(), f.attempts), ("failed", 1));
    let error = f.last_error.unwrap();
    assert!(error.contains("invalid_grant"), "{error}");
    for secret in [
        "1//drive-refresh-token-value",
        "drive-client-secret-value",
        "ya29",
    ] {
        assert!(!error.contains(secret), "{error}");
    }
}

#[test]
fn the_setting_is_validated_and_needs_the_platforms_permission() {
    let (env, _) = setup(Arc::new(Mutex::new(DriveState::default())));
    let acme = TenantId::parse("acme").unwrap();
    let change =
        |enabled: Option<bool>, folder: Option<&str>, format: Option<&str>| SettingChange {
            enabled,
            folder_id: folder.map(str::to_string),
            format: format.map(str::to_string),
        };
    let e = filing::change(&env, &acme, &change(Some(true), None, None), "a").unwrap_err();
    assert_eq!(e.code, "invalid_folder_id");
    let e = filing::change(&env, &acme, &change(Some(true), Some("a/b"), None), "a").unwrap_err();
    assert_eq!(e.code, "invalid_folder_id");
    let e = filing::change(&env, &acme, &change(None, Some("f1"), Some("pdf")), "a").unwrap_err();
    assert_eq!(e.code, "invalid_format");
    assert!(
        filing::setting(&env, &acme).unwrap().is_none(),
        "nothing changed"
    );
    let s = filing::change(&env, &acme, &change(Some(true), Some("f1"), None), "a").unwrap();
    assert_eq!((s.enabled, s.format.as_str()), (true, "markdown"));
    let s = filing::change(&env, &acme, &change(Some(false), None, Some("html")), "a").unwrap();
    assert_eq!(
        (s.enabled, s.folder_id.as_str(), s.format.as_str()),
        (false, "f1", "html")
    );
    let other = TenantId::parse("other").unwrap();
    let e = filing::change(&env, &other, &change(Some(true), Some("f2"), None), "a").unwrap_err();
    assert_eq!((e.status(), e.code), (403, "integration_not_allowed"));
}
