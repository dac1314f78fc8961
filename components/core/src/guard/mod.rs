//! The request guard, applied to every route by the pipeline: rate limits
//! per client address and per credential, identification, the access
//! policy, CSRF for cookie sessions, tenant resolution, partner quotas,
//! input screening and CORS.

pub mod client;
pub mod cors;
pub mod rate_limit;
pub mod screening;

use crate::access::{self, Access, Policy};
use crate::audit::{self, Event};
use crate::config;
use crate::error::{Error, Kind, Result};
use crate::http::{Method, Request};
use crate::identity::{api_keys, sessions, tenants, users, Credential, Principal, Role};
use crate::ports::Env;
use crate::tenancy::{Scope, TenantId};
use rate_limit::Limit;
use sha2::{Digest, Sha256};

/// The session cookie (a JWT access token; HttpOnly, SameSite=Strict).
pub const SESSION_COOKIE: &str = "ep_session";
/// The refresh cookie (HttpOnly, SameSite=Strict, path /api/auth).
pub const REFRESH_COOKIE: &str = "ep_refresh";
/// The CSRF cookie (readable by the dashboard's script).
pub const CSRF_COOKIE: &str = "ep_csrf";

/// A request let in: who, in which tenant scope, and the headers that
/// report its rate-limit and quota state.
#[derive(Debug, Clone)]
pub struct Admission {
    /// Who is calling.
    pub principal: Principal,
    /// Which tenants the request may touch.
    pub scope: Scope,
    /// `X-RateLimit-*` and `X-Quota-*`.
    pub headers: Vec<(String, String)>,
    /// The client's address (see [`client_ip`]).
    pub client: String,
}

/// The client's address: the peer Spin saw, or what the `trusted_proxies`
/// forwarded (see [`client`]).
pub fn client_ip(env: &Env, req: &Request) -> Result<String> {
    client::address(env, req)
}

/// Drop security state that decides nothing any more: idle rate-limit
/// buckets, forgotten sign-in failures, intake counts of past periods and
/// expired refresh tokens. The heartbeat calls it every minute; returns
/// how many rows went.
pub fn prune(env: &Env) -> Result<i64> {
    Ok(rate_limit::prune(env)?
        + crate::identity::throttle::prune(env)?
        + crate::jobs::intake::prune(env)?
        + sessions::prune(env)?)
}

/// A cookie's value.
pub fn cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.header("cookie")?
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn limits(env: &Env) -> Result<(Limit, Limit)> {
    let c = env.config.as_ref();
    Ok((
        Limit::per_minute(config::int(
            c,
            "rate_limit_ip_per_minute",
            600,
            1,
            10_000_000,
        )?),
        Limit::per_minute(config::int(
            c,
            "rate_limit_credential_per_minute",
            1200,
            1,
            10_000_000,
        )?),
    ))
}

/// Whether `req` carries a credential of any kind (checked or not). A
/// request that presents one is always admitted by the guard, never
/// answered at the edge: a credential is held to its scopes and quotas.
pub fn presents_credential(req: &Request) -> bool {
    req.header("x-dash-key").is_some()
        || req.header("x-api-key").is_some()
        || req.header("authorization").is_some()
        || cookie(req, SESSION_COOKIE).is_some()
}

/// Who `req` is, from its credentials (strongest first); 401 for a
/// credential that does not check out.
pub fn identify(env: &Env, req: &Request) -> Result<Principal> {
    if req.header("x-dash-key").is_some() {
        return access::dashboard(env, req);
    }
    if let Some(key) = req.header("x-api-key") {
        return api_key(env, key);
    }
    if let Some(token) = access::bearer(req) {
        if api_keys::looks_like_key(token) {
            return api_key(env, token);
        }
        if token.matches('.').count() == 2 {
            return user(env, token, false);
        }
        return access::machine(env, token);
    }
    if let Some(token) = cookie(req, SESSION_COOKIE) {
        return user(env, token, true);
    }
    Ok(Principal::anonymous())
}

fn api_key(env: &Env, token: &str) -> Result<Principal> {
    let key = api_keys::authenticate(env, token)?;
    let tenant = TenantId::parse(&key.tenant_id)?;
    if !tenants::get(env, &tenant)?.active {
        return Err(Error::new(
            Kind::Forbidden,
            "tenant_inactive",
            "this API key's tenant is inactive",
        ));
    }
    Ok(Principal {
        credential: Credential::ApiKey {
            key_id: key.id,
            scopes: key.scopes,
            daily_quota: key.daily_quota,
            monthly_quota: key.monthly_quota,
        },
        role: Some(Role::Partner),
        tenant,
    })
}

fn user(env: &Env, token: &str, cookie: bool) -> Result<Principal> {
    let claims = sessions::verify(env, token, "access")?;
    if sessions::is_revoked(env, &claims.jti, &claims.fam)? {
        return Err(Error::new(
            Kind::Unauthorized,
            "token_revoked",
            "this token was signed out; sign in again",
        ));
    }
    let Some(standing) = users::current(env, &claims.sub)? else {
        return Err(Error::unauthorized("the account no longer exists"));
    };
    let (role, tenant) = standing.admit()?;
    Ok(Principal {
        credential: Credential::User {
            user_id: claims.sub,
            jti: claims.jti,
            cookie,
            exp: claims.exp,
            family: claims.fam,
            csrf_hash: claims.csrf,
        },
        role: Some(role),
        tenant: TenantId::parse(&tenant)?,
    })
}

/// Whether `p` may call the route of `policy`. Machine tokens open exactly
/// the rows made for them; partner keys are held to the row's scope on
/// every route, public ones included.
fn check_policy(p: &Principal, policy: &Policy) -> Result<()> {
    let anonymous = matches!(p.credential, Credential::Anonymous);
    match (&p.credential, policy.access) {
        (Credential::Scheduler, Access::Scheduler) | (Credential::Monitor, Access::Monitor) => {
            return Ok(())
        }
        (Credential::Scheduler, _) => {
            return Err(Error::unauthorized(
                "the cron token opens only POST /api/internal/cron/{job}; this route needs another credential",
            ))
        }
        (Credential::Monitor, _) => {
            return Err(Error::unauthorized(
                "the metrics token opens only GET /metrics; this route needs another credential",
            ))
        }
        _ => {}
    }
    match policy.access {
        Access::Public => {}
        Access::Scheduler => {
            // Scheduled jobs work across tenants: only schedulers and admins
            // of the default tenant may run them.
            if !(p.is_global() && p.role == Some(Role::Admin)) {
                return Err(if anonymous {
                    Error::unauthorized("this route needs `Authorization: Bearer <cron_token>` or an admin credential")
                } else {
                    Error::new(
                        Kind::Forbidden,
                        "insufficient_role",
                        "this route is for schedulers and admins",
                    )
                });
            }
        }
        Access::Monitor => {
            // Metrics are platform-wide: the metrics token, or an operator
            // or admin of the default tenant.
            let ok = p.tenant.as_str() == crate::tenancy::DEFAULT_TENANT
                && p.role.is_some_and(|r| r >= Role::Operator)
                && !matches!(p.credential, Credential::ApiKey { .. });
            if !ok {
                return Err(if anonymous {
                    Error::unauthorized("this route needs `Authorization: Bearer <metrics_token>` or an operator credential")
                } else {
                    Error::new(
                        Kind::Forbidden,
                        "insufficient_role",
                        "metrics are for the metrics token and operators of the platform",
                    )
                });
            }
        }
        Access::Role(min) => {
            if anonymous {
                return Err(Error::unauthorized(
                    "this route needs a credential: a bearer token, an API key or the dashboard key",
                ));
            }
            if p.role.is_none_or(|r| r < min) {
                return Err(Error::new(
                    Kind::Forbidden,
                    "insufficient_role",
                    format!("this route needs the {} role or higher", min.as_str()),
                ));
            }
        }
    }
    if let Credential::ApiKey { scopes, .. } = &p.credential {
        let held = policy.scope.is_some_and(|s| scopes.iter().any(|k| k == s));
        if !held {
            return Err(Error::new(
                Kind::Forbidden,
                "scope_required",
                match policy.scope {
                    Some(s) => format!("this API key lacks the `{s}` scope"),
                    None => "API keys cannot use this route".to_string(),
                },
            ));
        }
    }
    Ok(())
}

fn check_csrf(p: &Principal, req: &Request) -> Result<()> {
    let Credential::User {
        cookie: true,
        csrf_hash,
        ..
    } = &p.credential
    else {
        return Ok(());
    };
    if matches!(req.method, Method::Get | Method::Head | Method::Options) {
        return Ok(());
    }
    let header = req.header("x-csrf-token").unwrap_or("");
    let cookie_value = cookie(req, CSRF_COOKIE).unwrap_or("");
    let bound = crate::hex(&Sha256::digest(header.as_bytes()));
    if header.is_empty()
        || !access::digest_eq(header, cookie_value)
        || !access::digest_eq(&bound, csrf_hash)
    {
        return Err(Error::new(
            Kind::Forbidden,
            "csrf_failed",
            "unsafe requests with the session cookie need the X-CSRF-Token header (the ep_csrf cookie's value)",
        ));
    }
    Ok(())
}

/// The tenant a request asks to act in (`tenant_id` query or `X-Tenant-ID`).
fn requested_tenant(req: &Request) -> Result<Option<TenantId>> {
    req.query_param("tenant_id")
        .or_else(|| req.header("x-tenant-id").map(str::to_string))
        .map(|t| TenantId::parse(&t))
        .transpose()
}

/// Whether `p` may act for `tenant`; a refusal is a 403 and an audit event.
pub fn may_act_for(env: &Env, p: &Principal, tenant: &TenantId, request_id: &str) -> Result<()> {
    if *tenant == p.tenant {
        return Ok(());
    }
    if p.is_global() {
        // Global admins may also reach an inactive tenant (to reopen it).
        return tenants::get(env, tenant).map(|_| ());
    }
    if matches!(p.credential, Credential::Anonymous) {
        // Nobody in particular asking for a tenant: refused, but not an
        // event worth an audit entry (anyone could flood the chain).
        return Err(Error::new(
            Kind::Forbidden,
            "cross_tenant",
            "anonymous requests act in the default tenant only",
        ));
    }
    audit::record(
        env,
        &Event::new(p.tenant.as_str(), &p.actor(), "tenant.cross_tenant_denied")
            .target(tenant.as_str())
            .request(request_id),
    );
    Err(Error::new(
        Kind::Forbidden,
        "cross_tenant",
        "this credential may not act for another tenant",
    ))
}

fn resolve_scope(env: &Env, p: &Principal, req: &Request, request_id: &str) -> Result<Scope> {
    match requested_tenant(req)? {
        Some(t) => {
            may_act_for(env, p, &t, request_id)?;
            Ok(Scope::Tenant(t))
        }
        None if p.is_global() => Ok(Scope::All),
        None => Ok(Scope::Tenant(p.tenant.clone())),
    }
}

/// Let `req` in on the route `pattern`, or say why not.
pub fn admit(
    env: &Env,
    method: Method,
    pattern: &str,
    req: &Request,
    request_id: &str,
) -> Result<Admission> {
    let policy = access::policy(method, pattern)?;
    let (ip_limit, credential_limit) = limits(env)?;
    let client = client_ip(env, req)?;
    let mut headers = rate_limit::take(env, &format!("ip:{client}"), ip_limit)?.headers();
    let principal = identify(env, req).inspect_err(|e| {
        if e.status() == 401 && req.header("x-dash-key").is_some() {
            failed_dashboard_key(env, req, &client, request_id);
        }
    })?;
    let bucket = match &principal.credential {
        Credential::Anonymous | Credential::Scheduler | Credential::Monitor => None,
        Credential::DashboardKey => Some("cred:dashboard".to_string()),
        Credential::User { user_id, .. } => Some(format!("cred:{user_id}")),
        Credential::ApiKey { key_id, .. } => Some(format!("cred:{key_id}")),
    };
    if let Some(b) = bucket {
        headers = rate_limit::take(env, &b, credential_limit)?.headers();
    }
    check_policy(&principal, &policy)?;
    check_csrf(&principal, req)?;
    let scope = resolve_scope(env, &principal, req, request_id)?;
    if let (
        Credential::ApiKey {
            key_id,
            daily_quota,
            monthly_quota,
            ..
        },
        true,
    ) = (&principal.credential, policy.quota)
    {
        headers.extend(api_keys::consume(env, key_id, *daily_quota, *monthly_quota)?.headers());
    }
    Ok(Admission {
        principal,
        scope,
        headers,
        client,
    })
}

/// A wrong `X-Dash-Key`: in the event log every time, in the audit chain
/// as a sample (see [`audit::record_sampled`]), so a guessing flood is on
/// record without growing the chain at will.
fn failed_dashboard_key(env: &Env, req: &Request, client: &str, request_id: &str) {
    audit::record_sampled(
        env,
        &Event::new(
            crate::tenancy::DEFAULT_TENANT,
            "anonymous",
            "auth.dashboard_key_failed",
        )
        .target(&req.path)
        .detail(serde_json::json!({ "client": client }))
        .request(request_id),
        client,
    );
}

/// Screen a request's parameters and structured JSON fields; a hit is a
/// 400 `screened_input`, recorded in the audit chain for a credential and
/// in the event log only for an anonymous caller (who could otherwise grow
/// the chain at will).
pub fn screen(
    env: &Env,
    req: &Request,
    params: &[(&str, &str)],
    principal: &Principal,
    request_id: &str,
) -> Result<()> {
    let mut hit: Option<(String, &'static str)> = None;
    for (name, value) in params {
        if let Some(c) = screening::classify(value) {
            hit = Some((format!("path.{name}"), c));
            break;
        }
    }
    if hit.is_none() && !req.query.is_empty() {
        for pair in req.query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = crate::http::request::form_decode(v).unwrap_or_else(|| v.to_string());
            if let Some(c) = screening::classify(&v) {
                hit = Some((format!("query.{k}"), c));
                break;
            }
        }
    }
    if hit.is_none()
        && !req.body.is_empty()
        && req
            .header("content-type")
            .is_some_and(|c| c.contains("json"))
    {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&req.body) {
            hit = screening::scan_json(&v, "$");
        }
    }
    let Some((location, class)) = hit else {
        return Ok(());
    };
    let detail = serde_json::json!({
        "location": location, "class": class, "client": client_ip(env, req)?,
    });
    if matches!(principal.credential, Credential::Anonymous) {
        let message = format!("input screened: {location} looks like {class}");
        crate::events::emit(
            env,
            &crate::events::Event::new(crate::events::Level::Warn, "guard", "screening", &message)
                .tenant(principal.tenant.as_str())
                .request(request_id)
                .fields(serde_json::json!({ "path": req.path, "detail": detail })),
        );
    } else {
        audit::record(
            env,
            &Event::new(
                principal.tenant.as_str(),
                &principal.actor(),
                "guard.input_screened",
            )
            .target(&req.path)
            .detail(detail)
            .request(request_id),
        );
    }
    Err(Error::bad_request(
        "screened_input",
        format!(
            "{location} looks like {} and was refused",
            class.replace('_', " ")
        ),
    ))
}
