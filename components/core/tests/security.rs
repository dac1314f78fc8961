//! The attacks of the security review (EchoPilot issue 13), each tried
//! against the apps on native adapters and real SQLite, and each refused.
//! The end-to-end scenarios in tests/host repeat them over HTTP.

mod support;

use echopilot_core::audit::{self, anchors};
use echopilot_core::http::{Method, Request};
use echopilot_core::identity::api::APP as AUTH;
use echopilot_core::identity::sessions;
use echopilot_core::jobs::api::APP as JOBS;
use echopilot_core::ports::{DbExt, Env};
use serde_json::{json, Value};
use support::identity::*;
use support::*;

const OPS: &echopilot_core::app::App = &echopilot_core::ops::api::APP;
const DASH: &str = DASH_KEY;
const METRICS: &str = "metrics-token-for-native-tests-012345";
const CRON: &str = "cron-token-for-native-tests-0123456789";
const AUDIT_SECRET: &str = "audit-signing-secret-for-tests-0123456789";

fn count(env: &Env, sql: &str) -> i64 {
    env.db.query_one(sql, &[]).unwrap().i64(0).unwrap()
}

fn from(mut req: Request, addr: &str) -> Request {
    req.client_addr = Some(format!("{addr}:40000"));
    req
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

fn with(vars: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut all = VARS.to_vec();
    all.extend_from_slice(vars);
    all
}

// ---------------------------------------------------------------- item 10 --

#[test]
fn short_secrets_are_refused_wherever_they_are_used_and_never_shown() {
    let (env, _) = env(&[
        ("dashboard_key", "short-dash"),
        ("cron_token", "short-cron"),
        ("jwt_secret", "short-jwt"),
        ("portal_signing_secret", "short-portal"),
    ]);
    let cases = [
        get("/api/queue/status").with_header("x-dash-key", "short-dash"),
        bearer(get("/api/queue/status"), "short-cron"),
        get("/api/public/job-history/a@b.co?token=v2.default.1.00"),
    ];
    for req in cases {
        let (resp, body) = call(&JOBS, &env, req);
        assert_eq!(
            (resp.status, code(&body)),
            (503, "invalid_configuration"),
            "{body}"
        );
        assert!(body.to_string().contains("32 characters"), "{body}");
        assert!(
            !body.to_string().contains("short-"),
            "never the value: {body}"
        );
    }
    let (status, body) = login(&env, "a@b.co", "whatever password");
    assert_eq!(
        (status, code(&body)),
        (503, "invalid_configuration"),
        "{body}"
    );
}

// ----------------------------------------------------------------- item 3 --

#[test]
fn machine_tokens_open_exactly_the_routes_they_exist_for() {
    let (env, _) = env(&with(&[("metrics_token", METRICS)]));
    // The attack: a machine token as "a credential" on job history.
    for token in [CRON, METRICS] {
        let (resp, body) = call(
            &JOBS,
            &env,
            bearer(get("/api/public/job-history/victim@corp.example"), token),
        );
        assert_eq!((resp.status, code(&body)), (401, "unauthorized"), "{body}");
        let (resp, _) = call(
            &JOBS,
            &env,
            bearer(
                post_json("/api/public/create-job", &json!({"brief": "x"})),
                token,
            ),
        );
        assert_eq!(resp.status, 401, "machine tokens create no jobs");
    }
    // Each still opens its own route.
    let (resp, _) = call(OPS, &env, bearer(get("/metrics"), METRICS));
    assert_eq!(resp.status, 200);
    let (resp, _) = call(
        &echopilot_core::heartbeat::APP,
        &env,
        bearer(
            Request::new(Method::Post, "/api/internal/cron/heartbeat"),
            CRON,
        ),
    );
    assert_eq!(resp.status, 200);
}

// ----------------------------------------------------------------- item 4 --

fn partner_key(env: &Env, admin: &str, scopes: &[&str], daily: i64) -> String {
    let (resp, body) = call(
        &AUTH,
        env,
        bearer(
            post_json(
                "/api/partners",
                &json!({"name": "k", "scopes": scopes, "daily_quota": daily, "monthly_quota": 100}),
            ),
            admin,
        ),
    );
    assert_eq!(resp.status, 201, "{body}");
    body["data"]["api_key"].as_str().unwrap().to_string()
}

#[test]
fn partner_keys_are_held_to_scope_and_quota_on_public_routes() {
    let (env, _) = env(VARS);
    let admin = admin_token(&env);
    let create = |key: &str| {
        post_json("/api/public/create-job", &json!({"brief": "partner work"}))
            .with_header("x-api-key", key)
    };
    // The attack: a read-only key creates jobs through the public route.
    let reader = partner_key(&env, &admin, &["jobs:read"], 1);
    let (resp, body) = call(&JOBS, &env, create(&reader));
    assert_eq!(
        (resp.status, code(&body)),
        (403, "scope_required"),
        "{body}"
    );
    assert_eq!(count(&env, "SELECT COUNT(*) FROM jobs"), 0);
    // A writing key counts every public submission against its quota.
    let writer = partner_key(&env, &admin, &["jobs:write", "jobs:read"], 2);
    let (resp, body) = call(&JOBS, &env, create(&writer));
    assert_eq!(resp.status, 201, "{body}");
    assert_eq!(resp.header("x-quota-daily-remaining"), Some("1"));
    let job = body["data"]["job"]["id"].as_str().unwrap().to_string();
    let (resp, _) = call(
        &JOBS,
        &env,
        get(&format!("/api/public/job-status/{job}")).with_header("x-api-key", &writer),
    );
    assert_eq!(
        (resp.status, resp.header("x-quota-daily-remaining")),
        (200, Some("0"))
    );
    let (resp, body) = call(&JOBS, &env, create(&writer));
    assert_eq!(
        (resp.status, code(&body)),
        (429, "quota_exceeded"),
        "{body}"
    );
    assert_eq!(count(&env, "SELECT COUNT(*) FROM jobs"), 1);
    // Routes whose row names no scope refuse keys, public or not.
    let (resp, body) = call(
        &AUTH,
        &env,
        post_json(
            "/api/auth/login",
            &json!({"email": "a@b.co", "password": "x"}),
        )
        .with_header("x-api-key", &writer),
    );
    assert_eq!(
        (resp.status, code(&body)),
        (403, "scope_required"),
        "{body}"
    );
}

// ----------------------------------------------------------------- item 6 --

fn sign_in(env: &Env, addr: &str, password: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"email": "admin@example.com", "password": password});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (resp, body) = call(&AUTH, env, from(post_json("/api/auth/login", &body), addr));
    (resp.status, body)
}

const RIGHT: &str = "correct horse battery staple";

#[test]
fn failed_sign_ins_lock_the_guesser_not_the_owner() {
    let (env, clock) = env(VARS);
    // The owner signed in from home before: that device is known.
    let (status, first) = sign_in(&env, "198.51.100.10", RIGHT, json!({}));
    assert_eq!(status, 200, "{first}");
    let device = first["data"]["device_token"].as_str().unwrap().to_string();

    // The attack of the issue: one guess every 12 s from one address.
    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(sign_in(&env, "203.0.113.66", &format!("guess {i} wrong"), json!({})).0);
        clock.advance(12_000);
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(
        statuses[5..].contains(&429),
        "the guesser waits: {statuses:?}"
    );
    // Even the right password waits at the guesser's address...
    let (status, body) = sign_in(&env, "203.0.113.66", RIGHT, json!({}));
    assert_eq!((status, code(&body)), (429, "sign_in_locked"), "{body}");
    // ...but the owner, anywhere else, signs in.
    assert_eq!(sign_in(&env, "198.51.100.20", RIGHT, json!({})).0, 200);

    // Guessing spread over many addresses locks the account for clients it
    // does not know; the owner's known device still gets in.
    for i in 0..25 {
        sign_in(
            &env,
            &format!("192.0.2.{i}"),
            "distributed guess",
            json!({}),
        );
    }
    let (status, body) = sign_in(&env, "198.51.100.30", RIGHT, json!({}));
    assert_eq!((status, code(&body)), (429, "sign_in_locked"), "{body}");
    let (status, body) = sign_in(
        &env,
        "198.51.100.30",
        RIGHT,
        json!({ "device_token": device }),
    );
    assert_eq!(status, 200, "known device: {body}");
    // A forged device token counts as none.
    let (status, _) = sign_in(
        &env,
        "198.51.100.30",
        RIGHT,
        json!({ "device_token": "dv1.x" }),
    );
    assert_eq!(status, 429);
    // Locks end: the progressive wait is at most 15 minutes.
    clock.advance(16 * 60_000);
    assert_eq!(sign_in(&env, "198.51.100.31", RIGHT, json!({})).0, 200);
    // Only checked guesses count and are audited as failures: the lone
    // guesser's 5, then 15 spread ones until the account's count reached
    // 20 and the rest were refused unchecked.
    let failed = count(
        &env,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login_failed'",
    );
    assert_eq!(failed, 20);
}

#[test]
fn behind_a_trusted_proxy_each_client_has_its_own_address() {
    let (env, _) = env(&with(&[("trusted_proxies", "10.0.0.0/8")]));
    let via = |client: &str, password: &str| {
        let req = from(
            post_json(
                "/api/auth/login",
                &json!({"email": "admin@example.com", "password": password}),
            ),
            "10.0.0.2",
        )
        .with_header("x-forwarded-for", &format!("1.2.3.4, {client}"));
        call(&AUTH, &env, req).0.status
    };
    for _ in 0..6 {
        via("203.0.113.66", "wrong guess");
    }
    assert_eq!(
        via("203.0.113.66", RIGHT),
        429,
        "the guesser behind the proxy"
    );
    assert_eq!(via("198.51.100.7", RIGHT), 200, "another client behind it");
    // Without a trusted proxy, the forwarding header is ignored.
    let (env, _) = support::env(VARS);
    for i in 0..6 {
        let req = from(
            post_json(
                "/api/auth/login",
                &json!({"email": "admin@example.com", "password": "wrong guess"}),
            ),
            "203.0.113.66",
        )
        .with_header("x-forwarded-for", &format!("198.51.100.{i}"));
        call(&AUTH, &env, req);
    }
    let req = from(
        post_json(
            "/api/auth/login",
            &json!({"email": "admin@example.com", "password": RIGHT}),
        ),
        "203.0.113.66",
    )
    .with_header("x-forwarded-for", "198.51.100.99");
    assert_eq!(
        call(&AUTH, &env, req).0.status,
        429,
        "a spoofed header opens nothing"
    );
}

// ----------------------------------------------------------------- item 9 --

#[test]
fn a_refresh_racing_a_sign_out_does_not_survive_it() {
    let (env, clock) = env(VARS);
    admin_token(&env);
    let attempt = sessions::SignIn {
        email: "admin@example.com",
        password: RIGHT,
        tenant: None,
        client: "198.51.100.1",
        device_token: None,
    };
    let signed = sessions::login(&env, &attempt).unwrap();
    // The race: the refresh spent its token and is about to issue the new
    // pair when the sign-out revokes the family.
    sessions::revoke_family(&env, &signed.pair.family).unwrap();
    let late = sessions::issue(&env, &signed.user, Some(&signed.pair.family));
    assert_eq!(late.unwrap_err().code, "token_revoked");
    // Nothing of the family works once the 15-minute block is over either.
    clock.advance(16 * 60_000);
    let (resp, body) = call(
        &AUTH,
        &env,
        post_json(
            "/api/auth/refresh",
            &json!({"refresh_token": signed.pair.refresh_token}),
        ),
    );
    assert_eq!((resp.status, code(&body)), (401, "token_revoked"), "{body}");
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM refresh_tokens WHERE revoked_at IS NULL AND family IN (SELECT family FROM refresh_tokens WHERE revoked_at IS NOT NULL)"),
        0
    );
}

// ---------------------------------------------------------------- item 11 --

#[test]
fn creating_a_user_reveals_nothing_about_other_tenants() {
    let (env, _) = env(VARS);
    let admin = admin_token(&env);
    make_tenant(&env, &admin, "acme");
    let acme_admin = make_user(&env, &admin, "boss@acme.example", "admin", "acme");
    let create = |email: &str| {
        call(
            &AUTH,
            &env,
            bearer(
                post_json(
                    "/api/users",
                    &json!({"email": email, "password": "a long enough password", "role": "viewer"}),
                ),
                &acme_admin,
            ),
        )
    };
    // The probe: an email of the default tenant, and one nobody has.
    let (taken, a) = create("admin@example.com");
    let (free, b) = create("nobody-yet@example.com");
    assert_eq!((taken.status, free.status), (201, 201), "{a} {b}");
    assert_eq!(a["data"]["tenant_id"], "acme");
    // Within its own tenant an email is still unique.
    let (dup, body) = create("ADMIN@example.com");
    assert_eq!((dup.status, code(&body)), (409, "email_taken"), "{body}");
    // Sign-in without a tenant reaches the email's first account; the
    // later one names its tenant.
    let (_, first) = login(&env, "admin@example.com", RIGHT);
    assert_eq!(first["data"]["user"]["tenant_id"], "default", "{first}");
    let (resp, second) = call(
        &AUTH,
        &env,
        post_json(
            "/api/auth/login",
            &json!({"email": "admin@example.com", "password": "a long enough password", "tenant_id": "acme"}),
        ),
    );
    assert_eq!(resp.status, 200, "{second}");
    assert_eq!(second["data"]["user"]["tenant_id"], "acme");
    assert_eq!(second["data"]["user"]["role"], "viewer");
}

// ----------------------------------------------------------------- item 2 --

#[test]
fn the_event_log_shows_a_tenant_only_its_own_events() {
    let (env, _) = env(VARS);
    let admin = admin_token(&env);
    make_tenant(&env, &admin, "acme");
    let acme_op = make_user(&env, &admin, "op@acme.example", "operator", "acme");
    let default_op = make_user(&env, &admin, "op@default.example", "operator", "default");
    use echopilot_core::events::{emit, Event, Level};
    emit(
        &env,
        &Event::new(Level::Error, "api-jobs", "request", "platform 500 cause")
            .request("r-platform"),
    );
    emit(
        &env,
        &Event::new(Level::Warn, "guard", "screening", "acme event")
            .tenant("acme")
            .request("r-acme"),
    );
    emit(
        &env,
        &Event::new(Level::Warn, "guard", "screening", "default event").tenant("default"),
    );
    echopilot_core::telemetry::record(
        &env,
        &echopilot_core::telemetry::Sample {
            component: "api-jobs",
            route: "/api/jobs",
            method: Method::Get,
            status: 200,
            tenant: "default".into(),
            request_id: "r-platform".into(),
        },
        10,
    )
    .unwrap();
    let messages = |token: &str, query: &str| -> Vec<String> {
        let (resp, body) = call(OPS, &env, bearer(get(&format!("/api/logs{query}")), token));
        assert_eq!(resp.status, 200, "{body}");
        body["data"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect()
    };
    // The attack: tenant B's operator reads the platform's log.
    assert_eq!(messages(&acme_op, ""), vec!["acme event"]);
    assert!(messages(&acme_op, "?request_id=r-platform").is_empty());
    let (_, body) = call(
        OPS,
        &env,
        bearer(get("/api/logs?request_id=r-platform"), &acme_op),
    );
    assert_eq!(
        body["data"]["requests"],
        json!([]),
        "no other tenant's requests"
    );
    // The platform's operators read everything; a global admin can narrow.
    let all = messages(&default_op, "");
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(messages(&admin, "?tenant_id=acme"), vec!["acme event"]);
    let (_, body) = call(
        OPS,
        &env,
        bearer(get("/api/logs?request_id=r-platform"), &default_op),
    );
    assert_eq!(body["data"]["requests"].as_array().unwrap().len(), 1);
}

// ----------------------------------------------------------------- item 8 --

#[test]
fn anonymous_callers_cannot_grow_the_audit_chain() {
    let (env, _) = env(VARS);
    let before = count(&env, "SELECT COUNT(*) FROM audit_log");
    // The attack: screened requests, 50 of them.
    for i in 0..50 {
        let (resp, _) = call(
            &JOBS,
            &env,
            from(
                get(&format!("/api/public/job-status/job_{i}?q=%3Cscript")),
                "203.0.113.5",
            ),
        );
        assert_eq!(resp.status, 400);
    }
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM audit_log"),
        before,
        "no chain growth"
    );
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM event_log WHERE area = 'screening' AND tenant_id = 'default'"
        ),
        50,
        "every one is in the event log"
    );
    // Wrong dashboard keys (item 10): every one logged, the chain sampled
    // (one per address per 10 minutes).
    for addr in ["203.0.113.5", "203.0.113.6"] {
        for _ in 0..5 {
            let (resp, _) = call(
                &JOBS,
                &env,
                from(
                    get("/api/queue/status").with_header("x-dash-key", "a-guess-at-the-key"),
                    addr,
                ),
            );
            assert_eq!(resp.status, 401);
        }
    }
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.dashboard_key_failed'"
        ),
        2
    );
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM event_log WHERE message LIKE 'auth.dashboard_key_failed%'"
        ),
        10
    );
    // A credential's screened request is still audited.
    let (resp, _) = call(
        &JOBS,
        &env,
        get("/api/jobs?email=%3Cscript%3E").with_header("x-dash-key", DASH),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'guard.input_screened'"
        ),
        1
    );
}

// ----------------------------------------------------------------- item 5 --

fn append(env: &Env, n: usize, what: &str) {
    for i in 0..n {
        audit::append(
            env,
            &audit::Event::new("default", "t", "test.event").target(&format!("{what}{i}")),
        )
        .unwrap();
    }
}

/// Verify: the chain is broken at `seq`, for a reason that says `why`.
fn assert_broken(env: &Env, seq: i64, why: &str) {
    let v = audit::verify(env).unwrap();
    assert!(!v.valid, "{v:?}");
    let b = v.first_broken.unwrap();
    assert_eq!(b["seq"], seq, "{b}");
    assert!(b["reason"].as_str().unwrap().contains(why), "{b}");
}

/// Run a statement, as someone with the database file would.
fn tamper(env: &Env, sql: &str) {
    env.db.exec(sql, &[]).unwrap();
}

#[test]
fn signed_anchors_reveal_a_cut_or_rewritten_chain() {
    let (env, _) = env(&[("audit_signing_secret", AUDIT_SECRET)]);
    append(&env, 10, "a");
    assert_eq!(
        anchors::anchor(&env).unwrap(),
        anchors::Outcome::Anchored {
            seq: 10,
            verified: 10
        }
    );
    append(&env, 5, "b");
    assert_eq!(
        anchors::anchor(&env).unwrap(),
        anchors::Outcome::Anchored {
            seq: 15,
            verified: 5
        }
    );
    assert_eq!(
        anchors::anchor(&env).unwrap(),
        anchors::Outcome::Unchanged(15)
    );
    let v = audit::verify(&env).unwrap();
    assert!(v.valid, "{v:?}");
    let a = v.anchors.unwrap();
    assert_eq!(
        (a.status, a.anchors, a.newest_seq, a.kv_copy),
        ("ok", 2, Some(15), "matches")
    );

    // Rewritten from entry 8 on with fresh, correctly chained hashes.
    tamper(&env, "DELETE FROM audit_log WHERE seq >= 8");
    append(&env, 8, "forged");
    assert_broken(&env, 10, "rewritten");
    // The job refuses to anchor it, and pages.
    let e = anchors::anchor(&env).unwrap_err();
    assert_eq!(e.code, "audit_chain_broken");
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM incidents WHERE source = 'audit' AND severity = 'CRITICAL'"
        ),
        1
    );
}

#[test]
fn a_cut_tail_is_found_even_with_its_anchors_deleted() {
    let (env, _) = env(&[("audit_signing_secret", AUDIT_SECRET)]);
    append(&env, 10, "a");
    anchors::anchor(&env).unwrap();
    append(&env, 10, "b");
    anchors::anchor(&env).unwrap();
    // Cut the last entries: the anchor of entry 20 sees it.
    tamper(&env, "DELETE FROM audit_log WHERE seq > 17");
    assert_broken(&env, 20, "cut");
    // Delete that anchor as well: its copy in key-value still names it.
    tamper(&env, "DELETE FROM audit_signed_anchors WHERE seq = 20");
    assert_broken(&env, 20, "missing from the database");
    // And the job does not anchor the shortened chain over it.
    assert_eq!(
        anchors::anchor(&env).unwrap_err().code,
        "audit_chain_broken"
    );
}

#[test]
fn anchors_cannot_be_forged_edited_or_dropped_without_the_secret() {
    let (mut env, _) = env(&[("audit_signing_secret", AUDIT_SECRET)]);
    for round in 0..3 {
        append(&env, 4, &format!("r{round}-"));
        anchors::anchor(&env).unwrap();
    }
    assert!(audit::verify(&env).unwrap().valid);
    // Editing an anchor's hash to match a rewrite breaks its signature.
    tamper(
        &env,
        "UPDATE audit_signed_anchors SET hash = 'feed' WHERE seq = 8",
    );
    assert_broken(&env, 8, "edited or forged");
    tamper(&env, "DELETE FROM audit_signed_anchors WHERE seq = 8");
    // Dropping it from the middle breaks the next one's link.
    assert_broken(&env, 12, "anchors were deleted");
    // Another secret cannot vouch for these anchors either.
    env.config = Box::new(echopilot_core::adapters::native::MapConfig::new(&[(
        "audit_signing_secret",
        "another-audit-secret-that-is-long-0123",
    )]));
    assert_broken(&env, 4, "another key");
}

#[test]
fn without_a_signing_secret_nothing_is_anchored_and_verify_says_so() {
    let (env, _) = env(&[]);
    append(&env, 3, "a");
    assert_eq!(
        anchors::anchor(&env).unwrap(),
        anchors::Outcome::NotConfigured
    );
    let v = audit::verify(&env).unwrap();
    assert!(v.valid);
    assert_eq!(v.anchors.unwrap().status, "not_configured");
}
