//! The raw figures finance reports are built from, by UTC day and tenant
//! scope: revenue from the payments ledger, AI cost from job attempts,
//! infrastructure cost from variables, and job counts.
//!
//! - Revenue: live-mode succeeded charges by the day they were created,
//!   gross, refunded (as known now) and net, per currency (test-mode
//!   charges never count).
//! - AI cost: every attempt's work and grading cost (micro-dollars) by the
//!   day it started; reported in cents, rounded half up once per figure.
//! - Infrastructure: `infra_cost_daily` (`compute=50,database=10`, US cents
//!   per day); a tenant's share is the platform's cost times the tenant's
//!   share of the jobs attempted in the period.

use crate::config;
use crate::error::Result;
use crate::money::{Currency, Money};
use crate::params;
use crate::ports::{DbExt, Env, Value};
use crate::tenancy::Scope;
use crate::time::DAY_MS;
use std::collections::BTreeMap;

/// Revenue of one currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Revenue {
    /// Charges.
    pub payments: i64,
    /// Charged.
    pub gross: i64,
    /// Refunded from them.
    pub refunded: i64,
}

impl Revenue {
    /// Gross less refunded.
    pub fn net(&self) -> i64 {
        self.gross - self.refunded
    }

    fn add(&mut self, o: Revenue) {
        self.payments += o.payments;
        self.gross += o.gross;
        self.refunded += o.refunded;
    }
}

fn scoped(scope: &Scope, column: &str, n: usize, p: &mut Vec<Value>) -> String {
    let (cond, tenant) = scope.condition(column, n);
    p.extend(tenant.map(Value::from));
    cond
}

/// Revenue by day and currency code (codes the ledger holds, upper case).
pub fn revenue_by_day(
    env: &Env,
    scope: &Scope,
    from_ms: i64,
    to_ms: i64,
) -> Result<BTreeMap<(i64, String), Revenue>> {
    let mut p = params![from_ms, to_ms].to_vec();
    let cond = scoped(scope, "tenant_id", 3, &mut p);
    let rows = env.db.exec(
        &format!(
            "SELECT created_at / 86400000, UPPER(currency), COUNT(*), SUM(amount), SUM(amount_refunded) FROM payments
             WHERE created_at >= ?1 AND created_at < ?2 AND status = 'succeeded' AND livemode = 1 AND {cond}
             GROUP BY 1, 2"
        ),
        &p,
    )?;
    let mut out = BTreeMap::new();
    for r in &rows.rows {
        out.insert(
            (r.i64(0)?, r.text(1)?),
            Revenue {
                payments: r.i64(2)?,
                gross: r.i64(3)?,
                refunded: r.i64(4)?,
            },
        );
    }
    Ok(out)
}

/// Revenue of a range by currency code.
pub fn revenue(
    env: &Env,
    scope: &Scope,
    from_ms: i64,
    to_ms: i64,
) -> Result<BTreeMap<String, Revenue>> {
    let mut out: BTreeMap<String, Revenue> = BTreeMap::new();
    for ((_, c), r) in revenue_by_day(env, scope, from_ms, to_ms)? {
        out.entry(c).or_default().add(r);
    }
    Ok(out)
}

/// AI cost in micro-dollars by day.
pub fn ai_micros_by_day(
    env: &Env,
    scope: &Scope,
    from_ms: i64,
    to_ms: i64,
) -> Result<BTreeMap<i64, i64>> {
    let mut p = params![from_ms, to_ms].to_vec();
    let cond = scoped(scope, "tenant_id", 3, &mut p);
    let rows = env.db.exec(
        &format!(
            "SELECT started_at / 86400000, SUM(cost_micros + qa_cost_micros) FROM job_attempts
             WHERE started_at >= ?1 AND started_at < ?2 AND {cond} GROUP BY 1"
        ),
        &p,
    )?;
    rows.rows
        .iter()
        .map(|r| Ok((r.i64(0)?, r.i64(1)?)))
        .collect()
}

/// Jobs with an attempt in the range, and their AI cost in micro-dollars.
pub fn ai_cost(env: &Env, scope: &Scope, from_ms: i64, to_ms: i64) -> Result<(i64, i64)> {
    let mut p = params![from_ms, to_ms].to_vec();
    let cond = scoped(scope, "tenant_id", 3, &mut p);
    let r = env.db.query_one(
        &format!(
            "SELECT COUNT(DISTINCT job_id), COALESCE(SUM(cost_micros + qa_cost_micros), 0) FROM job_attempts
             WHERE started_at >= ?1 AND started_at < ?2 AND {cond}"
        ),
        &p,
    )?;
    Ok((r.i64(0)?, r.i64(1)?))
}

/// Jobs created per day.
pub fn jobs_by_day(
    env: &Env,
    scope: &Scope,
    from_ms: i64,
    to_ms: i64,
) -> Result<BTreeMap<i64, i64>> {
    let mut p = params![from_ms, to_ms].to_vec();
    let cond = scoped(scope, "tenant_id", 3, &mut p);
    let rows = env.db.exec(
        &format!(
            "SELECT created_at / 86400000, COUNT(*) FROM jobs WHERE created_at >= ?1 AND created_at < ?2 AND {cond}
             GROUP BY 1"
        ),
        &p,
    )?;
    rows.rows
        .iter()
        .map(|r| Ok((r.i64(0)?, r.i64(1)?)))
        .collect()
}

/// Micro-dollars as US cents, rounded half up.
pub fn micros_to_cents(micros: i64) -> Money {
    Money::new((micros + 5_000).div_euclid(10_000), Currency::Usd)
}

/// The daily infrastructure cost by item (`infra_cost_daily`).
pub fn infra_daily(env: &Env) -> Result<Vec<(String, Money)>> {
    let spec = config::text_or(
        env.config.as_ref(),
        "infra_cost_daily",
        "compute=50,database=10",
    )?;
    let want = "items of name=US cents per day, like compute=50,database=10";
    let mut out = Vec::new();
    for item in spec.split(',') {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| config::invalid("infra_cost_daily", want, &spec))?;
        let cents: i64 = v
            .trim()
            .parse()
            .ok()
            .filter(|c| *c >= 0)
            .ok_or_else(|| config::invalid("infra_cost_daily", want, &spec))?;
        let name = k.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(config::invalid("infra_cost_daily", want, &spec));
        }
        out.push((name.to_string(), Money::new(cents, Currency::Usd)));
    }
    Ok(out)
}

/// The currency reports total in (`finance_currency`, USD by default).
pub fn report_currency(env: &Env) -> Result<Currency> {
    let code = config::text_or(env.config.as_ref(), "finance_currency", "USD")?;
    Currency::parse(&code)
        .map_err(|_| config::invalid("finance_currency", "one of USD, EUR, GBP, INR, PKR", &code))
}

/// A share of `total` in integer minor units: `total × part / whole`,
/// rounded half up (0 when `whole` is 0).
pub fn share(total: i64, part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    (2 * total * part + whole) / (2 * whole)
}

/// The first instant of `day`.
pub fn day_start(day: i64) -> i64 {
    day * DAY_MS
}
