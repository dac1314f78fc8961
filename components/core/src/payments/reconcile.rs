//! Reconciliation: compare the charges Stripe holds for a window with the
//! ledger, and (when applied) bring the ledger in line.
//!
//! Stripe is the source of truth. A charge Stripe has and the ledger lacks
//! is `added` (a webhook that never arrived, or the first run); a charge
//! whose amount, refund, status, currency or dispute differs is `changed`
//! (a refund or dispute after the fact); a ledger charge in the window that
//! Stripe does not list is `local_only`: the ledger is never deleted from,
//! so these are reported and raise a WARNING incident for a person to look
//! at (another account's key, test data, tampering). A dry run fetches and
//! compares but writes nothing.

use super::ledger;
use super::stripe::{self, Charge, Stripe};
use crate::db::transaction;
use crate::error::{Error, Result};
use crate::incidents::{self, NewIncident, Severity};
use crate::params;
use crate::ports::{ids, DbExt, Env};
use crate::time::{rfc3339, DAY_MS};
use serde::Serialize;
use serde_json::{json, Value};

/// Pages fetched per run at most (10,000 charges); a bigger window is
/// reported as truncated and needs narrower runs.
pub const MAX_PAGES: usize = 100;
/// The widest window, in days.
pub const MAX_DAYS: i64 = 90;
/// The scheduled run's window: long enough to see refunds and disputes of
/// recent charges, and to catch up after missed runs.
pub const DEFAULT_DAYS: i64 = 3;
/// Ids listed per category in a result (the counts are exact).
const LISTED: usize = 50;
/// Ids per category linked from the incident (the record has the rest).
const LINKED: usize = 10;

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The field name.
    pub field: &'static str,
    /// What the ledger says.
    pub ledger: Value,
    /// What Stripe says.
    pub stripe: Value,
}

/// A charge whose ledger row differs from Stripe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changed {
    /// The charge.
    pub id: String,
    /// The differing fields.
    pub fields: Vec<FieldChange>,
}

/// A category of differences: an exact count and the first ids.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listed<T> {
    /// How many.
    pub count: usize,
    /// The first [`LISTED`] of them.
    pub items: Vec<T>,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Listed {
            count: 0,
            items: Vec::new(),
        }
    }
}

impl<T> Listed<T> {
    fn push(&mut self, item: T) {
        self.count += 1;
        if self.items.len() < LISTED {
            self.items.push(item);
        }
    }
}

/// What one reconciliation found (and did).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reconciliation {
    /// Set when applied: the `payment_reconciliations` row.
    pub id: Option<String>,
    /// Whether the ledger was written.
    pub applied: bool,
    /// Window start (RFC 3339, inclusive).
    pub from: String,
    /// Window end (RFC 3339, exclusive).
    pub to: String,
    /// Charges Stripe listed.
    pub fetched: usize,
    /// Pages requested.
    pub pages: usize,
    /// In Stripe, not in the ledger.
    pub added: Listed<String>,
    /// In both, different.
    pub changed: Listed<Changed>,
    /// In both, equal.
    pub unchanged: usize,
    /// In the ledger's window, not in Stripe's list (only known when the
    /// list was not truncated).
    pub local_only: Listed<String>,
    /// Objects Stripe returned that could not be read.
    pub unreadable: Listed<String>,
    /// More than [`MAX_PAGES`] pages (or a page with more to come and no id
    /// to continue from): the window was not fully compared.
    pub truncated: bool,
    /// The WARNING incident raised for local-only or unreadable charges.
    pub incident_id: Option<String>,
}

/// The differences between the ledger's row and Stripe's charge.
pub fn diff(ledger: &Charge, stripe: &Charge) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut check = |field: &'static str, a: Value, b: Value| {
        if a != b {
            out.push(FieldChange {
                field,
                ledger: a,
                stripe: b,
            });
        }
    };
    check("amount", json!(ledger.amount), json!(stripe.amount));
    check(
        "amount_refunded",
        json!(ledger.amount_refunded),
        json!(stripe.amount_refunded),
    );
    check("currency", json!(ledger.currency), json!(stripe.currency));
    check("status", json!(ledger.status), json!(stripe.status));
    check("disputed", json!(ledger.disputed), json!(stripe.disputed));
    check(
        "tenant_id",
        json!(ledger.tenant_id),
        json!(stripe.tenant_id),
    );
    check("customer", json!(ledger.customer), json!(stripe.customer));
    check("livemode", json!(ledger.livemode), json!(stripe.livemode));
    out
}

/// Check a `days` argument.
pub fn check_days(days: i64) -> Result<i64> {
    if (1..=MAX_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(Error::unprocessable(
            "invalid_args",
            format!("the window is 1 to {MAX_DAYS} days"),
        ))
    }
}

/// Who asked, for the record.
pub struct Requester<'a> {
    /// `console`, `schedule`.
    pub trigger: &'a str,
    /// The actor (`user:...`, `scheduler`).
    pub actor: &'a str,
}

/// Reconcile the charges created in the last `days` days. With `apply`,
/// write the ledger, record the run and raise an incident for local-only
/// or unreadable charges; without, only report.
pub async fn reconcile(
    env: &Env,
    s: &Stripe,
    days: i64,
    apply: bool,
    who: &Requester<'_>,
) -> Result<Reconciliation> {
    let days = check_days(days)?;
    let now = env.clock.now_ms();
    // Whole seconds: Stripe's `created` is in seconds.
    let to_s = now.div_euclid(1000) + 1;
    let from_s = to_s - days * DAY_MS / 1000;
    let (from_ms, to_ms) = (from_s * 1000, to_s * 1000);
    let mut fetched: Vec<Charge> = Vec::new();
    let mut r = Reconciliation {
        from: rfc3339(from_ms),
        to: rfc3339(to_ms),
        ..Default::default()
    };
    let mut after: Option<String> = None;
    loop {
        if r.pages == MAX_PAGES {
            r.truncated = true;
            break;
        }
        let page = stripe::list_charges(env, s, from_s, to_s, after.as_deref()).await?;
        r.pages += 1;
        page.unreadable
            .into_iter()
            .for_each(|id| r.unreadable.push(id));
        fetched.extend(page.charges);
        if !page.has_more {
            break;
        }
        after = page.last_id;
        if after.is_none() {
            // More pages, but nowhere to continue from: the list is incomplete.
            r.truncated = true;
            break;
        }
    }
    r.fetched = fetched.len();
    let mut known = ledger::in_window(env.db.as_ref(), from_ms, to_ms)?;
    let mut writes: Vec<&Charge> = Vec::new();
    for c in &fetched {
        match known.remove(&c.id) {
            None => {
                r.added.push(c.id.clone());
                writes.push(c);
            }
            Some(local) => {
                let fields = diff(&local, c);
                if fields.is_empty() {
                    r.unchanged += 1;
                } else {
                    r.changed.push(Changed {
                        id: c.id.clone(),
                        fields,
                    });
                    writes.push(c);
                }
            }
        }
    }
    if !r.truncated {
        // An object Stripe listed but we could not read is reported as
        // unreadable, not also as missing from Stripe.
        known
            .into_keys()
            .filter(|id| !r.unreadable.items.contains(id))
            .for_each(|id| r.local_only.push(id));
    }
    if !apply {
        return Ok(r);
    }
    let id = ids::new_id("rec_", now, env.ids.as_ref())?;
    r.id = Some(id.clone());
    r.applied = true;
    transaction(env.db.as_ref(), |db| {
        for c in &writes {
            ledger::upsert(db, c, "reconcile", now)?;
        }
        db.exec(
            "INSERT INTO payment_reconciliations
               (id, started_at, window_from, window_to, trigger, actor, fetched, added, changed,
                unchanged, local_only, unreadable, truncated, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                id.as_str(),
                now,
                from_ms,
                to_ms,
                who.trigger,
                who.actor,
                r.fetched,
                r.added.count,
                r.changed.count,
                r.unchanged,
                r.local_only.count,
                r.unreadable.count,
                r.truncated,
                json!({ "added": r.added, "changed": r.changed, "local_only": r.local_only, "unreadable": r.unreadable }).to_string()
            ],
        )?;
        Ok(())
    })?;
    if r.local_only.count + r.unreadable.count > 0 {
        // The ledger is written: failing to raise the incident is logged,
        // not returned (the reconciliation record lists the ids anyway).
        let first = |l: &Listed<String>| l.items.iter().take(LINKED).cloned().collect::<Vec<_>>();
        let raised = incidents::raise(
            env,
            NewIncident {
                severity: Severity::Warning,
                source: "payments".into(),
                message: format!(
                    "Payments reconciliation: {} ledger charges unknown to Stripe, {} unreadable",
                    r.local_only.count, r.unreadable.count
                ),
                links: json!({ "reconciliation": id, "local_only": first(&r.local_only), "unreadable": first(&r.unreadable) }),
            },
        );
        match raised {
            Ok(raised) => r.incident_id = Some(raised.incident.id),
            Err(e) => crate::log::error(
                "payments",
                &format!("reconciliation {id}: could not raise its incident: {e}"),
            ),
        }
    }
    Ok(r)
}

/// The latest applied reconciliations, newest first.
pub fn recent(env: &Env, limit: usize) -> Result<Vec<Value>> {
    let rows = env.db.exec(
        "SELECT id, started_at, window_from, window_to, trigger, actor, fetched, added, changed,
                unchanged, local_only, unreadable, truncated, detail
         FROM payment_reconciliations ORDER BY started_at DESC, id DESC LIMIT ?1",
        params![limit],
    )?;
    rows.rows
        .iter()
        .map(|r| {
            Ok(json!({
                "id": r.text(0)?,
                "at": rfc3339(r.i64(1)?),
                "from": rfc3339(r.i64(2)?),
                "to": rfc3339(r.i64(3)?),
                "trigger": r.text(4)?,
                "actor": r.text(5)?,
                "fetched": r.i64(6)?,
                "added": r.i64(7)?,
                "changed": r.i64(8)?,
                "unchanged": r.i64(9)?,
                "local_only": r.i64(10)?,
                "unreadable": r.i64(11)?,
                "truncated": r.bool(12)?,
                "detail": serde_json::from_str::<Value>(&r.text(13)?).unwrap_or(Value::Null),
            }))
        })
        .collect()
}
