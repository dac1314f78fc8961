//! `POST /api/payments/refund` (admin): full or partial refunds through
//! Stripe, under the seeds' guardrail.
//!
//! - The charge must be in the ledger (reconcile first for an old one) and
//!   in the caller's tenant scope (a tenant's admin refunds only that
//!   tenant's charges; charges of no tenant only the platform's admins).
//! - No single refund above `refund_cap_usd` ($5,000 by default): a refund
//!   in another currency is converted at today's rate for the check (no
//!   rate: refused, the guardrail fails closed). A refusal is audited.
//! - Partial refunds: any amount up to what is left of the charge.
//! - Stripe gets an `Idempotency-Key` (the caller's `Idempotency-Key`
//!   header, or one derived from the charge, what was refunded before and
//!   the amount), so a double click is one refund. The request's
//!   parameters depend only on what the caller asked (never on the request
//!   id or the time): Stripe refuses a key reused with other parameters,
//!   so a retry with the same key must send the same request. A retry
//!   Stripe answers with the refund it already made changes nothing and
//!   is not audited again (the answer says `replayed`).
//! - Stripe's answer updates the ledger, the refunds table, the receipt and
//!   the referral commission in one transaction, and `payments.refund` is
//!   appended to the audit chain.

use super::ledger;
use super::receipts;
use super::stripe::{self, Call, Stripe};
use crate::audit::{self, Change, Who};
use crate::config;
use crate::db::transaction;
use crate::error::{Error, Kind, Result};
use crate::money::{Currency, Money};
use crate::params;
use crate::ports::{DbExt, Env};
use crate::referrals::commissions;
use crate::tenancy::Scope;
use crate::time::DAY_MS;
use serde::Deserialize;
use serde_json::{json, Value};

/// Stripe's refund reasons.
pub const REASONS: &[&str] = &["duplicate", "fraudulent", "requested_by_customer"];

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The charge (`ch_…`), or…
    pub charge_id: Option<String>,
    /// …its payment intent (`pi_…`).
    pub payment_intent: Option<String>,
    /// Minor units; the whole remainder when absent.
    pub amount: Option<i64>,
    /// One of [`REASONS`].
    pub reason: Option<String>,
    /// For the audit record.
    pub note: Option<String>,
}

/// Who asks.
pub struct Caller<'a> {
    /// The scope the guard resolved.
    pub scope: &'a Scope,
    /// Actor for the record.
    pub actor: &'a str,
    /// Home tenant, for the audit entry.
    pub tenant: &'a str,
    /// The request.
    pub request_id: &'a str,
    /// The client's address.
    pub client: &'a str,
    /// The caller's `Idempotency-Key`, if any.
    pub idempotency_key: Option<&'a str>,
}

impl Caller<'_> {
    /// Who refunds, for the audit chain: recorded in the charge's tenant
    /// (the caller's own for a charge without one).
    fn who(&self, charge_tenant: Option<&str>) -> Who {
        Who {
            tenant: charge_tenant.unwrap_or(self.tenant).to_string(),
            actor: self.actor.to_string(),
            client: (!self.client.is_empty()).then(|| self.client.to_string()),
            request_id: Some(self.request_id.to_string()),
        }
    }
}

/// Record a refund's business event; the refund is already decided (or
/// done at the processor), so a failure to record is logged, not returned.
fn record(env: &Env, who: &Who, action: &str, change: Change) {
    if let Err(e) = audit::record_business(env, who, action, change) {
        crate::log::error("audit", &format!("could not append {action}: {e}"));
    }
}

/// The guardrail in US cents (`refund_cap_usd`, 5,000 by default).
pub fn cap_cents(env: &Env) -> Result<i64> {
    Ok(config::int(env.config.as_ref(), "refund_cap_usd", 5_000, 1, 10_000_000)? * 100)
}

fn id_field(name: &str, v: &str, prefix: &str) -> Result<String> {
    let ok = v.starts_with(prefix)
        && v.len() <= 255
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(v.to_string())
    } else {
        Err(Error::unprocessable(
            "invalid_field",
            format!("`{name}` must be a Stripe id starting with `{prefix}`"),
        ))
    }
}

/// Refund as asked; the refund and the charge afterwards.
/// `settings` (Stripe's) are read only once the refund is valid and within the cap: an
/// unknown charge is 404 whether or not payments are configured.
pub async fn refund(
    env: &Env,
    settings: impl FnOnce() -> Result<Stripe>,
    who: &Caller<'_>,
    req: &Request,
) -> Result<Value> {
    let charge = match (&req.charge_id, &req.payment_intent) {
        (Some(c), None) => ledger::get(env.db.as_ref(), &id_field("charge_id", c, "ch_")?)?,
        (None, Some(p)) => {
            ledger::by_payment_intent(env.db.as_ref(), &id_field("payment_intent", p, "pi_")?)?
        }
        _ => {
            return Err(Error::unprocessable(
                "invalid_refund",
                "name the payment with exactly one of `charge_id` and `payment_intent`",
            ))
        }
    };
    // Another tenant's charge answers like an unknown one.
    let charge = charge
        .filter(|c| match (who.scope, &c.tenant_id) {
            (Scope::All, _) => true,
            (Scope::Tenant(t), Some(owner)) => t.as_str() == owner,
            (Scope::Tenant(_), None) => false,
        })
        .ok_or_else(|| {
            Error::new(
                Kind::NotFound,
                "unknown_charge",
                "no such charge in the payments ledger (for an older charge, reconcile a wider window first)",
            )
        })?;
    if charge.status != "succeeded" {
        return Err(Error::conflict(
            "not_refundable",
            format!("the charge is {}", charge.status),
        ));
    }
    let remaining = charge.amount - charge.amount_refunded;
    if remaining <= 0 {
        return Err(Error::conflict(
            "already_refunded",
            "the charge is refunded in full",
        ));
    }
    let amount = req.amount.unwrap_or(remaining);
    if amount < 1 || amount > remaining {
        return Err(Error::unprocessable(
            "refund_exceeds_charge",
            format!("the amount must be 1 to {remaining} minor units (what is left of the charge)"),
        ));
    }
    if let Some(r) = &req.reason {
        if !REASONS.contains(&r.as_str()) {
            return Err(Error::unprocessable(
                "invalid_reason",
                format!("`reason` is one of {}", REASONS.join(", ")),
            ));
        }
    }
    if req.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(Error::unprocessable(
            "invalid_note",
            "`note` is at most 500 characters",
        ));
    }
    let currency = Currency::parse(&charge.currency)?;
    let money = Money::new(amount, currency);
    let now = env.clock.now_ms();
    let cap = cap_cents(env)?;
    let usd =
        crate::finance::rates::book(env)?.convert(money, Currency::Usd, now.div_euclid(DAY_MS))?;
    let guardrail = json!({ "cap": Money::new(cap, Currency::Usd), "amount_usd": usd });
    if usd.amount.amount > cap {
        record(
            env,
            &who.who(charge.tenant_id.as_deref()),
            "payments.refund_refused",
            Change::on(&charge.id)
                .detail(json!({ "amount": money, "guardrail": guardrail, "note": req.note })),
        );
        return Err(Error::unprocessable(
            "refund_over_cap",
            format!(
                "a single refund may not exceed USD {} (refund_cap_usd); this one is USD {}",
                Money::new(cap, Currency::Usd).decimal(),
                usd.amount.decimal()
            ),
        ));
    }
    let key = match who.idempotency_key {
        Some(k) => crate::jobs::store::parse_idempotency_key(k)?,
        None => format!(
            "echopilot-refund-{}-{}-{}",
            charge.id, charge.amount_refunded, amount
        ),
    };
    let mut call = Call::post("/v1/refunds", key.clone(), "Refunds: write")
        .field("charge", charge.id.as_str())
        .field("amount", amount.to_string())
        .field("metadata[requested_by]", who.actor)
        .field("metadata[idempotency_key]", key.as_str());
    if let Some(r) = &req.reason {
        call = call.field("reason", r.as_str());
    }
    let answer = stripe::call(env, &settings()?, &call).await?;
    let refund_id = answer
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Error::unavailable("stripe_unavailable", "Stripe's refund has no id"))?
        .to_string();
    let status = answer
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("pending")
        .to_string();
    let refunded_amount = answer
        .get("amount")
        .and_then(Value::as_i64)
        .unwrap_or(amount);
    let hold_key = charge
        .payment_intent
        .clone()
        .unwrap_or_else(|| charge.id.clone());
    let (after, replayed) = transaction(env.db.as_ref(), |db| {
        // Stripe replays a refund it already made for this key: one this
        // route recorded before. (A row `charge.refunded` recorded first,
        // actor `stripe`, is this refund's own event: it takes the caller's
        // actor, request, reason and note below, and is audited.)
        let replayed = db
            .query_opt(
                "SELECT 1 FROM refunds WHERE id = ?1 AND actor != 'stripe'",
                params![refund_id.as_str()],
            )?
            .is_some();
        db.exec(
            "INSERT INTO refunds (id, charge_id, payment_intent, tenant_id, amount, currency, status, reason, note,
                actor, request_id, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                actor = CASE WHEN refunds.actor = 'stripe' THEN excluded.actor ELSE refunds.actor END,
                request_id = COALESCE(refunds.request_id, excluded.request_id),
                reason = COALESCE(refunds.reason, excluded.reason), note = COALESCE(refunds.note, excluded.note)",
            params![
                refund_id.as_str(), charge.id.as_str(), charge.payment_intent.as_deref(), charge.tenant_id.as_deref(),
                refunded_amount, charge.currency.as_str(), status.as_str(), req.reason.as_deref(), req.note.as_deref(),
                who.actor, who.request_id, now
            ],
        )?;
        let known = db
            .query_one(
                "SELECT COALESCE(SUM(amount), 0) FROM refunds
                 WHERE charge_id = ?1 AND status IN ('succeeded', 'pending', 'requires_action')",
                params![charge.id.as_str()],
            )?
            .i64(0)?;
        let after = ledger::add_refunded(db, &charge.id, known, now)?
            .ok_or_else(|| Error::internal("the charge left the ledger"))?;
        receipts::update(db, &hold_key, Some(&charge.id), after.amount_refunded, now)?;
        commissions::on_refund(db, &hold_key, after.amount_refunded, now)?;
        Ok((after, replayed))
    })?;
    if !replayed {
        record(
            env,
            &who.who(charge.tenant_id.as_deref()),
            "payments.refund",
            Change::on(&charge.id)
                .before(json!({ "amount_refunded": Money::new(charge.amount_refunded, currency) }))
                .after(json!({ "amount_refunded": Money::new(after.amount_refunded, currency) }))
                .detail(json!({
                    "refund": refund_id, "amount": Money::new(refunded_amount, currency), "status": status,
                    "reason": req.reason, "note": req.note, "guardrail": guardrail, "idempotency_key": key,
                })),
        );
    }
    Ok(json!({
        "replayed": replayed,
        "refund": {
            "id": refund_id, "status": status, "amount": Money::new(refunded_amount, currency),
            "reason": req.reason,
        },
        "charge": {
            "id": after.id, "amount": Money::new(after.amount, currency),
            "amount_refunded": Money::new(after.amount_refunded, currency),
            "remaining": Money::new(after.amount - after.amount_refunded, currency),
            "tenant_id": after.tenant_id,
        },
        "guardrail": guardrail,
    }))
}
