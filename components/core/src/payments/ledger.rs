//! The payments ledger: EchoPilot's copy of the charges Stripe holds, one
//! row per charge, written by reconciliation (Stripe's values win) and by
//! Stripe's webhooks and the refund route ([`merge`], [`add_refunded`],
//! [`set_disputed`]: facts only accumulate, so events arriving out of order
//! never undo a refund or a dispute). Revenue figures are read from it by
//! index range.

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
    write(
        db,
        c,
        source,
        now_ms,
        "tenant_id = excluded.tenant_id, customer = excluded.customer,
         payment_intent = excluded.payment_intent, amount = excluded.amount,
         amount_refunded = excluded.amount_refunded, currency = excluded.currency,
         status = excluded.status, disputed = excluded.disputed,
         description = excluded.description, livemode = excluded.livemode,
         created_at = excluded.created_at, source = excluded.source,
         updated_at = excluded.updated_at",
    )
}

/// Record `c` as a webhook reports it. A new charge is inserted; a known
/// one keeps what it has and only gains: refunds (the larger total wins),
/// a dispute, and the tenant, customer and payment intent if it lacked
/// them. Reconciliation later overwrites with Stripe's list either way.
pub fn merge(db: &dyn Db, c: &Charge, now_ms: i64) -> Result<()> {
    write(
        db,
        c,
        "webhook",
        now_ms,
        "amount_refunded = MAX(amount_refunded, excluded.amount_refunded),
         disputed = MAX(disputed, excluded.disputed),
         tenant_id = COALESCE(tenant_id, excluded.tenant_id),
         customer = COALESCE(customer, excluded.customer),
         payment_intent = COALESCE(payment_intent, excluded.payment_intent),
         updated_at = excluded.updated_at",
    )
}

/// Insert `c`, or apply `on_conflict` (an `UPDATE SET` list) to the row
/// the ledger has.
fn write(db: &dyn Db, c: &Charge, source: &str, now_ms: i64, on_conflict: &str) -> Result<()> {
    db.exec(
        &format!(
            "INSERT INTO payments ({COLUMNS}, source, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT (id) DO UPDATE SET {on_conflict}"
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

/// One charge, if the ledger has it.
pub fn get(db: &dyn Db, id: &str) -> Result<Option<Charge>> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM payments WHERE id = ?1"),
        params![id],
    )?
    .map(|r| charge(&r))
    .transpose()
}

/// The charge of a payment intent, if the ledger has it (the latest one).
pub fn by_payment_intent(db: &dyn Db, payment_intent: &str) -> Result<Option<Charge>> {
    db.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM payments WHERE payment_intent = ?1 ORDER BY created_at DESC LIMIT 1"
        ),
        params![payment_intent],
    )?
    .map(|r| charge(&r))
    .transpose()
}

/// Raise a charge's refunded total to `total` (never lowers it); the
/// charge as it is now.
pub fn add_refunded(db: &dyn Db, id: &str, total: i64, now_ms: i64) -> Result<Option<Charge>> {
    db.exec(
        "UPDATE payments SET amount_refunded = MAX(amount_refunded, MIN(amount, ?2)), updated_at = ?3
         WHERE id = ?1",
        params![id, total, now_ms],
    )?;
    get(db, id)
}

/// Mark a charge disputed; whether the ledger has it.
pub fn set_disputed(db: &dyn Db, id: &str, now_ms: i64) -> Result<bool> {
    let rows = db.exec(
        "UPDATE payments SET disputed = 1, updated_at = ?2 WHERE id = ?1 RETURNING id",
        params![id, now_ms],
    )?;
    Ok(!rows.rows.is_empty())
}

/// The statuses a ledger charge has (Stripe's).
pub const STATUSES: &[&str] = &["succeeded", "pending", "failed"];

/// What a ledger page is narrowed to (`None`: any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// One of [`STATUSES`].
    pub status: Option<String>,
    /// A lower-case ISO 4217 code.
    pub currency: Option<String>,
}

impl Filter {
    /// From the `status` and `currency` query parameters: 400
    /// `invalid_status` for a status the ledger never holds, 422
    /// `invalid_currency` for a currency the product does not know.
    pub fn parse(status: Option<&str>, currency: Option<&str>) -> Result<Filter> {
        let status = match status.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) if STATUSES.contains(&s) => Some(s.to_string()),
            Some(s) => {
                return Err(crate::Error::bad_request(
                    "invalid_status",
                    format!(
                        "`status` must be one of {}, not `{}`",
                        STATUSES.join(", "),
                        s.chars().take(20).collect::<String>()
                    ),
                ))
            }
        };
        let currency = currency
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| crate::money::Currency::parse(c).map(|c| c.code().to_ascii_lowercase()))
            .transpose()?;
        Ok(Filter { status, currency })
    }
}

/// A ledger charge as listed: the charge and the job its checkout paid
/// for, when it came through one.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// The charge.
    pub charge: Charge,
    /// The job of the checkout session with the charge's payment intent.
    pub job_id: Option<String>,
}

/// Ledger charges within a tenant scope matching `filter`, newest first:
/// `limit` of them after the charge `after` (a page's last id), and
/// whether more follow.
pub fn page(
    db: &dyn Db,
    scope: &crate::tenancy::Scope,
    filter: &Filter,
    after: Option<&str>,
    limit: usize,
) -> Result<(Vec<Listed>, bool)> {
    let start = match after {
        Some(id) => {
            let c = get(db, id)?.ok_or_else(|| {
                crate::Error::bad_request("invalid_cursor", "the cursor is not one this API issued")
            })?;
            (c.created_at, c.id)
        }
        None => (i64::MAX, String::new()),
    };
    let (cond, tenant) = scope.condition("tenant_id", 6);
    let mut p = params![
        start.0,
        start.1,
        (limit + 1) as i64,
        filter.status.as_deref(),
        filter.currency.as_deref()
    ]
    .to_vec();
    p.extend(tenant.map(crate::ports::Value::from));
    let rows = db.exec(
        &format!(
            "SELECT {COLUMNS},
               (SELECT s.job_id FROM checkout_sessions s WHERE s.payment_intent = payments.payment_intent
                ORDER BY s.created_at DESC LIMIT 1)
             FROM payments
             WHERE (created_at < ?1 OR (created_at = ?1 AND id < ?2)) AND {cond}
               AND (?4 IS NULL OR status = ?4) AND (?5 IS NULL OR currency = ?5)
             ORDER BY created_at DESC, id DESC LIMIT ?3"
        ),
        &p,
    )?;
    let mut list: Vec<Listed> = rows
        .rows
        .iter()
        .map(|r| {
            Ok(Listed {
                charge: charge(r)?,
                job_id: r.opt_text(12)?,
            })
        })
        .collect::<Result<_>>()?;
    let more = list.len() > limit;
    list.truncate(limit);
    Ok((list, more))
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
