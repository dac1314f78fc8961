//! Profit and loss by day or month (`GET /api/finance/pnl`).
//!
//! Each period lists, per currency and in minor units, revenue (gross,
//! refunded, net) and, in USD, AI and infrastructure cost; nothing is
//! added across currencies there. `converted` then states the period in
//! `finance_currency` at the rates in force on the period's last day, with
//! every conversion listed, or says which rates are missing.
//!
//! Revenue is counted on the day a charge was created, with the refunds
//! known now (as the daily report counts it). AI cost is rounded to cents
//! once per period, infrastructure is `infra_cost_daily` per day of the
//! period inside the range (a tenant's share by its share of attempted
//! jobs, that period).

use super::figures::{self, Revenue};
use super::finops::convert_revenue;
use super::rates;
use crate::error::{Error, Result};
use crate::money::{Currency, Money};
use crate::ports::Env;
use crate::tenancy::Scope;
use crate::time::{date, parse_day, DAY_MS};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Daily or monthly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// One row per UTC day.
    Daily,
    /// One row per calendar month.
    Monthly,
}

impl Granularity {
    /// Parse `daily` or `monthly` (400 `invalid_granularity`).
    pub fn parse(s: &str) -> Result<Granularity> {
        match s {
            "daily" => Ok(Granularity::Daily),
            "monthly" => Ok(Granularity::Monthly),
            _ => Err(Error::bad_request(
                "invalid_granularity",
                "`granularity` is daily or monthly",
            )),
        }
    }

    fn label(self, day: i64) -> String {
        let d = date(day * DAY_MS);
        match self {
            Granularity::Daily => d,
            Granularity::Monthly => d[..7].to_string(),
        }
    }
}

/// The requested range, inclusive days.
pub struct Range {
    /// First day.
    pub first: i64,
    /// Last day.
    pub last: i64,
}

impl Range {
    /// From `from` and `to` (`YYYY-MM-DD`, inclusive) or the defaults: the
    /// last 30 days (daily) or the 12 months to date (monthly), ending
    /// today. At most 400 days.
    pub fn parse(env: &Env, g: Granularity, from: Option<&str>, to: Option<&str>) -> Result<Range> {
        let day = |s: &str, name: &str| {
            parse_day(s).ok_or_else(|| {
                Error::bad_request(
                    "invalid_date",
                    format!("`{name}` is a date like 2026-11-20"),
                )
            })
        };
        let today = env.clock.now_ms().div_euclid(DAY_MS);
        let last = to.map(|t| day(t, "to")).transpose()?.unwrap_or(today);
        let first = match (from, g) {
            (Some(f), _) => day(f, "from")?,
            (None, Granularity::Daily) => last - 29,
            (None, Granularity::Monthly) => {
                let d = date(last * DAY_MS);
                let (y, m): (i64, i64) =
                    (d[..4].parse().unwrap_or(1970), d[5..7].parse().unwrap_or(1));
                let (y, m) = if m == 12 { (y, 1) } else { (y - 1, m + 1) };
                parse_day(&format!("{y:04}-{m:02}-01")).unwrap_or(last - 365)
            }
        };
        if first > last || last - first >= 400 {
            return Err(Error::bad_request(
                "invalid_range",
                "`from` must not be after `to`, and the range is at most 400 days",
            ));
        }
        Ok(Range { first, last })
    }
}

#[derive(Default)]
struct Period {
    first: i64,
    last: i64,
    revenue: BTreeMap<String, Revenue>,
    ai_micros: i64,
}

/// The P&L over `range` for `scope`.
pub fn pnl(env: &Env, scope: &Scope, g: Granularity, range: &Range) -> Result<Value> {
    let (from_ms, to_ms) = (range.first * DAY_MS, (range.last + 1) * DAY_MS);
    let to = figures::report_currency(env)?;
    let book = rates::book(env)?;
    let infra = figures::infra_daily(env)?;
    let mut periods: BTreeMap<String, Period> = BTreeMap::new();
    for day in range.first..=range.last {
        let p = periods.entry(g.label(day)).or_default();
        if p.first == 0 || day < p.first {
            p.first = day;
        }
        p.last = day;
    }
    for ((day, code), r) in figures::revenue_by_day(env, scope, from_ms, to_ms)? {
        if let Some(p) = periods.get_mut(&g.label(day)) {
            let e = p.revenue.entry(code).or_default();
            e.payments += r.payments;
            e.gross += r.gross;
            e.refunded += r.refunded;
        }
    }
    for (day, micros) in figures::ai_micros_by_day(env, scope, from_ms, to_ms)? {
        if let Some(p) = periods.get_mut(&g.label(day)) {
            p.ai_micros += micros;
        }
    }
    let mut rows = Vec::new();
    let mut totals: BTreeMap<String, Revenue> = BTreeMap::new();
    let (mut total_ai, mut total_infra) = (0i64, 0i64);
    for (label, p) in &periods {
        let days = p.last - p.first + 1;
        let (start, end) = (p.first * DAY_MS, (p.last + 1) * DAY_MS);
        let ai = figures::micros_to_cents(p.ai_micros);
        let infra_platform: i64 = infra.iter().map(|(_, m)| m.amount).sum::<i64>() * days;
        let infra_cost = match scope {
            Scope::All => infra_platform,
            Scope::Tenant(_) => {
                let (mine, _) = figures::ai_cost(env, scope, start, end)?;
                let (all, _) = figures::ai_cost(env, &Scope::All, start, end)?;
                figures::share(infra_platform, mine, all)
            }
        };
        total_ai += ai.amount;
        total_infra += infra_cost;
        for (code, r) in &p.revenue {
            let t = totals.entry(code.clone()).or_default();
            t.payments += r.payments;
            t.gross += r.gross;
            t.refunded += r.refunded;
        }
        rows.push(row(&book, label, p, ai.amount, infra_cost, to)?);
    }
    let whole = Period {
        first: range.first,
        last: range.last,
        revenue: totals,
        ai_micros: 0,
    };
    Ok(json!({
        "granularity": match g { Granularity::Daily => "daily", Granularity::Monthly => "monthly" },
        "from": date(range.first * DAY_MS),
        "to": date(range.last * DAY_MS),
        "tenant_id": scope.tenant().map(|t| t.as_str()),
        "minor_units": true,
        "periods": rows,
        "total": row(&book, "total", &whole, total_ai, total_infra, to)?,
    }))
}

fn row(
    book: &crate::money::RateBook,
    label: &str,
    p: &Period,
    ai_cents: i64,
    infra_cents: i64,
    to: Currency,
) -> Result<Value> {
    let mut by_currency = serde_json::Map::new();
    for (code, r) in &p.revenue {
        by_currency.insert(
            code.clone(),
            json!({ "payments": r.payments, "gross": r.gross, "refunded": r.refunded, "net_revenue": r.net() }),
        );
    }
    let usd = by_currency
        .entry("USD")
        .or_insert_with(|| json!({ "payments": 0, "gross": 0, "refunded": 0, "net_revenue": 0 }));
    usd["ai_cost"] = json!(ai_cents);
    usd["infrastructure_cost"] = json!(infra_cents);
    let usd_net = usd["net_revenue"].as_i64().unwrap_or(0);
    usd["profit"] = json!(usd_net - ai_cents - infra_cents);
    let (revenue, mut conversions, missing) = convert_revenue(book, &p.revenue, to, p.last);
    let mut cost = |cents: i64| -> Result<i64> {
        let c = book.convert(Money::new(cents, Currency::Usd), to, p.last)?;
        if to != Currency::Usd {
            conversions.push(c.clone());
        }
        Ok(c.amount.amount)
    };
    let (ai, infra) = (cost(ai_cents), cost(infra_cents));
    let converted = match (revenue, ai, infra) {
        (Some(r), Ok(ai), Ok(infra)) => json!({
            "currency": to,
            "net_revenue": r.amount,
            "ai_cost": ai,
            "infrastructure_cost": infra,
            "profit": r.amount - ai - infra,
            "conversions": conversions,
        }),
        _ => json!({ "currency": to, "unavailable": true, "missing_rates": missing }),
    };
    Ok(json!({
        "period": label,
        "from": date(p.first * DAY_MS),
        "to": date(p.last * DAY_MS),
        "by_currency": by_currency,
        "converted": converted,
    }))
}
