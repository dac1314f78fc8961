//! The payments ledger: EchoPilot's copy of the charges Stripe holds, one
//! row per charge, written by reconciliation (and, once billing lands, by
//! Stripe's webhooks). Revenue figures are read from it by index range.

use super::stripe::Charge;
use crate::error::Result;
use crate::params;
use crate::ports::{Db, DbExt, Row};
use serde::Serialize;
use std::collections::BTreeMap;

const COLUMNS: &str =
    "id, tenant_id, customer, payment_intent, amount, amount_refunded, currency, \
                       status, disputed, description, livemode, created_at";

fn charge(r: &Row) -> Result<Charge> {
    Ok(Charge {
        id: r.text(0)?,
        tenant_id: r.opt_text(1)?,
        customer: r.opt_text(2)?,
        payment_intent: r.opt_text(3)?,
        amount: r.i64(4)?,
        amount_refunded: r.i64(5)?,
        currency: r.text(6)?,
        status: r.text(7)?,
        disputed: r.bool(8)?,
        description: r.opt_text(9)?,
        livemode: r.bool(10)?,
        created_at: r.i64(11)?,
    })
}

/// The ledger's charges created in `[from_ms, to_ms)`, by id.
pub fn in_window(db: &dyn Db, from_ms: i64, to_ms: i64) -> Result<BTreeMap<String, Charge>> {
    let rows = db.exec(
        &format!("SELECT {COLUMNS} FROM payments WHERE created_at >= ?1 AND created_at < ?2"),
        params![from_ms, to_ms],
    )?;
    rows.rows
        .iter()
        .map(|r| charge(r).map(|c| (c.id.clone(), c)))
        .collect()
}

/// Insert or update `c` as Stripe reports it; `source` says who wrote it
/// (`reconcile` or `webhook`).
pub fn upsert(db: &dyn Db, c: &Charge, source: &str, now_ms: i64) -> Result<()> {
    db.exec(
        &format!(
            "INSERT INTO payments ({COLUMNS}, source, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT (id) DO UPDATE SET
               tenant_id = excluded.tenant_id, customer = excluded.customer,
               payment_intent = excluded.payment_intent, amount = excluded.amount,
               amount_refunded = excluded.amount_refunded, currency = excluded.currency,
               status = excluded.status, disputed = excluded.disputed,
               description = excluded.description, livemode = excluded.livemode,
               created_at = excluded.created_at, source = excluded.source,
               updated_at = excluded.updated_at"
        ),
        params![
            c.id.as_str(),
            c.tenant_id.as_deref(),
            c.customer.as_deref(),
            c.payment_intent.as_deref(),
            c.amount,
            c.amount_refunded,
            c.currency.as_str(),
            c.status.as_str(),
            c.disputed,
            c.description.as_deref(),
            c.livemode,
            c.created_at,
            source,
            now_ms
        ],
    )?;
    Ok(())
}

/// Revenue in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Revenue {
    /// Succeeded charges.
    pub charges: i64,
    /// Their amounts, minor units.
    pub gross: i64,
    /// Refunded from them so far.
    pub refunded: i64,
    /// Gross less refunded.
    pub net: i64,
}

/// Revenue of the succeeded charges created in `[from_ms, to_ms)` in live
/// mode (`live`) or test mode, by currency (minor units; refunds as known
/// now). Test-mode charges never count as revenue.
pub fn revenue(
    db: &dyn Db,
    from_ms: i64,
    to_ms: i64,
    live: bool,
) -> Result<BTreeMap<String, Revenue>> {
    let rows = db.exec(
        "SELECT currency, COUNT(*), SUM(amount), SUM(amount_refunded) FROM payments
         WHERE created_at >= ?1 AND created_at < ?2 AND status = 'succeeded' AND livemode = ?3
         GROUP BY currency",
        params![from_ms, to_ms, live],
    )?;
    rows.rows
        .iter()
        .map(|r| {
            let (gross, refunded) = (r.i64(2)?, r.i64(3)?);
            Ok((
                r.text(0)?,
                Revenue {
                    charges: r.i64(1)?,
                    gross,
                    refunded,
                    net: gross - refunded,
                },
            ))
        })
        .collect()
}
