//! Who may call what: the permission table of every route of every
//! component, in one place, and the checks of the simple credentials.
//!
//! A route missing from [`POLICY`] is refused (fail closed); a test checks
//! that every component's routes are listed and every row matches a route.
//! docs/SECURITY.md renders this table. Roles are ordered (viewer < partner
//! < analyst < operator < admin): a minimum role admits every role above it.
//! Partner API keys additionally need the row's scope, on every route
//! (public ones included), and the rows that name a scope count against
//! the key's quotas. Machine tokens (the cron and metrics tokens) open only
//! the rows made for them.

use crate::config;
use crate::error::{Error, Result};
use crate::http::{Method, Request};
use crate::identity::{Principal, Role};
use crate::ports::Env;
use sha2::{Digest, Sha256};

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone. A credential, when given, still sets the tenant and is held
    /// to its own limits (a partner key to the row's scope and its quota; a
    /// machine token is refused: it opens only its own rows).
    Public,
    /// This role or a higher one.
    Role(Role),
    /// The `cron_token`, or an admin.
    Scheduler,
    /// The `metrics_token`, or an operator or admin of the default tenant.
    Monitor,
}

/// One row: method, route pattern (exactly as the component declares it),
/// requirement, the scope an API key needs, and whether a call counts
/// against the key's quota.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The method (GET rows cover HEAD).
    pub method: Method,
    /// The route pattern.
    pub pattern: &'static str,
    /// The requirement.
    pub access: Access,
    /// The scope a partner API key needs (`None`: keys may not call it,
    /// public or not).
    pub scope: Option<&'static str>,
    /// Calls count against a partner key's quotas.
    pub quota: bool,
}

const fn row(method: Method, pattern: &'static str, access: Access) -> Policy {
    Policy {
        method,
        pattern,
        access,
        scope: None,
        quota: false,
    }
}

/// A public route that acts on a tenant's jobs: anyone may call it, and a
/// partner key that does needs `scope` and spends its quota.
const fn public_scoped(method: Method, pattern: &'static str, scope: &'static str) -> Policy {
    Policy {
        method,
        pattern,
        access: Access::Public,
        scope: Some(scope),
        quota: true,
    }
}

const fn partner(method: Method, pattern: &'static str, scope: &'static str) -> Policy {
    Policy {
        method,
        pattern,
        access: Access::Role(Role::Partner),
        scope: Some(scope),
        quota: true,
    }
}

use Access::{Monitor, Public, Scheduler};
use Method::{Delete, Get, Patch, Post, Put};
const VIEWER: Access = Access::Role(Role::Viewer);
const ANALYST: Access = Access::Role(Role::Analyst);
const OPERATOR: Access = Access::Role(Role::Operator);
const ADMIN: Access = Access::Role(Role::Admin);

/// The permission table: every route of every component.
pub const POLICY: &[Policy] = &[
    // api-health
    row(Get, "/health", Public),
    row(Get, "/api/version", Public),
    row(Get, "/healthz/strict", Public),
    row(Post, "/api/internal/cron/{job}", Scheduler),
    // api-jobs: intake and status (partner keys need the scope here too)
    public_scoped(Post, "/api/public/create-job", "jobs:write"),
    public_scoped(Get, "/api/public/job-status/{id}", "jobs:read"),
    // Public route; the handler requires the emailed history token from
    // anonymous callers (a credential reads within its tenant).
    public_scoped(Get, "/api/public/job-history/{email}", "jobs:read"),
    // api-jobs: queue and operations
    row(Post, "/api/queue/enqueue", OPERATOR),
    row(Get, "/api/queue/status", VIEWER),
    row(Get, "/api/queue/drive-filings", OPERATOR),
    row(Get, "/api/jobs", VIEWER),
    row(Get, "/api/jobs/{id}", VIEWER),
    row(Post, "/api/jobs/{id}/retry", OPERATOR),
    row(Post, "/api/jobs/{id}/cancel", OPERATOR),
    row(Post, "/api/jobs/{id}/drive-filing", OPERATOR),
    row(Get, "/api/qa/consistency", ANALYST),
    row(Get, "/api/prompts", ANALYST),
    row(Post, "/api/prompts", OPERATOR),
    row(Get, "/api/prompts/{id}/stats", ANALYST),
    // api-jobs: the partner (marketplace) API
    partner(Post, "/api/partner/jobs", "jobs:write"),
    partner(Get, "/api/partner/jobs/{id}", "jobs:read"),
    // api-auth: sessions and keys
    row(Post, "/api/auth/login", Public),
    row(Post, "/api/auth/refresh", Public),
    row(Post, "/api/auth/logout", VIEWER),
    row(Get, "/api/auth/me", VIEWER),
    row(Post, "/api/auth/keys/rotate", ADMIN),
    // api-auth: users
    row(Get, "/api/users", ADMIN),
    row(Post, "/api/users", ADMIN),
    row(Patch, "/api/users/{id}", ADMIN),
    // api-auth: partner keys
    row(Post, "/api/partners", ADMIN),
    row(Get, "/api/partners", ADMIN),
    row(Delete, "/api/partners/{id}", ADMIN),
    // api-auth: tenants
    row(Post, "/api/tenant/create", ADMIN),
    row(Get, "/api/tenant/info", VIEWER),
    row(Patch, "/api/tenant/settings", ADMIN),
    row(Get, "/api/tenants", ADMIN),
    // api-auth: the audit chain
    row(Get, "/api/audit/chain", ADMIN),
    row(Get, "/api/audit/verify", ADMIN),
    row(Get, "/api/audit/export", ADMIN),
    // api-ops: telemetry and logs
    row(Get, "/metrics", Monitor),
    row(Get, "/api/logs", OPERATOR),
    row(Get, "/api/reports/daily", VIEWER),
    row(Get, "/api/ops/commands", ADMIN),
    row(Post, "/api/ops/command", ADMIN),
    // api-ops: SLOs (platform-wide: the handlers refuse other tenants)
    row(Get, "/api/slo/budget", VIEWER),
    row(Post, "/api/slo/rebaseline", ADMIN),
    row(Post, "/api/slo/deploy-gate/clear", OPERATOR),
    // api-ops: incidents (platform-wide: the handlers refuse other tenants)
    row(Post, "/api/incidents/raise", OPERATOR),
    row(Post, "/api/incidents/summary", VIEWER),
    row(Get, "/api/incidents", VIEWER),
    row(Get, "/api/incidents/silences", VIEWER),
    row(Post, "/api/incidents/silences", OPERATOR),
    row(Delete, "/api/incidents/silences/{id}", OPERATOR),
    row(Get, "/api/incidents/deliveries", OPERATOR),
    row(Get, "/api/incidents/{id}", VIEWER),
    row(Post, "/api/incidents/{id}/acknowledge", OPERATOR),
    row(Post, "/api/incidents/{id}/resolve", OPERATOR),
    // api-ops: cost guardrails (platform-wide: the handlers refuse other tenants)
    row(Get, "/api/costs/status", ANALYST),
    row(Post, "/api/costs/set-cap", ADMIN),
    // api-ops: autoscaling (platform-wide: the handlers refuse other tenants)
    row(Get, "/api/scale/status", VIEWER),
    row(Post, "/api/scale/apply", ADMIN),
    // api-ops: payments (platform-wide: the handlers refuse other tenants)
    row(Get, "/api/payments/reconciliations", OPERATOR),
    // api-ops: backups (every tenant's data: admins of the default tenant)
    row(Get, "/api/backups", ADMIN),
    row(Get, "/api/backups/{id}", ADMIN),
    row(Get, "/api/backups/{id}/download", ADMIN),
    // api-security: the configuration scan and the SBOM (platform-wide,
    // and a map of what to attack: admins of the default tenant)
    row(Get, "/api/security/scan", ADMIN),
    row(Get, "/api/security/sbom", ADMIN),
    // api-dr: restores into scratch and DR status (every tenant's data:
    // admins of the default tenant)
    row(Post, "/api/dr/restore", ADMIN),
    row(Get, "/api/dr/last", ADMIN),
    row(Get, "/api/ops/dr/last", ADMIN),
    // api-analytics: anyone may report dashboard events (flood-limited);
    // usage is per tenant
    row(Post, "/api/analytics/event", Public),
    row(Get, "/api/analytics/usage", ANALYST),
    // api-billing: checkout (the job id is the capability), Stripe's
    // webhook (its signature is the credential), the ledger, refunds, the
    // customer portal (download links are signed), sending invoices
    row(Post, "/api/public/checkout/{job_id}", Public),
    row(Get, "/api/public/checkout/{job_id}", Public),
    row(Post, "/api/stripe/webhook", Public),
    // Compliance webhooks: signed by a holder of a `compliance_webhook_secrets` secret.
    row(Post, "/api/compliance/webhook", Public),
    row(Get, "/api/compliance/events", ADMIN),
    row(Get, "/api/payments", OPERATOR),
    row(Post, "/api/payments/refund", ADMIN),
    // The customer themself (a user with that email) or an operator.
    row(Get, "/api/portal/receipts", VIEWER),
    row(Get, "/api/portal/download", Public),
    row(Post, "/api/billing/invoices/{id}/send", OPERATOR),
    // api-finance: FinOps, P&L, forecast, rates, tenant billing (each
    // figure within the caller's tenant scope)
    row(Get, "/api/finops/summary", ANALYST),
    row(Get, "/api/finops/tenants", ANALYST),
    row(Get, "/api/finance/pnl", ANALYST),
    row(Get, "/api/forecast", ANALYST),
    row(Get, "/api/finance/rates", VIEWER),
    // Rates are platform-wide: the handler refuses other tenants.
    row(Post, "/api/finance/rates", ADMIN),
    row(Get, "/api/billing/usage", ANALYST),
    row(Get, "/api/billing/invoices", ANALYST),
    row(Post, "/api/billing/invoices", OPERATOR),
    row(Get, "/api/billing/settings", ANALYST),
    row(Patch, "/api/billing/settings", ADMIN),
    // api-finance: referrals (click and signup are a customer's, public)
    row(Post, "/api/growth/referral/create", OPERATOR),
    row(Post, "/api/growth/referral/click", Public),
    // The signed-in customer for their own email, or an operator.
    row(Post, "/api/growth/referral/signup", VIEWER),
    row(Get, "/api/growth/referrals", ANALYST),
    row(Get, "/api/growth/payouts/export", ADMIN),
    row(Post, "/api/growth/payouts", ADMIN),
    // static-files
    row(Get, "/api/workflows", VIEWER),
    row(Post, "/api/workflows", OPERATOR),
    row(Get, "/api/workflows/{id}", VIEWER),
    row(Put, "/api/workflows/{id}", OPERATOR),
    row(Delete, "/api/workflows/{id}", OPERATOR),
    row(Post, "/api/workflows/{id}/run", OPERATOR),
    // Anonymous: the HMAC signature with the workflow's secret is the
    // credential (workflows::webhook).
    row(Post, "/api/workflows/{id}/trigger", Public),
    row(Get, "/api/workflows/{id}/runs", VIEWER),
    row(Get, "/api/runs/{id}", VIEWER),
    row(Post, "/api/runs/{id}/cancel", OPERATOR),
    row(Post, "/api/runs/{id}/restart", OPERATOR),
    row(Get, "/api/workflow-templates", VIEWER),
    row(Get, "/api/workflow-nodes", VIEWER),
    row(Post, "/api/workflow-checks", OPERATOR),
    // api-privacy: admins within their tenant (platform admins across);
    // reads and consents also a signed-in user for their own email
    // (privacy::subject::authorize); erasure an admin's only.
    row(Get, "/api/privacy/export", VIEWER),
    row(Post, "/api/privacy/delete", ADMIN),
    row(Get, "/api/privacy/consents", VIEWER),
    row(Post, "/api/privacy/consents", VIEWER),
    row(Get, "/api/privacy/retention", ADMIN),
    row(Get, "/...", Public),
    // cron components: the HTTP form of each scheduled job
    row(Post, "/api/internal/cron/heartbeat", Scheduler),
    row(Post, "/api/internal/cron/worker", Scheduler),
    row(Post, "/api/internal/cron/notion-sync", Scheduler),
    row(Post, "/api/internal/cron/incidents", Scheduler),
    row(Post, "/api/internal/cron/slo", Scheduler),
    row(Post, "/api/internal/cron/costs", Scheduler),
    row(Post, "/api/internal/cron/autoscale", Scheduler),
    row(Post, "/api/internal/cron/anomaly", Scheduler),
    row(Post, "/api/internal/cron/reports", Scheduler),
    row(Post, "/api/internal/cron/payments", Scheduler),
    row(Post, "/api/internal/cron/backup", Scheduler),
    row(Post, "/api/internal/cron/audit", Scheduler),
    row(Post, "/api/internal/cron/analytics", Scheduler),
    row(Post, "/api/internal/cron/demo", Scheduler),
    row(Post, "/api/internal/cron/secrets", Scheduler),
    row(Post, "/api/internal/cron/retention", Scheduler),
    row(Post, "/api/internal/cron/dr", Scheduler),
];

/// The table as Markdown, as docs/SECURITY.md shows it (a test keeps the
/// document equal to this).
pub fn markdown() -> String {
    let mut out =
        String::from("| method | route | minimum | partner key scope |\n|---|---|---|---|\n");
    for p in POLICY {
        let access = match p.access {
            Access::Public => "public".to_string(),
            Access::Scheduler => "scheduler (`cron_token`) or admin".to_string(),
            Access::Monitor => "scraper (`metrics_token`) or platform operator".to_string(),
            Access::Role(r) => r.as_str().to_string(),
        };
        let scope = p
            .scope
            .map(|s| format!("`{s}` (counts against quota)"))
            .unwrap_or_else(|| "—".into());
        out.push_str(&format!(
            "| {} | `{}` | {access} | {scope} |\n",
            p.method.as_str(),
            p.pattern
        ));
    }
    out
}

/// The row for `method` on `pattern` (403 when the table has none).
pub fn policy(method: Method, pattern: &str) -> Result<Policy> {
    let method = if method == Method::Head {
        Method::Get
    } else {
        method
    };
    POLICY
        .iter()
        .find(|p| p.method == method && p.pattern == pattern)
        .copied()
        .ok_or_else(|| {
            crate::log::error(
                "access",
                &format!("no policy for {} {pattern}: refused", method.as_str()),
            );
            Error::forbidden("this route has no access policy and is refused")
        })
}

/// The requirement for `method` on `pattern`, if the table lists it.
pub fn requirement(method: Method, pattern: &str) -> Option<Access> {
    policy(method, pattern).ok().map(|p| p.access)
}

/// The principal of a valid `X-Dash-Key`; 401 for a wrong key, 503 when
/// `dashboard_key` is not set (or too short: see [`config::secret`]).
pub fn dashboard(env: &Env, req: &Request) -> Result<Principal> {
    let given = req.header("x-dash-key").unwrap_or("");
    let Some(expected) = config::secret(env.config.as_ref(), "dashboard_key")? else {
        return Err(Error::unavailable(
            "not_configured",
            "the dashboard key is disabled: set the `dashboard_key` variable",
        ));
    };
    if digest_eq(given, &expected) {
        Ok(Principal::dashboard())
    } else {
        Err(Error::unauthorized("the dashboard key is not valid"))
    }
}

/// The machine principal for a bearer `token` that is neither a JWT nor an
/// API key: the scheduler when it equals `cron_token`, the metrics scraper
/// when it equals `metrics_token`. Both secrets are always compared, in
/// constant time, so timing does not tell which one (if any) is set.
pub fn machine(env: &Env, token: &str) -> Result<Principal> {
    let cron = config::secret(env.config.as_ref(), "cron_token")?.unwrap_or_default();
    let metrics = config::secret(env.config.as_ref(), "metrics_token")?.unwrap_or_default();
    let is_cron = !cron.is_empty() & digest_eq(token, &cron);
    let is_metrics = !metrics.is_empty() & digest_eq(token, &metrics);
    if is_cron {
        Ok(Principal::scheduler())
    } else if is_metrics {
        Ok(Principal::monitor())
    } else if cron.is_empty() && metrics.is_empty() {
        Err(Error::unauthorized(
            "the bearer token is not valid (no `cron_token` or `metrics_token` is set, and it is not a JWT or an API key)",
        ))
    } else {
        Err(Error::unauthorized("the bearer token is not valid"))
    }
}

/// The bearer token of `req`, if any.
pub fn bearer(req: &Request) -> Option<&str> {
    let value = req.header("authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Compare two secrets in constant time: their SHA-256 digests are compared
/// byte for byte without an early exit, so neither length nor content leaks
/// through timing.
pub fn digest_eq(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_compare_equal_only_for_equal_secrets() {
        assert!(digest_eq("s3cret", "s3cret"));
        assert!(!digest_eq("s3cret", "s3creT"));
        assert!(!digest_eq("", "x"));
        assert!(!digest_eq("s3cret-longer", "s3cret"));
    }

    #[test]
    fn head_follows_get_and_unknown_routes_have_no_policy() {
        assert_eq!(requirement(Method::Head, "/health"), Some(Access::Public));
        assert_eq!(requirement(Method::Post, "/health"), None);
        assert_eq!(requirement(Method::Get, "/nowhere"), None);
    }

    #[test]
    fn policy_rows_are_unique() {
        for (i, a) in POLICY.iter().enumerate() {
            for b in &POLICY[i + 1..] {
                assert!(
                    !(a.method == b.method && a.pattern == b.pattern),
                    "{} listed twice",
                    a.pattern
                );
            }
        }
    }
}
