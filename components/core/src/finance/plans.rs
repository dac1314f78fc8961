//! Plan prices: what a tenant's plan charges, from the `plan_prices`
//! variable (a JSON object, documented defaults below).
//!
//! Each plan has a currency, a monthly fee, a price per job and the jobs
//! the fee includes each month. A tenant billed in another currency (its
//! `currency` setting) is charged the converted price, with the rate and
//! its date recorded on the figure.

use crate::config;
use crate::error::{Error, Result};
use crate::identity::tenants;
use crate::money::{Currency, Money};
use crate::ports::Env;
use crate::tenancy::TenantId;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The default `plan_prices`: USD, in cents.
pub const DEFAULT_PLAN_PRICES: &str = r#"{"free":{"currency":"USD","monthly":0,"per_job":500,"included_jobs":0},"pro":{"currency":"USD","monthly":2900,"per_job":300,"included_jobs":20},"business":{"currency":"USD","monthly":9900,"per_job":200,"included_jobs":100},"enterprise":{"currency":"USD","monthly":49900,"per_job":100,"included_jobs":1000}}"#;

/// One plan's prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanPrice {
    /// The plan's name (as in `tenants.plan`).
    pub plan: String,
    /// The monthly fee.
    pub monthly: Money,
    /// The price of one job beyond those included.
    pub per_job: Money,
    /// Jobs the monthly fee includes.
    pub included_jobs: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    currency: String,
    monthly: i64,
    per_job: i64,
    included_jobs: i64,
}

/// Every plan's prices (`plan_prices`, or the default).
pub fn prices(env: &Env) -> Result<BTreeMap<String, PlanPrice>> {
    let raw = config::text_or(env.config.as_ref(), "plan_prices", DEFAULT_PLAN_PRICES)?;
    let want = "a JSON object {plan: {currency, monthly, per_job, included_jobs}} with non-negative minor units for every plan (free, pro, business, enterprise)";
    let specs: BTreeMap<String, Spec> =
        serde_json::from_str(&raw).map_err(|_| config::invalid("plan_prices", want, &raw))?;
    let mut out = BTreeMap::new();
    for (plan, s) in specs {
        let currency =
            Currency::parse(&s.currency).map_err(|_| config::invalid("plan_prices", want, &raw))?;
        if s.monthly < 0 || s.per_job < 0 || s.included_jobs < 0 {
            return Err(config::invalid("plan_prices", want, &raw));
        }
        out.insert(
            plan.clone(),
            PlanPrice {
                plan,
                monthly: Money::new(s.monthly, currency),
                per_job: Money::new(s.per_job, currency),
                included_jobs: s.included_jobs,
            },
        );
    }
    for plan in tenants::PLANS {
        if !out.contains_key(*plan) {
            return Err(config::invalid("plan_prices", want, &raw));
        }
    }
    Ok(out)
}

/// A tenant's plan price and billing currency.
#[derive(Debug, Clone)]
pub struct TenantPlan {
    /// The tenant.
    pub tenant: TenantId,
    /// Its plan's prices (in the plan's currency).
    pub price: PlanPrice,
    /// The currency the tenant is billed in.
    pub currency: Currency,
}

/// `tenant`'s plan and billing currency.
pub fn of_tenant(env: &Env, tenant: &TenantId) -> Result<TenantPlan> {
    let t = tenants::get(env, tenant)?;
    let all = prices(env)?;
    let price = all.get(&t.plan).cloned().ok_or_else(|| {
        Error::internal(format!(
            "tenant {} is on plan {} which has no price",
            t.id, t.plan
        ))
    })?;
    Ok(TenantPlan {
        tenant: tenant.clone(),
        price,
        currency: Currency::parse(&t.currency)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native;

    #[test]
    fn the_default_prices_cover_every_plan_and_bad_values_are_named() {
        let env = native::memory_env(&[]);
        let p = prices(&env).unwrap();
        assert_eq!(p["pro"].per_job, Money::new(300, Currency::Usd));
        assert_eq!(p["business"].included_jobs, 100);
        for bad in [
            "{}",
            r#"{"free":{"currency":"USD","monthly":-1,"per_job":1,"included_jobs":0}}"#,
            "not json",
        ] {
            let env = native::memory_env(&[("plan_prices", bad)]);
            let e = prices(&env).unwrap_err();
            assert!(e.message.contains("plan_prices"), "{bad}: {e}");
        }
    }
}
