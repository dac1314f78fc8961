//! Sign-in, tokens, users, partner keys and tenants (api-auth), end to end:
//! the release components called over HTTP.
//!
//! Every scenario here sets its own variables on a fresh app (`jwt_secret`,
//! the bootstrap admin, rate limits, CORS origins) and knows the JWT secret
//! (so it can mint correctly signed but otherwise wrong tokens), so they run
//! on apps the harness starts (a test host or a real `spin up`), not
//! against an external server, which has its own variables.
//!
//! The helpers at the top (`kit`) are shared with `tenancy`, `audit` and
//! `matrix`.

use anyhow::{Context, Result};
use echopilot_core::identity::{base64url, jwt, keys};
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, Env, Scenario};
use kit::*;
use serde_json::{json, Value};

pub const SCENARIOS: &[Scenario] = &[
    Scenario::configured(
        "auth_bootstrap_admin_signs_in_and_wrong_credentials_get_one_answer",
        bootstrap_admin,
    ),
    Scenario::configured(
        "auth_refresh_rotates_and_reuse_revokes_the_family",
        refresh_rotation,
    ),
    Scenario::configured("auth_logout_revokes_token_and_family", logout),
    Scenario::configured(
        "auth_key_rotation_keeps_old_tokens_and_signs_with_a_new_kid",
        key_rotation,
    ),
    Scenario::configured(
        "auth_disabled_users_and_role_changes_apply_at_once",
        disabled_user,
    ),
    Scenario::configured("auth_password_guess_flood_is_rate_limited", password_flood),
    Scenario::configured(
        "auth_cookie_sessions_need_the_csrf_token_on_unsafe_methods",
        cookie_sessions,
    ),
    Scenario::configured("auth_cors_preflight_allows_listed_origins_only", cors),
    Scenario::configured("auth_rate_limits_answer_429_with_headers", rate_limits),
    Scenario::configured(
        "auth_bad_tokens_are_refused_cleanly_and_leak_nothing",
        bad_tokens,
    ),
    Scenario::configured(
        "auth_partner_keys_shown_once_scoped_quota_limited_revocable",
        partner_keys,
    ),
    Scenario::configured(
        "auth_tenants_and_users_are_managed_by_admins",
        tenants_and_users,
    ),
];

/// Shared helpers for the identity scenarios.
pub(crate) mod kit {
    use anyhow::{bail, Context, Result};
    use echopilot_e2e::check;
    use echopilot_e2e::client::{RequestBuilder, Response};
    use echopilot_e2e::scenario::{expect_status, App, Env, TEST_CRON_TOKEN, TEST_DASHBOARD_KEY};
    use echopilot_e2e::HostBuilder;
    use serde_json::{json, Value};

    /// The `jwt_secret` of identity hosts (32+ characters).
    pub const JWT_SECRET: &str = "e2e-jwt-secret-never-in-a-response-0123456789";
    /// The bootstrap admin (`admin_email`, `admin_password`).
    pub const ADMIN_EMAIL: &str = "root@echopilot.test";
    /// Its password.
    pub const ADMIN_PASSWORD: &str = "e2e root password 0123";
    /// The password of every user the scenarios create.
    pub const PASSWORD: &str = "a long enough password";

    /// The `metrics_token` of identity hosts.
    pub const METRICS_TOKEN: &str = "e2e-metrics-token-for-prometheus-0123456789";

    /// Identity variables, with rate limits out of the way.
    pub fn identity_vars(b: HostBuilder) -> HostBuilder {
        b.variable("jwt_secret", JWT_SECRET)
            .variable("metrics_token", METRICS_TOKEN)
            .variable("admin_email", ADMIN_EMAIL)
            .variable("admin_password", ADMIN_PASSWORD)
            .variable("rate_limit_ip_per_minute", "1000000")
            .variable("rate_limit_credential_per_minute", "1000000")
    }

    /// A fresh app with [`identity_vars`].
    pub fn identity_app(env: &Env) -> Result<App> {
        env.app_with(identity_vars)
    }

    /// A way of calling.
    #[derive(Clone, Debug)]
    pub enum Cred {
        /// No credential.
        Nobody,
        /// `Authorization: Bearer <token>` (a JWT, or an `ep_` key).
        Bearer(String),
        /// `X-API-Key: <key>`.
        ApiKey(String),
        /// `X-Dash-Key` (admin of the default tenant).
        Dashboard,
        /// The cron token as a bearer.
        Cron,
        /// The metrics token as a bearer.
        Metrics,
    }

    impl Cred {
        /// Add the credential to a request.
        pub fn apply<'a>(&self, r: RequestBuilder<'a>) -> RequestBuilder<'a> {
            match self {
                Cred::Nobody => r,
                Cred::Bearer(t) => r.bearer(t),
                Cred::ApiKey(k) => r.header("X-API-Key", k),
                Cred::Dashboard => r.header("X-Dash-Key", TEST_DASHBOARD_KEY),
                Cred::Cron => r.bearer(TEST_CRON_TOKEN),
                Cred::Metrics => r.bearer(METRICS_TOKEN),
            }
        }
    }

    /// `method target` as `cred`, with a JSON body when given.
    pub fn call(
        app: &App,
        method: &str,
        target: &str,
        cred: &Cred,
        body: Option<&Value>,
    ) -> Result<Response> {
        let mut r = cred.apply(app.request(method, target));
        if let Some(b) = body {
            r = r.json(b);
        }
        r.send()
            .with_context(|| format!("{method} {target} as {cred:?}"))
    }

    /// The error code of a response ("" when there is none).
    pub fn code(resp: &Response) -> String {
        resp.error_code().unwrap_or_default()
    }

    /// Check an error answer's status and code.
    pub fn expect_error(resp: &Response, status: u16, error_code: &str, what: &str) -> Result<()> {
        check!(
            resp.status == status && code(resp) == error_code,
            "{what}: expected {status} {error_code}, got {} {}",
            resp.status,
            resp.text()
        );
        Ok(())
    }

    /// Sign in; the `data` of the answer (tokens and user).
    pub fn login(app: &App, email: &str, password: &str) -> Result<Value> {
        let resp = app
            .post("/api/auth/login")
            .json(&json!({ "email": email, "password": password }))
            .send()?;
        let body = expect_status(&resp, 200).with_context(|| format!("sign-in of {email}"))?;
        Ok(body["data"].clone())
    }

    /// A field of a JSON value as a string.
    pub fn text(v: &Value, pointer: &str) -> Result<String> {
        v.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_string)
            .with_context(|| format!("no string at {pointer} in {v}"))
    }

    /// The bootstrap admin's access token.
    pub fn root_token(app: &App) -> Result<String> {
        text(&login(app, ADMIN_EMAIL, ADMIN_PASSWORD)?, "/access_token")
    }

    /// Create tenant `id` (as a global admin).
    pub fn create_tenant(app: &App, admin: &Cred, id: &str) -> Result<Value> {
        let resp = call(
            app,
            "POST",
            "/api/tenant/create",
            admin,
            Some(&json!({ "id": id, "name": format!("Tenant {id}"), "plan": "pro" })),
        )?;
        Ok(
            expect_status(&resp, 201).with_context(|| format!("creating tenant {id}"))?["data"]
                .clone(),
        )
    }

    /// Create a user; its id.
    pub fn create_user(
        app: &App,
        admin: &Cred,
        email: &str,
        role: &str,
        tenant: &str,
    ) -> Result<String> {
        let resp = call(
            app,
            "POST",
            "/api/users",
            admin,
            Some(
                &json!({ "email": email, "password": PASSWORD, "role": role, "tenant_id": tenant }),
            ),
        )?;
        let body = expect_status(&resp, 201).with_context(|| format!("creating {email}"))?;
        check!(
            body["data"]["role"] == role && body["data"]["tenant_id"] == tenant,
            "created user: {body}"
        );
        text(&body, "/data/id")
    }

    /// Create a user and sign it in: (id, access token).
    pub fn user_token(
        app: &App,
        admin: &Cred,
        email: &str,
        role: &str,
        tenant: &str,
    ) -> Result<(String, String)> {
        let id = create_user(app, admin, email, role, tenant)?;
        let data = login(app, email, PASSWORD)?;
        Ok((id, text(&data, "/access_token")?))
    }

    /// Create a partner key: (id, secret).
    pub fn create_key(
        app: &App,
        admin: &Cred,
        tenant: Option<&str>,
        scopes: &[&str],
        daily: i64,
        monthly: i64,
    ) -> Result<(String, String)> {
        let mut body = json!({
            "name": "e2e partner", "scopes": scopes, "daily_quota": daily, "monthly_quota": monthly
        });
        if let Some(t) = tenant {
            body["tenant_id"] = t.into();
        }
        let resp = call(app, "POST", "/api/partners", admin, Some(&body))?;
        let v = expect_status(&resp, 201).context("creating a partner key")?;
        Ok((text(&v, "/data/id")?, text(&v, "/data/api_key")?))
    }

    /// Enqueue a job (operator route); its id.
    pub fn enqueue(app: &App, cred: &Cred, body: &Value) -> Result<String> {
        let resp = call(app, "POST", "/api/queue/enqueue", cred, Some(body))?;
        let v = expect_status(&resp, 201).context("enqueue")?;
        text(&v, "/data/job/id")
    }

    /// Submit a partner job; its id.
    pub fn partner_job(app: &App, key: &Cred, brief: &str) -> Result<String> {
        let resp = call(
            app,
            "POST",
            "/api/partner/jobs",
            key,
            Some(&json!({ "brief": brief })),
        )?;
        let v = expect_status(&resp, 201).context("partner job")?;
        text(&v, "/data/job/id")
    }

    /// Every entry of `GET /api/audit/chain?<query>`, following the cursor
    /// (newest first), at most `max_pages` pages.
    pub fn audit_entries(
        app: &App,
        cred: &Cred,
        query: &str,
        max_pages: usize,
    ) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..max_pages {
            let mut target = "/api/audit/chain?limit=500".to_string();
            if !query.is_empty() {
                target.push('&');
                target.push_str(query);
            }
            if let Some(c) = &cursor {
                target.push_str(&format!("&cursor={c}"));
            }
            let body = expect_status(&call(app, "GET", &target, cred, None)?, 200)?;
            let entries = body["data"]["entries"]
                .as_array()
                .context("entries")?
                .clone();
            out.extend(entries);
            match body["data"]["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return Ok(out),
            }
        }
        bail!("the audit chain had more than {max_pages} pages")
    }
}

fn me(app: &echopilot_e2e::scenario::App, cred: &Cred) -> Result<echopilot_e2e::Response> {
    call(app, "GET", "/api/auth/me", cred, None)
}

fn bootstrap_admin(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let data = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD)?;
    check!(
        data["token_type"] == "Bearer" && data["expires_in"] == 900,
        "token pair: {data}"
    );
    check!(
        data["user"]["email"] == ADMIN_EMAIL && data["user"]["role"] == "admin",
        "user: {}",
        data["user"]
    );
    let token = text(&data, "/access_token")?;
    let body = expect_status(&me(&app, &Cred::Bearer(token.clone()))?, 200)?;
    let m = &body["data"];
    check!(
        m["role"] == "admin" && m["tenant_id"] == "default" && m["global"] == true,
        "me: {m}"
    );
    check!(
        m["user"]["email"] == ADMIN_EMAIL
            && m["actor"]
                .as_str()
                .is_some_and(|a| a.starts_with("user:usr_")),
        "me: {m}"
    );
    // Wrong password and unknown account: the same status, code and message.
    let wrong = app
        .post("/api/auth/login")
        .json(&json!({ "email": ADMIN_EMAIL, "password": "not the password at all" }))
        .send()?;
    expect_error(&wrong, 401, "invalid_credentials", "wrong password")?;
    let unknown = app
        .post("/api/auth/login")
        .json(&json!({ "email": "nobody@echopilot.test", "password": "not the password at all" }))
        .send()?;
    expect_error(&unknown, 401, "invalid_credentials", "unknown email")?;
    check!(
        wrong.json()?["error"] == unknown.json()?["error"],
        "the two refusals differ: {} vs {}",
        wrong.text(),
        unknown.text()
    );
    // Without a credential, /me is a 401.
    expect_error(
        &me(&app, &Cred::Nobody)?,
        401,
        "unauthorized",
        "me without a credential",
    )?;
    // The chain records the bootstrap, the sign-in and both failures.
    let root = Cred::Bearer(token);
    let entries = audit_entries(&app, &root, "", 5)?;
    let count = |action: &str| entries.iter().filter(|e| e["action"] == action).count();
    check!(count("user.bootstrap_admin") == 1, "bootstrap not audited");
    check!(count("auth.login") == 1, "sign-in not audited");
    check!(
        count("auth.login_failed") == 2,
        "failed sign-ins audited {} times",
        count("auth.login_failed")
    );
    let failed: Vec<&str> = entries
        .iter()
        .filter(|e| e["action"] == "auth.login_failed")
        .filter_map(|e| e["target"].as_str())
        .collect();
    check!(
        failed.contains(&ADMIN_EMAIL) && failed.contains(&"nobody@echopilot.test"),
        "failed sign-in targets: {failed:?}"
    );
    // The password is in no audit entry.
    let all = serde_json::to_string(&entries)?;
    check!(
        !all.contains(ADMIN_PASSWORD) && !all.contains("not the password at all"),
        "a password reached the audit chain"
    );
    Ok(())
}

fn refresh_with(
    app: &echopilot_e2e::scenario::App,
    token: &str,
) -> Result<echopilot_e2e::Response> {
    app.post("/api/auth/refresh")
        .json(&json!({ "refresh_token": token }))
        .send()
}

fn refresh_rotation(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let first = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD)?;
    let r1 = text(&first, "/refresh_token")?;
    let resp = refresh_with(&app, &r1)?;
    let second = expect_status(&resp, 200)?["data"].clone();
    let r2 = text(&second, "/refresh_token")?;
    let a2 = text(&second, "/access_token")?;
    check!(r2 != r1, "refresh did not rotate the refresh token");
    check!(
        a2 != text(&first, "/access_token")?,
        "refresh did not issue a new access token"
    );
    expect_status(&me(&app, &Cred::Bearer(a2.clone()))?, 200)?;
    // An access token is not a refresh token.
    let wrong_type = refresh_with(&app, &a2)?;
    check!(
        wrong_type.status == 401,
        "access token as refresh: {}",
        wrong_type.status
    );
    // The spent r1 again: refused as reused, and the family dies.
    let reused = refresh_with(&app, &r1)?;
    expect_error(&reused, 401, "token_reused", "spent refresh token")?;
    let newer = refresh_with(&app, &r2)?;
    check!(
        newer.status == 401,
        "the newer refresh token of the family still works: {} {}",
        newer.status,
        newer.text()
    );
    // Another sign-in (another family) is unaffected.
    let other = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD)?;
    let resp = refresh_with(&app, &text(&other, "/refresh_token")?)?;
    expect_status(&resp, 200).context("another family")?;
    // The reuse is in the audit chain.
    let root = Cred::Bearer(text(&other, "/access_token")?);
    let reuse = audit_entries(&app, &root, "action=auth.refresh_reuse", 2)?;
    check!(!reuse.is_empty(), "refresh reuse not audited");
    check!(
        reuse
            .iter()
            .all(|e| e["target"].as_str().is_some_and(|t| t.starts_with("fam_"))),
        "reuse entries: {reuse:?}"
    );
    Ok(())
}

fn logout(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let data = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD)?;
    let token = Cred::Bearer(text(&data, "/access_token")?);
    let refresh = text(&data, "/refresh_token")?;
    expect_status(&me(&app, &token)?, 200)?;
    let resp = call(&app, "POST", "/api/auth/logout", &token, None)?;
    let body = expect_status(&resp, 200)?;
    check!(body["data"]["signed_out"] == true, "logout: {body}");
    // The cookies are cleared too.
    let cleared = resp.headers_named("set-cookie");
    for name in ["ep_session=;", "ep_refresh=;", "ep_csrf=;"] {
        check!(
            cleared
                .iter()
                .any(|c| c.starts_with(name) && c.contains("Max-Age=0")),
            "{name} not cleared: {cleared:?}"
        );
    }
    expect_error(&me(&app, &token)?, 401, "token_revoked", "signed-out token")?;
    // Signing out twice with the same token: it is already refused.
    let again = call(&app, "POST", "/api/auth/logout", &token, None)?;
    expect_error(&again, 401, "token_revoked", "second logout")?;
    // The refresh token of the signed-out family is refused.
    let resp = refresh_with(&app, &refresh)?;
    check!(
        resp.status == 401,
        "refresh after logout: {} {}",
        resp.status,
        resp.text()
    );
    // A new sign-in works.
    let fresh = Cred::Bearer(root_token(&app)?);
    expect_status(&me(&app, &fresh)?, 200)?;
    let events = audit_entries(&app, &fresh, "action=auth.logout", 2)?;
    check!(events.len() == 1, "logout audited {} times", events.len());
    Ok(())
}

fn kid_of(token: &str) -> Result<String> {
    jwt::kid(token).map_err(|e| anyhow::anyhow!("kid of {token:.30}: {e:?}"))
}

fn key_rotation(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let root = Cred::Bearer(root_token(&app)?);
    let before = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD)?;
    let old_access = text(&before, "/access_token")?;
    let old_refresh = text(&before, "/refresh_token")?;
    let old_kid = kid_of(&old_access)?;
    check!(kid_of(&old_refresh)? == old_kid, "the pair has two kids");
    // Only admins rotate.
    let (_, op) = user_token(&app, &root, "op@default.test", "operator", "default")?;
    let op = Cred::Bearer(op);
    expect_error(
        &call(&app, "POST", "/api/auth/keys/rotate", &op, None)?,
        403,
        "insufficient_role",
        "operator rotating keys",
    )?;
    let resp = call(&app, "POST", "/api/auth/keys/rotate", &root, None)?;
    let body = expect_status(&resp, 200)?;
    let active = text(&body, "/data/active_kid")?;
    check!(active != old_kid, "rotation kept the kid {old_kid}");
    check!(
        body["data"]["retired_kid"] == old_kid.as_str(),
        "retired kid: {body}"
    );
    check!(
        body["data"]["retired_verifies_until"].is_string(),
        "grace: {body}"
    );
    // Old tokens keep working.
    expect_status(&me(&app, &Cred::Bearer(old_access.clone()))?, 200)
        .context("old access token")?;
    expect_status(&me(&app, &op)?, 200).context("operator's old token")?;
    // New sign-ins use the new kid.
    let after = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD)?;
    let new_access = text(&after, "/access_token")?;
    check!(kid_of(&new_access)? == active, "new sign-in kid");
    expect_status(&me(&app, &Cred::Bearer(new_access))?, 200)?;
    // A refresh token signed with the retired key still rotates, into the new key.
    let resp = refresh_with(&app, &old_refresh)?;
    let pair = expect_status(&resp, 200).context("refresh with a retired-key token")?;
    check!(
        kid_of(&text(&pair, "/data/access_token")?)? == active,
        "refreshed pair kid"
    );
    // A second rotation: both older kids still verify (within 24 h).
    let resp = call(&app, "POST", "/api/auth/keys/rotate", &root, None)?;
    let body = expect_status(&resp, 200)?;
    check!(
        body["data"]["retired_kid"] == active.as_str(),
        "second rotation: {body}"
    );
    expect_status(&me(&app, &Cred::Bearer(old_access))?, 200).context("token of two keys ago")?;
    let rotated = audit_entries(&app, &root, "action=auth.keys_rotated", 2)?;
    check!(rotated.len() == 2, "rotations audited: {}", rotated.len());
    Ok(())
}

fn disabled_user(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let root = Cred::Bearer(root_token(&app)?);
    let email = "viewer@default.test";
    let id = create_user(&app, &root, email, "viewer", "default")?;
    let pair = login(&app, email, PASSWORD)?;
    let token = Cred::Bearer(text(&pair, "/access_token")?);
    let refresh = text(&pair, "/refresh_token")?;
    let body = expect_status(&me(&app, &token)?, 200)?;
    check!(body["data"]["role"] == "viewer", "me: {body}");
    // A role change applies at once, to the token already issued.
    let enqueue_body = json!({ "brief": "role change check" });
    expect_error(
        &call(
            &app,
            "POST",
            "/api/queue/enqueue",
            &token,
            Some(&enqueue_body),
        )?,
        403,
        "insufficient_role",
        "viewer enqueueing",
    )?;
    let patch = |body: Value| {
        call(
            &app,
            "PATCH",
            &format!("/api/users/{id}"),
            &root,
            Some(&body),
        )
    };
    let resp = patch(json!({ "role": "operator" }))?;
    check!(
        expect_status(&resp, 200)?["data"]["role"] == "operator",
        "role change"
    );
    expect_status(
        &call(
            &app,
            "POST",
            "/api/queue/enqueue",
            &token,
            Some(&enqueue_body),
        )?,
        201,
    )
    .context("promoted token enqueueing")?;
    // Disabled: the same token stops at once, sign-in says so, refresh is refused.
    let resp = patch(json!({ "disabled": true }))?;
    check!(
        expect_status(&resp, 200)?["data"]["disabled"] == true,
        "disable"
    );
    // Disabling ends the user's sessions: the token is revoked.
    expect_error(
        &me(&app, &token)?,
        401,
        "token_revoked",
        "disabled user's token",
    )?;
    expect_error(
        &call(
            &app,
            "POST",
            "/api/queue/enqueue",
            &token,
            Some(&enqueue_body),
        )?,
        401,
        "token_revoked",
        "disabled user's token on a write",
    )?;
    let resp = app
        .post("/api/auth/login")
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()?;
    expect_error(&resp, 403, "account_disabled", "disabled sign-in")?;
    let resp = refresh_with(&app, &refresh)?;
    check!(
        resp.status == 401,
        "disabled refresh: {} {}",
        resp.status,
        resp.text()
    );
    // A wrong password for a disabled account stays the generic 401.
    let resp = app
        .post("/api/auth/login")
        .json(&json!({ "email": email, "password": "wrong password, long" }))
        .send()?;
    expect_error(
        &resp,
        401,
        "invalid_credentials",
        "disabled, wrong password",
    )?;
    // Enabled again: signs in, but the old session stays dead.
    expect_status(&patch(json!({ "disabled": false }))?, 200)?;
    let again = login(&app, email, PASSWORD)?;
    expect_status(
        &me(&app, &Cred::Bearer(text(&again, "/access_token")?))?,
        200,
    )?;
    let resp = refresh_with(&app, &refresh)?;
    check!(
        resp.status == 401,
        "old refresh token after re-enabling: {}",
        resp.status
    );
    // The changes are audited with before and after.
    let updates = audit_entries(&app, &root, "action=user.update", 2)?;
    check!(updates.len() == 3, "user.update entries: {}", updates.len());
    check!(
        updates
            .iter()
            .any(|e| e["detail"]["role"]["from"] == "viewer"
                && e["detail"]["role"]["to"] == "operator"),
        "role change detail: {updates:?}"
    );
    Ok(())
}

fn password_flood(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let root = Cred::Bearer(root_token(&app)?);
    create_user(&app, &root, "bystander@default.test", "viewer", "default")?;
    let guess = |password: &str, spoof: Option<&str>| {
        let mut r = app
            .post("/api/auth/login")
            .json(&json!({ "email": ADMIN_EMAIL, "password": password }));
        if let Some(addr) = spoof {
            r = r.header("spin-client-addr", addr);
        }
        r.send()
    };
    // Five attempts a minute per account: the bootstrap sign-in above was
    // one, so the flood meets a 429 within a few guesses (bounded loop).
    let mut statuses = Vec::new();
    let mut limited = None;
    for i in 0..10 {
        let resp = guess(&format!("guess number {i:02} wrong"), None)?;
        statuses.push(resp.status);
        if resp.status == 429 {
            limited = Some(resp);
            break;
        }
        expect_error(&resp, 401, "invalid_credentials", "a guess")?;
    }
    let limited = limited.with_context(|| format!("no 429 in the flood: {statuses:?}"))?;
    check!(
        statuses.len() <= 6,
        "the (account, address) lock allowed {statuses:?}"
    );
    expect_error(&limited, 429, "sign_in_locked", "flood")?;
    let retry: u64 = limited
        .header("retry-after")
        .context("no Retry-After")?
        .parse()
        .context("Retry-After is not seconds")?;
    check!(retry >= 1, "Retry-After {retry}");
    // Now even the right password waits, and a spoofed address does not help.
    let resp = guess(ADMIN_PASSWORD, None)?;
    expect_error(
        &resp,
        429,
        "sign_in_locked",
        "right password during the limit",
    )?;
    let resp = guess(ADMIN_PASSWORD, Some("203.0.113.7:4444"))?;
    expect_error(&resp, 429, "sign_in_locked", "spoofed spin-client-addr")?;
    // Another account from the same address still signs in.
    login(&app, "bystander@default.test", PASSWORD).context("another account")?;
    // Limited attempts were not checked, so not audited as failures.
    let failed = audit_entries(&app, &root, "action=auth.login_failed", 2)?;
    check!(
        failed.len() == statuses.len() - 1,
        "failed sign-ins audited {} times for {} checked guesses",
        failed.len(),
        statuses.len() - 1
    );
    Ok(())
}

/// `name=value` of a Set-Cookie line.
pub(crate) fn cookie_pair<'a>(set_cookies: &[&'a str], name: &str) -> Option<&'a str> {
    set_cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap_or(""))
}

fn cookie_sessions(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let resp = app
        .post("/api/auth/login")
        .json(&json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "session": true }))
        .send()?;
    let body = expect_status(&resp, 200)?;
    let cookies = resp.headers_named("set-cookie");
    check!(cookies.len() == 4, "Set-Cookie: {cookies:?}");
    let attrs = |name: &str| -> Result<Vec<String>> {
        let line = cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .with_context(|| format!("no {name} cookie in {cookies:?}"))?;
        Ok(line
            .split(';')
            .skip(1)
            .map(|a| a.trim().to_string())
            .collect())
    };
    for (name, path, max_age, http_only) in [
        ("ep_session", "/", "900", true),
        ("ep_refresh", "/api/auth", "86400", true),
        ("ep_csrf", "/", "86400", false),
        // The known-device token (see docs/SECURITY.md, sign-in throttles).
        ("ep_device", "/api/auth/login", "2592000", true),
    ] {
        let a = attrs(name)?;
        for want in [
            format!("Path={path}"),
            format!("Max-Age={max_age}"),
            "Secure".to_string(),
            "SameSite=Strict".to_string(),
        ] {
            check!(a.contains(&want), "{name} lacks {want}: {a:?}");
        }
        check!(
            a.contains(&"HttpOnly".to_string()) == http_only,
            "{name} HttpOnly should be {http_only}: {a:?}"
        );
    }
    let session = cookie_pair(&cookies, "ep_session").context("session")?;
    let refresh_cookie = cookie_pair(&cookies, "ep_refresh").context("refresh")?;
    let csrf_cookie = cookie_pair(&cookies, "ep_csrf").context("csrf")?;
    let csrf = text(&body, "/data/csrf_token")?;
    check!(
        csrf_cookie == format!("ep_csrf={csrf}"),
        "csrf cookie {csrf_cookie} vs body"
    );
    check!(
        session == format!("ep_session={}", text(&body, "/data/access_token")?),
        "the session cookie is the access token"
    );
    let jar = format!("{session}; {csrf_cookie}");
    // Safe methods need only the cookie.
    let resp = app.get("/api/auth/me").header("Cookie", &jar).send()?;
    let m = expect_status(&resp, 200).context("GET with the session cookie")?;
    check!(m["data"]["role"] == "admin", "me by cookie: {m}");
    expect_status(&app.get("/api/jobs").header("Cookie", &jar).send()?, 200)?;
    // Unsafe methods need X-CSRF-Token = the ep_csrf cookie = the session's token.
    let enqueue = || {
        app.post("/api/queue/enqueue")
            .header("Cookie", &jar)
            .json(&json!({ "brief": "cookie session job" }))
    };
    expect_error(&enqueue().send()?, 403, "csrf_failed", "no X-CSRF-Token")?;
    expect_error(
        &enqueue().header("X-CSRF-Token", "forged-token").send()?,
        403,
        "csrf_failed",
        "wrong X-CSRF-Token",
    )?;
    // The header matching a forged ep_csrf cookie is not enough: the token
    // is bound to the session's JWT.
    let forged_jar = format!("{session}; ep_csrf=forged-token");
    let resp = app
        .post("/api/queue/enqueue")
        .header("Cookie", &forged_jar)
        .header("X-CSRF-Token", "forged-token")
        .json(&json!({ "brief": "x" }))
        .send()?;
    expect_error(&resp, 403, "csrf_failed", "forged cookie and header")?;
    // Another session's valid CSRF pair does not fit this session.
    let other = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD)?;
    let other_csrf = text(&other, "/csrf_token")?;
    let resp = app
        .post("/api/queue/enqueue")
        .header("Cookie", &format!("{session}; ep_csrf={other_csrf}"))
        .header("X-CSRF-Token", &other_csrf)
        .json(&json!({ "brief": "x" }))
        .send()?;
    expect_error(&resp, 403, "csrf_failed", "another session's CSRF token")?;
    let ok = enqueue().header("X-CSRF-Token", &csrf).send()?;
    expect_status(&ok, 201).context("with the right CSRF token")?;
    let patch = app
        .request("PATCH", "/api/tenant/settings")
        .header("Cookie", &jar)
        .json(&json!({ "locale": "es" }));
    expect_error(
        &patch.send()?,
        403,
        "csrf_failed",
        "PATCH without the token",
    )?;
    // Bearer clients are unaffected.
    let access = text(&body, "/data/access_token")?;
    let resp = app
        .post("/api/queue/enqueue")
        .bearer(&access)
        .json(&json!({ "brief": "bearer job" }))
        .send()?;
    expect_status(&resp, 201).context("bearer without a CSRF token")?;
    // Refresh by cookie (with the token) rotates and sets new cookies.
    let resp = app
        .post("/api/auth/refresh")
        .header("Cookie", &format!("{jar}; {refresh_cookie}"))
        .header("X-CSRF-Token", &csrf)
        .send()?;
    let refreshed = expect_status(&resp, 200).context("refresh by cookie")?;
    let new_cookies = resp.headers_named("set-cookie");
    let new_session = cookie_pair(&new_cookies, "ep_session").context("new session cookie")?;
    let new_csrf = text(&refreshed, "/data/csrf_token")?;
    check!(
        new_session != session && new_csrf != csrf,
        "refresh did not rotate the session"
    );
    let new_jar = format!("{new_session}; ep_csrf={new_csrf}");
    // The old CSRF token does not fit the new session; the new one does.
    let resp = app
        .post("/api/auth/logout")
        .header("Cookie", &new_jar)
        .header("X-CSRF-Token", &csrf)
        .send()?;
    expect_error(
        &resp,
        403,
        "csrf_failed",
        "old CSRF token on the new session",
    )?;
    let resp = app
        .post("/api/auth/logout")
        .header("Cookie", &new_jar)
        .header("X-CSRF-Token", &new_csrf)
        .send()?;
    expect_status(&resp, 200).context("logout by cookie")?;
    expect_error(
        &app.get("/api/auth/me").header("Cookie", &new_jar).send()?,
        401,
        "token_revoked",
        "cookie after logout",
    )?;
    Ok(())
}

fn cors(env: &Env) -> Result<()> {
    let allowed = "https://app.echopilot.test";
    let app = env.app_with(|b| {
        identity_vars(b).variable(
            "cors_allowed_origins",
            format!("{allowed}, https://other.echopilot.test"),
        )
    })?;
    let preflight = |origin: &str, target: &str| {
        app.request("OPTIONS", target)
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "content-type, x-csrf-token",
            )
            .send()
    };
    for target in ["/api/auth/login", "/api/queue/enqueue", "/api/partner/jobs"] {
        let resp = preflight(allowed, target)?;
        check!(resp.status == 204, "preflight {target}: {}", resp.status);
        check!(
            resp.header("access-control-allow-origin") == Some(allowed),
            "{target}: allow-origin {:?}",
            resp.header("access-control-allow-origin")
        );
        check!(resp.header("vary") == Some("Origin"), "{target}: vary");
        let methods = resp
            .header("access-control-allow-methods")
            .unwrap_or_default();
        check!(
            methods.contains("POST"),
            "{target}: allow-methods {methods:?}"
        );
        let headers = resp
            .header("access-control-allow-headers")
            .unwrap_or_default();
        for h in [
            "authorization",
            "content-type",
            "x-csrf-token",
            "x-api-key",
            "x-tenant-id",
        ] {
            check!(
                headers.contains(h),
                "{target}: allow-headers lacks {h}: {headers}"
            );
        }
        check!(
            resp.header("access-control-max-age").is_some(),
            "{target}: max-age"
        );
        // An unknown origin (or a look-alike) gets no CORS headers at all.
        for evil in [
            "https://evil.example",
            "https://app.echopilot.test.evil.example",
            "null",
        ] {
            let resp = preflight(evil, target)?;
            check!(
                resp.headers
                    .iter()
                    .all(|(k, _)| !k.starts_with("access-control-")),
                "{target} from {evil}: {:?}",
                resp.headers
            );
        }
    }
    // Actual requests: the allowed origin reads the answer and its headers.
    let resp = app
        .post("/api/auth/login")
        .header("Origin", allowed)
        .json(&json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
        .send()?;
    expect_status(&resp, 200)?;
    check!(
        resp.header("access-control-allow-origin") == Some(allowed),
        "actual request"
    );
    let exposed = resp
        .header("access-control-expose-headers")
        .unwrap_or_default();
    for h in [
        "x-request-id",
        "retry-after",
        "x-ratelimit-remaining",
        "x-quota-daily-remaining",
    ] {
        check!(exposed.contains(h), "expose-headers lacks {h}: {exposed}");
    }
    let resp = app
        .get("/api/auth/me")
        .header("Origin", "https://evil.example")
        .send()?;
    check!(resp.status == 401, "evil origin me: {}", resp.status);
    check!(
        resp.header("access-control-allow-origin").is_none(),
        "an error answer to an unknown origin has CORS headers"
    );
    let resp = app
        .get("/api/auth/me")
        .header("Origin", "https://other.echopilot.test")
        .send()?;
    check!(
        resp.header("access-control-allow-origin") == Some("https://other.echopilot.test"),
        "second listed origin, error answer: {:?}",
        resp.header("access-control-allow-origin")
    );
    Ok(())
}

fn rate_limits(env: &Env) -> Result<()> {
    // One a minute per address: a burst of 5 (a quarter minute, at least
    // 5), refilled every 60 s, so the refill cannot blur the count.
    let app = env.app_with(|b| {
        identity_vars(b)
            .variable("rate_limit_ip_per_minute", "1")
            .variable("rate_limit_credential_per_minute", "1000000")
    })?;
    let mut remaining = Vec::new();
    let mut limited = None;
    // A guarded public route (the version is answered at the edge, unguarded).
    for _ in 0..30 {
        let resp = app.get("/healthz/strict").send()?;
        if resp.status == 429 {
            limited = Some(resp);
            break;
        }
        check!(resp.status == 200, "strict health: {}", resp.status);
        check!(
            resp.header("x-ratelimit-limit") == Some("1"),
            "limit header: {:?}",
            resp.header("x-ratelimit-limit")
        );
        check!(
            resp.header("x-ratelimit-reset").is_some(),
            "no reset header"
        );
        remaining.push(
            resp.header("x-ratelimit-remaining")
                .context("no remaining header")?
                .parse::<i64>()?,
        );
    }
    let limited =
        limited.with_context(|| format!("never limited; remaining went {remaining:?}"))?;
    check!(
        remaining.windows(2).all(|w| w[1] <= w[0]),
        "remaining did not count down: {remaining:?}"
    );
    check!(
        remaining.len() <= 7,
        "burst larger than expected: {remaining:?}"
    );
    expect_error(&limited, 429, "rate_limited", "rate limit")?;
    check!(
        limited.header("x-ratelimit-limit") == Some("1"),
        "429 limit header"
    );
    check!(
        limited.header("x-ratelimit-remaining") == Some("0"),
        "429 remaining header"
    );
    check!(
        limited
            .header("x-ratelimit-reset")
            .and_then(|r| r.parse::<i64>().ok())
            .is_some_and(|r| r >= 1),
        "429 reset header: {:?}",
        limited.header("x-ratelimit-reset")
    );
    check!(
        limited
            .header("retry-after")
            .and_then(|r| r.parse::<u64>().ok())
            .is_some_and(|r| r >= 1),
        "Retry-After: {:?}",
        limited.header("retry-after")
    );
    // The bucket is per address as the platform saw it: a spoofed
    // spin-client-addr header does not open a new one, and credentials do
    // not bypass it (the address is limited before identification).
    let spoofed = app
        .get("/api/tenant/info")
        .header("spin-client-addr", "198.51.100.9:1234")
        .send()?;
    expect_error(&spoofed, 429, "rate_limited", "spoofed address")?;
    let dashboard = call(&app, "GET", "/api/tenant/info", &Cred::Dashboard, None)?;
    expect_error(
        &dashboard,
        429,
        "rate_limited",
        "dashboard key from the limited address",
    )?;

    // Per credential: a small credential limit and a large address limit.
    let app = env.app_with(|b| {
        identity_vars(b)
            .variable("rate_limit_ip_per_minute", "1000000")
            .variable("rate_limit_credential_per_minute", "1")
    })?;
    let token = Cred::Bearer(root_token(&app)?);
    let mut limited = None;
    for _ in 0..30 {
        let resp = call(&app, "GET", "/api/tenant/info", &Cred::Dashboard, None)?;
        if resp.status == 429 {
            limited = Some(resp);
            break;
        }
        expect_status(&resp, 200)?;
        check!(
            resp.header("x-ratelimit-limit") == Some("1"),
            "credential limit header"
        );
    }
    let limited = limited.context("the dashboard key was never limited")?;
    expect_error(&limited, 429, "rate_limited", "credential limit")?;
    check!(limited.header("retry-after").is_some(), "no Retry-After");
    // Another credential has its own bucket.
    let resp = call(&app, "GET", "/api/tenant/info", &token, None)?;
    expect_status(&resp, 200).context("another credential")?;
    Ok(())
}

/// A token with `header` and `payload` (JSON), signed with HS256 under `key`.
fn forge(header: &Value, payload: &Value, key: &[u8]) -> String {
    let h = base64url::encode(header.to_string().as_bytes());
    let p = base64url::encode(payload.to_string().as_bytes());
    sign_parts(&h, &p, key)
}

/// `h.p.<HS256 of h.p under key>`.
fn sign_parts(h: &str, p: &str, key: &[u8]) -> String {
    let sig = hmac_sha256(key, format!("{h}.{p}").as_bytes());
    format!("{h}.{p}.{}", base64url::encode(&sig))
}

/// HMAC-SHA256 (RFC 2104). The test crate has no HMAC dependency, so this
/// is built on [`sha::sha256`]; `bad_tokens` checks that it reproduces the
/// app's own signatures before relying on it.
fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut k = if key.len() > 64 {
        sha::sha256(key)
    } else {
        key.to_vec()
    };
    k.resize(64, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = sha::sha256(&[ipad.as_slice(), data].concat());
    sha::sha256(&[opad.as_slice(), inner.as_slice()].concat())
}

pub(crate) mod sha {
    /// SHA-256 (FIPS 180-4), for forging test tokens only.
    pub fn sha256(data: &[u8]) -> Vec<u8> {
        const K: [u32; 64] = [
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
            0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
            0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
            0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
            0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
            0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
            0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
            0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
            0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
            0xc67178f2,
        ];
        let mut h: [u32; 8] = [
            0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
            0x5be0cd19,
        ];
        let mut msg = data.to_vec();
        let bits = (data.len() as u64).wrapping_mul(8);
        msg.push(0x80);
        while msg.len() % 64 != 56 {
            msg.push(0);
        }
        msg.extend_from_slice(&bits.to_be_bytes());
        for chunk in msg.chunks(64) {
            let mut w = [0u32; 64];
            for i in 0..16 {
                w[i] = u32::from_be_bytes([
                    chunk[4 * i],
                    chunk[4 * i + 1],
                    chunk[4 * i + 2],
                    chunk[4 * i + 3],
                ]);
            }
            for i in 16..64 {
                let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
                let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16]
                    .wrapping_add(s0)
                    .wrapping_add(w[i - 7])
                    .wrapping_add(s1);
            }
            let mut v = h;
            for i in 0..64 {
                let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
                let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
                let t1 = v[7]
                    .wrapping_add(s1)
                    .wrapping_add(ch)
                    .wrapping_add(K[i])
                    .wrapping_add(w[i]);
                let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
                let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
                let t2 = s0.wrapping_add(maj);
                v = [
                    t1.wrapping_add(t2),
                    v[0],
                    v[1],
                    v[2],
                    v[3].wrapping_add(t1),
                    v[4],
                    v[5],
                    v[6],
                ];
            }
            for (a, b) in h.iter_mut().zip(v) {
                *a = a.wrapping_add(b);
            }
        }
        h.iter().flat_map(|x| x.to_be_bytes()).collect()
    }
}

/// Claims as the app issues them, for `sub` in `tid`, valid now.
fn claims(sub: &str, tid: &str, role: &str, typ: &str, now: i64) -> jwt::Claims {
    jwt::Claims {
        iss: jwt::ISSUER.into(),
        aud: jwt::AUDIENCE.into(),
        sub: sub.into(),
        tid: tid.into(),
        role: role.into(),
        typ: typ.into(),
        iat: now,
        nbf: now,
        exp: now + 600,
        jti: format!("at_e2e_forged_{now}_{sub}_{role}"),
        fam: "fam_e2e_forged".into(),
        csrf: String::new(),
    }
}

fn bad_tokens(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let pair = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD)?;
    let good = text(&pair, "/access_token")?;
    let admin_id = text(&pair, "/user/id")?;
    let root = Cred::Bearer(good.clone());
    let kid = kid_of(&good)?;
    // The test knows jwt_secret (it set it), so it derives the signing key
    // exactly as the app does and can mint tokens that differ from a valid
    // one in one respect only.
    let key = keys::derive(JWT_SECRET, &kid);
    let parts: Vec<&str> = good.split('.').collect();
    check!(parts.len() == 3, "not a JWT: {good:.40}");
    check!(
        sign_parts(parts[0], parts[1], &key) == good,
        "the test's HMAC does not reproduce the app's signature (wrong key derivation?)"
    );
    let header: Value = serde_json::from_slice(&base64url::decode(parts[0]).context("header")?)?;
    let payload: Value = serde_json::from_slice(&base64url::decode(parts[1]).context("payload")?)?;
    check!(
        header["alg"] == "HS256" && header["kid"] == kid.as_str(),
        "header: {header}"
    );
    check!(
        payload["iss"] == jwt::ISSUER
            && payload["aud"] == jwt::AUDIENCE
            && payload["typ"] == "access",
        "payload: {payload}"
    );
    let now = echopilot_e2e::scenario::unix_now() as i64;

    // Controls: the test's own forging, with nothing changed, is accepted
    // (so each refusal below is the change's doing); a token minted with
    // the right key and valid claims works, and the role comes from the
    // user record, not from the token.
    let reforged = forge(&header, &payload, &key);
    expect_status(&me(&app, &Cred::Bearer(reforged))?, 200)
        .context("the unchanged forged token")?;
    let minted = jwt::sign(
        &claims(&admin_id, "default", "viewer", "access", now),
        &kid,
        &key,
    );
    let body = expect_status(&me(&app, &Cred::Bearer(minted))?, 200)
        .context("a correctly minted token")?;
    check!(
        body["data"]["role"] == "admin",
        "the role came from the token: {body}"
    );
    let (viewer_id, viewer_token) =
        user_token(&app, &root, "viewer@default.test", "viewer", "default")?;
    let inflated = jwt::sign(
        &claims(&viewer_id, "default", "admin", "access", now),
        &kid,
        &key,
    );
    let body = expect_status(&me(&app, &Cred::Bearer(inflated.clone()))?, 200)?;
    check!(
        body["data"]["role"] == "viewer",
        "a role claim of admin was trusted: {body}"
    );
    expect_error(
        &call(&app, "GET", "/api/users", &Cred::Bearer(inflated), None)?,
        403,
        "insufficient_role",
        "viewer with an admin role claim",
    )?;

    let with = |f: &dyn Fn(&mut Value)| {
        let mut p = payload.clone();
        f(&mut p);
        p
    };
    let header_with = |f: &dyn Fn(&mut Value)| {
        let mut h = header.clone();
        f(&mut h);
        h
    };
    let tampered_payload = base64url::encode(
        with(&|p| {
            p["exp"] = (now + 86_400 * 365).into();
        })
        .to_string()
        .as_bytes(),
    );
    let wrong_key = keys::derive("another-secret-of-the-same-length-0123456789", &kid);
    let huge_claims = {
        let mut c = claims(&admin_id, "default", "admin", "access", now);
        c.jti = "x".repeat(5000);
        c
    };
    let mut expired = claims(&admin_id, "default", "admin", "access", now - 7200);
    expired.exp = now - 3600;
    let mut early = claims(&admin_id, "default", "admin", "access", now);
    early.nbf = now + 3600;
    let wrong = |f: &dyn Fn(&mut jwt::Claims)| {
        let mut c = claims(&admin_id, "default", "admin", "access", now);
        f(&mut c);
        jwt::sign(&c, &kid, &key)
    };
    let sig = parts[2];
    let last = sig.chars().last().context("empty signature")?;
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = ALPHABET.find(last).context("signature alphabet")?;
    let sibling = ALPHABET.as_bytes()[idx ^ 1] as char;
    let non_canonical = format!(
        "{}.{}.{}{}",
        parts[0],
        parts[1],
        &sig[..sig.len() - 1],
        sibling
    );
    check!(
        base64url::decode(non_canonical.rsplit('.').next().unwrap_or_default()).is_none(),
        "the sibling signature is canonical; pick another case"
    );

    let cases: Vec<(&str, String)> = vec![
        (
            "alg none, no signature",
            format!(
                "{}.{}.",
                base64url::encode(
                    header_with(&|h| h["alg"] = "none".into())
                        .to_string()
                        .as_bytes()
                ),
                parts[1]
            ),
        ),
        (
            "alg none, signed anyway",
            forge(&header_with(&|h| h["alg"] = "none".into()), &payload, &key),
        ),
        (
            "RS256 header with an HMAC signature (HS/RS confusion)",
            forge(&header_with(&|h| h["alg"] = "RS256".into()), &payload, &key),
        ),
        (
            "HS512 header",
            forge(&header_with(&|h| h["alg"] = "HS512".into()), &payload, &key),
        ),
        (
            "crit header",
            forge(
                &header_with(&|h| h["crit"] = json!(["exp"])),
                &payload,
                &key,
            ),
        ),
        (
            "typ JWE header",
            forge(&header_with(&|h| h["typ"] = "JWE".into()), &payload, &key),
        ),
        (
            "unknown kid",
            jwt::sign(
                &claims(&admin_id, "default", "admin", "access", now),
                "k_not_a_key",
                &keys::derive(JWT_SECRET, "k_not_a_key"),
            ),
        ),
        (
            "signed with another secret",
            jwt::sign(
                &claims(&admin_id, "default", "admin", "access", now),
                &kid,
                &wrong_key,
            ),
        ),
        (
            "payload changed (exp extended), signature kept",
            format!("{}.{}.{}", parts[0], tampered_payload, sig),
        ),
        (
            "signature of another token",
            format!(
                "{}.{}.{}",
                parts[0],
                parts[1],
                forge(&header, &with(&|p| p["jti"] = "other".into()), &key)
                    .rsplit('.')
                    .next()
                    .unwrap_or_default()
            ),
        ),
        (
            "expired (correctly signed)",
            jwt::sign(&expired, &kid, &key),
        ),
        (
            "not yet valid (correctly signed)",
            jwt::sign(&early, &kid, &key),
        ),
        (
            "wrong audience (correctly signed)",
            wrong(&|c| c.aud = "another-api".into()),
        ),
        (
            "wrong issuer (correctly signed)",
            wrong(&|c| c.iss = "evil".into()),
        ),
        (
            "refresh type as access (correctly signed)",
            wrong(&|c| c.typ = "refresh".into()),
        ),
        (
            "unknown user (correctly signed)",
            wrong(&|c| c.sub = "usr_ghost".into()),
        ),
        (
            "unknown claim (correctly signed)",
            forge(&header, &with(&|p| p["admin"] = true.into()), &key),
        ),
        (
            "missing claim (correctly signed)",
            forge(
                &header,
                &with(&|p| {
                    if let Some(o) = p.as_object_mut() {
                        o.remove("aud");
                    }
                }),
                &key,
            ),
        ),
        ("the app's refresh token", text(&pair, "/refresh_token")?),
        ("truncated", good[..good.len() - 5].to_string()),
        ("two parts", format!("{}.{}", parts[0], parts[1])),
        ("an extra part", format!("{good}.e30")),
        ("non-base64", "!!!.???.***".to_string()),
        ("non-canonical base64 signature", non_canonical),
        (
            "huge (over 4 KiB, correctly signed)",
            jwt::sign(&huge_claims, &kid, &key),
        ),
        (
            "huge garbage",
            format!(
                "{}.{}.{}",
                "a".repeat(3000),
                "b".repeat(3000),
                "c".repeat(100)
            ),
        ),
        ("empty", String::new()),
    ];
    // Keep the derived key out of every answer, in any encoding.
    let key_forms = [
        JWT_SECRET.to_string(),
        base64url::encode(&key),
        echopilot_core::hex(&key),
    ];
    let mut generic: Option<Value> = None;
    for (what, token) in &cases {
        let resp = me(&app, &Cred::Bearer(token.clone()))?;
        println!("bad token: {what:<52} -> {} {}", resp.status, code(&resp));
        let body = resp.text();
        for k in &key_forms {
            check!(
                !body.contains(k.as_str()),
                "{what}: the answer leaks key material"
            );
        }
        check!(
            !body.to_lowercase().contains("panic") && !body.contains("JwtError"),
            "{what}: internal detail in {body}"
        );
        if *what == "expired (correctly signed)" {
            expect_error(&resp, 401, "token_expired", what)?;
            continue;
        }
        check!(resp.status == 401, "{what}: {} {body}", resp.status);
        check!(
            code(&resp) == "unauthorized",
            "{what}: code {} ({body})",
            code(&resp)
        );
        // One answer for every refusal: no oracle telling which check failed
        // (the reason goes to the log).
        let error = resp.json()?["error"].clone();
        match &generic {
            None if !token.is_empty() && token.matches('.').count() == 2 => generic = Some(error),
            Some(g)
                if token.matches('.').count() == 2
                    && *what != "unknown user (correctly signed)" =>
            {
                check!(*g == error, "{what}: a different refusal {error} vs {g}")
            }
            _ => {}
        }
        // The same token is refused on a write route too, before the body.
        if *what == "signed with another secret" || *what == "alg none, signed anyway" {
            let resp = call(
                &app,
                "POST",
                "/api/users",
                &Cred::Bearer(token.clone()),
                Some(&json!({ "email": "x@y.test", "password": PASSWORD, "role": "admin" })),
            )?;
            check!(
                resp.status == 401,
                "{what} on POST /api/users: {}",
                resp.status
            );
        }
    }
    let logs = app.logs()?;
    check!(
        logs.contains("token refused"),
        "the refusal reasons are not logged"
    );
    check!(!logs.contains(JWT_SECRET), "the JWT secret reached the log");

    // A revoked refresh token: after logout, refresh says 401.
    let other = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD)?;
    let access = Cred::Bearer(text(&other, "/access_token")?);
    expect_status(&call(&app, "POST", "/api/auth/logout", &access, None)?, 200)?;
    let resp = refresh_with(&app, &text(&other, "/refresh_token")?)?;
    check!(resp.status == 401, "revoked refresh token: {}", resp.status);

    // A disabled user's token.
    let viewer = Cred::Bearer(viewer_token);
    expect_status(&me(&app, &viewer)?, 200)?;
    expect_status(
        &call(
            &app,
            "PATCH",
            &format!("/api/users/{viewer_id}"),
            &root,
            Some(&json!({ "disabled": true })),
        )?,
        200,
    )?;
    expect_error(
        &me(&app, &viewer)?,
        401,
        "token_revoked",
        "disabled user's token",
    )?;

    // API keys: forged, right prefix with a wrong secret, and another
    // tenant's key on this tenant's partner job (404, not 403: ids are not
    // confirmed across tenants).
    create_tenant(&app, &root, "acme")?;
    let (_, default_key) = create_key(&app, &root, None, &["jobs:write", "jobs:read"], 100, 1000)?;
    let (_, acme_key) = create_key(
        &app,
        &root,
        Some("acme"),
        &["jobs:write", "jobs:read"],
        100,
        1000,
    )?;
    let job = partner_job(
        &app,
        &Cred::ApiKey(default_key.clone()),
        "default tenant partner work",
    )?;
    let resp = call(
        &app,
        "GET",
        &format!("/api/partner/jobs/{job}"),
        &Cred::ApiKey(acme_key.clone()),
        None,
    )?;
    check!(
        resp.status == 404,
        "another tenant's key read the job: {} {}",
        resp.status,
        resp.text()
    );
    check!(
        !resp.text().contains("default tenant partner work"),
        "404 leaks the brief"
    );
    let resp = call(
        &app,
        "GET",
        &format!("/api/partner/jobs/{job}"),
        &Cred::Bearer(acme_key.clone()),
        None,
    )?;
    check!(resp.status == 404, "bearer form: {}", resp.status);
    expect_status(
        &call(
            &app,
            "GET",
            &format!("/api/partner/jobs/{job}"),
            &Cred::ApiKey(default_key.clone()),
            None,
        )?,
        200,
    )?;
    let prefix: String = default_key.split('_').take(2).collect::<Vec<_>>().join("_");
    for (what, k) in [
        (
            "forged key",
            "ep_abcdefgh_forgedforgedforgedforgedforgedforged1".to_string(),
        ),
        (
            "right prefix, wrong secret",
            format!("{prefix}_{}", "A".repeat(43)),
        ),
        ("key with a character changed", {
            let mut k = default_key.clone();
            let c = if k.ends_with('A') { 'B' } else { 'A' };
            k.pop();
            k.push(c);
            k
        }),
    ] {
        let resp = call(
            &app,
            "GET",
            &format!("/api/partner/jobs/{job}"),
            &Cred::ApiKey(k.clone()),
            None,
        )?;
        expect_error(&resp, 401, "unauthorized", what)?;
        let resp = call(
            &app,
            "GET",
            &format!("/api/partner/jobs/{job}"),
            &Cred::Bearer(k),
            None,
        )?;
        expect_error(&resp, 401, "unauthorized", what)?;
    }
    Ok(())
}

fn quota_header(resp: &echopilot_e2e::Response, name: &str) -> Result<i64> {
    resp.header(name)
        .with_context(|| format!("no {name} in {:?}", resp.headers))?
        .parse()
        .with_context(|| format!("{name} is not a number"))
}

fn partner_keys(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let root = Cred::Bearer(root_token(&app)?);
    create_tenant(&app, &root, "acme")?;
    // Only admins create keys; invalid keys are refused.
    let (_, op) = user_token(&app, &root, "op@default.test", "operator", "default")?;
    let key_body = json!({ "name": "Acme integration", "scopes": ["jobs:write", "jobs:read"], "daily_quota": 3, "monthly_quota": 100, "tenant_id": "acme" });
    expect_error(
        &call(
            &app,
            "POST",
            "/api/partners",
            &Cred::Bearer(op),
            Some(&key_body),
        )?,
        403,
        "insufficient_role",
        "operator creating a key",
    )?;
    for (bad, code_) in [
        (
            json!({ "name": "x", "scopes": ["admin"], "daily_quota": 1, "monthly_quota": 1 }),
            "invalid_scopes",
        ),
        (
            json!({ "name": "x", "scopes": [], "daily_quota": 1, "monthly_quota": 1 }),
            "invalid_scopes",
        ),
        (
            json!({ "name": "x", "scopes": ["jobs:read"], "daily_quota": 10, "monthly_quota": 5 }),
            "invalid_quota",
        ),
        (
            json!({ "name": "x", "scopes": ["jobs:read"], "daily_quota": 0, "monthly_quota": 5 }),
            "invalid_quota",
        ),
        (
            json!({ "name": " ", "scopes": ["jobs:read"], "daily_quota": 1, "monthly_quota": 5 }),
            "invalid_name",
        ),
    ] {
        expect_error(
            &call(&app, "POST", "/api/partners", &root, Some(&bad))?,
            422,
            code_,
            &format!("key {bad}"),
        )?;
    }
    let resp = call(&app, "POST", "/api/partners", &root, Some(&key_body))?;
    let created = expect_status(&resp, 201)?["data"].clone();
    let secret = text(&created, "/api_key")?;
    let id = text(&created, "/id")?;
    let prefix = text(&created, "/prefix")?;
    let shape: Vec<&str> = secret.splitn(3, '_').collect();
    check!(
        shape.len() == 3 && shape[0] == "ep" && shape[1].len() == 8 && shape[2].len() == 43,
        "key shape: {secret}"
    );
    check!(
        prefix == format!("ep_{}", shape[1]),
        "prefix {prefix} of {secret}"
    );
    check!(
        created["tenant_id"] == "acme"
            && created["revoked"] == false
            && created["note"].is_string(),
        "created: {created}"
    );
    // Never shown again: not in the list, not in the audit chain.
    let list = call(&app, "GET", "/api/partners", &root, None)?;
    let listed = expect_status(&list, 200)?;
    check!(
        !list.text().contains(&secret) && !list.text().contains(shape[2]),
        "the list shows the secret"
    );
    let keys_listed = listed["data"]["keys"].as_array().context("keys")?;
    let entry = keys_listed
        .iter()
        .find(|k| k["id"] == id.as_str())
        .context("key not listed")?;
    check!(
        entry["prefix"] == prefix.as_str() && entry.get("api_key").is_none(),
        "listed key: {entry}"
    );
    let chain = audit_entries(&app, &root, "", 5)?;
    check!(
        !serde_json::to_string(&chain)?.contains(shape[2]),
        "the secret is in the audit chain"
    );
    check!(
        chain
            .iter()
            .any(|e| e["action"] == "partner_key.create" && e["target"] == id.as_str()),
        "creation not audited"
    );

    // Submit, read: quota headers count down; the job is in the key's tenant.
    let key = Cred::ApiKey(secret.clone());
    let resp = call(
        &app,
        "POST",
        "/api/partner/jobs",
        &key,
        Some(&json!({ "brief": "partner work", "priority": "high" })),
    )?;
    let job = expect_status(&resp, 201)?["data"]["job"].clone();
    check!(
        job["tenant_id"] == "acme" && job["source"] == "partner",
        "partner job: {job}"
    );
    let job_id = text(&job, "/id")?;
    check!(
        quota_header(&resp, "x-quota-daily-limit")? == 3,
        "daily limit"
    );
    check!(
        quota_header(&resp, "x-quota-daily-remaining")? == 2,
        "daily remaining after 1"
    );
    check!(
        quota_header(&resp, "x-quota-monthly-limit")? == 100,
        "monthly limit"
    );
    check!(
        quota_header(&resp, "x-quota-monthly-remaining")? == 99,
        "monthly remaining after 1"
    );
    check!(
        resp.header("x-quota-reset")
            .is_some_and(|r| r.ends_with("T00:00:00Z") || r.contains("T00:00:00")),
        "reset at midnight UTC: {:?}",
        resp.header("x-quota-reset")
    );
    check!(
        resp.header("x-ratelimit-limit").is_some(),
        "rate-limit headers beside quota headers"
    );
    // Partners may not pick operator priorities.
    let resp = call(
        &app,
        "POST",
        "/api/partner/jobs",
        &Cred::ApiKey(secret.clone()),
        Some(&json!({ "brief": "x", "priority": "critical" })),
    )?;
    expect_error(
        &resp,
        422,
        "priority_not_allowed",
        "critical priority from a partner",
    )?;
    check!(
        quota_header(&resp, "x-quota-daily-remaining")? == 1,
        "the refused submission still counts"
    );
    let resp = call(
        &app,
        "GET",
        &format!("/api/partner/jobs/{job_id}"),
        &Cred::Bearer(secret.clone()),
        None,
    )?;
    let read = expect_status(&resp, 200)?;
    check!(read["data"]["id"] == job_id.as_str(), "read back: {read}");
    check!(
        quota_header(&resp, "x-quota-daily-remaining")? == 0,
        "daily remaining after 3"
    );
    // Spent: 429 quota_exceeded with Retry-After, and nothing more is counted.
    for _ in 0..2 {
        let resp = call(
            &app,
            "GET",
            &format!("/api/partner/jobs/{job_id}"),
            &key,
            None,
        )?;
        expect_error(&resp, 429, "quota_exceeded", "spent daily quota")?;
        let retry: i64 = resp.header("retry-after").context("Retry-After")?.parse()?;
        check!(
            (1..=86_400).contains(&retry),
            "Retry-After {retry} is not within the day"
        );
    }
    let resp = call(
        &app,
        "POST",
        "/api/partner/jobs",
        &key,
        Some(&json!({ "brief": "one too many" })),
    )?;
    expect_error(&resp, 429, "quota_exceeded", "spent quota, submit")?;
    // A second key of the tenant has its own quota; a read-only key cannot submit.
    let (ro_id, ro_secret) = create_key(&app, &root, Some("acme"), &["jobs:read"], 10, 100)?;
    let ro = Cred::ApiKey(ro_secret.clone());
    let resp = call(
        &app,
        "GET",
        &format!("/api/partner/jobs/{job_id}"),
        &ro,
        None,
    )?;
    check!(
        expect_status(&resp, 200).is_ok() && quota_header(&resp, "x-quota-daily-remaining")? == 9,
        "read-only key reads: {}",
        resp.status
    );
    let resp = call(
        &app,
        "POST",
        "/api/partner/jobs",
        &ro,
        Some(&json!({ "brief": "x" })),
    )?;
    expect_error(&resp, 403, "scope_required", "read-only key submitting")?;
    check!(
        resp.header("x-quota-daily-remaining").is_none(),
        "a refused scope counted against the quota"
    );
    // Operator and viewer routes are not for keys.
    for (method, target) in [
        ("GET", "/api/queue/status"),
        ("GET", "/api/jobs"),
        ("GET", "/api/auth/me"),
    ] {
        let resp = call(&app, method, target, &ro, None)?;
        expect_error(&resp, 403, "scope_required", &format!("key on {target}"))?;
    }
    let resp = call(
        &app,
        "POST",
        "/api/queue/enqueue",
        &ro,
        Some(&json!({ "brief": "x" })),
    )?;
    expect_error(&resp, 403, "insufficient_role", "key on the operator route")?;
    let resp = call(&app, "GET", "/api/users", &ro, None)?;
    expect_error(&resp, 403, "insufficient_role", "key on an admin route")?;
    // Revocation takes effect at once, and is audited.
    let resp = call(
        &app,
        "DELETE",
        &format!("/api/partners/{ro_id}"),
        &root,
        None,
    )?;
    check!(
        expect_status(&resp, 200)?["data"]["revoked"] == true,
        "revoke answer"
    );
    let resp = call(
        &app,
        "GET",
        &format!("/api/partner/jobs/{job_id}"),
        &ro,
        None,
    )?;
    expect_error(&resp, 401, "key_revoked", "revoked key")?;
    let resp = call(
        &app,
        "GET",
        &format!("/api/partner/jobs/{job_id}"),
        &Cred::Bearer(ro_secret),
        None,
    )?;
    expect_error(&resp, 401, "key_revoked", "revoked key as bearer")?;
    let list = expect_status(
        &call(&app, "GET", "/api/partners?tenant_id=acme", &root, None)?,
        200,
    )?;
    let revoked = list["data"]["keys"]
        .as_array()
        .context("keys")?
        .iter()
        .find(|k| k["id"] == ro_id.as_str())
        .context("revoked key listed")?
        .clone();
    check!(
        revoked["revoked"] == true && revoked["last_used_at"].is_string(),
        "revoked in the list: {revoked}"
    );
    let resp = call(
        &app,
        "DELETE",
        "/api/partners/pk_does_not_exist",
        &root,
        None,
    )?;
    check!(
        resp.status == 404,
        "revoking an unknown key: {}",
        resp.status
    );
    let revocations = audit_entries(&app, &root, "action=partner_key.revoke", 2)?;
    check!(
        revocations.len() == 1 && revocations[0]["target"] == ro_id.as_str(),
        "revocation audit: {revocations:?}"
    );
    Ok(())
}

fn tenants_and_users(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let root = Cred::Bearer(root_token(&app)?);
    // Tenants: create, refuse duplicates and bad ids and settings.
    let acme = create_tenant(&app, &root, "acme")?;
    check!(
        acme["id"] == "acme"
            && acme["plan"] == "pro"
            && acme["currency"] == "USD"
            && acme["locale"] == "en"
            && acme["active"] == true,
        "created: {acme}"
    );
    let resp = call(
        &app,
        "POST",
        "/api/tenant/create",
        &root,
        Some(&json!({ "id": "acme" })),
    )?;
    expect_error(&resp, 409, "tenant_exists", "duplicate tenant")?;
    let resp = call(
        &app,
        "POST",
        "/api/tenant/create",
        &root,
        Some(&json!({ "id": "Acme Corp" })),
    )?;
    expect_error(&resp, 400, "invalid_tenant", "bad tenant id")?;
    let resp = call(
        &app,
        "POST",
        "/api/tenant/create",
        &root,
        Some(&json!({ "id": "initech", "plan": "platinum" })),
    )?;
    expect_error(&resp, 422, "invalid_plan", "bad plan at creation")?;
    let resp = call(
        &app,
        "POST",
        "/api/tenant/create",
        &Cred::Dashboard,
        Some(
            &json!({ "id": "initech", "currency": "EUR", "locale": "es", "limits": { "jobs_per_day": 50 } }),
        ),
    )?;
    let initech = expect_status(&resp, 201)?["data"].clone();
    check!(
        initech["limits"]["jobs_per_day"] == 50 && initech["currency"] == "EUR",
        "initech: {initech}"
    );

    // Info and settings, read and changed by the default tenant's admin.
    let info = expect_status(
        &call(&app, "GET", "/api/tenant/info?tenant_id=acme", &root, None)?,
        200,
    )?;
    check!(
        info["data"]["id"] == "acme" && info["data"]["stats"]["users"] == 0,
        "acme info: {info}"
    );
    let own = expect_status(&call(&app, "GET", "/api/tenant/info", &root, None)?, 200)?;
    check!(
        own["data"]["id"] == "default" && own["data"]["stats"]["users"] == 1,
        "default info: {own}"
    );
    let patch = |body: Value| {
        call(
            &app,
            "PATCH",
            "/api/tenant/settings?tenant_id=acme",
            &root,
            Some(&body),
        )
    };
    let resp = patch(
        json!({ "plan": "business", "currency": "EUR", "locale": "es", "name": "Acme Corporation" }),
    )?;
    let changed = expect_status(&resp, 200)?["data"].clone();
    check!(
        changed["plan"] == "business"
            && changed["currency"] == "EUR"
            && changed["locale"] == "es"
            && changed["name"] == "Acme Corporation",
        "changed: {changed}"
    );
    for (bad, code_) in [
        (json!({ "plan": "platinum" }), "invalid_plan"),
        (json!({ "currency": "XYZ" }), "invalid_currency"),
        (json!({ "currency": "eur" }), "invalid_currency"),
        (json!({ "locale": "fr" }), "invalid_locale"),
        (json!({ "name": "" }), "invalid_name"),
        (json!({ "limits": { "Jobs": 1 } }), "invalid_limits"),
        (
            json!({ "limits": { "jobs_per_day": -1 } }),
            "invalid_limits",
        ),
    ] {
        expect_error(&patch(bad.clone())?, 422, code_, &format!("settings {bad}"))?;
    }
    expect_error(
        &patch(json!({ "owner": "me" }))?,
        400,
        "invalid_json",
        "an unknown settings field",
    )?;
    let resp = call(
        &app,
        "PATCH",
        "/api/tenant/settings?tenant_id=acme",
        &root,
        None,
    )?;
    check!(
        resp.status == 400 || resp.status == 415,
        "settings without a body: {}",
        resp.status
    );
    let after = expect_status(
        &call(&app, "GET", "/api/tenant/info", &Cred::Dashboard, None)?,
        200,
    )?;
    check!(
        after["data"]["id"] == "default" && after["data"]["plan"] == own["data"]["plan"],
        "the default tenant changed: {after}"
    );
    let acme_now = expect_status(
        &call(
            &app,
            "GET",
            "/api/tenant/info?tenant_id=acme",
            &Cred::Dashboard,
            None,
        )?,
        200,
    )?;
    check!(
        acme_now["data"]["plan"] == "business" && acme_now["data"]["currency"] == "EUR",
        "refused changes applied: {acme_now}"
    );

    // Tenant list: the default tenant's admin sees all.
    let all = expect_status(&call(&app, "GET", "/api/tenants", &root, None)?, 200)?;
    let ids: Vec<&str> = all["data"]["tenants"]
        .as_array()
        .context("tenants")?
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    check!(
        ids == ["acme", "default", "initech"],
        "all tenants: {ids:?}"
    );

    // Users: list, create (validation, duplicates), change roles.
    let resp = call(
        &app,
        "POST",
        "/api/users",
        &root,
        Some(
            &json!({ "email": "short@acme.test", "password": "short", "role": "viewer", "tenant_id": "acme" }),
        ),
    )?;
    expect_error(&resp, 422, "weak_password", "weak password")?;
    let resp = call(
        &app,
        "POST",
        "/api/users",
        &root,
        Some(
            &json!({ "email": "long@acme.test", "password": "x".repeat(257), "role": "viewer", "tenant_id": "acme" }),
        ),
    )?;
    expect_error(&resp, 422, "weak_password", "password over 256 characters")?;
    let resp = call(
        &app,
        "POST",
        "/api/users",
        &root,
        Some(
            &json!({ "email": "root@acme.test", "password": PASSWORD, "role": "root", "tenant_id": "acme" }),
        ),
    )?;
    expect_error(&resp, 422, "invalid_role", "unknown role")?;
    let resp = call(
        &app,
        "POST",
        "/api/users",
        &root,
        Some(
            &json!({ "email": "ghost@nowhere.test", "password": PASSWORD, "role": "viewer", "tenant_id": "nowhere" }),
        ),
    )?;
    check!(
        resp.status == 404 || resp.status == 403,
        "user in an unknown tenant: {} {}",
        resp.status,
        resp.text()
    );
    let resp = call(
        &app,
        "POST",
        "/api/users",
        &root,
        Some(&json!({ "email": "not-an-email", "password": PASSWORD, "role": "viewer" })),
    )?;
    check!(
        resp.status == 422 || resp.status == 400,
        "bad email: {}",
        resp.status
    );
    let (acme_admin_id, acme_admin) = user_token(&app, &root, "admin@acme.test", "admin", "acme")?;
    let acme_admin = Cred::Bearer(acme_admin);
    let resp = call(
        &app,
        "POST",
        "/api/users",
        &root,
        Some(
            &json!({ "email": "ADMIN@acme.test", "password": PASSWORD, "role": "viewer", "tenant_id": "acme" }),
        ),
    )?;
    expect_error(&resp, 409, "email_taken", "duplicate email (other case)")?;
    let resp = call(
        &app,
        "POST",
        "/api/users",
        &root,
        Some(
            &json!({ "email": ADMIN_EMAIL, "password": PASSWORD, "role": "viewer", "tenant_id": "initech" }),
        ),
    )?;
    // Another tenant's email is no conflict: emails are unique per tenant,
    // so the answer tells nothing about other tenants.
    expect_status(&resp, 201).context("the default admin's email in initech")?;
    // The tenant's admin is not global: its own tenant only.
    let me_ = expect_status(&me(&app, &acme_admin)?, 200)?;
    check!(
        me_["data"]["global"] == false && me_["data"]["tenant_id"] == "acme",
        "acme admin: {me_}"
    );
    let own = expect_status(&call(&app, "GET", "/api/tenants", &acme_admin, None)?, 200)?;
    let ids: Vec<&str> = own["data"]["tenants"]
        .as_array()
        .context("tenants")?
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    check!(ids == ["acme"], "a tenant admin sees {ids:?}");
    let info = expect_status(
        &call(&app, "GET", "/api/tenant/info", &acme_admin, None)?,
        200,
    )?;
    check!(
        info["data"]["id"] == "acme" && info["data"]["plan"] == "business",
        "acme admin info: {info}"
    );
    let resp = call(
        &app,
        "POST",
        "/api/tenant/create",
        &acme_admin,
        Some(&json!({ "id": "spawned" })),
    )?;
    expect_error(
        &resp,
        403,
        "insufficient_role",
        "tenant admin creating a tenant",
    )?;
    // It manages its own users: created into its tenant.
    let resp = call(
        &app,
        "POST",
        "/api/users",
        &acme_admin,
        Some(&json!({ "email": "analyst@acme.test", "password": PASSWORD, "role": "viewer" })),
    )?;
    let created = expect_status(&resp, 201)?["data"].clone();
    check!(
        created["tenant_id"] == "acme"
            && created["role"] == "viewer"
            && created["disabled"] == false,
        "created by the tenant admin: {created}"
    );
    check!(
        created.get("password_hash").is_none() && !resp.text().contains("argon2"),
        "the hash is served"
    );
    let analyst_id = text(&created, "/id")?;
    let analyst = Cred::Bearer(text(
        &login(&app, "analyst@acme.test", PASSWORD)?,
        "/access_token",
    )?);
    let listed = expect_status(&call(&app, "GET", "/api/users", &acme_admin, None)?, 200)?;
    let emails: Vec<&str> = listed["data"]["users"]
        .as_array()
        .context("users")?
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    check!(
        emails.len() == 2
            && emails.contains(&"admin@acme.test")
            && emails.contains(&"analyst@acme.test"),
        "acme users: {emails:?}"
    );
    let everyone = expect_status(&call(&app, "GET", "/api/users", &root, None)?, 200)?;
    check!(
        everyone["data"]["users"].as_array().map(Vec::len) == Some(4),
        "all users (root, initech's, acme's two): {everyone}"
    );
    // A role change: viewer → analyst, which unlocks the QA route at once.
    expect_error(
        &call(&app, "GET", "/api/qa/consistency", &analyst, None)?,
        403,
        "insufficient_role",
        "viewer on QA",
    )?;
    let resp = call(
        &app,
        "PATCH",
        &format!("/api/users/{analyst_id}"),
        &acme_admin,
        Some(&json!({ "role": "analyst" })),
    )?;
    check!(
        expect_status(&resp, 200)?["data"]["role"] == "analyst",
        "role change"
    );
    expect_status(
        &call(&app, "GET", "/api/qa/consistency", &analyst, None)?,
        200,
    )
    .context("analyst on QA")?;
    let resp = call(
        &app,
        "PATCH",
        &format!("/api/users/{analyst_id}"),
        &acme_admin,
        Some(&json!({ "role": "superuser" })),
    )?;
    expect_error(&resp, 422, "invalid_role", "unknown role in a change")?;
    let resp = call(
        &app,
        "PATCH",
        &format!("/api/users/{analyst_id}"),
        &acme_admin,
        Some(&json!({ "password": "short" })),
    )?;
    expect_error(&resp, 422, "weak_password", "weak password in a change")?;
    let resp = call(
        &app,
        "PATCH",
        &format!("/api/users/{analyst_id}"),
        &acme_admin,
        Some(&json!({ "tenant_id": "default" })),
    )?;
    expect_error(&resp, 400, "invalid_json", "moving a user by PATCH")?;
    let resp = call(
        &app,
        "PATCH",
        "/api/users/usr_does_not_exist",
        &acme_admin,
        Some(&json!({ "role": "viewer" })),
    )?;
    check!(resp.status == 404, "unknown user: {}", resp.status);
    // Users of other roles manage nothing.
    expect_error(
        &call(&app, "GET", "/api/users", &analyst, None)?,
        403,
        "insufficient_role",
        "analyst listing users",
    )?;
    expect_error(
        &call(
            &app,
            "PATCH",
            &format!("/api/users/{acme_admin_id}"),
            &analyst,
            Some(&json!({ "role": "viewer" })),
        )?,
        403,
        "insufficient_role",
        "analyst demoting the admin",
    )?;
    expect_error(
        &call(
            &app,
            "PATCH",
            "/api/tenant/settings",
            &analyst,
            Some(&json!({ "plan": "free" })),
        )?,
        403,
        "insufficient_role",
        "analyst changing settings",
    )?;
    // The chain has the tenant and user events.
    let chain = audit_entries(&app, &root, "", 5)?;
    let count = |action: &str| chain.iter().filter(|e| e["action"] == action).count();
    check!(
        count("tenant.create") == 2,
        "tenant.create: {}",
        count("tenant.create")
    );
    check!(
        count("tenant.update") == 1,
        "tenant.update: {}",
        count("tenant.update")
    );
    // acme's admin and analyst, and initech's user with the root's email.
    check!(
        count("user.create") == 3,
        "user.create: {}",
        count("user.create")
    );
    check!(
        count("user.update") == 1,
        "user.update: {}",
        count("user.update")
    );
    Ok(())
}
