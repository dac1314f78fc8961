//! Who may call what: the access policy of every route of every component,
//! in one table, and the checks behind it.
//!
//! A route missing from [`POLICY`] is refused (fail closed), and a test
//! checks that every component's routes are listed. Until the identity
//! issue brings users and roles, operators authenticate with the
//! `dashboard_key` variable in `X-Dash-Key`, and external schedulers with
//! the `cron_token` variable as a bearer token.

use crate::error::{Error, Result};
use crate::http::{Method, Request};
use crate::ports::Env;
use sha2::{Digest, Sha256};

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// An operator: `X-Dash-Key` equal to the `dashboard_key` variable.
    Operator,
    /// A scheduler: `Authorization: Bearer <cron_token>`, or an operator.
    Scheduler,
}

/// Who is calling, once authorised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// No credential was needed or given.
    Anonymous,
    /// Authenticated with the dashboard key.
    Operator,
    /// Authenticated with the cron token.
    Scheduler,
}

/// One row of the policy: method, route pattern (exactly as the component
/// declares it), requirement.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The method (GET rows cover HEAD).
    pub method: Method,
    /// The route pattern.
    pub pattern: &'static str,
    /// The requirement.
    pub access: Access,
}

const fn rule(method: Method, pattern: &'static str, access: Access) -> Policy {
    Policy {
        method,
        pattern,
        access,
    }
}

/// The policy of every route. docs/SECURITY.md renders this table.
pub const POLICY: &[Policy] = &[
    // api-health
    rule(Method::Get, "/health", Access::Public),
    rule(Method::Get, "/api/version", Access::Public),
    rule(Method::Post, "/api/internal/cron/{job}", Access::Scheduler),
    // api-jobs
    rule(Method::Post, "/api/public/create-job", Access::Public),
    rule(Method::Get, "/api/public/job-status/{id}", Access::Public),
    // Public route; the handler requires a history token or an operator key.
    rule(
        Method::Get,
        "/api/public/job-history/{email}",
        Access::Public,
    ),
    rule(Method::Post, "/api/queue/enqueue", Access::Operator),
    rule(Method::Get, "/api/queue/status", Access::Operator),
    rule(Method::Get, "/api/jobs", Access::Operator),
    rule(Method::Get, "/api/jobs/{id}", Access::Operator),
    rule(Method::Post, "/api/jobs/{id}/retry", Access::Operator),
    rule(Method::Post, "/api/jobs/{id}/cancel", Access::Operator),
    rule(Method::Get, "/api/qa/consistency", Access::Operator),
    rule(Method::Get, "/api/prompts", Access::Operator),
    rule(Method::Post, "/api/prompts", Access::Operator),
    rule(Method::Get, "/api/prompts/{id}/stats", Access::Operator),
    // static-files
    rule(Method::Get, "/...", Access::Public),
    // cron components: the HTTP form of each scheduled job
    rule(
        Method::Post,
        "/api/internal/cron/heartbeat",
        Access::Scheduler,
    ),
    rule(Method::Post, "/api/internal/cron/worker", Access::Scheduler),
    rule(
        Method::Post,
        "/api/internal/cron/notion-sync",
        Access::Scheduler,
    ),
];

/// The requirement for `method` on `pattern`, if the policy lists it.
pub fn requirement(method: Method, pattern: &str) -> Option<Access> {
    let method = if method == Method::Head {
        Method::Get
    } else {
        method
    };
    POLICY
        .iter()
        .find(|p| p.method == method && p.pattern == pattern)
        .map(|p| p.access)
}

/// Check `req` against the policy for its route.
pub fn authorize(env: &Env, method: Method, pattern: &str, req: &Request) -> Result<Principal> {
    let Some(access) = requirement(method, pattern) else {
        crate::log::error(
            "access",
            &format!("no policy for {} {pattern}: refused", method.as_str()),
        );
        return Err(Error::forbidden(
            "this route has no access policy and is refused",
        ));
    };
    match access {
        Access::Public => Ok(Principal::Anonymous),
        Access::Operator => operator(env, req, "this route needs the `X-Dash-Key` header"),
        Access::Scheduler => match bearer(req) {
            Some(token) => {
                let expected = env.config.get("cron_token")?.unwrap_or_default();
                if expected.is_empty() {
                    Err(Error::unavailable(
                        "not_configured",
                        "bearer tokens are disabled for scheduler routes: set the `cron_token` variable",
                    ))
                } else if digest_eq(token, &expected) {
                    Ok(Principal::Scheduler)
                } else {
                    Err(Error::unauthorized(
                        "the bearer token is not valid for this route",
                    ))
                }
            }
            None => operator(
                env,
                req,
                "this route needs `Authorization: Bearer <cron_token>` or the `X-Dash-Key` header",
            ),
        },
    }
}

fn operator(env: &Env, req: &Request, missing: &str) -> Result<Principal> {
    let Some(given) = req.header("x-dash-key") else {
        return Err(Error::unauthorized(missing));
    };
    let expected = env.config.get("dashboard_key")?.unwrap_or_default();
    if expected.is_empty() {
        return Err(Error::unavailable(
            "not_configured",
            "operator routes are disabled: set the `dashboard_key` variable",
        ));
    }
    if digest_eq(given, &expected) {
        Ok(Principal::Operator)
    } else {
        Err(Error::unauthorized("the dashboard key is not valid"))
    }
}

/// Whether `req` carries a valid operator key (for handlers that also
/// accept other credentials, such as history tokens).
pub fn is_operator(env: &Env, req: &Request) -> Result<bool> {
    match req.header("x-dash-key") {
        None => Ok(false),
        Some(_) => operator(env, req, "").map(|_| true),
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
