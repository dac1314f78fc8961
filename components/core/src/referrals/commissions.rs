//! Commissions: earned on a referred customer's live-mode payment,
//! reversed on its refunds and disputes.
//!
//! Per payment (its payment intent, or charge) there is one `earned` row:
//! `floor(amount × bps / 10,000)` minor units of the payment's currency,
//! available after the refund window. Reversals keep the sum of a
//! payment's rows at `floor((amount − refunded) × bps / 10,000)`: each
//! refund event computes what the total should be and adds the difference,
//! so events may repeat or arrive in any order and the result is the same.
//! A reversal of a commission not yet paid out matures with it (they
//! cancel out in the same payout); of one already paid, it is payable at
//! once, netted against the next payout.

use super::codes;
use crate::error::Result;
use crate::money::Money;
use crate::params;
use crate::ports::{Db, DbExt};

/// A payment that may be a referred customer's.
#[derive(Debug, Clone)]
pub struct Payment<'a> {
    /// The tenant paid.
    pub tenant_id: &'a str,
    /// The payer.
    pub email: &'a str,
    /// The payment intent (or charge).
    pub payment_key: &'a str,
    /// What was paid.
    pub amount: Money,
    /// Refunded so far (as Stripe reports it).
    pub refunded: i64,
    /// Live mode: test-mode payments earn nothing.
    pub livemode: bool,
}

/// What a payment did to commissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not a referred customer (or test mode, or a self-referral).
    None,
    /// Earned (and, after refunds, reversed as much as needed).
    Earned {
        /// The code.
        code: String,
        /// The commission earned (before reversals).
        amount: i64,
    },
    /// Already recorded.
    Known,
}

impl Outcome {
    /// As recorded with the event.
    pub fn view(&self) -> serde_json::Value {
        match self {
            Outcome::None => serde_json::json!({ "referred": false }),
            Outcome::Known => serde_json::json!({ "referred": true, "already_recorded": true }),
            Outcome::Earned { code, amount } => {
                serde_json::json!({ "referred": true, "code": code, "earned": amount })
            }
        }
    }
}

/// Record the commission of `p`, if it was referred; `hold_ms` is the
/// refund window.
pub fn on_payment(db: &dyn Db, p: &Payment<'_>, hold_ms: i64, now: i64) -> Result<Outcome> {
    if !p.livemode || p.amount.amount <= 0 {
        return Ok(Outcome::None);
    }
    let Some(code) = codes::of_customer(db, p.tenant_id, p.email)? else {
        return Ok(Outcome::None);
    };
    if super::canonical_email(p.email) == code.referrer_email {
        return Ok(Outcome::None);
    }
    let amount = p.amount.amount * code.commission_bps / 10_000;
    let inserted = db.exec(
        "INSERT OR IGNORE INTO referral_commissions (code, tenant_id, referrer_id, payment_key, kind, revenue,
            amount, currency, available_at, created_at)
         VALUES (?1, ?2, ?3, ?4, 'earned', ?5, ?6, ?7, ?8, ?9) RETURNING id",
        params![
            code.code.as_str(), p.tenant_id, code.referrer_id.as_str(), p.payment_key, p.amount.amount, amount,
            p.amount.currency.code(), now + hold_ms, now
        ],
    )?;
    if inserted.rows.is_empty() {
        return Ok(Outcome::Known);
    }
    if p.refunded > 0 {
        on_refund(db, p.payment_key, p.refunded, now)?;
    }
    Ok(Outcome::Earned {
        code: code.code,
        amount,
    })
}

/// Bring the commission of `payment_key` in line with `refunded` (the
/// payment's refunded total). The reversal added, if any (negative minor
/// units).
pub fn on_refund(db: &dyn Db, payment_key: &str, refunded: i64, now: i64) -> Result<Option<i64>> {
    let Some(earned) = db.query_opt(
        "SELECT e.revenue, c.commission_bps, e.available_at, e.payout_id IS NOT NULL, e.code, e.tenant_id,
                e.referrer_id, e.currency
         FROM referral_commissions e JOIN referral_codes c ON c.code = e.code
         WHERE e.payment_key = ?1 AND e.kind = 'earned'",
        params![payment_key],
    )?
    else {
        return Ok(None);
    };
    let (revenue, bps) = (earned.i64(0)?, earned.i64(1)?);
    let net = (revenue - refunded).max(0);
    let target = net * bps / 10_000;
    let totals = db.query_one(
        "SELECT COALESCE(SUM(amount), 0), COALESCE(SUM(revenue), 0) FROM referral_commissions WHERE payment_key = ?1",
        params![payment_key],
    )?;
    let (current, current_revenue) = (totals.i64(0)?, totals.i64(1)?);
    if current <= target {
        return Ok(None);
    }
    let delta = target - current;
    let available_at = if earned.bool(3)? {
        now
    } else {
        earned.i64(2)?.max(now)
    };
    db.exec(
        "INSERT INTO referral_commissions (code, tenant_id, referrer_id, payment_key, kind, revenue, amount,
            currency, available_at, created_at)
         VALUES (?1, ?2, ?3, ?4, 'reversal', ?5, ?6, ?7, ?8, ?9)",
        params![
            earned.text(4)?, earned.text(5)?, earned.text(6)?, payment_key, net - current_revenue, delta,
            earned.text(7)?, available_at, now
        ],
    )?;
    Ok(Some(delta))
}
