//! Identity: who is calling.
//!
//! Credentials, strongest first: the `dashboard_key` (the operator console;
//! an admin of the default tenant), JWT access tokens (users: bearer header
//! or the dashboard's cookie session), partner API keys, and the
//! `cron_token` for external schedulers. Each becomes a [`Principal`] with a
//! [`Role`] and a home tenant. Roles are ordered: a route's minimum role
//! admits every role above it (see `access::POLICY`).

pub mod api;
pub mod api_keys;
pub mod base64url;
pub mod devices;
pub mod jwt;
pub mod keys;
pub mod password;
pub mod sessions;
pub mod tenants;
pub mod throttle;
pub mod users;

use crate::error::{Error, Result};
use crate::tenancy::TenantId;
use serde::Serialize;

/// A role. Ordered: viewer < partner < analyst < operator < admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads dashboards of its tenant.
    Viewer,
    /// A marketplace partner: submits and reads its own jobs.
    Partner,
    /// Reads analytics, QA and prompt statistics.
    Analyst,
    /// Runs the queue: enqueue, retry, cancel, templates.
    Operator,
    /// Everything, including users, keys, tenants and audit.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Partner,
        Role::Analyst,
        Role::Operator,
        Role::Admin,
    ];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Partner => "partner",
            Role::Analyst => "analyst",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Parse a role name (422 otherwise).
    pub fn parse(s: &str) -> Result<Self> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                Error::unprocessable(
                    "invalid_role",
                    format!(
                        "unknown role `{s}`; expected admin, operator, analyst, partner or viewer"
                    ),
                )
            })
    }
}

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// No credential.
    Anonymous,
    /// The `dashboard_key` variable.
    DashboardKey,
    /// A JWT access token (bearer, or the session cookie when `cookie`).
    User {
        /// The user's id.
        user_id: String,
        /// The token's id (for revocation).
        jti: String,
        /// Presented as the session cookie (so CSRF rules apply).
        cookie: bool,
        /// The token's expiry (Unix seconds), for revocation TTLs.
        exp: i64,
        /// The token's refresh family (sign-out revokes it).
        family: String,
        /// SHA-256 of the session's CSRF token.
        csrf_hash: String,
    },
    /// A partner API key.
    ApiKey {
        /// The key's id.
        key_id: String,
        /// Its scopes.
        scopes: Vec<String>,
        /// Daily quota.
        daily_quota: i64,
        /// Monthly quota.
        monthly_quota: i64,
    },
    /// The `cron_token` variable.
    Scheduler,
    /// The `metrics_token` variable: a metrics scraper, which may read
    /// `/metrics` and nothing else.
    Monitor,
}

/// An authenticated (or anonymous) caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// How it authenticated.
    pub credential: Credential,
    /// Its role (`None` when anonymous).
    pub role: Option<Role>,
    /// Its home tenant.
    pub tenant: TenantId,
}

impl Principal {
    /// Nobody in particular, in the default tenant.
    pub fn anonymous() -> Self {
        Principal {
            credential: Credential::Anonymous,
            role: None,
            tenant: TenantId::default_tenant(),
        }
    }

    /// The operator console (dashboard key): admin of the default tenant.
    pub fn dashboard() -> Self {
        Principal {
            credential: Credential::DashboardKey,
            role: Some(Role::Admin),
            tenant: TenantId::default_tenant(),
        }
    }

    /// An external scheduler.
    pub fn scheduler() -> Self {
        Principal {
            credential: Credential::Scheduler,
            role: None,
            tenant: TenantId::default_tenant(),
        }
    }

    /// A metrics scraper (Prometheus).
    pub fn monitor() -> Self {
        Principal {
            credential: Credential::Monitor,
            role: None,
            tenant: TenantId::default_tenant(),
        }
    }

    /// Whether this principal may act for every tenant: an admin of the
    /// default tenant (and schedulers, which run system jobs).
    pub fn is_global(&self) -> bool {
        matches!(self.credential, Credential::Scheduler)
            || (self.role == Some(Role::Admin)
                && self.tenant.as_str() == crate::tenancy::DEFAULT_TENANT)
    }

    /// Who, for the audit chain and logs: `user:usr_…`, `key:pk_…`,
    /// `dashboard`, `scheduler`, `anonymous`.
    pub fn actor(&self) -> String {
        match &self.credential {
            Credential::Anonymous => "anonymous".into(),
            Credential::DashboardKey => "dashboard".into(),
            Credential::User { user_id, .. } => format!("user:{user_id}"),
            Credential::ApiKey { key_id, .. } => format!("key:{key_id}"),
            Credential::Scheduler => "scheduler".into(),
            Credential::Monitor => "monitor".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parse() {
        assert!(Role::Admin > Role::Operator && Role::Operator > Role::Analyst);
        assert!(Role::Analyst > Role::Partner && Role::Partner > Role::Viewer);
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()).unwrap(), r);
        }
        assert_eq!(Role::parse("root").unwrap_err().code, "invalid_role");
    }

    #[test]
    fn only_default_tenant_admins_are_global() {
        assert!(Principal::dashboard().is_global());
        let mut p = Principal::dashboard();
        p.tenant = TenantId::parse("acme").unwrap();
        assert!(!p.is_global());
        p.tenant = TenantId::default_tenant();
        p.role = Some(Role::Operator);
        assert!(!p.is_global());
    }
}
