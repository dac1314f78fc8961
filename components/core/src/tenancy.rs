//! Tenants. Every row that belongs to a tenant carries its id, and every
//! tenant-owned query in core takes a [`Scope`], so a query cannot forget
//! whose data it reads.

use crate::error::{Error, Kind, Result};
use crate::identity::{Credential, Principal};
use serde::Serialize;

/// The tenant of single-tenant deployments and of unauthenticated public
/// requests.
pub const DEFAULT_TENANT: &str = "default";

/// A validated tenant id: 1 to 64 of `[a-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// Parse a tenant id.
    pub fn parse(s: &str) -> Result<Self> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(TenantId(s.to_string()))
        } else {
            Err(Error::bad_request(
                "invalid_tenant",
                "a tenant id is 1 to 64 lower-case letters, digits, `-` or `_`",
            ))
        }
    }

    /// The default tenant.
    pub fn default_tenant() -> Self {
        TenantId(DEFAULT_TENANT.to_string())
    }

    /// As text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which tenants a query may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One tenant's rows only.
    Tenant(TenantId),
    /// Every tenant (operators of the default tenant, and system jobs).
    All,
}

impl Scope {
    /// The tenant this scope is limited to, if any.
    pub fn tenant(&self) -> Option<&TenantId> {
        match self {
            Scope::Tenant(t) => Some(t),
            Scope::All => None,
        }
    }

    /// A SQL condition on `column` and its parameter for this scope:
    /// `("tenant_id = ?N", Some(tenant))` or `("1 = 1", None)`. `n` is the
    /// parameter's position.
    pub fn condition(&self, column: &str, n: usize) -> (String, Option<String>) {
        match self {
            Scope::Tenant(t) => (format!("{column} = ?{n}"), Some(t.0.clone())),
            Scope::All => ("1 = 1".to_string(), None),
        }
    }

    /// Whether this scope may see a row of `tenant`.
    pub fn allows(&self, tenant: &str) -> bool {
        match self {
            Scope::Tenant(t) => t.0 == tenant,
            Scope::All => true,
        }
    }
}

/// For platform-wide data (incidents, costs): only principals of the
/// default tenant, and the scheduler, may see or change it; others get 403
/// `platform_only` with `why`.
pub fn require_platform(principal: &Principal, why: &str) -> Result<()> {
    if principal.tenant.as_str() == DEFAULT_TENANT
        || matches!(principal.credential, Credential::Scheduler)
    {
        Ok(())
    } else {
        Err(Error::new(Kind::Forbidden, "platform_only", why))
    }
}

/// Which rows of a platform-wide record (the event log, request samples)
/// a request may read. The record is the platform's: principals of the
/// default tenant read all of it (narrowed when a global admin asked for
/// one tenant); anyone else reads only rows of their own tenant, never the
/// platform's own events (those carry no tenant).
pub fn record_scope(principal: &Principal, scope: &Scope) -> Scope {
    if principal.tenant.as_str() != DEFAULT_TENANT {
        return Scope::Tenant(principal.tenant.clone());
    }
    if principal.is_global() {
        scope.clone()
    } else {
        Scope::All
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_validated() {
        assert!(TenantId::parse("acme-co_1").is_ok());
        for bad in [
            "",
            "Acme",
            "a b",
            "x'; DROP TABLE jobs; --",
            &"a".repeat(65),
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_limit_rows() {
        let s = Scope::Tenant(TenantId::parse("a").unwrap());
        assert!(s.allows("a") && !s.allows("b"));
        assert!(Scope::All.allows("b"));
        assert_eq!(
            s.condition("j.tenant_id", 3),
            ("j.tenant_id = ?3".to_string(), Some("a".to_string()))
        );
    }
}
