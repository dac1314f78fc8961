//! Paying for a job: Stripe Checkout Sessions and what their outcome does
//! to the job.
//!
//! `POST /api/public/checkout/{job_id}` (the job id is the capability, as
//! for job status) asks Stripe for a Checkout Session priced by the job's
//! tenant's plan, in the tenant's currency, and returns its URL. Each
//! session is a row in `checkout_sessions`; a job has at most one open
//! session (asking again returns it), and Stripe sees one idempotency key
//! per job and attempt, so double clicks and two replicas never make two.
//!
//! The tenant's unpaid-jobs policy (`finance::billing::UnpaidJobs`) decides
//! what the session does to the job:
//! - `run` (default): nothing; the job proceeds, and if its checkout
//!   expires unpaid it is billed on the tenant's usage invoice;
//! - `hold`: a job still queued waits from now on (its `run_at` moves a
//!   year ahead, so no worker claims it); payment releases it at once; an
//!   expired checkout cancels it. A job already running or finished is not
//!   held (the answer says so).
//!
//! Outcomes arrive as Stripe events ([`super::webhook`]) and, for sessions
//! whose events never came, from the nightly sweep ([`sweep`]).

use super::stripe::{self, Call, Stripe};
use crate::config;
use crate::error::{Error, Result};
use crate::finance::billing::{self, UnpaidJobs};
use crate::finance::{plans, rates};
use crate::jobs::model::Status;
use crate::jobs::record::Job;
use crate::jobs::store;
use crate::money::{Currency, Money};
use crate::params;
use crate::ports::{Db, DbExt, Env, Row};
use crate::tenancy::{Scope, TenantId};
use crate::time::{rfc3339, DAY_MS};
use serde_json::{json, Value};

/// How long a held job's `run_at` moves ahead: far enough that only a
/// payment (release) or an expiry (cancel) decides its fate.
const HOLD_MS: i64 = 365 * DAY_MS;
/// A session this close to its expiry is not handed out again.
const REUSE_MARGIN_MS: i64 = 5 * 60_000;

/// One Checkout Session of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Stripe's id (`cs_…`).
    pub id: String,
    /// The job it pays for.
    pub job_id: String,
    /// The job's tenant.
    pub tenant_id: String,
    /// What it charges.
    pub amount: Money,
    /// `open`, `paid` or `expired`.
    pub status: String,
    /// The job waits for it (`hold` policy).
    pub held: bool,
    /// Where the customer pays.
    pub url: String,
    /// The payer's email, once known.
    pub email: Option<String>,
    /// Stripe's payment intent, once known.
    pub payment_intent: Option<String>,
    /// The last failed payment attempt's reason.
    pub last_error: Option<String>,
    /// Live or test mode.
    pub livemode: bool,
    /// Created, Unix ms.
    pub created_at: i64,
    /// When Stripe expires it, Unix ms.
    pub expires_at: i64,
    /// When it was paid.
    pub paid_at: Option<i64>,
}

const COLUMNS: &str =
    "id, job_id, tenant_id, amount, currency, status, held, url, email, payment_intent, \
    last_error, livemode, created_at, expires_at, paid_at";

impl Session {
    fn from_row(r: &Row) -> Result<Session> {
        Ok(Session {
            id: r.text(0)?,
            job_id: r.text(1)?,
            tenant_id: r.text(2)?,
            amount: Money::new(r.i64(3)?, Currency::parse(&r.text(4)?)?),
            status: r.text(5)?,
            held: r.bool(6)?,
            url: r.text(7)?,
            email: r.opt_text(8)?,
            payment_intent: r.opt_text(9)?,
            last_error: r.opt_text(10)?,
            livemode: r.bool(11)?,
            created_at: r.i64(12)?,
            expires_at: r.i64(13)?,
            paid_at: r.opt_i64(14)?,
        })
    }

    /// As the public checkout routes serve it (no email: the id is a
    /// capability to pay, not to learn who paid).
    pub fn public_view(&self) -> Value {
        json!({
            "session_id": self.id,
            "job_id": self.job_id,
            "status": self.status,
            "amount": self.amount,
            "url": (self.status == "open").then_some(self.url.as_str()),
            "held": self.held,
            "expires_at": rfc3339(self.expires_at),
            "paid_at": self.paid_at.map(rfc3339),
            "last_payment_error": self.last_error,
        })
    }
}

/// A session by Stripe id.
pub fn get(db: &dyn Db, id: &str) -> Result<Option<Session>> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM checkout_sessions WHERE id = ?1"),
        params![id],
    )?
    .map(|r| Session::from_row(&r))
    .transpose()
}

/// The session of a payment intent.
pub fn by_payment_intent(db: &dyn Db, pi: &str) -> Result<Option<Session>> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM checkout_sessions WHERE payment_intent = ?1"),
        params![pi],
    )?
    .map(|r| Session::from_row(&r))
    .transpose()
}

/// A job's latest session, and how many it has had.
pub fn latest_for_job(db: &dyn Db, job_id: &str) -> Result<(Option<Session>, i64)> {
    let n = db
        .query_one(
            "SELECT COUNT(*) FROM checkout_sessions WHERE job_id = ?1",
            params![job_id],
        )?
        .i64(0)?;
    let latest = db
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM checkout_sessions WHERE job_id = ?1
                 ORDER BY (status = 'paid') DESC, created_at DESC LIMIT 1"
            ),
            params![job_id],
        )?
        .map(|r| Session::from_row(&r))
        .transpose()?;
    Ok((latest, n))
}

/// Where Stripe sends the customer back: `public_base_url`, required once
/// Stripe is configured (never the request's Host header, which a caller
/// chooses).
fn return_base(env: &Env) -> Result<String> {
    match config::text(env.config.as_ref(), "public_base_url")? {
        Some(_) => config::origin(env.config.as_ref(), "public_base_url", ""),
        None => Err(Error::unavailable(
            "not_configured",
            "checkout needs `public_base_url` (the app's public origin, where Stripe sends customers back)",
        )),
    }
}

/// How long a Checkout Session stays payable (`checkout_expires_minutes`,
/// Stripe's range: 30 minutes to 24 hours).
/// The grid a session's expiry is chosen on, in seconds.
const EXPIRY_GRID_S: i64 = 600;

/// When a session created at `now_s` expires: `minutes` after the start of
/// its 10-minute slot, kept within Stripe's bounds (30 minutes to 24 hours
/// after creation). Requests for one job in one slot (a double click, two
/// replicas) send Stripe identical parameters under their shared
/// Idempotency-Key, so the second is replayed, not refused as a different
/// request with a reused key.
fn expiry_on_grid(now_s: i64, minutes: i64) -> i64 {
    let slot = now_s.div_euclid(EXPIRY_GRID_S) * EXPIRY_GRID_S;
    slot + (minutes * 60).clamp(30 * 60 + EXPIRY_GRID_S, 24 * 3600)
}

fn expires_minutes(env: &Env) -> Result<i64> {
    config::int(
        env.config.as_ref(),
        "checkout_expires_minutes",
        1440,
        30,
        1440,
    )
}

/// What `create` did.
#[derive(Debug, Clone)]
pub struct Created {
    /// The session (new, or the job's open one).
    pub session: Session,
    /// An open session was handed out again.
    pub reused: bool,
    /// The price's conversion from the plan's currency, if any.
    pub conversion: Option<crate::money::Converted>,
    /// Why a `hold` tenant's job was not held (it had started).
    pub not_held: Option<String>,
}

/// Create (or hand out again) the Checkout Session for `job_id`.
pub async fn create(env: &Env, job_id: &str) -> Result<Created> {
    let job = store::get(env, &Scope::All, job_id)?;
    if matches!(
        job.status,
        Status::Failed | Status::Dead | Status::Cancelled
    ) {
        return Err(Error::conflict(
            "not_payable",
            format!(
                "job `{job_id}` is {}: there is nothing to pay for",
                job.status.as_str()
            ),
        ));
    }
    let now = env.clock.now_ms();
    let (latest, attempts) = latest_for_job(env.db.as_ref(), job_id)?;
    match &latest {
        Some(l) if l.status == "paid" => {
            return Err(Error::conflict(
                "already_paid",
                format!("job `{job_id}` is paid"),
            ))
        }
        Some(l) if l.status == "open" && l.expires_at > now + REUSE_MARGIN_MS => {
            return Ok(Created {
                session: l.clone(),
                reused: true,
                conversion: None,
                not_held: None,
            })
        }
        _ => {}
    }
    // What needs configuring is asked only for a payable job.
    let s: &Stripe = &stripe::settings(env.config.as_ref())?.ok_or_else(super::not_configured)?;
    let base = return_base(env)?;
    let tenant = TenantId::parse(&job.tenant_id)?;
    let plan = plans::of_tenant(env, &tenant)?;
    let converted =
        rates::book(env)?.convert(plan.price.per_job, plan.currency, now.div_euclid(DAY_MS))?;
    let price = converted.amount;
    if price.amount <= 0 {
        return Err(Error::unprocessable(
            "nothing_to_pay",
            "this tenant's plan does not charge per job",
        ));
    }
    let expires_at_s = expiry_on_grid(now / 1000, expires_minutes(env)?);
    let name = match &job.title {
        Some(t) => format!("EchoPilot job: {}", t.chars().take(120).collect::<String>()),
        None => format!("EchoPilot job {job_id}"),
    };
    let mut call = Call::post(
        "/v1/checkout/sessions",
        format!("echopilot-checkout-{job_id}-{}", attempts + 1),
        "Checkout Sessions: write",
    )
    .field("mode", "payment")
    .field("line_items[0][quantity]", "1")
    .field(
        "line_items[0][price_data][currency]",
        price.currency.stripe_code(),
    )
    .field(
        "line_items[0][price_data][unit_amount]",
        price.amount.to_string(),
    )
    .field("line_items[0][price_data][product_data][name]", name)
    .field("client_reference_id", job_id)
    .field(
        "success_url",
        format!("{base}/?checkout=success&job_id={job_id}"),
    )
    .field(
        "cancel_url",
        format!("{base}/?checkout=cancelled&job_id={job_id}"),
    )
    .field("expires_at", expires_at_s.to_string())
    .field("metadata[job_id]", job_id)
    .field("metadata[tenant_id]", job.tenant_id.as_str())
    .field("payment_intent_data[metadata][job_id]", job_id)
    .field(
        "payment_intent_data[metadata][tenant_id]",
        job.tenant_id.as_str(),
    );
    if let Some(email) = &job.email {
        call = call.field("customer_email", email.as_str());
    }
    let answer = stripe::call(env, s, &call).await?;
    let id = answer
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Error::unavailable("stripe_unavailable", "Stripe's session has no id"))?;
    let url = answer
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::unavailable("stripe_unavailable", "Stripe's session has no url"))?;
    let expires_at = answer
        .get("expires_at")
        .and_then(Value::as_i64)
        .unwrap_or(expires_at_s)
        * 1000;
    let policy = billing::settings(env, &job.tenant_id)?.unpaid_jobs;
    let (held, not_held) = match policy {
        UnpaidJobs::Run => (false, None),
        UnpaidJobs::Hold if job.status == Status::Queued => {
            (hold(env.db.as_ref(), &job, now)?, None)
        }
        UnpaidJobs::Hold => (
            false,
            Some(format!(
                "the job is already {}: only queued jobs wait for payment",
                job.status.as_str()
            )),
        ),
    };
    env.db.exec(
        "INSERT INTO checkout_sessions (id, job_id, tenant_id, amount, currency, status, held, url, email,
            livemode, created_at, expires_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?8, ?9, ?10, ?11, ?10)
         ON CONFLICT (id) DO UPDATE SET held = MAX(held, excluded.held)",
        params![
            id, job_id, job.tenant_id.as_str(), price.amount, price.currency.code(), held, url,
            job.email.as_deref().map(str::to_ascii_lowercase),
            answer.get("livemode").and_then(Value::as_bool).unwrap_or(false),
            now, expires_at
        ],
    )?;
    crate::events::emit(
        env,
        &crate::events::Event::new(
            crate::events::Level::Info,
            "api-billing",
            "checkout",
            "checkout session created",
        )
        .tenant(&job.tenant_id)
        .fields(json!({ "job_id": job_id, "session": id, "amount": price, "held": held })),
    );
    let session =
        get(env.db.as_ref(), id)?.ok_or_else(|| Error::internal("session row missing"))?;
    Ok(Created {
        session,
        reused: false,
        conversion: (plan.price.per_job.currency != price.currency).then_some(converted),
        not_held,
    })
}

/// Hold a queued job: no worker claims it until [`release`].
fn hold(db: &dyn Db, job: &Job, now: i64) -> Result<bool> {
    let rows = db.exec(
        "UPDATE jobs SET run_at = ?2, updated_at = ?3 WHERE id = ?1 AND status = 'queued' RETURNING id",
        params![job.id.as_str(), now + HOLD_MS, now],
    )?;
    Ok(!rows.rows.is_empty())
}

/// Release a held job: due now. Whether it was waiting.
fn release(db: &dyn Db, job_id: &str, now: i64) -> Result<bool> {
    let rows = db.exec(
        "UPDATE jobs SET run_at = ?2, updated_at = ?2 WHERE id = ?1 AND status = 'queued' AND run_at > ?2
         RETURNING id",
        params![job_id, now],
    )?;
    Ok(!rows.rows.is_empty())
}

/// What a paid session changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Paid {
    /// The session was not paid before (this call marked it).
    pub newly: bool,
    /// Its held job was released.
    pub released: bool,
}

/// Mark `session` paid (once) with what the payment told: its intent and
/// the payer's email. Releases a held job.
pub fn mark_paid(
    db: &dyn Db,
    session: &Session,
    payment_intent: Option<&str>,
    email: Option<&str>,
    livemode: bool,
    now: i64,
) -> Result<Paid> {
    let rows = db.exec(
        "UPDATE checkout_sessions SET status = 'paid', paid_at = ?2, updated_at = ?2,
            payment_intent = COALESCE(?3, payment_intent), email = COALESCE(?4, email), livemode = ?5,
            last_error = NULL
         WHERE id = ?1 AND status != 'paid' RETURNING id",
        params![session.id.as_str(), now, payment_intent, email.map(str::to_ascii_lowercase), livemode],
    )?;
    let newly = !rows.rows.is_empty();
    let released = newly && session.held && release(db, &session.job_id, now)?;
    Ok(Paid { newly, released })
}

/// Record a payment intent and payer on a session whose payment is still
/// to clear (asynchronous methods), or a failed attempt's reason.
pub fn note(
    db: &dyn Db,
    session: &Session,
    payment_intent: Option<&str>,
    email: Option<&str>,
    error: Option<&str>,
    now: i64,
) -> Result<()> {
    db.exec(
        "UPDATE checkout_sessions SET payment_intent = COALESCE(?2, payment_intent),
            email = COALESCE(?3, email), last_error = COALESCE(?4, last_error), updated_at = ?5
         WHERE id = ?1",
        params![
            session.id.as_str(),
            payment_intent,
            email.map(str::to_ascii_lowercase),
            error,
            now
        ],
    )?;
    Ok(())
}

/// Mark an open `session` expired; cancels its held job (the job's
/// status afterwards, if it was held).
pub fn expire(env: &Env, session: &Session, now: i64) -> Result<Option<String>> {
    let rows = env.db.exec(
        "UPDATE checkout_sessions SET status = 'expired', updated_at = ?2 WHERE id = ?1 AND status = 'open'
         RETURNING id",
        params![session.id.as_str(), now],
    )?;
    if rows.rows.is_empty() || !session.held {
        return Ok(None);
    }
    // A newer open session of the same job keeps the hold.
    let (latest, _) = latest_for_job(env.db.as_ref(), &session.job_id)?;
    if latest.is_some_and(|l| l.id != session.id && l.status != "expired") {
        return Ok(Some("held by a newer checkout".into()));
    }
    let tenant = TenantId::parse(&session.tenant_id)?;
    match store::cancel(
        env,
        &Scope::Tenant(tenant),
        &session.job_id,
        "checkout expired unpaid (unpaid_jobs = hold)",
    ) {
        Ok(job) => Ok(Some(job.status.as_str().to_string())),
        Err(e) if e.code == "not_cancellable" || e.code == "not_found" => Ok(Some(e.message)),
        Err(e) => Err(e),
    }
}

/// Sessions still open past their expiry (their events never came), at
/// most `limit`, oldest first.
pub fn overdue(db: &dyn Db, now: i64, limit: usize) -> Result<Vec<Session>> {
    let rows = db.exec(
        &format!(
            "SELECT {COLUMNS} FROM checkout_sessions WHERE status = 'open' AND expires_at < ?1
             ORDER BY expires_at LIMIT ?2"
        ),
        params![now, limit],
    )?;
    rows.rows.iter().map(Session::from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_is_one_value_per_slot_and_within_stripes_bounds() {
        for minutes in [30, 45, 600, 1440] {
            for now in [1_800_000_000, 1_800_000_001, 1_800_000_599] {
                let at = expiry_on_grid(now, minutes);
                assert_eq!(
                    at,
                    expiry_on_grid(1_800_000_000, minutes),
                    "one slot, one expiry"
                );
                assert!(
                    at - now >= 30 * 60 && at - now <= 24 * 3600,
                    "{minutes} min at {now}: {}",
                    at - now
                );
            }
        }
    }
}
