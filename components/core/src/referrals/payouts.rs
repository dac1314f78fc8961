//! What referrers earned and are owed: the leaderboard, the payout CSV
//! and recorded payouts.
//!
//! A commission row is *held* until its `available_at`, then *payable*
//! until a payout takes it, then *paid*. Sums stay per currency; ranking
//! and the minimum payout compare USD, converted at today's rates with
//! each conversion recorded.

use super::codes::{self, Code};
use crate::audit::{self, Event};
use crate::error::{Error, Result};
use crate::money::{Converted, Currency, Money, RateBook, Totals};
use crate::params;
use crate::ports::{ids, DbExt, Env};
use crate::tenancy::Scope;
use crate::time::{rfc3339, DAY_MS};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One code's figures.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Clicks in the window.
    pub clicks: i64,
    /// Signups in the window.
    pub signups: i64,
    /// Referred payments in the window.
    pub conversions: i64,
    /// Their revenue, net of refunds, per currency.
    pub revenue: Totals,
    /// Commission net of reversals, per currency.
    pub commission: Totals,
    /// Of the commission (all time): held, payable, paid.
    pub held: Totals,
    /// Payable now.
    pub payable: Totals,
    /// Paid out.
    pub paid: Totals,
    /// Revenue of the payable commissions.
    pub payable_revenue: Totals,
}

fn scalar(env: &Env, sql: &str, p: &[crate::ports::Value]) -> Result<i64> {
    env.db.query_one(sql, p)?.i64(0)
}

/// The figures of `code` for activity since `since_ms` (commission states
/// are as of now, over all time).
pub fn figures(env: &Env, code: &str, since_ms: i64) -> Result<Figures> {
    let now = env.clock.now_ms();
    let mut f = Figures {
        clicks: scalar(
            env,
            "SELECT COALESCE(SUM(n), 0) FROM referral_clicks WHERE code = ?1 AND day >= ?2",
            params![code, since_ms.div_euclid(DAY_MS)],
        )?,
        signups: scalar(
            env,
            "SELECT COUNT(*) FROM referral_signups WHERE code = ?1 AND created_at >= ?2",
            params![code, since_ms],
        )?,
        conversions: scalar(
            env,
            "SELECT COUNT(*) FROM referral_commissions WHERE code = ?1 AND kind = 'earned' AND created_at >= ?2",
            params![code, since_ms],
        )?,
        ..Figures::default()
    };
    let rows = env.db.exec(
        "SELECT currency, revenue, amount, available_at, payout_id IS NOT NULL, created_at
         FROM referral_commissions WHERE code = ?1",
        params![code],
    )?;
    for r in &rows.rows {
        let currency = Currency::parse(&r.text(0)?)?;
        let (revenue, amount) = (
            Money::new(r.i64(1)?, currency),
            Money::new(r.i64(2)?, currency),
        );
        if r.i64(5)? >= since_ms {
            f.revenue.add(revenue);
            f.commission.add(amount);
        }
        if r.bool(4)? {
            f.paid.add(amount);
        } else if r.i64(3)? <= now {
            f.payable.add(amount);
            f.payable_revenue.add(revenue);
        } else {
            f.held.add(amount);
        }
    }
    Ok(f)
}

/// `totals` in USD at the rates of `day`: the sum and each conversion, or
/// `None` (with the currencies lacking a rate) when one is missing.
pub fn in_usd(
    book: &RateBook,
    totals: &Totals,
    day: i64,
) -> (Option<Money>, Vec<Converted>, Vec<String>) {
    let mut sum = 0;
    let mut conversions = Vec::new();
    let mut missing = Vec::new();
    for m in totals.iter() {
        match book.convert(m, Currency::Usd, day) {
            Ok(c) => {
                sum += c.amount.amount;
                if m.currency != Currency::Usd {
                    conversions.push(c);
                }
            }
            Err(_) => missing.push(m.currency.code().to_string()),
        }
    }
    let total = missing.is_empty().then_some(Money::new(sum, Currency::Usd));
    (total, conversions, missing)
}

fn money_view(book: &RateBook, t: &Totals, day: i64) -> Value {
    let (usd, conversions, missing) = in_usd(book, t, day);
    json!({ "by_currency": t.view(), "usd": usd, "conversions": conversions, "missing_rates": missing })
}

/// `GET /api/growth/referrals`: totals and the leaderboard (by revenue in
/// USD, highest first; codes whose revenue cannot be converted last), and
/// the same per campaign.
pub fn leaderboard(env: &Env, scope: &Scope, days: i64, campaign: Option<&str>) -> Result<Value> {
    let now = env.clock.now_ms();
    let since = now - days * DAY_MS;
    let today = now.div_euclid(DAY_MS);
    let book = crate::finance::rates::book(env)?;
    let list = codes::list(env, scope, campaign)?;
    let mut rows: Vec<(Option<i64>, Value, String, Figures)> = Vec::new();
    let mut all = Figures::default();
    for c in &list {
        let f = figures(env, &c.code, since)?;
        let (usd, _, _) = in_usd(&book, &f.revenue, today);
        all.clicks += f.clicks;
        all.signups += f.signups;
        all.conversions += f.conversions;
        for (from, to) in [
            (&f.revenue, &mut all.revenue),
            (&f.commission, &mut all.commission),
            (&f.held, &mut all.held),
            (&f.payable, &mut all.payable),
            (&f.paid, &mut all.paid),
        ] {
            from.iter().for_each(|m| to.add(m));
        }
        let mut v = c.view(f.clicks, f.signups, f.conversions);
        v["revenue"] = money_view(&book, &f.revenue, today);
        v["commission"] = money_view(&book, &f.commission, today);
        v["held"] = f.held.view();
        v["payable"] = f.payable.view();
        v["paid"] = f.paid.view();
        rows.push((usd.map(|m| m.amount), v, c.campaign.clone(), f));
    }
    rows.sort_by(|a, b| b.0.unwrap_or(i64::MIN).cmp(&a.0.unwrap_or(i64::MIN)));
    let mut campaigns: BTreeMap<String, Figures> = BTreeMap::new();
    for (_, _, name, f) in &rows {
        let c = campaigns.entry(name.clone()).or_default();
        c.clicks += f.clicks;
        c.signups += f.signups;
        c.conversions += f.conversions;
        f.revenue.iter().for_each(|m| c.revenue.add(m));
        f.commission.iter().for_each(|m| c.commission.add(m));
    }
    let (cond, tenant) = scope.condition("c.tenant_id", 2);
    let mut p = params![since].to_vec();
    p.extend(tenant.map(crate::ports::Value::from));
    let refusals = env.db.exec(
        &format!(
            "SELECT r.reason, COUNT(*) FROM referral_refusals r JOIN referral_codes c ON c.code = r.code
             WHERE r.at >= ?1 AND {cond} GROUP BY r.reason"
        ),
        &p,
    )?;
    let mut refused = json!({ "self_referral": 0, "duplicate_signup": 0 });
    for r in &refusals.rows {
        refused[r.text(0)?] = json!(r.i64(1)?);
    }
    Ok(json!({
        "period_days": days,
        "total_referrals": list.len(),
        "total_clicks": all.clicks,
        "total_signups": all.signups,
        "total_conversions": all.conversions,
        "total_revenue": money_view(&book, &all.revenue, today),
        "total_payout": money_view(&book, &all.commission, today),
        "held": all.held.view(),
        "payable": all.payable.view(),
        "paid": all.paid.view(),
        "refused": refused,
        "referrals": rows.into_iter().map(|(_, v, _, _)| v).collect::<Vec<_>>(),
        "campaigns": campaigns.iter().map(|(name, f)| json!({
            "campaign": name,
            "clicks": f.clicks,
            "signups": f.signups,
            "conversions": f.conversions,
            "revenue": money_view(&book, &f.revenue, today),
            "commission": money_view(&book, &f.commission, today),
        })).collect::<Vec<_>>(),
    }))
}

/// The CSV's header: the seeds' columns, then how each USD figure was
/// converted.
pub const CSV_HEADER: &str =
    "referral_code,referrer_id,campaign,signups,conversions,revenue_usd,payout_usd,payable_by_currency,conversions_used";

fn csv_field(s: &str) -> String {
    // Quote when needed; a leading =, +, - or @ is neutralised so a
    // spreadsheet never runs it as a formula.
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn describe(totals: &Totals) -> String {
    totals
        .iter()
        .map(|m| format!("{} {}", m.currency.code(), m.decimal()))
        .collect::<Vec<_>>()
        .join("; ")
}

fn describe_conversions(list: &[Converted]) -> String {
    list.iter()
        .map(|c| {
            format!(
                "{} {} @ {} ({}, {})",
                c.from.currency.code(),
                c.from.decimal(),
                c.rate,
                c.rate_date,
                c.rate_source
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// One referrer's payable position.
struct Owed {
    codes: Vec<(Code, Figures)>,
    payable: Totals,
    usd: Option<Money>,
}

fn owed(env: &Env, scope: &Scope) -> Result<BTreeMap<(String, String), Owed>> {
    let book = crate::finance::rates::book(env)?;
    let today = env.clock.now_ms().div_euclid(DAY_MS);
    let mut by_referrer: BTreeMap<(String, String), Owed> = BTreeMap::new();
    for c in codes::list(env, scope, None)? {
        let f = figures(env, &c.code, 0)?;
        let o = by_referrer
            .entry((c.tenant_id.clone(), c.referrer_id.clone()))
            .or_insert_with(|| Owed {
                codes: Vec::new(),
                payable: Totals::default(),
                usd: None,
            });
        f.payable.iter().for_each(|m| o.payable.add(m));
        o.codes.push((c, f));
    }
    for o in by_referrer.values_mut() {
        // A currency whose payable sum is negative (reversals after a
        // payout) is carried, not paid: it nets against later earnings.
        let positive: Totals = {
            let mut t = Totals::default();
            o.payable
                .iter()
                .filter(|m| m.amount > 0)
                .for_each(|m| t.add(m));
            t
        };
        o.usd = in_usd(&book, &positive, today).0;
    }
    Ok(by_referrer)
}

/// `GET /api/growth/payouts/export`: one CSV row per code of every
/// referrer owed at least the minimum payout (USD, at today's rates);
/// `revenue_usd` and `payout_usd` are those of the payable commissions,
/// `signups` and `conversions` the code's totals.
pub fn export_csv(env: &Env, scope: &Scope) -> Result<String> {
    let min = super::min_payout_cents(env.config.as_ref())?;
    let book = crate::finance::rates::book(env)?;
    let today = env.clock.now_ms().div_euclid(DAY_MS);
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for o in owed(env, scope)?.values() {
        if o.usd.is_none_or(|u| u.amount < min || u.amount <= 0) {
            continue;
        }
        for (c, f) in &o.codes {
            if f.payable.is_empty() {
                continue;
            }
            let (revenue, rc, _) = in_usd(&book, &f.payable_revenue, today);
            let (payout, pc, _) = in_usd(&book, &f.payable, today);
            let mut used = rc;
            used.extend(pc);
            let row = [
                c.code.clone(),
                c.referrer_id.clone(),
                c.campaign.clone(),
                f.signups.to_string(),
                f.conversions.to_string(),
                revenue.map(|m| m.decimal()).unwrap_or_default(),
                payout.map(|m| m.decimal()).unwrap_or_default(),
                describe(&f.payable),
                describe_conversions(&used),
            ];
            out.push_str(
                &row.iter()
                    .map(|s| csv_field(s))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
    }
    Ok(out)
}

/// Record a payout of everything `referrer` is owed now (admin): the
/// payable commissions in currencies whose sum is positive, if their USD
/// value reaches the minimum payout (422 `below_minimum_payout`). Audited
/// as `growth.payout_recorded`.
pub fn record(
    env: &Env,
    scope: &Scope,
    referrer: &str,
    actor: &str,
    request_id: &str,
) -> Result<Value> {
    let min = super::min_payout_cents(env.config.as_ref())?;
    let now = env.clock.now_ms();
    let all = owed(env, scope)?;
    let Some(((tenant, _), o)) = all.iter().find(|((_, r), _)| r == referrer) else {
        return Err(Error::not_found(format!("no referrer `{referrer}`")));
    };
    let usd = o.usd.ok_or_else(|| {
        Error::unprocessable(
            "missing_exchange_rate",
            "the payable amount cannot be converted to USD: set exchange rates",
        )
    })?;
    if usd.amount < min || usd.amount <= 0 {
        return Err(Error::unprocessable(
            "below_minimum_payout",
            format!(
                "{referrer} is owed USD {}, below the minimum payout of USD {}",
                usd.decimal(),
                Money::new(min, Currency::Usd).decimal()
            ),
        ));
    }
    let currencies: Vec<&str> = o
        .payable
        .iter()
        .filter(|m| m.amount > 0)
        .map(|m| m.currency.code())
        .collect();
    let id = ids::new_id("po_", now, env.ids.as_ref())?;
    let codes: Vec<String> = o.codes.iter().map(|(c, _)| c.code.clone()).collect();
    let taken = crate::db::transaction(env.db.as_ref(), |db| {
        let mut n = 0;
        for code in &codes {
            for cur in &currencies {
                n += db
                    .exec(
                        "UPDATE referral_commissions SET payout_id = ?1
                         WHERE code = ?2 AND currency = ?3 AND payout_id IS NULL AND available_at <= ?4 RETURNING id",
                        params![id.as_str(), code.as_str(), *cur, now],
                    )?
                    .rows
                    .len();
            }
        }
        db.exec(
            "INSERT INTO referral_payouts (id, tenant_id, referrer_id, amounts, commissions, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id.as_str(), tenant.as_str(), referrer, o.payable.view().to_string(), n, actor, now],
        )?;
        Ok(n)
    })?;
    let mut paid = Totals::default();
    o.payable
        .iter()
        .filter(|m| m.amount > 0)
        .for_each(|m| paid.add(m));
    audit::record(
        env,
        &Event::new(tenant, actor, "growth.payout_recorded")
            .target(referrer)
            .detail(
                json!({ "payout": id, "amounts": paid.view(), "usd": usd, "commissions": taken }),
            )
            .request(request_id),
    );
    Ok(json!({
        "id": id,
        "referrer_id": referrer,
        "tenant_id": tenant,
        "amounts": paid.view(),
        "usd": usd,
        "commissions": taken,
        "created_at": rfc3339(now),
    }))
}
