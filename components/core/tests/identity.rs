//! Identity, tenancy, the request guard and the audit chain, through the
//! apps on native adapters.

mod support;

use echopilot_core::adapters::native::SqliteDb;
use echopilot_core::audit;
use echopilot_core::http::{Method, Request};
use echopilot_core::identity::api::APP as AUTH;
use echopilot_core::jobs::api::APP as JOBS;
use echopilot_core::ports::DbExt;
use serde_json::json;
use std::sync::Arc;
use support::identity::*;
use support::*;

#[test]
fn the_first_admin_comes_from_variables_and_signs_in() {
    let (env, _) = env(VARS);
    let token = admin_token(&env);
    let (resp, me) = call(&AUTH, &env, bearer(get("/api/auth/me"), &token));
    assert_eq!(resp.status, 200, "{me}");
    assert_eq!(
        (me["data"]["role"].as_str(), me["data"]["global"].as_bool()),
        (Some("admin"), Some(true))
    );
    let (status, body) = login(&env, "admin@example.com", "wrong password here");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    let (status, body) = login(&env, "nobody@example.com", "whatever password");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_credentials")),
        "same answer for unknown emails"
    );
    // Both attempts are in the audit chain.
    let failed = env
        .db
        .query_one(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login_failed'",
            &[],
        )
        .unwrap()
        .i64(0)
        .unwrap();
    assert_eq!(failed, 2);
}

#[test]
fn refresh_rotates_and_reuse_revokes_the_family() {
    let (env, clock) = env(VARS);
    let (_, body) = login(&env, "admin@example.com", "correct horse battery staple");
    let r1 = body["data"]["refresh_token"].as_str().unwrap().to_string();
    let refresh = |t: &str| {
        call(
            &AUTH,
            &env,
            post_json("/api/auth/refresh", &json!({"refresh_token": t})),
        )
    };
    clock.advance(1000);
    let (resp, body) = refresh(&r1);
    assert_eq!(resp.status, 200, "{body}");
    let r2 = body["data"]["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    // The old token again: refused, and the whole family dies with it.
    let (resp, body) = refresh(&r1);
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (401, Some("token_reused"))
    );
    let (resp, _) = refresh(&r2);
    assert_eq!(
        resp.status, 401,
        "the newer token of the family is revoked too"
    );
    let reuse = env
        .db
        .query_one(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.refresh_reuse'",
            &[],
        )
        .unwrap()
        .i64(0)
        .unwrap();
    assert!(reuse >= 1);
}

#[test]
fn logout_revokes_the_access_token_at_once() {
    let (env, _) = env(VARS);
    let token = admin_token(&env);
    let (resp, _) = call(
        &AUTH,
        &env,
        bearer(Request::new(Method::Post, "/api/auth/logout"), &token),
    );
    assert_eq!(resp.status, 200);
    let (resp, body) = call(&AUTH, &env, bearer(get("/api/auth/me"), &token));
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (401, Some("token_revoked"))
    );
}

#[test]
fn tokens_expire_and_disabled_users_lose_access_at_once() {
    let (env, clock) = env(VARS);
    let admin = admin_token(&env);
    let viewer = make_user(&env, &admin, "v@example.com", "viewer", "default");
    let (resp, _) = call(&AUTH, &env, bearer(get("/api/auth/me"), &viewer));
    assert_eq!(resp.status, 200);
    let users = call(&AUTH, &env, bearer(get("/api/users"), &admin)).1;
    let id = users["data"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "v@example.com")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let patch = Request::new(Method::Patch, &format!("/api/users/{id}"))
        .with_header("content-type", "application/json")
        .with_body(br#"{"disabled": true}"#.to_vec());
    let (resp, body) = call(&AUTH, &env, bearer(patch, &admin));
    assert_eq!(resp.status, 200, "{body}");
    let (resp, _) = call(&AUTH, &env, bearer(get("/api/auth/me"), &viewer));
    assert_eq!(resp.status, 401, "disabled: the token stops working");
    let (status, body) = login(&env, "v@example.com", "a long enough password");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("account_disabled"))
    );
    clock.advance(16 * 60_000);
    let (resp, body) = call(&AUTH, &env, bearer(get("/api/auth/me"), &admin));
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (401, Some("token_expired"))
    );
}

#[test]
fn key_rotation_keeps_old_tokens_valid_for_a_day() {
    let (env, clock) = env(VARS);
    let old = admin_token(&env);
    let (resp, body) = call(
        &AUTH,
        &env,
        bearer(Request::new(Method::Post, "/api/auth/keys/rotate"), &old),
    );
    assert_eq!(resp.status, 200, "{body}");
    assert!(body["data"]["retired_kid"].is_string());
    let new = admin_token(&env);
    assert_ne!(
        echopilot_core::identity::jwt::kid(&old).unwrap(),
        echopilot_core::identity::jwt::kid(&new).unwrap()
    );
    assert_eq!(
        call(&AUTH, &env, bearer(get("/api/auth/me"), &old))
            .0
            .status,
        200
    );
    // A day later the retired key stops verifying (the token has expired
    // by then anyway; a refresh token signed with it is refused too).
    let (_, b) = login(&env, "admin@example.com", "correct horse battery staple");
    let refresh_new = b["data"]["refresh_token"].as_str().unwrap().to_string();
    clock.advance(23 * 3_600_000);
    let (resp, _) = call(
        &AUTH,
        &env,
        post_json("/api/auth/refresh", &json!({"refresh_token": refresh_new})),
    );
    assert_eq!(resp.status, 200, "the active key still verifies");
}

#[test]
fn a_password_guess_flood_is_rate_limited_per_account() {
    let (env, _) = env(VARS);
    admin_token(&env);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(login(&env, "admin@example.com", "guess guess guess").0);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let (resp, body) = call(
        &AUTH,
        &env,
        post_json(
            "/api/auth/login",
            &json!({"email": "admin@example.com", "password": "x"}),
        ),
    );
    assert_eq!(resp.status, 429, "{body}");
    assert!(resp.header("retry-after").is_some());
}

#[test]
fn bad_tokens_are_refused_cleanly() {
    let (env, _) = env(VARS);
    let good = admin_token(&env);
    let parts: Vec<&str> = good.split('.').collect();
    let none = format!(
        "{}.{}.",
        echopilot_core::identity::base64url::encode(br#"{"alg":"none","kid":"x"}"#),
        parts[1]
    );
    for token in [
        none.as_str(),
        &good[..good.len() - 3],
        "not-a-jwt.at.all",
        &format!("{}x", good),
        &"a.b.c".repeat(2000),
    ] {
        let (resp, body) = call(&AUTH, &env, bearer(get("/api/auth/me"), token));
        assert_eq!(resp.status, 401, "{token:.40}: {body}");
        assert!(!body.to_string().contains(SECRET));
    }
}

#[test]
fn roles_are_enforced_by_the_permission_table() {
    let (env, _) = env(VARS);
    let admin = admin_token(&env);
    let viewer = make_user(&env, &admin, "viewer@example.com", "viewer", "default");
    let operator = make_user(&env, &admin, "op@example.com", "operator", "default");
    let enqueue = || post_json("/api/queue/enqueue", &json!({"brief": "x"}));
    assert_eq!(call(&JOBS, &env, enqueue()).0.status, 401);
    let (resp, body) = call(&JOBS, &env, bearer(enqueue(), &viewer));
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (403, Some("insufficient_role"))
    );
    assert_eq!(
        call(&JOBS, &env, bearer(enqueue(), &operator)).0.status,
        201
    );
    assert_eq!(
        call(&JOBS, &env, bearer(get("/api/queue/status"), &viewer))
            .0
            .status,
        200
    );
    assert_eq!(
        call(&AUTH, &env, bearer(get("/api/users"), &operator))
            .0
            .status,
        403
    );
    assert_eq!(
        call(
            &AUTH,
            &env,
            get("/api/users").with_header("x-dash-key", DASH_KEY)
        )
        .0
        .status,
        200
    );
}

#[test]
fn tenants_are_isolated_and_cross_tenant_attempts_are_audited() {
    let (env, _) = env(VARS);
    let admin = admin_token(&env);
    make_tenant(&env, &admin, "acme");
    make_tenant(&env, &admin, "globex");
    let acme = make_user(&env, &admin, "ops@acme.example", "operator", "acme");
    let globex = make_user(&env, &admin, "ops@globex.example", "operator", "globex");
    let (_, a) = call(
        &JOBS,
        &env,
        bearer(
            post_json("/api/queue/enqueue", &json!({"brief": "acme work"})),
            &acme,
        ),
    );
    let acme_job = a["data"]["job"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        a["data"]["job"]["tenant_id"], "acme",
        "the tenant comes from the credential"
    );
    // Globex cannot see, change or list acme's job.
    for req in [
        get(&format!("/api/jobs/{acme_job}")),
        Request::new(Method::Post, &format!("/api/jobs/{acme_job}/cancel")),
    ] {
        assert_eq!(call(&JOBS, &env, bearer(req, &globex)).0.status, 404);
    }
    let (_, list) = call(&JOBS, &env, bearer(get("/api/jobs"), &globex));
    assert!(list["data"]["jobs"].as_array().unwrap().is_empty());
    // Asking for acme explicitly is a 403 and an audit event.
    let (resp, body) = call(
        &JOBS,
        &env,
        bearer(get("/api/jobs").with_header("x-tenant-id", "acme"), &globex),
    );
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (403, Some("cross_tenant"))
    );
    let (resp, _) = call(
        &JOBS,
        &env,
        bearer(
            post_json(
                "/api/queue/enqueue",
                &json!({"brief": "x", "tenant_id": "acme"}),
            ),
            &globex,
        ),
    );
    assert_eq!(resp.status, 403);
    let denied = env
        .db
        .query_one(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.cross_tenant_denied'",
            &[],
        )
        .unwrap()
        .i64(0)
        .unwrap();
    assert_eq!(denied, 2);
    // The default tenant's admin reads every tenant, or one by choice.
    let (_, all) = call(&JOBS, &env, bearer(get("/api/jobs"), &admin));
    assert_eq!(all["data"]["jobs"].as_array().unwrap().len(), 1);
    let (resp, one) = call(&JOBS, &env, bearer(get("/api/jobs?tenant_id=acme"), &admin));
    assert_eq!(
        (resp.status, one["data"]["jobs"].as_array().unwrap().len()),
        (200, 1)
    );
    let (_, info) = call(&AUTH, &env, bearer(get("/api/tenant/info"), &acme));
    assert_eq!(
        (info["data"]["id"].as_str(), info["data"]["plan"].as_str()),
        (Some("acme"), Some("pro"))
    );
    assert_eq!(
        call(
            &AUTH,
            &env,
            bearer(post_json("/api/tenant/create", &json!({"id": "x"})), &acme)
        )
        .0
        .status,
        403
    );
}

#[test]
fn partner_keys_are_shown_once_scoped_quota_limited_and_revocable() {
    let (env, _) = env(VARS);
    let admin = admin_token(&env);
    make_tenant(&env, &admin, "acme");
    let (resp, key) = call(
        &AUTH,
        &env,
        bearer(
            post_json(
                "/api/partners",
                &json!({
                    "name": "Acme integration", "scopes": ["jobs:write", "jobs:read"], "daily_quota": 3, "monthly_quota": 100, "tenant_id": "acme"
                }),
            ),
            &admin,
        ),
    );
    assert_eq!(resp.status, 201, "{key}");
    let secret = key["data"]["api_key"].as_str().unwrap().to_string();
    let id = key["data"]["id"].as_str().unwrap().to_string();
    let stored = env
        .db
        .query_one("SELECT secret_hash FROM api_keys", &[])
        .unwrap()
        .text(0)
        .unwrap();
    assert!(
        !stored.contains(&secret) && stored.len() == 64,
        "only a hash is stored"
    );
    let (_, listed) = call(&AUTH, &env, bearer(get("/api/partners"), &admin));
    assert!(!listed.to_string().contains(&secret), "never shown again");

    let submit = || {
        post_json(
            "/api/partner/jobs",
            &json!({"brief": "partner work", "priority": "high"}),
        )
        .with_header("x-api-key", &secret)
    };
    let (resp, body) = call(&JOBS, &env, submit());
    assert_eq!(resp.status, 201, "{body}");
    assert_eq!(
        (
            body["data"]["job"]["tenant_id"].as_str(),
            body["data"]["job"]["source"].as_str()
        ),
        (Some("acme"), Some("partner"))
    );
    assert_eq!(resp.header("x-quota-daily-limit"), Some("3"));
    assert_eq!(resp.header("x-quota-daily-remaining"), Some("2"));
    let job = body["data"]["job"]["id"].as_str().unwrap().to_string();
    let (resp, _) = call(
        &JOBS,
        &env,
        get(&format!("/api/partner/jobs/{job}"))
            .with_header("authorization", &format!("Bearer {secret}")),
    );
    assert_eq!(
        (resp.status, resp.header("x-quota-daily-remaining")),
        (200, Some("1"))
    );
    call(&JOBS, &env, submit());
    let (resp, body) = call(&JOBS, &env, submit());
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (429, Some("quota_exceeded"))
    );
    assert!(resp.header("retry-after").is_some());
    // Scopes: a key cannot use operator routes.
    let (resp, body) = call(
        &JOBS,
        &env,
        get("/api/queue/status").with_header("x-api-key", &secret),
    );
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (403, Some("scope_required"))
    );
    // Revoked: refused.
    call(
        &AUTH,
        &env,
        bearer(
            Request::new(Method::Delete, &format!("/api/partners/{id}")),
            &admin,
        ),
    );
    let (resp, body) = call(
        &JOBS,
        &env,
        get(&format!("/api/partner/jobs/{job}")).with_header("x-api-key", &secret),
    );
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (401, Some("key_revoked"))
    );
    let (resp, _) = call(
        &JOBS,
        &env,
        get("/api/partner/jobs/x").with_header("x-api-key", "ep_abcdefgh_forged"),
    );
    assert_eq!(resp.status, 401);
}

#[test]
fn suspicious_parameters_are_screened_and_recorded_but_briefs_are_free_text() {
    let (env, _) = env(VARS);
    let (resp, body) = call(
        &JOBS,
        &env,
        post_json(
            "/api/public/create-job",
            &json!({"brief": "Explain `' OR 1=1 --` and <script> tags", "email": "a@b.co"}),
        ),
    );
    assert_eq!(resp.status, 201, "{body}");
    let (resp, body) = call(
        &JOBS,
        &env,
        get("/api/public/job-status/job_1'%20OR%20'1'='1"),
    );
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (400, Some("screened_input"))
    );
    let (resp, _) = call(
        &JOBS,
        &env,
        get("/api/jobs?email=%3Cscript%3E").with_header("x-dash-key", DASH_KEY),
    );
    assert_eq!(resp.status, 400);
    let (resp, _) = call(
        &JOBS,
        &env,
        post_json(
            "/api/public/create-job",
            &json!({"brief": "x", "type": "../../etc/passwd"}),
        ),
    );
    assert_eq!(resp.status, 400);
    let count = |sql: &str| env.db.query_one(sql, &[]).unwrap().i64(0).unwrap();
    // The credential's is audited; the two anonymous ones are logged only
    // (anonymous traffic cannot grow the chain).
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_log WHERE action = 'guard.input_screened'"),
        1
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM event_log WHERE area = 'screening'"),
        2
    );
}

#[test]
fn cookie_sessions_need_the_csrf_token_on_unsafe_requests() {
    let (env, _) = env(VARS);
    let (resp, body) = call(
        &AUTH,
        &env,
        post_json(
            "/api/auth/login",
            &json!({"email": "admin@example.com", "password": "correct horse battery staple", "session": true}),
        ),
    );
    assert_eq!(resp.status, 200);
    let cookies: Vec<&str> = resp
        .headers
        .iter()
        .filter(|(k, _)| k == "Set-Cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(cookies.iter().any(|c| c.starts_with("ep_session=")
        && c.contains("HttpOnly")
        && c.contains("SameSite=Strict")));
    let session = body["data"]["access_token"].as_str().unwrap();
    let csrf = body["data"]["csrf_token"].as_str().unwrap();
    let jar = format!("ep_session={session}; ep_csrf={csrf}");
    let (resp, _) = call(&AUTH, &env, get("/api/auth/me").with_header("cookie", &jar));
    assert_eq!(resp.status, 200, "safe methods need no CSRF token");
    let enqueue =
        || post_json("/api/queue/enqueue", &json!({"brief": "x"})).with_header("cookie", &jar);
    let (resp, body) = call(&JOBS, &env, enqueue());
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (403, Some("csrf_failed"))
    );
    assert_eq!(
        call(&JOBS, &env, enqueue().with_header("x-csrf-token", "forged"))
            .0
            .status,
        403
    );
    assert_eq!(
        call(&JOBS, &env, enqueue().with_header("x-csrf-token", csrf))
            .0
            .status,
        201
    );
    // Bearer clients are unaffected.
    assert_eq!(
        call(
            &JOBS,
            &env,
            bearer(
                post_json("/api/queue/enqueue", &json!({"brief": "y"})),
                session
            )
        )
        .0
        .status,
        201
    );
}

#[test]
fn cors_allows_only_listed_origins() {
    let (env, _) = env(&[VARS, &[("cors_allowed_origins", "https://app.example.com")]].concat());
    let preflight = |origin: &str| {
        Request::new(Method::Options, "/api/public/create-job")
            .with_header("origin", origin)
            .with_header("access-control-request-method", "POST")
    };
    let (resp, _) = call(&JOBS, &env, preflight("https://app.example.com"));
    assert_eq!(resp.status, 204);
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(resp
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    let (resp, _) = call(&JOBS, &env, preflight("https://evil.example"));
    assert_eq!(resp.header("access-control-allow-origin"), None);
    let (resp, _) = call(
        &JOBS,
        &env,
        post_json("/api/public/create-job", &json!({"brief": "x"}))
            .with_header("origin", "https://app.example.com"),
    );
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
}

#[test]
fn rate_limits_answer_429_with_headers() {
    let (env, _) = env(&[VARS, &[("rate_limit_ip_per_minute", "20")]].concat());
    let mut last = None;
    for _ in 0..10 {
        let req =
            get("/api/public/job-status/job_x").with_header("spin-client-addr", "10.0.0.9:5555");
        last = Some(call(&JOBS, &env, req).0);
    }
    let resp = last.unwrap();
    assert_eq!(resp.status, 429);
    assert_eq!(resp.header("x-ratelimit-limit"), Some("20"));
    assert_eq!(resp.header("x-ratelimit-remaining"), Some("0"));
    assert!(resp.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    // Another address is unaffected.
    let other = call(
        &JOBS,
        &env,
        get("/api/public/job-status/job_x").with_header("spin-client-addr", "10.0.0.10:1"),
    )
    .0;
    assert_eq!(other.status, 404);
    assert!(other.header("x-ratelimit-remaining").is_some());
}

#[test]
fn a_thousand_concurrent_appends_make_one_chain_and_any_edit_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("db.sqlite"));
    SqliteDb::open(path.as_ref()).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let env = echopilot_core::adapters::native::env(
                    SqliteDb::open(path.as_ref()).unwrap(),
                    &[],
                );
                for i in 0..250 {
                    audit::append(
                        &env,
                        &audit::Event::new("default", &format!("thread:{t}"), "test.event")
                            .target(&i.to_string()),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let env = echopilot_core::adapters::native::env(SqliteDb::open(path.as_ref()).unwrap(), &[]);
    let v = audit::verify(&env).unwrap();
    assert!(v.valid, "{v:?}");
    assert_eq!(v.entries, 1000);
    let max = env
        .db
        .query_one("SELECT MAX(seq), COUNT(*) FROM audit_log", &[])
        .unwrap();
    assert_eq!(
        (max.i64(0).unwrap(), max.i64(1).unwrap()),
        (1000, 1000),
        "no gap, no fork"
    );
    // Edit one entry's content: verify names it.
    env.db
        .exec(
            "UPDATE audit_log SET actor = 'mallory' WHERE seq = 437",
            &[],
        )
        .unwrap();
    let v = audit::verify(&env).unwrap();
    assert!(!v.valid);
    assert_eq!(v.first_broken.unwrap()["seq"], 437);
}

#[test]
fn sessions_end_cleanly_and_inactive_tenants_are_closed() {
    let (env, _) = env(VARS);
    let admin = admin_token(&env);
    make_tenant(&env, &admin, "acme");
    let (_, body) = {
        make_user(&env, &admin, "ops@acme.example", "operator", "acme");
        login(&env, "ops@acme.example", "a long enough password")
    };
    let access = body["data"]["access_token"].as_str().unwrap().to_string();
    let refresh = body["data"]["refresh_token"].as_str().unwrap().to_string();
    // A second access token of the same sign-in (family) after a refresh.
    let (_, rotated) = call(
        &AUTH,
        &env,
        post_json("/api/auth/refresh", &json!({"refresh_token": refresh})),
    );
    let access2 = rotated["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let refresh2 = rotated["data"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    // Signing out with one token ends every token of the family.
    assert_eq!(
        call(
            &AUTH,
            &env,
            bearer(Request::new(Method::Post, "/api/auth/logout"), &access2)
        )
        .0
        .status,
        200
    );
    let (resp, body) = call(&AUTH, &env, bearer(get("/api/auth/me"), &access));
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (401, Some("token_revoked"))
    );
    // Refreshing after sign-out is a plain 401, not a theft alarm.
    let (resp, body) = call(
        &AUTH,
        &env,
        post_json("/api/auth/refresh", &json!({"refresh_token": refresh2})),
    );
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (401, Some("token_revoked"))
    );
    let alarms = env
        .db
        .query_one(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.refresh_reuse'",
            &[],
        )
        .unwrap()
        .i64(0)
        .unwrap();
    assert_eq!(alarms, 0);

    // Deactivating the tenant closes it to its users and keys; the platform can reopen it.
    let ops = make_user(&env, &admin, "ops2@acme.example", "operator", "acme");
    let deactivate = Request::new(Method::Patch, "/api/tenant/settings?tenant_id=acme")
        .with_header("content-type", "application/json")
        .with_body(br#"{"active": false}"#.to_vec());
    assert_eq!(call(&AUTH, &env, bearer(deactivate, &admin)).0.status, 200);
    let (resp, body) = call(
        &JOBS,
        &env,
        bearer(
            post_json("/api/queue/enqueue", &json!({"brief": "x"})),
            &ops,
        ),
    );
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (403, Some("tenant_inactive"))
    );
    let (status, body) = login(&env, "ops2@acme.example", "a long enough password");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("tenant_inactive"))
    );
    let reopen = Request::new(Method::Patch, "/api/tenant/settings?tenant_id=acme")
        .with_header("content-type", "application/json")
        .with_body(br#"{"active": true}"#.to_vec());
    assert_eq!(call(&AUTH, &env, bearer(reopen, &admin)).0.status, 200);
    assert_eq!(
        call(
            &JOBS,
            &env,
            bearer(
                post_json("/api/queue/enqueue", &json!({"brief": "x"})),
                &ops
            )
        )
        .0
        .status,
        201
    );
    // A tenant's own admin may not change its plan, and may not run scheduled jobs.
    let acme_admin = make_user(&env, &admin, "admin@acme.example", "admin", "acme");
    let plan = Request::new(Method::Patch, "/api/tenant/settings")
        .with_header("content-type", "application/json")
        .with_body(br#"{"plan": "enterprise"}"#.to_vec());
    let (resp, body) = call(&AUTH, &env, bearer(plan, &acme_admin));
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (403, Some("platform_only"))
    );
    let (resp, _) = call(
        &echopilot_core::heartbeat::APP,
        &env,
        bearer(
            Request::new(Method::Post, "/api/internal/cron/heartbeat"),
            &acme_admin,
        ),
    );
    assert_eq!(resp.status, 403);
    // Nor change the platform's prompt templates.
    let tpl = post_json(
        "/api/prompts",
        &json!({"job_type": "ai_task", "system_prompt": "x", "user_template": "{{brief}}"}),
    );
    let (resp, body) = call(&JOBS, &env, bearer(tpl, &ops));
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (403, Some("platform_only"))
    );
}
