//! The permission matrix: every route of `access::POLICY` × every role and
//! no credential, end to end through the app, each cell checked against
//! the class the table implies.
//!
//! Credentials: none; a user JWT of each role in the default tenant; an
//! admin of another tenant; a partner API key with both scopes; the
//! dashboard key; the cron token; the metrics token.
//! Expected classes, in the guard's order (credential, role, scope):
//! - no credential on a non-public route: 401;
//! - a machine token (cron, metrics) on any row but its own, public rows
//!   included: 401 (it opens exactly the routes it exists for);
//! - a role below the row's minimum: 403 `insufficient_role`;
//! - a partner key on a route whose row names no scope, public or not: 403
//!   `scope_required` (role first: on operator and admin routes the key is
//!   refused for its role);
//! - scheduler rows: the cron token and admins pass, other credentials 403;
//! - anything else is let in: neither 401 nor 403 (the handler may still
//!   answer 400, 404, 409 or 422 to the made-up request).
//!
//! The file server (`/...`) reads no credential at all: everyone is let in.
//! One handler refuses on its own: `/api/public/job-history/{email}` is a
//! public route whose handler wants the emailed history token from
//! anonymous callers (401), as docs/SECURITY.md says.

use crate::auth::kit::*;
use anyhow::{Context, Result};
use echopilot_core::access::{Access, Policy, POLICY};
use echopilot_core::http::Method;
use echopilot_core::identity::Role;
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, App, Env, Scenario};
use serde_json::{json, Value};

pub const SCENARIOS: &[Scenario] = &[Scenario::configured(
    "matrix_every_route_times_every_role_and_no_credential",
    matrix,
)];

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Who {
    Nobody,
    /// A user of the default tenant (its admin is global).
    User(Role),
    /// An admin of another tenant: not global.
    TenantAdmin,
    PartnerKey,
    Dashboard,
    Cron,
    Metrics,
}

impl Who {
    /// The role the guard sees.
    pub(crate) fn role(self) -> Option<Role> {
        match self {
            Who::User(r) => Some(r),
            Who::TenantAdmin => Some(Role::Admin),
            Who::PartnerKey => Some(Role::Partner),
            Who::Dashboard => Some(Role::Admin),
            Who::Nobody | Who::Cron | Who::Metrics => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Who::Nobody => "none",
            Who::User(r) => r.as_str(),
            Who::TenantAdmin => "tenant admin",
            Who::PartnerKey => "key",
            Who::Dashboard => "dash",
            Who::Cron => "cron",
            Who::Metrics => "metrics",
        }
    }
}

/// Every column of the matrix.
pub(crate) const COLUMNS: [Who; 11] = [
    Who::Nobody,
    Who::User(Role::Viewer),
    Who::User(Role::Partner),
    Who::User(Role::Analyst),
    Who::User(Role::Operator),
    Who::User(Role::Admin),
    Who::TenantAdmin,
    Who::PartnerKey,
    Who::Dashboard,
    Who::Cron,
    Who::Metrics,
];

/// What a cell should answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Neither 401 nor 403.
    Allowed,
    /// 401 `unauthorized`.
    Unauthenticated,
    /// 403 `insufficient_role`.
    Role,
    /// 403 `scope_required`.
    Scope,
    /// 403 `platform_only`: a platform-wide change by another tenant.
    Platform,
}

impl Class {
    fn label(self) -> &'static str {
        match self {
            Class::Allowed => "allowed",
            Class::Unauthenticated => "401",
            Class::Role => "403 role",
            Class::Scope => "403 scope",
            Class::Platform => "403 platform",
        }
    }
}

/// Operations routes describe the whole platform: their handlers refuse
/// principals of other tenants (403 `platform_only`) whatever their role.
const PLATFORM_ROUTES: &[&str] = &[
    "/api/incidents",
    "/api/slo",
    "/api/ops",
    "/api/costs",
    "/api/scale",
    "/api/reports",
    // The ledger and refunds (api-billing) are per tenant; reconciliation
    // is the platform's.
    "/api/payments/reconciliations",
    "/api/backups",
    "/api/dr",
    "/api/audit/verify",
    "/api/security",
    "/api/audit/export",
    "/api/compliance/events",
];

/// The class the permission table implies for `who` on row `p`. The
/// partner key holds both scopes.
pub(crate) fn expected(p: &Policy, who: Who) -> Class {
    // The file server is stateless: it reads no credential.
    if p.pattern == "/..." {
        return Class::Allowed;
    }
    match p.access {
        Access::Public => match who {
            Who::Cron | Who::Metrics => Class::Unauthenticated,
            Who::PartnerKey if p.scope.is_none() => Class::Scope,
            Who::Nobody if p.pattern == "/api/public/job-history/{email}" => Class::Unauthenticated,
            // A workflow's webhook is opened by its signature alone, which
            // no caller here has.
            _ if p.pattern == "/api/workflows/{id}/trigger" => Class::Unauthenticated,
            _ => Class::Allowed,
        },
        // Scheduled jobs work across tenants: the cron token and admins of
        // the default tenant only.
        Access::Scheduler => match who {
            Who::Cron | Who::Dashboard | Who::User(Role::Admin) => Class::Allowed,
            Who::Nobody | Who::Metrics => Class::Unauthenticated,
            _ => Class::Role,
        },
        // Metrics are platform-wide: the metrics token, operators and
        // admins of the default tenant.
        Access::Monitor => match who {
            Who::Nobody | Who::Cron => Class::Unauthenticated,
            Who::Metrics | Who::Dashboard | Who::User(Role::Operator | Role::Admin) => {
                Class::Allowed
            }
            _ => Class::Role,
        },
        Access::Role(min) => match who {
            Who::Nobody | Who::Cron | Who::Metrics => Class::Unauthenticated,
            w if w.role() < Some(min) => Class::Role,
            Who::PartnerKey if p.scope.is_none() => Class::Scope,
            // Creating tenants is for admins of the default tenant.
            Who::TenantAdmin if p.pattern == "/api/tenant/create" => Class::Role,
            // Incidents describe the platform, not a tenant.
            Who::TenantAdmin if PLATFORM_ROUTES.iter().any(|r| p.pattern.starts_with(r)) => {
                Class::Platform
            }
            // Exchange rates are the platform's.
            Who::TenantAdmin if p.pattern == "/api/finance/rates" && p.method == Method::Post => {
                Class::Platform
            }
            // Prompt templates are shared by every tenant.
            Who::TenantAdmin if p.pattern == "/api/prompts" && p.method == Method::Post => {
                Class::Platform
            }
            _ => Class::Allowed,
        },
    }
}

/// A concrete request target for a row: made-up ids, an email, an unknown
/// job, `/index.html` for the file server.
pub(crate) fn concrete(pattern: &str) -> String {
    if pattern == "/..." {
        return "/index.html".into();
    }
    pattern
        .replace("{id}", "id_matrix_does_not_exist")
        .replace("{email}", "nobody@matrix.test")
        .replace("{job}", "nope")
}

fn cell(
    app: &App,
    p: &Policy,
    who: Who,
    creds: &Creds,
    refresh_chain: &mut String,
) -> Result<echopilot_e2e::Response> {
    let cred = match who {
        Who::Nobody => Cred::Nobody,
        // Signing out revokes the token used: use a fresh one per role.
        Who::User(r) if p.pattern == "/api/auth/logout" => {
            Cred::Bearer(creds.logout[Role::ALL.iter().position(|x| *x == r).unwrap_or(0)].clone())
        }
        Who::User(r) => {
            Cred::Bearer(creds.users[Role::ALL.iter().position(|x| *x == r).unwrap_or(0)].clone())
        }
        Who::TenantAdmin if p.pattern == "/api/auth/logout" => {
            Cred::Bearer(creds.tenant_admin_logout.clone())
        }
        Who::TenantAdmin => Cred::Bearer(creds.tenant_admin.clone()),
        Who::PartnerKey => Cred::ApiKey(creds.key.clone()),
        Who::Dashboard => Cred::Dashboard,
        Who::Cron => Cred::Cron,
        Who::Metrics => Cred::Metrics,
    };
    let method = p.method.as_str();
    let target = concrete(p.pattern);
    let body: Option<Value> = match p.method {
        Method::Post | Method::Patch if p.pattern == "/api/auth/refresh" => {
            // A public route whose handler needs a refresh token: use the
            // current one of a rotating chain, so the cell shows the guard's
            // decision rather than a refused token.
            Some(json!({ "refresh_token": refresh_chain.as_str() }))
        }
        Method::Post | Method::Patch => Some(json!({})),
        _ => None,
    };
    let resp = call(app, method, &target, &cred, body.as_ref())?;
    if p.pattern == "/api/auth/refresh" && resp.status == 200 {
        *refresh_chain = resp.json()?["data"]["refresh_token"]
            .as_str()
            .context("refresh answer")?
            .to_string();
    }
    Ok(resp)
}

struct Creds {
    /// Access tokens per role, in `Role::ALL` order.
    users: Vec<String>,
    /// A second token per role, for the logout row.
    logout: Vec<String>,
    /// An admin of another tenant (not global), and a second token.
    tenant_admin: String,
    tenant_admin_logout: String,
    key: String,
}

fn matrix(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let root = Cred::Bearer(root_token(&app)?);
    let mut users = Vec::new();
    let mut logout = Vec::new();
    for role in Role::ALL {
        let email = format!("{}@matrix.test", role.as_str());
        create_user(&app, &root, &email, role.as_str(), "default")?;
        let a = login(&app, &email, PASSWORD)?;
        let b = login(&app, &email, PASSWORD)?;
        users.push(text(&a, "/access_token")?);
        logout.push(text(&b, "/access_token")?);
    }
    let (_, key) = create_key(
        &app,
        &root,
        None,
        &["jobs:write", "jobs:read"],
        10_000,
        100_000,
    )?;
    create_tenant(&app, &root, "matrix-co")?;
    create_user(&app, &root, "admin@matrix-co.test", "admin", "matrix-co")?;
    let tenant_admin = text(
        &login(&app, "admin@matrix-co.test", PASSWORD)?,
        "/access_token",
    )?;
    let tenant_admin_logout = text(
        &login(&app, "admin@matrix-co.test", PASSWORD)?,
        "/access_token",
    )?;
    let creds = Creds {
        users,
        logout,
        tenant_admin,
        tenant_admin_logout,
        key,
    };
    let mut refresh_chain = text(&login(&app, ADMIN_EMAIL, ADMIN_PASSWORD)?, "/refresh_token")?;

    let mut failures = Vec::new();
    let mut table = String::new();
    table.push_str(&format!(
        "{:<6} {:<36} {:<10}",
        "method", "route", "minimum"
    ));
    for who in COLUMNS {
        table.push_str(&format!(" {:>8}", who.label()));
    }
    table.push('\n');
    let mut cells = 0usize;
    let mut rows = 0usize;
    for p in POLICY {
        let minimum = match p.access {
            Access::Public => "public".to_string(),
            Access::Scheduler => "scheduler".to_string(),
            Access::Monitor => "monitor".to_string(),
            Access::Role(r) => r.as_str().to_string(),
        };
        table.push_str(&format!(
            "{:<6} {:<36} {:<10}",
            p.method.as_str(),
            p.pattern,
            minimum
        ));
        for who in COLUMNS {
            let want = expected(p, who);
            let resp = cell(&app, p, who, &creds, &mut refresh_chain)?;
            cells += 1;
            let got_code = code(&resp);
            let ok = match want {
                Class::Allowed => resp.status != 401 && resp.status != 403 && resp.status < 500,
                Class::Unauthenticated => resp.status == 401 && got_code == "unauthorized",
                Class::Role => resp.status == 403 && got_code == "insufficient_role",
                Class::Scope => resp.status == 403 && got_code == "scope_required",
                Class::Platform => resp.status == 403 && got_code == "platform_only",
            };
            let mark = if ok { ' ' } else { '!' };
            table.push_str(&format!(" {:>7}{mark}", resp.status));
            if !ok {
                failures.push(format!(
                    "{} {} as {}: expected {}, got {} {}",
                    p.method.as_str(),
                    p.pattern,
                    who.label(),
                    want.label(),
                    resp.status,
                    resp.text()
                ));
            }
        }
        rows += 1;
        table.push('\n');
    }
    println!("permission matrix (status per credential; ! = not the expected class):\n{table}");
    check!(
        rows == POLICY.len(),
        "covered {rows} of {} rows",
        POLICY.len()
    );
    check!(
        cells == POLICY.len() * COLUMNS.len(),
        "{cells} cells for {} rows x {} credentials",
        POLICY.len(),
        COLUMNS.len()
    );
    check!(
        failures.is_empty(),
        "{} of {cells} cells differ from the permission table:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The fresh logout tokens are dead now, the main ones alive: the
    // matrix's sign-outs touched only what they were meant to.
    for (i, role) in Role::ALL.iter().enumerate() {
        let resp = call(
            &app,
            "GET",
            "/api/auth/me",
            &Cred::Bearer(creds.logout[i].clone()),
            None,
        )?;
        expect_error(
            &resp,
            401,
            "token_revoked",
            &format!("{} logout token", role.as_str()),
        )?;
        let body = expect_status(
            &call(
                &app,
                "GET",
                "/api/auth/me",
                &Cred::Bearer(creds.users[i].clone()),
                None,
            )?,
            200,
        )?;
        check!(
            body["data"]["role"] == role.as_str(),
            "{}: {body}",
            role.as_str()
        );
    }
    Ok(())
}
