//! `POST /api/stripe/webhook`: Stripe's events, verified and applied once.
//!
//! 1. The `Stripe-Signature` header is verified against the raw body
//!    ([`super::signature`]); unsigned, tampered or stale deliveries are
//!    answered 400 and change nothing (a warning in the event log says
//!    why). Without `stripe_webhook_secret` the endpoint answers 503.
//! 2. In one `BEGIN IMMEDIATE` transaction the event's id is inserted into
//!    `stripe_events` (its primary key) and its effects are written. A
//!    delivery whose id is already there (Stripe retrying, a replay inside
//!    the tolerance, the same event reaching two replicas at once) finds
//!    the row, changes nothing and is answered 200: the second replica
//!    waits for the first's write lock, then sees its row.
//! 3. Effects, by type:
//!    - `checkout.session.completed`: the job's session is paid (its held
//!      job released), a receipt for the payer, a referral commission;
//!    - `checkout.session.expired`: the session expires; a held job is
//!      cancelled;
//!    - `payment_intent.succeeded`: the charge enters the ledger; the
//!      session is paid if its completion event has not come yet;
//!    - `payment_intent.payment_failed`: the reason is kept on the session;
//!    - `charge.refunded`: ledger refunds, the refunds themselves, the
//!      receipt, and the commission reversed on the refunded part;
//!    - `charge.dispute.created`: the ledger marks the charge disputed, the
//!      commission is reversed, and a WARNING incident is raised;
//!    - `invoice.paid`: the usage invoice is paid, the ledger, a receipt,
//!      a commission;
//!    - anything else is acknowledged and recorded as `unrecognised`.
//!
//! Effects only accumulate (a refund total never goes down, a paid session
//! stays paid), so events arriving out of order reach the same state.

use super::checkout::{self, Session};
use super::ledger;
use super::receipts::{self, NewReceipt};
use super::signature;
use super::stripe::Charge;
use crate::db::transaction;
use crate::error::{Error, Result};
use crate::events::{self, Level};
use crate::incidents::{self, NewIncident, Severity};
use crate::money::{Currency, Money};
use crate::params;
use crate::ports::{Db, DbExt, Env};
use crate::referrals::{self, commissions};
use serde_json::{json, Value};

/// The largest event body read (Stripe's events are far smaller).
pub const BODY_LIMIT: usize = 512 * 1024;

/// A verified event.
#[derive(Debug, Clone)]
pub struct Event {
    /// `evt_…`.
    pub id: String,
    /// `checkout.session.completed`, …
    pub kind: String,
    /// Live or test mode.
    pub livemode: bool,
    /// When Stripe created it, Unix ms.
    pub created_ms: i64,
    /// `data.object`.
    pub object: Value,
}

impl Event {
    /// Parse a verified payload (400 `invalid_event` if it is not an event).
    pub fn parse(payload: &[u8]) -> Result<Event> {
        let bad =
            |why: &str| Error::bad_request("invalid_event", format!("not a Stripe event: {why}"));
        let v: Value = serde_json::from_slice(payload).map_err(|_| bad("the body is not JSON"))?;
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && s.len() <= 255)
        };
        Ok(Event {
            id: text("id").ok_or_else(|| bad("no id"))?.to_string(),
            kind: text("type").ok_or_else(|| bad("no type"))?.to_string(),
            livemode: v.get("livemode").and_then(Value::as_bool).unwrap_or(false),
            created_ms: v
                .get("created")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                .saturating_mul(1000),
            object: v
                .pointer("/data/object")
                .cloned()
                .ok_or_else(|| bad("no data.object"))?,
        })
    }
}

/// What applying an event did.
#[derive(Debug, Clone)]
struct Applied {
    outcome: &'static str,
    detail: Value,
    incident: Option<NewIncident>,
}

impl Applied {
    fn acted(detail: Value) -> Applied {
        Applied {
            outcome: "applied",
            detail,
            incident: None,
        }
    }
    fn ignored(why: &str) -> Applied {
        Applied {
            outcome: "ignored",
            detail: json!({ "reason": why }),
            incident: None,
        }
    }
}

/// The id of a field that is either an id or an expanded object.
fn id_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Receive one delivery: verify, record and apply once. The answer's
/// `data` says what happened (`applied`, `ignored`, `unrecognised`,
/// `duplicate`).
pub fn receive(
    env: &Env,
    signature_header: Option<&str>,
    payload: &[u8],
    request_id: &str,
    client: &str,
) -> Result<Value> {
    // An unsigned delivery is refused whatever the configuration.
    if signature_header.is_none_or(|h| h.trim().is_empty()) {
        return Err(signature::missing());
    }
    let secrets = signature::secrets(env.config.as_ref())?.ok_or_else(|| {
        Error::unavailable(
            "not_configured",
            "Stripe webhooks are not configured: set `stripe_webhook_secret` to the endpoint's signing secret",
        )
    })?;
    let now = env.clock.now_ms();
    if let Err(e) = signature::verify(signature_header, payload, &secrets, now.div_euclid(1000)) {
        events::emit(
            env,
            &events::Event::new(
                Level::Warn,
                "api-billing",
                "stripe",
                "webhook delivery refused",
            )
            .request(request_id)
            .fields(json!({ "code": e.code, "client": client, "bytes": payload.len() })),
        );
        return Err(e);
    }
    let event = Event::parse(payload)?;
    let hold_ms = referrals::hold_ms(env.config.as_ref())?;
    let applied = transaction(env.db.as_ref(), |db| {
        let inserted = db.exec(
            "INSERT INTO stripe_events (id, type, livemode, created_at, received_at, outcome, detail, request_id)
             VALUES (?1, ?2, ?3, ?4, ?5, 'applied', '{}', ?6) ON CONFLICT (id) DO NOTHING RETURNING id",
            params![event.id.as_str(), event.kind.as_str(), event.livemode, event.created_ms, now, request_id],
        )?;
        if inserted.rows.is_empty() {
            return Ok(None);
        }
        let a = apply(env, db, &event, hold_ms, now)?;
        db.exec(
            "UPDATE stripe_events SET outcome = ?2, detail = ?3 WHERE id = ?1",
            params![event.id.as_str(), a.outcome, a.detail.to_string()],
        )?;
        Ok(Some(a))
    })?;
    let Some(a) = applied else {
        return Ok(
            json!({ "received": true, "id": event.id, "type": event.kind, "outcome": "duplicate" }),
        );
    };
    if let Some(incident) = a.incident.clone() {
        // The event is recorded: a failure to raise is logged, and the
        // dispute is in the ledger and the event record either way.
        if let Err(e) = incidents::raise(env, incident) {
            crate::log::error(
                "stripe",
                &format!("event {}: incident not raised: {e}", event.id),
            );
        }
    }
    events::emit(
        env,
        &events::Event::new(
            Level::Info,
            "api-billing",
            "stripe",
            "webhook event received",
        )
        .request(request_id)
        .fields(json!({ "event": event.id, "type": event.kind, "outcome": a.outcome })),
    );
    Ok(json!({
        "received": true, "id": event.id, "type": event.kind, "outcome": a.outcome, "detail": a.detail,
    }))
}

fn apply(env: &Env, db: &dyn Db, e: &Event, hold_ms: i64, now: i64) -> Result<Applied> {
    let o = &e.object;
    match e.kind.as_str() {
        "checkout.session.completed" => session_completed(env, db, o, e.livemode, hold_ms, now),
        "checkout.session.expired" => session_expired(env, db, o, now),
        "payment_intent.succeeded" => intent_succeeded(env, db, o, e.livemode, hold_ms, now),
        "payment_intent.payment_failed" => intent_failed(db, o, now),
        "charge.refunded" => charge_refunded(db, o, now),
        "charge.dispute.created" => dispute_created(db, o, now),
        "invoice.paid" => invoice_paid(env, db, o, e.livemode, hold_ms, now),
        _ => Ok(Applied {
            outcome: "unrecognised",
            detail: json!({ "reason": "EchoPilot does not act on this event type" }),
            incident: None,
        }),
    }
}

/// The session a Checkout Session object or a payment intent is about.
fn session_of_intent(db: &dyn Db, pi: &Value) -> Result<Option<Session>> {
    if let Some(s) = id_of(pi.get("id"))
        .map(|id| checkout::by_payment_intent(db, &id))
        .transpose()?
        .flatten()
    {
        return Ok(Some(s));
    }
    // The intent may be new to us: its metadata names the job.
    match text(pi, "/metadata/job_id") {
        Some(job) => Ok(checkout::latest_for_job(db, job)?.0),
        None => Ok(None),
    }
}

/// Apply a Checkout Session object as Stripe reports it (the event's, or
/// the sweep's fetch).
pub fn apply_session(
    env: &Env,
    db: &dyn Db,
    o: &Value,
    livemode: bool,
    hold_ms: i64,
    now: i64,
) -> Result<Value> {
    let completed = if text(o, "/status") == Some("expired") {
        session_expired(env, db, o, now)?
    } else {
        session_completed(env, db, o, livemode, hold_ms, now)?
    };
    Ok(json!({ "outcome": completed.outcome, "detail": completed.detail }))
}

fn session_completed(
    env: &Env,
    db: &dyn Db,
    o: &Value,
    livemode: bool,
    hold_ms: i64,
    now: i64,
) -> Result<Applied> {
    let Some(session) = id_of(o.get("id"))
        .map(|id| checkout::get(db, &id))
        .transpose()?
        .flatten()
    else {
        return Ok(Applied::ignored("not an EchoPilot checkout session"));
    };
    let pi = id_of(o.get("payment_intent"));
    let email = text(o, "/customer_details/email").or_else(|| text(o, "/customer_email"));
    match text(o, "/payment_status") {
        Some("paid" | "no_payment_required") => paid(
            env,
            db,
            &session,
            pi.as_deref(),
            email,
            livemode,
            hold_ms,
            now,
        ),
        _ => {
            // An asynchronous method: payment_intent.succeeded will settle it.
            checkout::note(db, &session, pi.as_deref(), email, None, now)?;
            Ok(Applied::acted(
                json!({ "session": session.id, "awaiting_payment": true }),
            ))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn paid(
    env: &Env,
    db: &dyn Db,
    session: &Session,
    pi: Option<&str>,
    email: Option<&str>,
    livemode: bool,
    hold_ms: i64,
    now: i64,
) -> Result<Applied> {
    let marked = checkout::mark_paid(db, session, pi, email, livemode, now)?;
    let mut detail = json!({
        "session": session.id, "job_id": session.job_id, "newly_paid": marked.newly, "released": marked.released,
    });
    let email = email.map(str::to_string).or_else(|| session.email.clone());
    if let (true, Some(email)) = (marked.newly, email) {
        let key = pi.unwrap_or(&session.id);
        let charge = pi
            .map(|pi| ledger::by_payment_intent(db, pi))
            .transpose()?
            .flatten();
        settle(
            env,
            db,
            &NewReceipt {
                tenant_id: &session.tenant_id,
                email: &email,
                payment_key: key,
                charge_id: charge.as_ref().map(|c| c.id.as_str()),
                job_id: Some(&session.job_id),
                invoice_id: None,
                description: format!("EchoPilot job {}", session.job_id),
                amount: session.amount,
                livemode,
            },
            charge.as_ref().map_or(0, |c| c.amount_refunded),
            hold_ms,
            now,
            &mut detail,
        )?;
    }
    Ok(Applied::acted(detail))
}

/// A payment settled: its receipt for the customer, and the referral
/// commission it earns (if the customer was referred), noted in `detail`.
#[allow(clippy::too_many_arguments)]
fn settle(
    env: &Env,
    db: &dyn Db,
    r: &NewReceipt<'_>,
    refunded: i64,
    hold_ms: i64,
    now: i64,
    detail: &mut Value,
) -> Result<()> {
    let receipt = receipts::record(db, env.ids.as_ref(), r, now)?;
    let commission = commissions::on_payment(
        db,
        &commissions::Payment {
            tenant_id: r.tenant_id,
            email: r.email,
            payment_key: r.payment_key,
            amount: r.amount,
            refunded,
            livemode: r.livemode,
        },
        hold_ms,
        now,
    )?;
    detail["receipt"] = json!(receipt.id);
    detail["commission"] = commission.view();
    Ok(())
}

fn session_expired(env: &Env, db: &dyn Db, o: &Value, now: i64) -> Result<Applied> {
    let Some(session) = id_of(o.get("id"))
        .map(|id| checkout::get(db, &id))
        .transpose()?
        .flatten()
    else {
        return Ok(Applied::ignored("not an EchoPilot checkout session"));
    };
    let job = checkout::expire(env, &session, now)?;
    Ok(Applied::acted(
        json!({ "session": session.id, "job_id": session.job_id, "held_job": job }),
    ))
}

/// A charge the ledger keeps, from the fields a payment intent or an
/// invoice carries.
#[allow(clippy::too_many_arguments)]
fn charge_from(
    id: String,
    tenant: Option<&str>,
    customer: Option<String>,
    pi: Option<String>,
    amount: i64,
    currency: &str,
    description: Option<&str>,
    livemode: bool,
    created_s: i64,
) -> Charge {
    Charge {
        id,
        tenant_id: tenant.map(str::to_string),
        customer,
        payment_intent: pi,
        amount,
        amount_refunded: 0,
        currency: currency.to_ascii_lowercase(),
        status: "succeeded".into(),
        disputed: false,
        description: description.map(str::to_string),
        livemode,
        created_at: created_s.saturating_mul(1000),
    }
}

fn intent_succeeded(
    env: &Env,
    db: &dyn Db,
    o: &Value,
    livemode: bool,
    hold_ms: i64,
    now: i64,
) -> Result<Applied> {
    let Some(pi) = id_of(o.get("id")) else {
        return Ok(Applied::ignored("a payment intent without an id"));
    };
    let amount = o
        .get("amount_received")
        .or_else(|| o.get("amount"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let currency = text(o, "/currency").unwrap_or("");
    let charge_id = id_of(o.get("latest_charge"));
    if let Some(charge_id) = &charge_id {
        ledger::merge(
            db,
            &charge_from(
                charge_id.clone(),
                text(o, "/metadata/tenant_id"),
                id_of(o.get("customer")),
                Some(pi.clone()),
                amount,
                currency,
                text(o, "/description"),
                livemode,
                o.get("created")
                    .and_then(Value::as_i64)
                    .unwrap_or(now / 1000),
            ),
            now,
        )?;
        receipts::update(db, &pi, Some(charge_id), 0, now)?;
    }
    let mut detail = json!({ "payment_intent": pi, "charge": charge_id });
    if let Some(session) = session_of_intent(db, o)? {
        let a = paid(
            env,
            db,
            &session,
            Some(&pi),
            text(o, "/receipt_email"),
            livemode,
            hold_ms,
            now,
        )?;
        detail["checkout"] = a.detail;
    }
    Ok(Applied::acted(detail))
}

fn intent_failed(db: &dyn Db, o: &Value, now: i64) -> Result<Applied> {
    let reason = text(o, "/last_payment_error/message").unwrap_or("the payment failed");
    let Some(session) = session_of_intent(db, o)? else {
        return Ok(Applied::ignored("not an EchoPilot checkout's payment"));
    };
    checkout::note(
        db,
        &session,
        id_of(o.get("id")).as_deref(),
        None,
        Some(reason),
        now,
    )?;
    Ok(Applied::acted(
        json!({ "session": session.id, "job_id": session.job_id, "reason": reason }),
    ))
}

fn charge_refunded(db: &dyn Db, o: &Value, now: i64) -> Result<Applied> {
    let Some(charge) = Charge::parse(o) else {
        return Ok(Applied::ignored("a charge without an amount or date"));
    };
    ledger::merge(db, &charge, now)?;
    let mut recorded = 0;
    if let Some(list) = o.pointer("/refunds/data").and_then(Value::as_array) {
        for r in list {
            let (Some(id), Some(amount)) =
                (id_of(r.get("id")), r.get("amount").and_then(Value::as_i64))
            else {
                continue;
            };
            recorded += db
                .exec(
                    "INSERT INTO refunds (id, charge_id, payment_intent, tenant_id, amount, currency, status, reason,
                        actor, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'stripe', ?9) ON CONFLICT (id) DO NOTHING RETURNING id",
                    params![
                        id, charge.id.as_str(), charge.payment_intent.as_deref(), charge.tenant_id.as_deref(), amount,
                        charge.currency.as_str(), text(r, "/status").unwrap_or("succeeded"), text(r, "/reason"),
                        r.get("created").and_then(Value::as_i64).map_or(now, |s| s * 1000)
                    ],
                )?
                .rows
                .len();
        }
    }
    let now_refunded =
        ledger::get(db, &charge.id)?.map_or(charge.amount_refunded, |c| c.amount_refunded);
    let key = charge
        .payment_intent
        .clone()
        .unwrap_or_else(|| charge.id.clone());
    receipts::update(db, &key, Some(&charge.id), now_refunded, now)?;
    let reversal = commissions::on_refund(db, &key, now_refunded, now)?;
    Ok(Applied::acted(json!({
        "charge": charge.id, "amount_refunded": now_refunded, "refunds_recorded": recorded,
        "commission_reversed": reversal,
    })))
}

fn dispute_created(db: &dyn Db, o: &Value, now: i64) -> Result<Applied> {
    let Some(charge_id) = id_of(o.get("charge")) else {
        return Ok(Applied::ignored("a dispute without a charge"));
    };
    let known = ledger::set_disputed(db, &charge_id, now)?;
    let pi = id_of(o.get("payment_intent")).or_else(|| {
        ledger::get(db, &charge_id)
            .ok()
            .flatten()
            .and_then(|c| c.payment_intent)
    });
    let key = pi.unwrap_or_else(|| charge_id.clone());
    // A dispute takes the whole payment back until it is decided: so does
    // its commission.
    let reversal = commissions::on_refund(db, &key, i64::MAX / 4, now)?;
    let amount = o.get("amount").and_then(Value::as_i64).unwrap_or(0);
    let currency = text(o, "/currency").unwrap_or("");
    let disputed = match Currency::parse(currency) {
        Ok(c) => format!("{} {}", Money::new(amount, c).decimal(), c.code()),
        Err(_) => format!("{amount} minor units of {currency}"),
    };
    let reason = text(o, "/reason").unwrap_or("unknown");
    Ok(Applied {
        outcome: "applied",
        detail: json!({ "charge": charge_id, "in_ledger": known, "commission_reversed": reversal }),
        incident: Some(NewIncident {
            severity: Severity::Warning,
            source: "payments".into(),
            message: format!(
                "Dispute opened on charge {charge_id}: {disputed} ({reason}); respond in Stripe before the deadline"
            ),
            links: json!({ "charge": charge_id, "dispute": id_of(o.get("id")) }),
        }),
    })
}

fn invoice_paid(
    env: &Env,
    db: &dyn Db,
    o: &Value,
    livemode: bool,
    hold_ms: i64,
    now: i64,
) -> Result<Applied> {
    let Some(stripe_id) = id_of(o.get("id")) else {
        return Ok(Applied::ignored("an invoice without an id"));
    };
    let ours = db.query_opt(
        "SELECT id, tenant_id, period FROM invoices WHERE stripe_invoice = ?1 OR id = ?2",
        params![
            stripe_id.as_str(),
            text(o, "/metadata/echopilot_invoice").unwrap_or("")
        ],
    )?;
    let (invoice_id, tenant, period) = match &ours {
        Some(r) => (Some(r.text(0)?), Some(r.text(1)?), Some(r.text(2)?)),
        None => (
            None,
            text(o, "/metadata/tenant_id").map(str::to_string),
            None,
        ),
    };
    let Some(tenant) = tenant else {
        return Ok(Applied::ignored("not an EchoPilot invoice"));
    };
    if let Some(id) = &invoice_id {
        db.exec(
            "UPDATE invoices SET status = 'paid', paid_at = ?2, updated_at = ?2 WHERE id = ?1 AND status IN ('draft', 'sent')",
            params![id.as_str(), now],
        )?;
    }
    let amount = o.get("amount_paid").and_then(Value::as_i64).unwrap_or(0);
    let currency = text(o, "/currency").unwrap_or("");
    let pi = id_of(o.get("payment_intent"));
    let charge_id = id_of(o.get("charge"));
    if let Some(c) = &charge_id {
        ledger::merge(
            db,
            &charge_from(
                c.clone(),
                Some(&tenant),
                id_of(o.get("customer")),
                pi.clone(),
                amount,
                currency,
                text(o, "/description").or(Some("EchoPilot invoice")),
                livemode,
                o.pointer("/status_transitions/paid_at")
                    .and_then(Value::as_i64)
                    .unwrap_or(now / 1000),
            ),
            now,
        )?;
    }
    let mut detail =
        json!({ "invoice": invoice_id, "stripe_invoice": stripe_id, "tenant_id": tenant });
    let key = pi
        .or(charge_id.clone())
        .unwrap_or_else(|| stripe_id.clone());
    if let (Some(email), Ok(currency), true) = (
        text(o, "/customer_email"),
        Currency::parse(currency),
        amount > 0,
    ) {
        let paid = Money::new(amount, currency);
        let description = match (&period, text(o, "/number")) {
            (Some(p), _) => format!("EchoPilot usage invoice, {p}"),
            (None, Some(n)) => format!("Invoice {n}"),
            (None, None) => "EchoPilot invoice".to_string(),
        };
        settle(
            env,
            db,
            &NewReceipt {
                tenant_id: &tenant,
                email,
                payment_key: &key,
                charge_id: charge_id.as_deref(),
                job_id: None,
                invoice_id: invoice_id.as_deref(),
                description,
                amount: paid,
                livemode,
            },
            0,
            hold_ms,
            now,
            &mut detail,
        )?;
    }
    Ok(Applied::acted(detail))
}
