//! Tenants and their settings (plan, limits, locale, currency).

use crate::error::{Error, Result};
use crate::params;
use crate::ports::{DbError, DbExt, Env, Row};
use crate::tenancy::{Scope, TenantId};
use crate::time::rfc3339;
use serde::Deserialize;

/// Plans a tenant can be on.
pub const PLANS: &[&str] = &["free", "pro", "business", "enterprise"];
/// Currencies (ISO 4217) tenants can bill in.
pub const CURRENCIES: &[&str] = &["USD", "EUR", "GBP", "INR", "PKR"];
/// Locales the product speaks.
pub const LOCALES: &[&str] = &["en", "es", "ur"];

/// A tenant.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub plan: String,
    pub locale: String,
    pub currency: String,
    pub limits: serde_json::Value,
    pub active: bool,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, name, plan, locale, currency, limits, active, created_at, updated_at";

impl Tenant {
    fn from_row(r: &Row) -> Result<Self> {
        Ok(Tenant {
            id: r.text(0)?,
            name: r.text(1)?,
            plan: r.text(2)?,
            locale: r.text(3)?,
            currency: r.text(4)?,
            limits: serde_json::from_str(&r.text(5)?).unwrap_or_default(),
            active: r.bool(6)?,
            created_at: r.i64(7)?,
            updated_at: r.i64(8)?,
        })
    }

    /// As served.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id, "name": self.name, "plan": self.plan, "locale": self.locale,
            "currency": self.currency, "limits": self.limits, "active": self.active,
            "created_at": rfc3339(self.created_at), "updated_at": rfc3339(self.updated_at),
        })
    }
}

/// Settings given when creating or changing a tenant.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Display name.
    pub name: Option<String>,
    /// One of [`PLANS`].
    pub plan: Option<String>,
    /// One of [`LOCALES`].
    pub locale: Option<String>,
    /// One of [`CURRENCIES`].
    pub currency: Option<String>,
    /// Named non-negative integer limits, e.g. `{"jobs_per_day": 1000}`.
    pub limits: Option<serde_json::Map<String, serde_json::Value>>,
    /// Whether the tenant may be used.
    pub active: Option<bool>,
    /// Filing finished jobs to Google Drive (kept in its own table,
    /// [`crate::jobs::filing`]).
    pub drive_filing: Option<crate::jobs::filing::SettingChange>,
}

impl Settings {
    /// Check every field (nothing is written).
    pub fn validate(&self) -> Result<()> {
        let one_of =
            |v: &Option<String>, allowed: &[&str], code: &'static str, what: &str| -> Result<()> {
                match v {
                    Some(v) if !allowed.contains(&v.as_str()) => Err(Error::unprocessable(
                        code,
                        format!(
                            "unknown {what} `{v}`; expected one of: {}",
                            allowed.join(", ")
                        ),
                    )),
                    _ => Ok(()),
                }
            };
        one_of(&self.plan, PLANS, "invalid_plan", "plan")?;
        one_of(&self.locale, LOCALES, "invalid_locale", "locale")?;
        one_of(&self.currency, CURRENCIES, "invalid_currency", "currency")?;
        if let Some(name) = &self.name {
            if name.trim().is_empty() || name.chars().count() > 100 {
                return Err(Error::unprocessable(
                    "invalid_name",
                    "a tenant name is 1 to 100 characters",
                ));
            }
        }
        if let Some(limits) = &self.limits {
            for (k, v) in limits {
                let ok_key = !k.is_empty()
                    && k.len() <= 64
                    && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                if !ok_key || v.as_i64().is_none_or(|n| n < 0) {
                    return Err(Error::unprocessable(
                        "invalid_limits",
                        "limits are snake_case names with non-negative integer values",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Create a tenant.
pub fn create(env: &Env, id: &TenantId, s: &Settings) -> Result<Tenant> {
    s.validate()?;
    if s.drive_filing.is_some() {
        return Err(Error::unprocessable(
            "invalid_body",
            "a new tenant's Drive filing is set by its admin afterwards (PATCH /api/tenant/settings)",
        ));
    }
    let now = env.clock.now_ms();
    let limits = serde_json::Value::Object(s.limits.clone().unwrap_or_default()).to_string();
    let result = env.db.execute(
        &format!(
            "INSERT INTO tenants (id, name, plan, locale, currency, limits, active, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) RETURNING {COLUMNS}"
        ),
        params![
            id.as_str(),
            s.name.clone().unwrap_or_else(|| id.as_str().to_string()),
            s.plan.as_deref().unwrap_or("free"),
            s.locale.as_deref().unwrap_or("en"),
            s.currency.as_deref().unwrap_or("USD"),
            limits,
            s.active.unwrap_or(true),
            now
        ],
    );
    match result {
        Ok(rows) => Tenant::from_row(
            rows.first()
                .ok_or_else(|| Error::internal("insert returned nothing"))?,
        ),
        Err(DbError::Constraint(_)) => Err(Error::conflict(
            "tenant_exists",
            format!("tenant `{}` already exists", id.as_str()),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Change a tenant's settings.
pub fn update(env: &Env, id: &TenantId, s: &Settings) -> Result<Tenant> {
    s.validate()?;
    let current = get(env, id)?;
    let limits = match &s.limits {
        Some(l) => serde_json::Value::Object(l.clone()).to_string(),
        None => current.limits.to_string(),
    };
    let row = env.db.query_one(
        &format!(
            "UPDATE tenants SET name = COALESCE(?2, name), plan = COALESCE(?3, plan), locale = COALESCE(?4, locale),
                currency = COALESCE(?5, currency), limits = ?6, active = COALESCE(?7, active), updated_at = ?8
             WHERE id = ?1 RETURNING {COLUMNS}"
        ),
        params![id.as_str(), s.name.clone(), s.plan.clone(), s.locale.clone(), s.currency.clone(), limits, s.active, env.clock.now_ms()],
    )?;
    Tenant::from_row(&row)
}

/// A tenant (404 when unknown).
pub fn get(env: &Env, id: &TenantId) -> Result<Tenant> {
    env.db
        .query_opt(
            &format!("SELECT {COLUMNS} FROM tenants WHERE id = ?1"),
            params![id.as_str()],
        )?
        .map(|r| Tenant::from_row(&r))
        .transpose()?
        .ok_or_else(|| {
            Error::new(
                crate::error::Kind::NotFound,
                "unknown_tenant",
                format!("no tenant `{}`", id.as_str()),
            )
        })
}

/// 404 unless `id` exists and is active.
pub fn require(env: &Env, id: &TenantId) -> Result<()> {
    let t = get(env, id)?;
    if !t.active {
        return Err(Error::new(
            crate::error::Kind::Forbidden,
            "tenant_inactive",
            format!("tenant `{}` is inactive", t.id),
        ));
    }
    Ok(())
}

/// Tenants visible in `scope`.
pub fn list(env: &Env, scope: &Scope) -> Result<Vec<Tenant>> {
    let (cond, tenant) = scope.condition("id", 1);
    let p: Vec<crate::ports::Value> = tenant.into_iter().map(Into::into).collect();
    let rows = env.db.exec(
        &format!("SELECT {COLUMNS} FROM tenants WHERE {cond} ORDER BY id LIMIT 1000"),
        &p,
    )?;
    rows.rows.iter().map(Tenant::from_row).collect()
}
