//! The api-auth component: sign-in and tokens, users, partner keys,
//! tenants and the audit chain.

use super::{api_keys, devices, keys, sessions, tenants, users, Credential, Role};
use crate::app::{App, Ctx};
use crate::audit::{self, Change, Event, Who};
use crate::error::{Error, Kind, Result};
use crate::guard::{self, rate_limit, CSRF_COOKIE, REFRESH_COOKIE, SESSION_COOKIE};
use crate::http::{Request, Response, Route};
use crate::jobs::{filing, Email};
use crate::params;
use crate::ports::DbExt;
use crate::tenancy::{Scope, TenantId};
use serde::Deserialize;

/// The api-auth component.
pub const APP: App = App {
    component: "api-auth",
    routes: &[
        Route::post("/api/auth/login", login).body_limit(16 * 1024),
        Route::post("/api/auth/refresh", refresh).body_limit(16 * 1024),
        Route::post("/api/auth/logout", logout).body_limit(16 * 1024),
        Route::get("/api/auth/me", me),
        Route::post("/api/auth/keys/rotate", rotate_keys),
        Route::get("/api/users", list_users),
        Route::post("/api/users", create_user).body_limit(16 * 1024),
        Route::patch("/api/users/{id}", update_user).body_limit(16 * 1024),
        Route::post("/api/partners", create_partner_key).body_limit(16 * 1024),
        Route::get("/api/partners", list_partner_keys),
        Route::delete("/api/partners/{id}", revoke_partner_key),
        Route::post("/api/tenant/create", create_tenant).body_limit(16 * 1024),
        Route::get("/api/tenant/info", tenant_info),
        Route::patch("/api/tenant/settings", update_tenant).body_limit(16 * 1024),
        Route::get("/api/tenants", list_tenants),
        Route::get("/api/audit/chain", audit::chain),
        Route::get("/api/audit/verify", audit::verify_route),
        Route::get("/api/audit/export", audit::export::route),
    ],
    stateless: false,
};

/// Sign-in attempts per client address and minute, whatever their outcome:
/// each costs an Argon2 verification. Failures are throttled apart (see
/// [`super::throttle`]); nothing limits attempts per account, so nobody can
/// spend an account's sign-ins.
const LOGIN_PER_ADDRESS: i64 = 20;

fn cookie(name: &str, value: &str, path: &str, max_age: i64, http_only: bool) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; Secure; SameSite=Strict{}",
        if http_only { "; HttpOnly" } else { "" }
    )
}

fn with_session_cookies(mut resp: Response, pair: &sessions::TokenPair) -> Response {
    for c in [
        cookie(
            SESSION_COOKIE,
            &pair.access_token,
            "/",
            sessions::ACCESS_TTL_SECS,
            true,
        ),
        cookie(
            REFRESH_COOKIE,
            &pair.refresh_token,
            "/api/auth",
            sessions::REFRESH_TTL_SECS,
            true,
        ),
        cookie(
            CSRF_COOKIE,
            &pair.csrf_token,
            "/",
            sessions::REFRESH_TTL_SECS,
            false,
        ),
    ] {
        resp = resp.with_header("Set-Cookie", &c);
    }
    resp
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    email: String,
    password: String,
    /// Also set the dashboard's cookie session.
    #[serde(default)]
    session: bool,
    /// The account's tenant, for an email with accounts in several.
    tenant_id: Option<String>,
    /// The device token of an earlier sign-in (or the `ep_device` cookie).
    device_token: Option<String>,
}

/// `POST /api/auth/login`.
fn login(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body: LoginRequest = req.json()?;
    let email = Email::parse(&body.email)?;
    let tenant = body.tenant_id.as_deref().map(TenantId::parse).transpose()?;
    let ip = guard::client_ip(ctx.env, req)?;
    rate_limit::take(
        ctx.env,
        &format!("login:ip:{ip}"),
        rate_limit::Limit {
            capacity: LOGIN_PER_ADDRESS as f64,
            per_minute: LOGIN_PER_ADDRESS as f64,
        },
    )?;
    let attempt = sessions::SignIn {
        email: email.as_str(),
        password: &body.password,
        tenant: tenant.as_ref(),
        client: &ip,
        device_token: body
            .device_token
            .as_deref()
            .or_else(|| guard::cookie(req, devices::DEVICE_COOKIE)),
    };
    match sessions::login(ctx.env, &attempt) {
        Ok(signed) => {
            let user = &signed.user;
            audit::append(
                ctx.env,
                &Event::new(&user.tenant_id, &format!("user:{}", user.id), "auth.login")
                    .detail(serde_json::json!({ "client": ip, "session": body.session }))
                    .request(&ctx.request_id),
            )?;
            let mut view = signed.pair.view(user);
            view["device_token"] = signed.device_token.clone().into();
            let resp = Response::ok(&view).with_header(
                "Set-Cookie",
                &cookie(
                    devices::DEVICE_COOKIE,
                    &signed.device_token,
                    "/api/auth/login",
                    devices::DEVICE_TTL_SECS,
                    true,
                ),
            );
            Ok(if body.session {
                with_session_cookies(resp, &signed.pair)
            } else {
                resp
            })
        }
        Err(e) if e.status() == 401 || e.status() == 403 => {
            audit::append(
                ctx.env,
                &Event::new("default", "anonymous", "auth.login_failed")
                    .target(email.as_str())
                    .detail(serde_json::json!({ "client": ip, "reason": e.code, "tenant": tenant }))
                    .request(&ctx.request_id),
            )?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: Option<String>,
}

/// `POST /api/auth/refresh`: the body's refresh token, or the refresh cookie.
fn refresh(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body: RefreshRequest = if req.body.is_empty() {
        RefreshRequest::default()
    } else {
        req.json()?
    };
    let from_cookie = body.refresh_token.is_none();
    let token = body
        .refresh_token
        .or_else(|| guard::cookie(req, REFRESH_COOKIE).map(str::to_string))
        .ok_or_else(|| {
            Error::unauthorized(
                "send the refresh token (body `refresh_token`, or the session cookie)",
            )
        })?;
    let (user, pair) = sessions::refresh(ctx.env, &token)?;
    let resp = Response::ok(&pair.view(&user));
    Ok(if from_cookie {
        with_session_cookies(resp, &pair)
    } else {
        resp
    })
}

/// `POST /api/auth/logout`: revoke this access token and its refresh family.
fn logout(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let Credential::User {
        jti,
        exp,
        family,
        user_id,
        ..
    } = &ctx.principal.credential
    else {
        return Err(Error::bad_request(
            "not_a_session",
            "only user tokens can be signed out",
        ));
    };
    sessions::logout(ctx.env, jti, *exp, family)?;
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "auth.logout").target(user_id),
    )?;
    let mut resp = Response::ok(&serde_json::json!({ "signed_out": true }));
    for (name, path) in [
        (SESSION_COOKIE, "/"),
        (REFRESH_COOKIE, "/api/auth"),
        (CSRF_COOKIE, "/"),
    ] {
        resp = resp.with_header(
            "Set-Cookie",
            &cookie(name, "", path, 0, name != CSRF_COOKIE),
        );
    }
    Ok(resp)
}

/// `GET /api/auth/me`.
fn me(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let p = &ctx.principal;
    let user = match &p.credential {
        Credential::User { user_id, .. } => Some(users::get(ctx.env, &Scope::All, user_id)?.view()),
        _ => None,
    };
    let scopes = match &p.credential {
        Credential::ApiKey { scopes, .. } => Some(scopes.clone()),
        _ => None,
    };
    Ok(Response::ok(&serde_json::json!({
        "actor": p.actor(),
        "role": p.role,
        "tenant_id": p.tenant,
        "global": p.is_global(),
        "user": user,
        "scopes": scopes,
    })))
}

/// `POST /api/auth/keys/rotate`.
fn rotate_keys(ctx: &Ctx, _req: &Request) -> Result<Response> {
    keys::secret(ctx.env)?;
    let (kid, retired) = keys::rotate(ctx.env)?;
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "auth.keys_rotated")
            .target(&kid)
            .detail(serde_json::json!({ "retired": retired })),
    )?;
    Ok(Response::ok(&serde_json::json!({
        "active_kid": kid,
        "retired_kid": retired,
        "retired_verifies_until": retired.as_ref().map(|_| crate::time::rfc3339(ctx.env.clock.now_ms() + keys::RETIRED_GRACE_MS)),
    })))
}

/// The tenant a write acts in: `tenant_id` in the body if the caller may
/// act for it, else the request's scope tenant.
fn write_tenant(ctx: &Ctx, given: Option<&str>) -> Result<TenantId> {
    match given {
        Some(t) => {
            let t = TenantId::parse(t)?;
            guard::may_act_for(ctx.env, &ctx.principal, &t, &ctx.request_id)?;
            Ok(t)
        }
        None => Ok(match &ctx.scope {
            Scope::Tenant(t) => t.clone(),
            Scope::All => ctx.principal.tenant.clone(),
        }),
    }
}

/// `GET /api/users`.
fn list_users(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let all = users::list(ctx.env, &ctx.scope)?;
    Ok(Response::ok(
        &serde_json::json!({ "users": all.iter().map(|u| u.view()).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    email: String,
    password: String,
    role: String,
    tenant_id: Option<String>,
}

/// `POST /api/users`.
fn create_user(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body: NewUser = req.json()?;
    let tenant = write_tenant(ctx, body.tenant_id.as_deref())?;
    let role = Role::parse(&body.role)?;
    let user = users::create(
        ctx.env,
        &tenant,
        &Email::parse(&body.email)?,
        &body.password,
        role,
    )?;
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "user.create")
            .target(&user.id)
            .detail(serde_json::json!({ "role": role, "tenant": tenant })),
    )?;
    Ok(Response::data(201, &user.view()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserChange {
    role: Option<String>,
    disabled: Option<bool>,
    password: Option<String>,
}

/// `PATCH /api/users/{id}`: role, disabled flag, password.
fn update_user(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body: UserChange = req.json()?;
    let role = body.role.as_deref().map(Role::parse).transpose()?;
    let id = ctx.params.require("id")?;
    let before = users::get(ctx.env, &ctx.scope, id)?;
    let user = users::update(
        ctx.env,
        &ctx.scope,
        id,
        role,
        body.disabled,
        body.password.as_deref(),
    )?;
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "user.update")
            .target(&user.id)
            .detail(serde_json::json!({
                "role": { "from": before.role, "to": user.role },
                "disabled": { "from": before.disabled, "to": user.disabled },
                "password_changed": body.password.is_some(),
            })),
    )?;
    Ok(Response::ok(&user.view()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    scopes: Vec<String>,
    daily_quota: i64,
    monthly_quota: i64,
    tenant_id: Option<String>,
}

/// `POST /api/partners`: a partner key; the secret is in this answer only.
fn create_partner_key(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body: NewKey = req.json()?;
    let tenant = write_tenant(ctx, body.tenant_id.as_deref())?;
    let (key, secret) = api_keys::create(
        ctx.env,
        &tenant,
        &body.name,
        &body.scopes,
        body.daily_quota,
        body.monthly_quota,
        &ctx.principal.actor(),
    )?;
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "partner_key.create")
            .target(&key.id)
            .detail(serde_json::json!({
                "tenant": key.tenant_id, "scopes": key.scopes, "prefix": key.prefix
            })),
    )?;
    let mut view = key.view();
    view["api_key"] = secret.into();
    view["note"] = "Store this key now: it is shown once and only its hash is kept.".into();
    Ok(Response::data(201, &view))
}

/// `GET /api/partners`.
fn list_partner_keys(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let keys = api_keys::list(ctx.env, &ctx.scope)?;
    Ok(Response::ok(
        &serde_json::json!({ "keys": keys.iter().map(|k| k.view()).collect::<Vec<_>>() }),
    ))
}

/// `DELETE /api/partners/{id}`.
fn revoke_partner_key(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let key = api_keys::revoke(ctx.env, &ctx.scope, ctx.params.require("id")?)?;
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "partner_key.revoke").target(&key.id),
    )?;
    Ok(Response::ok(&key.view()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTenant {
    id: String,
    #[serde(flatten)]
    settings: tenants::Settings,
}

/// `POST /api/tenant/create`: admins of the default tenant only.
fn create_tenant(ctx: &Ctx, req: &Request) -> Result<Response> {
    if !ctx.principal.is_global() {
        return Err(Error::new(
            Kind::Forbidden,
            "insufficient_role",
            "only admins of the default tenant create tenants",
        ));
    }
    let body: NewTenant = req.json()?;
    let tenant = tenants::create(ctx.env, &TenantId::parse(&body.id)?, &body.settings)?;
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "tenant.create")
            .target(&tenant.id)
            .detail(tenant.view()),
    )?;
    Ok(Response::data(201, &tenant.view()))
}

fn scope_tenant(ctx: &Ctx) -> TenantId {
    match &ctx.scope {
        Scope::Tenant(t) => t.clone(),
        Scope::All => ctx.principal.tenant.clone(),
    }
}

/// `GET /api/tenant/info`: the tenant, its settings and counts.
fn tenant_info(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let id = scope_tenant(ctx);
    let tenant = tenants::get(ctx.env, &id)?;
    let users = ctx
        .env
        .db
        .query_one(
            "SELECT COUNT(*) FROM users WHERE tenant_id = ?1",
            params![id.as_str()],
        )?
        .i64(0)?;
    let rows = ctx.env.db.exec(
        "SELECT status, SUM(n) FROM job_counts WHERE tenant_id = ?1 GROUP BY status",
        params![id.as_str()],
    )?;
    let mut jobs = serde_json::Map::new();
    for r in &rows.rows {
        jobs.insert(r.text(0)?, r.i64(1)?.into());
    }
    let mut view = tenant.view();
    view["drive_filing"] = filing::Setting::view(filing::setting(ctx.env, &id)?.as_ref());
    view["stats"] = serde_json::json!({ "users": users, "jobs_by_status": jobs });
    view["acting_as"] = ctx.principal.actor().into();
    Ok(Response::ok(&view))
}

/// `PATCH /api/tenant/settings`.
fn update_tenant(ctx: &Ctx, req: &Request) -> Result<Response> {
    let settings: tenants::Settings = req.json()?;
    let commercial =
        settings.plan.is_some() || settings.limits.is_some() || settings.active.is_some();
    if commercial && !ctx.principal.is_global() {
        return Err(Error::new(
            Kind::Forbidden,
            "platform_only",
            "plan, limits and the active flag are set by the platform's admins; a tenant's admin may change name, locale and currency",
        ));
    }
    let id = scope_tenant(ctx);
    let before = tenants::get(ctx.env, &id)?;
    settings.validate()?;
    let filing_before = filing::setting(ctx.env, &id)?;
    let filing_after = match &settings.drive_filing {
        Some(change) => {
            let after = filing::change(ctx.env, &id, change, &ctx.principal.actor())?;
            audit::record_business(
                ctx.env,
                &Who::of(ctx).in_tenant(id.as_str()),
                "tenant.drive_filing",
                Change::on(id.as_str())
                    .before(filing::Setting::view(filing_before.as_ref()))
                    .after(filing::Setting::view(Some(&after))),
            )?;
            Some(after)
        }
        None => filing_before,
    };
    let tenant = tenants::update(ctx.env, &id, &settings)?;
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "tenant.update")
            .target(&tenant.id)
            .detail(serde_json::json!({
                "from": before.view(), "to": tenant.view()
            })),
    )?;
    let mut view = tenant.view();
    view["drive_filing"] = filing::Setting::view(filing_after.as_ref());
    Ok(Response::ok(&view))
}

/// `GET /api/tenants`.
fn list_tenants(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let all = tenants::list(ctx.env, &ctx.scope)?;
    Ok(Response::ok(
        &serde_json::json!({ "tenants": all.iter().map(|t| t.view()).collect::<Vec<_>>() }),
    ))
}
