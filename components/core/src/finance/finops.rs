//! FinOps (seeds, phase 117): revenue, costs and profitability over the
//! last `days` days, for the platform or one tenant, and per tenant.
//!
//! Revenue comes from the payments ledger, AI cost from job attempts and
//! infrastructure cost from `infra_cost_daily` (see [`super::figures`]).
//! Totals are in `finance_currency` (USD by default): revenue in other
//! currencies is converted at the rate in force on the window's last day,
//! each conversion listed; without a rate the totals are `null` and
//! `missing_rates` names the currencies (never a sum of mixed currencies).
//! `profit = revenue − AI − infrastructure`; `margin_pct = profit /
//! revenue × 100` (0 without revenue); `roi = profit / costs × 100`.

use super::figures::{self, Revenue};
use super::rates;
use crate::error::Result;
use crate::identity::tenants;
use crate::money::{Converted, Currency, Money, RateBook};
use crate::ports::Env;
use crate::tenancy::{Scope, TenantId};
use crate::time::{rfc3339, DAY_MS};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The window: `days` whole days ending now.
pub struct Window {
    /// Days.
    pub days: i64,
    /// Start, Unix ms.
    pub from_ms: i64,
    /// End (now), Unix ms.
    pub to_ms: i64,
}

impl Window {
    /// The last `days` days (1 to 365; 400 `invalid_days`).
    pub fn last(env: &Env, days: i64) -> Result<Window> {
        if !(1..=365).contains(&days) {
            return Err(crate::Error::bad_request(
                "invalid_days",
                "`days` is 1 to 365",
            ));
        }
        let to_ms = env.clock.now_ms();
        Ok(Window {
            days,
            from_ms: to_ms - days * DAY_MS,
            to_ms,
        })
    }
}

/// Revenue by currency converted into `to`: the total (if every currency
/// converts), the conversions, and the currencies lacking a rate.
pub fn convert_revenue(
    book: &RateBook,
    by_currency: &BTreeMap<String, Revenue>,
    to: Currency,
    day: i64,
) -> (Option<Money>, Vec<Converted>, Vec<String>) {
    let mut total = 0;
    let mut conversions = Vec::new();
    let mut missing = Vec::new();
    for (code, r) in by_currency {
        let converted =
            Currency::parse(code).and_then(|c| book.convert(Money::new(r.net(), c), to, day));
        match converted {
            Ok(c) => {
                total += c.amount.amount;
                if c.from.currency != to {
                    conversions.push(c);
                }
            }
            Err(_) => missing.push(code.clone()),
        }
    }
    (
        missing.is_empty().then_some(Money::new(total, to)),
        conversions,
        missing,
    )
}

fn pct(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (10_000.0 * part as f64 / whole as f64).round() / 100.0
    }
}

/// Costs in the report currency: AI (rounded from micro-dollars), and
/// infrastructure (`share` of the platform's: jobs of the scope over all).
struct Costs {
    ai: Converted,
    job_count: i64,
    ai_micros: i64,
    infra: Vec<(String, Converted)>,
    infra_total: Money,
}

fn costs(
    env: &Env,
    book: &RateBook,
    scope: &Scope,
    w: &Window,
    to: Currency,
    day: i64,
) -> Result<Costs> {
    let (job_count, ai_micros) = figures::ai_cost(env, scope, w.from_ms, w.to_ms)?;
    let (all_jobs, _) = figures::ai_cost(env, &Scope::All, w.from_ms, w.to_ms)?;
    let ai = book.convert(figures::micros_to_cents(ai_micros), to, day)?;
    let mut infra = Vec::new();
    let mut infra_total = 0;
    for (name, daily) in figures::infra_daily(env)? {
        let platform = daily.amount * w.days;
        let amount = match scope {
            Scope::All => platform,
            Scope::Tenant(_) => figures::share(platform, job_count, all_jobs),
        };
        let c = book.convert(Money::new(amount, Currency::Usd), to, day)?;
        infra_total += c.amount.amount;
        infra.push((name, c));
    }
    Ok(Costs {
        ai,
        job_count,
        ai_micros,
        infra,
        infra_total: Money::new(infra_total, to),
    })
}

fn revenue_view(by: &BTreeMap<String, Revenue>) -> Value {
    by.iter()
        .map(|(c, r)| {
            (c.clone(), json!({ "payments": r.payments, "gross": r.gross, "refunded": r.refunded, "net": r.net() }))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// `GET /api/finops/summary`: the seeds' shape, amounts in minor units
/// with their currency.
pub fn summary(env: &Env, scope: &Scope, days: i64) -> Result<Value> {
    let w = Window::last(env, days)?;
    let to = figures::report_currency(env)?;
    let book = rates::book(env)?;
    let day = (w.to_ms - 1).div_euclid(DAY_MS);
    let by_currency = figures::revenue(env, scope, w.from_ms, w.to_ms)?;
    let (total_revenue, conversions, missing) = convert_revenue(&book, &by_currency, to, day);
    let c = costs(env, &book, scope, &w, to, day)?;
    let total_costs = Money::new(c.ai.amount.amount + c.infra_total.amount, to);
    let profit = total_revenue.map(|r| Money::new(r.amount - total_costs.amount, to));
    // Costs are in USD: their conversions, when reports are in another
    // currency.
    let cost_conversions: Vec<&Converted> = if to == Currency::Usd {
        Vec::new()
    } else {
        std::iter::once(&c.ai)
            .chain(c.infra.iter().map(|(_, m)| m))
            .collect()
    };
    Ok(json!({
        "period_days": w.days,
        "from": rfc3339(w.from_ms),
        "to": rfc3339(w.to_ms),
        "tenant_id": scope.tenant().map(TenantId::as_str),
        "currency": to,
        "revenue": {
            "total_revenue": total_revenue,
            "payment_count": by_currency.values().map(|r| r.payments).sum::<i64>(),
            "by_currency": revenue_view(&by_currency),
            "conversions": conversions,
            "missing_rates": missing,
        },
        "costs": {
            "ai": { "total_cost": c.ai.amount, "job_count": c.job_count, "micro_usd": c.ai_micros },
            "infrastructure": {
                "total_cost": c.infra_total,
                "breakdown": c.infra.iter().map(|(n, m)| (n.clone(), json!(m.amount))).collect::<serde_json::Map<_, _>>(),
                "allocation": match scope {
                    Scope::All => "the platform's whole cost",
                    Scope::Tenant(_) => "the platform's cost times the tenant's share of the jobs attempted in the window",
                },
            },
            "total_costs": total_costs,
            "conversions": cost_conversions,
        },
        "profitability": {
            "profit": profit,
            "margin_pct": total_revenue.map(|r| pct(r.amount - total_costs.amount, r.amount)),
            "roi": profit.map(|p| pct(p.amount, total_costs.amount)),
            "total_revenue": total_revenue,
            "total_costs": total_costs,
        },
    }))
}

/// `GET /api/finops/tenants`: per tenant in scope, jobs, AI cost, revenue
/// and profit over the window, most revenue first.
pub fn tenants(env: &Env, scope: &Scope, days: i64) -> Result<Value> {
    let w = Window::last(env, days)?;
    let to = figures::report_currency(env)?;
    let book = rates::book(env)?;
    let day = (w.to_ms - 1).div_euclid(DAY_MS);
    let mut rows = Vec::new();
    for t in tenants::list(env, scope)? {
        let tscope = Scope::Tenant(TenantId::parse(&t.id)?);
        let by_currency = figures::revenue(env, &tscope, w.from_ms, w.to_ms)?;
        let (revenue, _, missing) = convert_revenue(&book, &by_currency, to, day);
        let c = costs(env, &book, &tscope, &w, to, day)?;
        let jobs_created: i64 = figures::jobs_by_day(env, &tscope, w.from_ms, w.to_ms)?
            .values()
            .sum();
        let total_costs = c.ai.amount.amount + c.infra_total.amount;
        rows.push(json!({
            "tenant_id": t.id,
            "plan": t.plan,
            "jobs_created": jobs_created,
            "job_count": c.job_count,
            "ai_cost": c.ai.amount,
            "infrastructure_cost": c.infra_total,
            "total_costs": Money::new(total_costs, to),
            "revenue": revenue,
            "revenue_by_currency": revenue_view(&by_currency),
            "missing_rates": missing,
            "profit": revenue.map(|r| Money::new(r.amount - total_costs, to)),
        }));
    }
    rows.sort_by_key(|r| {
        std::cmp::Reverse(
            r.pointer("/revenue/amount")
                .and_then(Value::as_i64)
                .unwrap_or(i64::MIN),
        )
    });
    Ok(json!({
        "period_days": w.days,
        "from": rfc3339(w.from_ms),
        "to": rfc3339(w.to_ms),
        "currency": to,
        "tenants": rows,
    }))
}
