//! Exchange rates: where they come from and how admins set them.
//!
//! Two sources, both USD per unit of a currency for a given day:
//! - the `exchange_rates` variable (`date=2026-11-01,EUR=1.085,...`), for
//!   deployments that set rates with their configuration;
//! - `POST /api/finance/rates` (admin), stored with their history in
//!   `exchange_rates` and audited (`finance.rates_set`).
//!
//! Every conversion takes the rate in force on the figure's day (the
//! latest for that day or before; for one day an admin's rate beats the
//! variable's), and records it ([`crate::money::Converted`]). With no rate
//! for a currency, figures in it are shown in their own currency and never
//! added to others.

use crate::audit::{self, Event};
use crate::config;
use crate::error::{Error, Result};
use crate::money::{self, Currency, RateBook, UsdRate};
use crate::params;
use crate::ports::{DbExt, Env};
use crate::time::{date, parse_day, DAY_MS};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Every known rate: the variable's and the stored ones.
pub fn book(env: &Env) -> Result<RateBook> {
    let spec = config::text_or(env.config.as_ref(), "exchange_rates", "")?;
    let mut rates = money::parse_rate_spec(&spec, "variable")?;
    let rows = env.db.exec(
        "SELECT currency, day, usd_per_unit_e9 FROM exchange_rates ORDER BY day",
        &[],
    )?;
    for r in &rows.rows {
        rates.push(UsdRate {
            currency: Currency::parse(&r.text(0)?)?,
            day: r.i64(1)?,
            usd_per_unit_e9: r.i64(2)?,
            source: "admin".into(),
        });
    }
    Ok(RateBook::new(rates))
}

/// `POST /api/finance/rates` body: the day and USD per unit of each
/// currency, as decimal text or numbers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRates {
    /// `YYYY-MM-DD`; today when absent.
    pub date: Option<String>,
    /// Currency code → USD per unit.
    pub rates: BTreeMap<String, Value>,
}

/// Store `body`'s rates (admin) and audit them; the rates as stored.
pub fn set(
    env: &Env,
    actor: &str,
    tenant: &str,
    request_id: &str,
    body: &SetRates,
) -> Result<Value> {
    let now = env.clock.now_ms();
    let day = match &body.date {
        Some(d) => parse_day(d).ok_or_else(|| {
            Error::unprocessable("invalid_date", "`date` must be a date like 2026-11-20")
        })?,
        None => now.div_euclid(DAY_MS),
    };
    if day > now.div_euclid(DAY_MS) + 1 {
        return Err(Error::unprocessable(
            "invalid_date",
            "rates cannot be set for days after tomorrow",
        ));
    }
    if body.rates.is_empty() || body.rates.len() > Currency::ALL.len() {
        return Err(Error::unprocessable(
            "invalid_rates",
            "`rates` names one to four currencies other than USD, e.g. {\"EUR\": \"1.085\"}",
        ));
    }
    let mut parsed = Vec::new();
    for (code, value) in &body.rates {
        let currency = Currency::parse(code)?;
        if currency == Currency::Usd {
            return Err(Error::unprocessable(
                "invalid_rates",
                "rates are USD per unit of a currency: USD itself is always 1",
            ));
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        let rate = money::parse_rate(&text).ok_or_else(|| {
            Error::unprocessable(
                "invalid_rates",
                format!("the rate of {code} must be a positive decimal with at most 9 places"),
            )
        })?;
        parsed.push((currency, rate));
    }
    crate::db::transaction(env.db.as_ref(), |db| {
        for (currency, rate) in &parsed {
            db.exec(
                "INSERT INTO exchange_rates (currency, day, usd_per_unit_e9, set_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (currency, day) DO UPDATE SET usd_per_unit_e9 = excluded.usd_per_unit_e9,
                    set_by = excluded.set_by, created_at = excluded.created_at",
                params![currency.code(), day, *rate, actor, now],
            )?;
        }
        Ok(())
    })?;
    let stored: Value = parsed
        .iter()
        .map(|(c, r)| (c.code().to_string(), json!(money::rate_text(*r))))
        .collect::<serde_json::Map<_, _>>()
        .into();
    audit::record(
        env,
        &Event::new(tenant, actor, "finance.rates_set")
            .target(&date(day * DAY_MS))
            .detail(json!({ "usd_per_unit": stored }))
            .request(request_id),
    );
    view(env)
}

/// The rates in force now (the latest of each currency) and the stored
/// history, as served.
pub fn view(env: &Env) -> Result<Value> {
    let book = book(env)?;
    let current: Vec<Value> = book
        .latest()
        .into_iter()
        .map(|r| {
            json!({
                "currency": r.currency,
                "usd_per_unit": money::rate_text(r.usd_per_unit_e9),
                "date": date(r.day * DAY_MS),
                "source": r.source,
            })
        })
        .collect();
    let rows = env.db.exec(
        "SELECT currency, day, usd_per_unit_e9, set_by FROM exchange_rates ORDER BY day DESC, currency LIMIT 200",
        &[],
    )?;
    let history: Vec<Value> = rows
        .rows
        .iter()
        .map(|r| {
            Ok(json!({
                "currency": r.text(0)?,
                "date": date(r.i64(1)? * DAY_MS),
                "usd_per_unit": money::rate_text(r.i64(2)?),
                "set_by": r.text(3)?,
            }))
        })
        .collect::<Result<_>>()?;
    Ok(json!({ "base": "USD", "current": current, "history": history }))
}
