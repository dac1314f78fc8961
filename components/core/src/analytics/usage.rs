//! `GET /api/analytics/usage?days=30`: a tenant's active visitors and what
//! they do.
//!
//! Days already rolled up are read from `analytics_days` and
//! `analytics_day_events`, the last two or three from the raw events; a
//! day is in exactly one of the two (the rollup moves it in one
//! transaction), and both are read in one snapshot.
//!
//! A visitor is known for one UTC day only (see [`super::visitor`]): the
//! same person on two days is two visitor-days. So `dau` is the visitors
//! of the window's last day (today, so far), `wau` and `mau` add up the
//! daily visitors of the last 7 and 30 days (visitor-days, not distinct
//! people: distinct people across days is exactly what the daily salt
//! makes impossible to know), and `stickiness` is `dau / mau`.

use crate::app::Ctx;
use crate::db;
use crate::error::{Error, Result};
use crate::http::{Request, Response};
use crate::params;
use crate::ports::Db;
use crate::tenancy::Scope;
use crate::time::{day_of, rfc3339, DAY_MS};
use serde::Serialize;
use std::collections::BTreeMap;

/// Longest window, in days.
pub const MAX_DAYS: i64 = 90;
/// Window when none is asked for.
pub const DEFAULT_DAYS: i64 = 30;
/// Events named in `top_events`, at most.
pub const TOP_EVENTS: i64 = 10;

/// The window a report covers.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Window {
    /// Start of the first day, RFC 3339.
    pub from: String,
    /// Now, RFC 3339.
    pub to: String,
    /// Days, today included.
    pub days: i64,
}

/// One event name and how often it happened in the window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopEvent {
    /// From the catalogue.
    pub name: String,
    /// Events.
    pub count: i64,
}

/// One day of the window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Day {
    /// `YYYY-MM-DD`, UTC.
    pub date: String,
    /// Distinct visitors that day.
    pub visitors: i64,
    /// Events that day.
    pub events: i64,
}

/// The report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Usage {
    /// Whose.
    pub tenant_id: String,
    /// Over what.
    pub window: Window,
    /// Visitors today (so far).
    pub dau: i64,
    /// Visitor-days over the last 7 days, today included.
    pub wau: i64,
    /// Visitor-days over the last 30 days, today included.
    pub mau: i64,
    /// `dau / mau` (0 to 1, 4 decimals); `null` while `mau` is 0.
    pub stickiness: Option<f64>,
    /// The most frequent events of the window, most frequent first.
    pub top_events: Vec<TopEvent>,
    /// Every day of the window, oldest first.
    pub daily: Vec<Day>,
}

/// Visitors and events per day of `tenant`, for days `from..=to`.
fn per_day(db: &dyn Db, tenant: &str, from: i64, to: i64) -> Result<BTreeMap<i64, (i64, i64)>> {
    let rows = db.execute(
        "SELECT day, visitors, events FROM analytics_days
            WHERE tenant_id = ?1 AND day BETWEEN ?2 AND ?3
         UNION ALL
         SELECT day, COUNT(DISTINCT visitor), COUNT(*) FROM analytics_events
            WHERE tenant_id = ?1 AND day BETWEEN ?2 AND ?3 GROUP BY day",
        params![tenant, from, to],
    )?;
    let mut days = BTreeMap::new();
    for r in rows.rows {
        let e: &mut (i64, i64) = days.entry(r.i64(0)?).or_default();
        e.0 += r.i64(1)?;
        e.1 += r.i64(2)?;
    }
    Ok(days)
}

fn top_events(db: &dyn Db, tenant: &str, from: i64, to: i64) -> Result<Vec<TopEvent>> {
    let rows = db.execute(
        "SELECT name, SUM(n) AS total FROM (
            SELECT name, count AS n FROM analytics_day_events
                WHERE tenant_id = ?1 AND day BETWEEN ?2 AND ?3
            UNION ALL
            SELECT name, COUNT(*) FROM analytics_events
                WHERE tenant_id = ?1 AND day BETWEEN ?2 AND ?3 GROUP BY name
         ) GROUP BY name ORDER BY total DESC, name LIMIT ?4",
        params![tenant, from, to, TOP_EVENTS],
    )?;
    rows.rows
        .iter()
        .map(|r| {
            Ok(TopEvent {
                name: r.text(0)?,
                count: r.i64(1)?,
            })
        })
        .collect()
}

/// The report for `tenant` over the `days` days ending at `now`.
pub fn report(db: &dyn Db, tenant: &str, now: i64, days: i64) -> Result<Usage> {
    let today = day_of(now);
    let from = today - days + 1;
    let (counts, top) = db::read_transaction(db, |db| {
        Ok((
            per_day(db, tenant, from.min(today - 29), today)?,
            top_events(db, tenant, from, today)?,
        ))
    })?;
    let visitors = |d: i64| counts.get(&d).map(|c| c.0).unwrap_or(0);
    let over = |n: i64| (today - n + 1..=today).map(visitors).sum::<i64>();
    let (dau, wau, mau) = (visitors(today), over(7), over(30));
    let stickiness = (mau > 0).then(|| (dau as f64 / mau as f64 * 10_000.0).round() / 10_000.0);
    let daily = (from..=today)
        .map(|d| {
            let (visitors, events) = counts.get(&d).copied().unwrap_or((0, 0));
            Day {
                date: crate::time::date(d * DAY_MS),
                visitors,
                events,
            }
        })
        .collect();
    Ok(Usage {
        tenant_id: tenant.to_string(),
        window: Window {
            from: rfc3339(from * DAY_MS),
            to: rfc3339(now),
            days,
        },
        dau,
        wau,
        mau,
        stickiness,
        top_events: top,
        daily,
    })
}

/// `GET /api/analytics/usage`: for the tenant the request acts in (a
/// tenant's users: their own; admins of the default tenant: `tenant_id`,
/// or the default tenant).
pub fn get(ctx: &Ctx, req: &Request) -> Result<Response> {
    let days = match req.query_param("days") {
        None => DEFAULT_DAYS,
        Some(d) => d
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=MAX_DAYS).contains(d))
            .ok_or_else(|| {
                Error::bad_request(
                    "invalid_days",
                    format!("days must be an integer from 1 to {MAX_DAYS}"),
                )
            })?,
    };
    let tenant = match &ctx.scope {
        Scope::Tenant(t) => t.as_str(),
        Scope::All => ctx.principal.tenant.as_str(),
    };
    let usage = report(ctx.env.db.as_ref(), tenant, ctx.env.clock.now_ms(), days)?;
    Ok(Response::ok(&usage))
}
