//! Tenant billing: per-tenant settings, usage per month priced by the
//! tenant's plan, and invoice drafts an operator sends through Stripe
//! (`payments::invoicing`).
//!
//! Usage of a month: the tenant's jobs completed in it, less those paid at
//! checkout (a job is never billed twice), against the jobs the plan
//! includes. Lines are priced in the plan's currency and converted into
//! the tenant's billing currency at the rate in force on the month's last
//! day (today, for the month in progress), each converted line recording
//! its rate and date.

use super::{plans, rates};
use crate::audit::{self, Event};
use crate::error::{Error, Result};
use crate::jobs::model::Email;
use crate::money::{Converted, Money};
use crate::params;
use crate::ports::{ids, DbError, DbExt, Env, Row};
use crate::tenancy::{Scope, TenantId};
use crate::time::{date, rfc3339, DAY_MS};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What happens to a job whose checkout is not paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnpaidJobs {
    /// The job runs whether or not it is paid (the default): an unpaid
    /// checkout expires and the job is billed on the tenant's usage
    /// invoice instead.
    Run,
    /// The job waits from the moment its checkout is created until it is
    /// paid; if the checkout expires unpaid, the job is cancelled.
    Hold,
}

impl UnpaidJobs {
    fn parse(s: &str) -> Result<UnpaidJobs> {
        match s {
            "run" => Ok(UnpaidJobs::Run),
            "hold" => Ok(UnpaidJobs::Hold),
            _ => Err(Error::unprocessable(
                "invalid_unpaid_jobs",
                "`unpaid_jobs` is `run` (work proceeds, billed later) or `hold` (work waits for payment)",
            )),
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            UnpaidJobs::Run => "run",
            UnpaidJobs::Hold => "hold",
        }
    }
}

/// A tenant's billing settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The tenant.
    pub tenant_id: String,
    /// The unpaid-jobs policy.
    pub unpaid_jobs: UnpaidJobs,
    /// Where usage invoices are sent.
    pub billing_email: Option<String>,
    /// The tenant's Stripe customer, once an invoice was sent.
    pub stripe_customer: Option<String>,
}

impl Settings {
    /// As served.
    pub fn view(&self) -> Value {
        json!({
            "tenant_id": self.tenant_id,
            "unpaid_jobs": self.unpaid_jobs,
            "billing_email": self.billing_email,
            "stripe_customer": self.stripe_customer,
        })
    }
}

/// `tenant`'s billing settings (the defaults when never set).
pub fn settings(env: &Env, tenant: &str) -> Result<Settings> {
    let row = env.db.query_opt(
        "SELECT unpaid_jobs, billing_email, stripe_customer FROM billing_settings WHERE tenant_id = ?1",
        params![tenant],
    )?;
    Ok(match row {
        Some(r) => Settings {
            tenant_id: tenant.into(),
            unpaid_jobs: UnpaidJobs::parse(&r.text(0)?)?,
            billing_email: r.opt_text(1)?,
            stripe_customer: r.opt_text(2)?,
        },
        None => Settings {
            tenant_id: tenant.into(),
            unpaid_jobs: UnpaidJobs::Run,
            billing_email: None,
            stripe_customer: None,
        },
    })
}

/// `PATCH /api/billing/settings` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    /// `run` or `hold`.
    pub unpaid_jobs: Option<String>,
    /// Where invoices go; `null` clears it.
    #[serde(default, with = "double_option")]
    pub billing_email: Option<Option<String>>,
}

/// `Option<Option<T>>` for JSON: absent (no change) versus `null` (clear).
pub(crate) mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// Change `tenant`'s settings (audited as `billing.settings_changed`).
pub fn change(
    env: &Env,
    tenant: &TenantId,
    actor: &str,
    request_id: &str,
    c: &SettingsChange,
) -> Result<Settings> {
    crate::identity::tenants::require(env, tenant)?;
    let current = settings(env, tenant.as_str())?;
    let unpaid = match &c.unpaid_jobs {
        Some(u) => UnpaidJobs::parse(u)?,
        None => current.unpaid_jobs,
    };
    let email = match &c.billing_email {
        None => current.billing_email.clone(),
        Some(None) => None,
        Some(Some(e)) => Some(Email::parse(e)?.as_str().to_ascii_lowercase()),
    };
    env.db.exec(
        "INSERT INTO billing_settings (tenant_id, unpaid_jobs, billing_email, updated_by, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant_id) DO UPDATE SET unpaid_jobs = excluded.unpaid_jobs,
            billing_email = excluded.billing_email, updated_by = excluded.updated_by,
            updated_at = excluded.updated_at",
        params![tenant.as_str(), unpaid.as_str(), email.as_deref(), actor, env.clock.now_ms()],
    )?;
    audit::record(
        env,
        &Event::new(tenant.as_str(), actor, "billing.settings_changed")
            .target(tenant.as_str())
            .detail(json!({ "unpaid_jobs": unpaid, "billing_email_set": email.is_some() }))
            .request(request_id),
    );
    settings(env, tenant.as_str())
}

/// Remember the Stripe customer made for `tenant`.
pub fn set_stripe_customer(env: &Env, tenant: &str, customer: &str) -> Result<()> {
    env.db.exec(
        "INSERT INTO billing_settings (tenant_id, unpaid_jobs, stripe_customer, updated_by, updated_at)
         VALUES (?1, 'run', ?2, 'stripe', ?3)
         ON CONFLICT (tenant_id) DO UPDATE SET stripe_customer = excluded.stripe_customer,
            updated_at = excluded.updated_at",
        params![tenant, customer, env.clock.now_ms()],
    )?;
    Ok(())
}

/// A billing month: `YYYY-MM` and its bounds in Unix ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// `YYYY-MM`.
    pub label: String,
    /// First instant.
    pub start_ms: i64,
    /// First instant of the next month.
    pub end_ms: i64,
}

impl Period {
    /// Parse `YYYY-MM` (400 `invalid_period`).
    pub fn parse(s: &str) -> Result<Period> {
        let bad = || Error::bad_request("invalid_period", "`period` is a month like 2026-11");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let (y, m): (i64, i64) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if !(1..=12).contains(&m) || !(1970..=9999).contains(&y) {
            return Err(bad());
        }
        let start = crate::time::parse_day(&format!("{y:04}-{m:02}-01")).ok_or_else(bad)?;
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let end = crate::time::parse_day(&format!("{ny:04}-{nm:02}-01")).ok_or_else(bad)?;
        Ok(Period {
            label: format!("{y:04}-{m:02}"),
            start_ms: start * DAY_MS,
            end_ms: end * DAY_MS,
        })
    }

    /// The month containing `ms`.
    pub fn containing(ms: i64) -> Period {
        Period::parse(&date(ms)[..7]).expect("a date's month parses")
    }
}

/// One priced line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// `plan` or `jobs`.
    pub kind: &'static str,
    /// For people (and for the Stripe invoice item).
    pub description: String,
    /// How many.
    pub quantity: i64,
    /// The unit price in the billing currency.
    pub unit_amount: Money,
    /// `quantity × unit_amount`.
    pub amount: Money,
    /// The unit price's conversion from the plan's currency, if any.
    pub conversion: Option<Converted>,
}

/// A tenant's usage in a month, priced.
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    /// The tenant.
    pub tenant_id: String,
    /// `YYYY-MM`.
    pub period: String,
    /// Whether the month is still running (its figures may grow).
    pub open: bool,
    /// The plan.
    pub plan: String,
    /// Jobs completed in the month.
    pub jobs_completed: i64,
    /// Of those, paid at checkout (not billed again).
    pub paid_at_checkout: i64,
    /// Jobs the plan's fee includes.
    pub included_jobs: i64,
    /// Jobs billed at the per-job price.
    pub billable_jobs: i64,
    /// The priced lines.
    pub lines: Vec<Line>,
    /// Their sum, in the billing currency.
    pub total: Money,
}

fn count(env: &Env, tenant: &str, p: &Period, paid_only: bool) -> Result<i64> {
    let paid = if paid_only {
        " AND id IN (SELECT job_id FROM checkout_sessions WHERE status = 'paid' AND tenant_id = ?1)"
    } else {
        ""
    };
    env.db
        .query_one(
            &format!(
                "SELECT COUNT(*) FROM jobs WHERE tenant_id = ?1 AND status = 'completed'
                 AND finished_at >= ?2 AND finished_at < ?3{paid}"
            ),
            params![tenant, p.start_ms, p.end_ms],
        )?
        .i64(0)
}

/// `tenant`'s usage in `period`, priced by its plan.
pub fn usage(env: &Env, tenant: &TenantId, period: &Period) -> Result<Usage> {
    let plan = plans::of_tenant(env, tenant)?;
    let book = rates::book(env)?;
    let now = env.clock.now_ms();
    let open = period.end_ms > now;
    let rate_day = (period.end_ms.min(now) - 1).div_euclid(DAY_MS);
    let completed = count(env, tenant.as_str(), period, false)?;
    let paid = count(env, tenant.as_str(), period, true)?;
    let billable = (completed - paid - plan.price.included_jobs).max(0);
    let mut lines = Vec::new();
    let mut priced =
        |kind: &'static str, description: String, quantity: i64, unit: Money| -> Result<()> {
            let converted = book.convert(unit, plan.currency, rate_day)?;
            let unit_amount = converted.amount;
            lines.push(Line {
                kind,
                description,
                quantity,
                unit_amount,
                amount: Money::new(unit_amount.amount * quantity, plan.currency),
                conversion: (unit.currency != plan.currency).then_some(converted),
            });
            Ok(())
        };
    if plan.price.monthly.amount > 0 {
        priced(
            "plan",
            format!("EchoPilot {} plan, {}", plan.price.plan, period.label),
            1,
            plan.price.monthly,
        )?;
    }
    if billable > 0 {
        priced(
            "jobs",
            format!(
                "Jobs beyond the {} included ({} completed, {} paid at checkout), {}",
                plan.price.included_jobs, completed, paid, period.label
            ),
            billable,
            plan.price.per_job,
        )?;
    }
    let total = Money::new(lines.iter().map(|l| l.amount.amount).sum(), plan.currency);
    Ok(Usage {
        tenant_id: tenant.as_str().into(),
        period: period.label.clone(),
        open,
        plan: plan.price.plan.clone(),
        jobs_completed: completed,
        paid_at_checkout: paid,
        included_jobs: plan.price.included_jobs,
        billable_jobs: billable,
        lines,
        total,
    })
}

/// The tenants a scope covers (all tenants for the platform's admins).
pub fn tenants_in(env: &Env, scope: &Scope) -> Result<Vec<TenantId>> {
    crate::identity::tenants::list(env, scope)?
        .into_iter()
        .map(|t| TenantId::parse(&t.id))
        .collect()
}

/// An invoice draft (or a sent or paid invoice).
#[derive(Debug, Clone, PartialEq)]
pub struct Invoice {
    /// `inv_…`.
    pub id: String,
    /// The tenant.
    pub tenant_id: String,
    /// `YYYY-MM`.
    pub period: String,
    /// The plan at drafting.
    pub plan: String,
    /// The lines as drafted (JSON).
    pub lines: Value,
    /// The total.
    pub total: Money,
    /// `draft`, `sent`, `paid`, `void`.
    pub status: String,
    /// Stripe's invoice, once sent.
    pub stripe_invoice: Option<String>,
    /// Stripe's hosted page for the customer.
    pub hosted_url: Option<String>,
    /// Who drafted it.
    pub created_by: String,
    created_at: i64,
    sent_at: Option<i64>,
    paid_at: Option<i64>,
}

const INVOICE_COLUMNS: &str =
    "id, tenant_id, period, plan, currency, lines, total, status, stripe_invoice, \
    hosted_url, created_by, created_at, sent_at, paid_at";

impl Invoice {
    fn from_row(r: &Row) -> Result<Invoice> {
        let currency = crate::money::Currency::parse(&r.text(4)?)?;
        Ok(Invoice {
            id: r.text(0)?,
            tenant_id: r.text(1)?,
            period: r.text(2)?,
            plan: r.text(3)?,
            lines: serde_json::from_str(&r.text(5)?).unwrap_or(Value::Null),
            total: Money::new(r.i64(6)?, currency),
            status: r.text(7)?,
            stripe_invoice: r.opt_text(8)?,
            hosted_url: r.opt_text(9)?,
            created_by: r.text(10)?,
            created_at: r.i64(11)?,
            sent_at: r.opt_i64(12)?,
            paid_at: r.opt_i64(13)?,
        })
    }

    /// As served.
    pub fn view(&self) -> Value {
        json!({
            "id": self.id, "tenant_id": self.tenant_id, "period": self.period, "plan": self.plan,
            "lines": self.lines, "total": self.total, "status": self.status,
            "stripe_invoice": self.stripe_invoice, "hosted_url": self.hosted_url,
            "created_by": self.created_by, "created_at": rfc3339(self.created_at),
            "sent_at": self.sent_at.map(rfc3339), "paid_at": self.paid_at.map(rfc3339),
        })
    }
}

/// Draft `tenant`'s invoice for a closed month (409 `invoice_exists` if
/// one is drafted, sent or paid; 422 `period_open` for the month in
/// progress). Audited as `billing.invoice_drafted`.
pub fn draft(
    env: &Env,
    tenant: &TenantId,
    period: &Period,
    actor: &str,
    request_id: &str,
) -> Result<Invoice> {
    let now = env.clock.now_ms();
    if period.end_ms > now {
        return Err(Error::unprocessable(
            "period_open",
            format!(
                "{} has not ended: draft its invoice from the first of next month",
                period.label
            ),
        ));
    }
    let u = usage(env, tenant, period)?;
    let id = ids::new_id("inv_", now, env.ids.as_ref())?;
    let lines = serde_json::to_string(&u.lines)?;
    let inserted = env.db.execute(
        &format!(
            "INSERT INTO invoices (id, tenant_id, period, plan, currency, lines, total, status, created_by,
                created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'draft', ?8, ?9, ?9) RETURNING {INVOICE_COLUMNS}"
        ),
        params![
            id.as_str(), tenant.as_str(), period.label.as_str(), u.plan.as_str(),
            u.total.currency.code(), lines, u.total.amount, actor, now
        ],
    );
    let invoice = match inserted {
        Ok(rows) => Invoice::from_row(
            rows.first()
                .ok_or_else(|| Error::internal("insert returned nothing"))?,
        )?,
        Err(DbError::Constraint(_)) => {
            return Err(Error::conflict(
                "invoice_exists",
                format!(
                    "{} already has an invoice for {}",
                    tenant.as_str(),
                    period.label
                ),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        env,
        &Event::new(tenant.as_str(), actor, "billing.invoice_drafted")
            .target(&invoice.id)
            .detail(json!({ "period": invoice.period, "total": invoice.total }))
            .request(request_id),
    );
    Ok(invoice)
}

/// An invoice within `scope` (404 otherwise).
pub fn invoice(env: &Env, scope: &Scope, id: &str) -> Result<Invoice> {
    let (cond, tenant) = scope.condition("tenant_id", 2);
    let mut p = vec![crate::ports::Value::from(id)];
    p.extend(tenant.map(crate::ports::Value::from));
    env.db
        .query_opt(
            &format!("SELECT {INVOICE_COLUMNS} FROM invoices WHERE id = ?1 AND {cond}"),
            &p,
        )?
        .map(|r| Invoice::from_row(&r))
        .transpose()?
        .ok_or_else(|| Error::not_found(format!("no invoice `{id}`")))
}

/// Invoices within `scope`, newest first (at most 200).
pub fn invoices(env: &Env, scope: &Scope, period: Option<&Period>) -> Result<Vec<Invoice>> {
    let (cond, tenant) = scope.condition("tenant_id", 2);
    let mut p = vec![crate::ports::Value::from(period.map(|p| p.label.clone()))];
    p.extend(tenant.map(crate::ports::Value::from));
    let rows = env.db.exec(
        &format!(
            "SELECT {INVOICE_COLUMNS} FROM invoices WHERE (?1 IS NULL OR period = ?1) AND {cond}
             ORDER BY created_at DESC, id DESC LIMIT 200"
        ),
        &p,
    )?;
    rows.rows.iter().map(Invoice::from_row).collect()
}

/// Record that `id` was sent through Stripe.
pub fn mark_sent(
    env: &Env,
    id: &str,
    stripe_invoice: &str,
    hosted_url: Option<&str>,
) -> Result<()> {
    let now = env.clock.now_ms();
    env.db.exec(
        "UPDATE invoices SET status = 'sent', stripe_invoice = ?2, hosted_url = ?3, sent_at = ?4, updated_at = ?4
         WHERE id = ?1 AND status = 'draft'",
        params![id, stripe_invoice, hosted_url, now],
    )?;
    Ok(())
}
