//! Money (issue 15) end to end, over HTTP only, against the loopback
//! Stripe mock: a job paid through checkout and webhooks signed as Stripe
//! signs them; replayed, stale, unsigned and tampered deliveries changing
//! nothing; a rolled signing secret; one event delivered concurrently and
//! to two replicas applied once; refunds under and over the guardrail; the
//! customer portal's signed links; FinOps and P&L against sums computed
//! here from a seeded data set; a referral from code to payout CSV and its
//! reversal by a refund; the forecast's backtest on a weekday-seasonal
//! series.

use crate::auth::kit::{call, create_tenant, expect_error, identity_vars, user_token, Cred};
use crate::support::{ai_vars, check_content_length, dash, job as job_view, openai, submit, work};
use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::mock::{self, Stripe};
use echopilot_e2e::scenario::{expect_status, unix_now, App, Env, Scenario};
use echopilot_e2e::HostBuilder;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::atomic::{AtomicU64, Ordering};

pub const SCENARIOS: &[Scenario] = &[
    Scenario::configured(
        "money_job_paid_through_checkout_and_signed_webhooks",
        paid_through_checkout,
    ),
    Scenario::configured(
        "money_replayed_stale_unsigned_and_tampered_webhooks_change_nothing",
        bad_deliveries,
    ),
    Scenario::configured(
        "money_one_event_delivered_twice_at_once_is_applied_once",
        applied_once,
    ),
    Scenario::configured(
        "money_refunds_keep_to_the_cap_and_update_the_ledger",
        refunds,
    ),
    Scenario::configured(
        "money_held_jobs_wait_for_payment_and_expired_checkouts_cancel_them",
        held_jobs,
    ),
    Scenario::configured("money_portal_receipts_and_signed_download_links", portal),
    Scenario::configured(
        "money_usage_priced_by_plan_and_an_invoice_sent_and_paid",
        invoices,
    ),
    Scenario::configured(
        "money_finops_and_pnl_equal_hand_computed_sums",
        finops_and_pnl,
    ),
    Scenario::configured(
        "money_referral_from_code_to_payout_csv_and_its_reversal",
        referral,
    ),
    Scenario::configured(
        "money_forecast_backtest_on_a_weekday_seasonal_series",
        forecast,
    ),
];

/// The webhook endpoint's signing secret.
const WHSEC: &str = "whsec_e2e_money_endpoint_secret_0123456789";
/// The secret it is rolled to.
const WHSEC_NEXT: &str = "whsec_e2e_money_rolled_secret_9876543210abc";
/// `portal_signing_secret`.
const PORTAL_SECRET: &str = "portal-secret-for-e2e-money-0123456789abcdef";
const DAY_S: i64 = 86_400;
/// What a job costs the default tenant (enterprise plan, the default
/// `plan_prices`): USD 1.00.
const PRICE: i64 = 100;

/// The variables of a money app pointed at `stripe`.
fn money_vars(b: HostBuilder, stripe: &Stripe) -> HostBuilder {
    b.variable("stripe_secret_key", "sk_test_e2e_money")
        .variable("stripe_base_url", stripe.url())
        .variable("stripe_webhook_secret", WHSEC)
        .variable("public_base_url", "https://echopilot.example.com")
        .variable("portal_signing_secret", PORTAL_SECRET)
        .variable("rate_limit_ip_per_minute", "1000000")
        .variable("rate_limit_credential_per_minute", "1000000")
        .variable("intake_anonymous_per_address_hourly", "1000000")
        .variable("intake_anonymous_daily", "100000000")
}

/// A `Stripe-Signature` header exactly as Stripe makes it: `t=<unix
/// seconds>,v1=<hex HMAC-SHA256 of "{t}.{payload}" under the secret>`.
fn stripe_signature(secret: &str, t: i64, payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.{payload}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

static EVENTS: AtomicU64 = AtomicU64::new(1);

/// A Stripe event (JSON text) of `kind` about `object`, with a fresh id.
fn event(kind: &str, object: Value) -> String {
    let n = EVENTS.fetch_add(1, Ordering::SeqCst);
    json!({
        "id": format!("evt_e2e_{}_{n}", unix_now()),
        "object": "event",
        "api_version": "2024-06-20",
        "type": kind,
        "livemode": true,
        "created": unix_now(),
        "data": { "object": object },
    })
    .to_string()
}

/// `POST /api/stripe/webhook` with `payload` and `signature`: (status, body).
fn deliver(app: &App, signature: Option<&str>, payload: &str) -> Result<(u16, Value)> {
    let mut r = app
        .post("/api/stripe/webhook")
        .header("Content-Type", "application/json");
    if let Some(s) = signature {
        r = r.header("Stripe-Signature", s);
    }
    let resp = r.body(payload.as_bytes().to_vec()).send()?;
    Ok((resp.status, resp.json().unwrap_or(Value::Null)))
}

/// Deliver `payload` signed now with the endpoint secret; its `data`
/// (200 expected).
fn deliver_signed(app: &App, payload: &str) -> Result<Value> {
    let sig = stripe_signature(WHSEC, unix_now() as i64, payload);
    let (status, body) = deliver(app, Some(&sig), payload)?;
    check!(status == 200, "signed delivery: {status} {body}");
    Ok(body["data"].clone())
}

/// A `payment_intent.succeeded` object: `amount` of `currency` for
/// `tenant`, charged as `charge`, created `days_ago` days ago.
fn intent(
    pi: &str,
    charge: &str,
    amount: i64,
    currency: &str,
    tenant: &str,
    created: i64,
) -> Value {
    json!({
        "id": pi, "object": "payment_intent", "amount": amount, "amount_received": amount,
        "currency": currency, "status": "succeeded", "latest_charge": charge,
        "customer": "cus_e2e", "created": created, "description": "EchoPilot e2e",
        "metadata": { "tenant_id": tenant },
    })
}

/// A `charge.refunded` charge object: `refunded` of `amount` refunded.
fn refunded_charge(
    charge: &str,
    pi: &str,
    amount: i64,
    refunded: i64,
    currency: &str,
    tenant: &str,
    created: i64,
) -> Value {
    json!({
        "id": charge, "object": "charge", "amount": amount, "amount_refunded": refunded,
        "currency": currency, "status": "succeeded", "paid": true, "refunded": refunded == amount,
        "disputed": false, "livemode": true, "created": created, "customer": "cus_e2e",
        "payment_intent": pi, "metadata": { "tenant_id": tenant },
        "refunds": { "object": "list", "data": [
            { "id": format!("re_{charge}_{refunded}"), "amount": refunded, "status": "succeeded", "created": unix_now() }
        ] },
    })
}

/// Check an answer `(status, body)` is the error `status` `code`.
fn check_error(got: &(u16, Value), status: u16, code: &str) -> Result<()> {
    check!(
        got.0 == status && got.1["error"]["code"] == code,
        "expected {status} {code}, got {} {}",
        got.0,
        got.1
    );
    Ok(())
}

/// The ledger as an operator sees it (`GET /api/payments`).
fn ledger(app: &App) -> Result<Value> {
    let resp = app
        .get("/api/payments?limit=200")
        .header("X-Dash-Key", &dash(app))
        .send()?;
    Ok(expect_status(&resp, 200)?["data"]["payments"].clone())
}

/// The ledger entry of `charge`.
fn charge_in(ledger: &Value, charge: &str) -> Option<Value> {
    ledger
        .as_array()?
        .iter()
        .find(|c| c["id"] == charge)
        .cloned()
}

/// A job's checkout state (`GET /api/public/checkout/{job}`).
fn checkout_state(app: &App, job: &str) -> Result<Value> {
    let resp = app.get(&format!("/api/public/checkout/{job}")).send()?;
    Ok(expect_status(&resp, 200)?["data"].clone())
}

/// A job submitted with `email` and its checkout opened: (job id, session
/// id).
fn job_with_checkout(app: &App, email: &str, brief: &str) -> Result<(String, String)> {
    let job = submit(app, &json!({ "brief": brief, "email": email }))?;
    let resp = app.post(&format!("/api/public/checkout/{job}")).send()?;
    let body = expect_status(&resp, 201)?;
    Ok((
        job,
        body["data"]["session_id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ))
}

/// Pay `session` for `job` as Stripe reports it: the session completed,
/// then the payment intent succeeded with its charge. The charge id.
fn pay(app: &App, job: &str, session: &str, email: &str, amount: i64) -> Result<String> {
    let pi = format!("pi_{session}");
    let charge = format!("ch_{session}");
    let completed = event(
        "checkout.session.completed",
        json!({
            "id": session, "object": "checkout.session", "mode": "payment",
            "payment_status": "paid", "status": "complete", "payment_intent": pi,
            "amount_total": amount, "currency": "usd", "client_reference_id": job,
            "customer_details": { "email": email }, "metadata": { "job_id": job, "tenant_id": "default" },
        }),
    );
    let data = deliver_signed(app, &completed)?;
    check!(data["outcome"] == "applied", "{data}");
    let mut o = intent(&pi, &charge, amount, "usd", "default", unix_now() as i64);
    o["metadata"]["job_id"] = json!(job);
    o["receipt_email"] = json!(email);
    let data = deliver_signed(app, &event("payment_intent.succeeded", o))?;
    check!(data["outcome"] == "applied", "{data}");
    Ok(charge)
}

fn paid_through_checkout(env: &Env) -> Result<()> {
    let stripe = mock::stripe()?;
    let app = env.app_with(|b| money_vars(b, &stripe))?;
    let email = "payer@customer.example";
    let job = submit(
        &app,
        &json!({ "brief": "Write the launch note", "email": email }),
    )?;

    // The session is created at Stripe: form-encoded, an Idempotency-Key,
    // the plan's price (the default tenant is on enterprise: USD 1.00 a
    // job).
    let resp = app.post(&format!("/api/public/checkout/{job}")).send()?;
    let created = expect_status(&resp, 201)?["data"].clone();
    let session = created["session_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    check!(session.starts_with("cs_test_"), "{created}");
    check!(
        created["status"] == "open"
            && created["amount"] == json!({"amount": PRICE, "currency": "USD"})
            && created["url"] == format!("https://checkout.stripe.com/c/pay/{session}"),
        "{created}"
    );
    let calls = stripe.server.requests_to("/v1/checkout/sessions");
    check!(calls.len() == 1, "one session call: {}", calls.len());
    let call = &calls[0];
    // Under Spin too, the body goes out with its length, never chunked.
    check_content_length("stripe", call)?;
    check!(
        call.header("content-type") == Some("application/x-www-form-urlencoded"),
        "form encoding: {:?}",
        call.header("content-type")
    );
    check!(
        call.header("idempotency-key") == Some(format!("echopilot-checkout-{job}-1").as_str()),
        "idempotency key: {:?}",
        call.header("idempotency-key")
    );
    check!(
        call.header("authorization") == Some("Bearer sk_test_e2e_money"),
        "the secret key"
    );
    let form = call.form();
    check!(
        form.get("client_reference_id") == Some(&job)
            && form.get("metadata[job_id]") == Some(&job)
            && form.get("line_items[0][price_data][unit_amount]") == Some(&PRICE.to_string())
            && form
                .get("line_items[0][price_data][currency]")
                .map(String::as_str)
                == Some("usd")
            && form.get("customer_email").map(String::as_str) == Some(email),
        "{form:?}"
    );
    // Asking again hands out the open session; Stripe is not called.
    let resp = app.post(&format!("/api/public/checkout/{job}")).send()?;
    let again = expect_status(&resp, 200)?["data"].clone();
    check!(
        again["session_id"] == session.as_str() && again["reused"] == true,
        "{again}"
    );
    check!(
        stripe.server.requests_to("/v1/checkout/sessions").len() == 1,
        "no second session"
    );
    check!(
        checkout_state(&app, &job)?["status"] == "open",
        "open before payment"
    );

    // Paid: the session completes, the intent succeeds with its charge.
    let charge = pay(&app, &job, &session, email, PRICE)?;
    let state = checkout_state(&app, &job)?;
    check!(
        state["status"] == "paid" && state["paid_at"].is_string(),
        "{state}"
    );
    check!(
        state["url"].is_null(),
        "a paid session shows no payment link: {state}"
    );
    let entry = charge_in(&ledger(&app)?, &charge).context("the charge is in the ledger")?;
    check!(
        entry["amount"] == json!({"amount": PRICE, "currency": "USD"})
            && entry["livemode"] == true
            && entry["tenant_id"] == "default",
        "{entry}"
    );
    // A paid job is not paid again.
    let resp = app.post(&format!("/api/public/checkout/{job}")).send()?;
    expect_error(&resp, 409, "already_paid", "a paid job paid again")?;

    // A rolled secret: deliveries signed with the new one only are
    // accepted once both are configured, and the old one keeps working.
    let rolled = env.app_with(|b| {
        money_vars(b, &stripe).variable("stripe_webhook_secret", format!("{WHSEC},{WHSEC_NEXT}"))
    })?;
    let now = unix_now() as i64;
    let payload = event(
        "customer.created",
        json!({ "id": "cus_rolled", "object": "customer" }),
    );
    let (status, body) = deliver(
        &rolled,
        Some(&stripe_signature(WHSEC_NEXT, now, &payload)),
        &payload,
    )?;
    check!(
        status == 200 && body["data"]["outcome"] == "unrecognised",
        "the new secret: {status} {body}"
    );
    let payload = event(
        "customer.created",
        json!({ "id": "cus_old", "object": "customer" }),
    );
    let (status, body) = deliver(
        &rolled,
        Some(&stripe_signature(WHSEC, now, &payload)),
        &payload,
    )?;
    check!(status == 200, "the old secret still: {status} {body}");
    // Stripe's own header while it rolls: both v1s, one per secret.
    let payload = event(
        "customer.created",
        json!({ "id": "cus_both", "object": "customer" }),
    );
    let both = format!(
        "{},{}",
        stripe_signature("whsec_some_other_endpoint_secret_000000000", now, &payload),
        stripe_signature(WHSEC_NEXT, now, &payload)
            .split_once(',')
            .map(|x| x.1)
            .unwrap_or_default()
    );
    let (status, body) = deliver(&rolled, Some(&both), &payload)?;
    check!(status == 200, "any matching v1: {status} {body}");
    // The first app, configured with the old secret only, refuses the new.
    let payload = event(
        "customer.created",
        json!({ "id": "cus_new", "object": "customer" }),
    );
    check_error(
        &deliver(
            &app,
            Some(&stripe_signature(WHSEC_NEXT, now, &payload)),
            &payload,
        )?,
        400,
        "signature_mismatch",
    )?;
    Ok(())
}

fn bad_deliveries(env: &Env) -> Result<()> {
    let stripe = mock::stripe()?;
    let app = env.app_with(|b| money_vars(b, &stripe))?;
    let email = "replay@customer.example";
    let (job, session) = job_with_checkout(&app, email, "A brief to pay for")?;
    let pi = format!("pi_{session}");
    let completed = event(
        "checkout.session.completed",
        json!({
            "id": session, "object": "checkout.session", "payment_status": "paid", "status": "complete",
            "payment_intent": pi, "customer_details": { "email": email }, "metadata": { "job_id": job },
        }),
    );
    let signed_at = unix_now() as i64;
    let sig = stripe_signature(WHSEC, signed_at, &completed);
    let (status, body) = deliver(&app, Some(&sig), &completed)?;
    check!(
        status == 200 && body["data"]["outcome"] == "applied",
        "{status} {body}"
    );
    let paid = checkout_state(&app, &job)?;

    // New events (each would change the ledger if it were applied).
    let now = unix_now() as i64;
    let charge_event = |charge: &str| {
        event(
            "payment_intent.succeeded",
            intent(
                &format!("pi_{charge}"),
                charge,
                90_000,
                "usd",
                "default",
                now,
            ),
        )
    };
    let before = ledger(&app)?;

    // Replayed: the same delivery again answers 200 `duplicate`.
    let (status, body) = deliver(&app, Some(&sig), &completed)?;
    check!(
        status == 200 && body["data"]["outcome"] == "duplicate",
        "a replay: {status} {body}"
    );
    // Stale: signed correctly, six minutes ago.
    let stale = charge_event("ch_stale");
    check_error(
        &deliver(
            &app,
            Some(&stripe_signature(WHSEC, now - 360, &stale)),
            &stale,
        )?,
        400,
        "signature_expired",
    )?;
    // Unsigned.
    let unsigned = charge_event("ch_unsigned");
    check_error(&deliver(&app, None, &unsigned)?, 400, "signature_missing")?;
    // Tampered: signed, then the amount changed.
    let genuine = charge_event("ch_tampered");
    let sig = stripe_signature(WHSEC, now, &genuine);
    let tampered = genuine.replace("90000", "1");
    check!(tampered != genuine, "the body was changed");
    check_error(
        &deliver(&app, Some(&sig), &tampered)?,
        400,
        "signature_mismatch",
    )?;
    // Signed with another endpoint's secret, and a malformed header.
    check_error(
        &deliver(
            &app,
            Some(&stripe_signature(
                "whsec_another_endpoint_000000000000000000",
                now,
                &genuine,
            )),
            &genuine,
        )?,
        400,
        "signature_mismatch",
    )?;
    check_error(
        &deliver(&app, Some("v1=abc"), &genuine)?,
        400,
        "signature_malformed",
    )?;
    // A future timestamp beyond the tolerance.
    check_error(
        &deliver(
            &app,
            Some(&stripe_signature(WHSEC, now + 600, &genuine)),
            &genuine,
        )?,
        400,
        "signature_expired",
    )?;

    // Nothing changed: the ledger, the session.
    check!(ledger(&app)? == before, "the ledger is unchanged");
    for c in ["ch_stale", "ch_unsigned", "ch_tampered"] {
        check!(
            charge_in(&ledger(&app)?, c).is_none(),
            "{c} never reached the ledger"
        );
    }
    check!(
        checkout_state(&app, &job)? == paid,
        "the session is unchanged"
    );

    // The genuine delivery is still accepted (nothing above spent its id).
    let data = deliver_signed(&app, &genuine)?;
    check!(data["outcome"] == "applied", "{data}");
    let entry = charge_in(&ledger(&app)?, "ch_tampered").context("the genuine charge")?;
    check!(entry["amount"]["amount"] == 90_000, "{entry}");

    // Without a signing secret webhooks are refused (503) and unsigned
    // ones are 400 whatever the configuration.
    let bare = env.app_with(|b| money_vars(b, &stripe).variable("stripe_webhook_secret", ""))?;
    let payload = charge_event("ch_unconfigured");
    check_error(
        &deliver(
            &bare,
            Some(&stripe_signature(WHSEC, now, &payload)),
            &payload,
        )?,
        503,
        "not_configured",
    )?;
    let (status, _) = deliver(&bare, None, &payload)?;
    check!(
        status == 400,
        "unsigned to an unconfigured endpoint: {status}"
    );
    Ok(())
}

/// Deliver `payload` (signed once) from `n` threads at once to `apps`
/// (round robin); the outcomes, sorted.
fn deliver_at_once(apps: &[&App], n: usize, payload: &str) -> Result<Vec<String>> {
    let sig = stripe_signature(WHSEC, unix_now() as i64, payload);
    let results: Vec<Result<(u16, Value)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let app = apps[i % apps.len()];
                let sig = sig.as_str();
                s.spawn(move || deliver(app, Some(sig), payload))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a delivery panicked")))
            })
            .collect()
    });
    let mut outcomes = Vec::new();
    for r in results {
        let (status, body) = r?;
        check!(status == 200, "a concurrent delivery: {status} {body}");
        outcomes.push(
            body["data"]["outcome"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    outcomes.sort();
    Ok(outcomes)
}

fn applied_once(env: &Env) -> Result<()> {
    let stripe = mock::stripe()?;
    let data = tempfile::tempdir()?;
    let a = env.app_with(|b| money_vars(b, &stripe).data_dir(data.path()))?;
    let b = env.app_with(|b| money_vars(b, &stripe).data_dir(data.path()))?;
    let now = unix_now() as i64;
    // A charge, then its refund event delivered by eight requests at once
    // to one replica, then another refund event to both replicas at once.
    deliver_signed(
        &a,
        &event(
            "payment_intent.succeeded",
            intent("pi_once", "ch_once", 10_000, "usd", "default", now),
        ),
    )?;
    let first = event(
        "charge.refunded",
        refunded_charge("ch_once", "pi_once", 10_000, 2_500, "usd", "default", now),
    );
    let mut expected = vec!["applied".to_string()];
    expected.extend(std::iter::repeat_n("duplicate".to_string(), 7));
    let outcomes = deliver_at_once(&[&a], 8, &first)?;
    check!(
        outcomes == expected,
        "eight at once to one replica: {outcomes:?}"
    );
    let second = event(
        "charge.refunded",
        refunded_charge("ch_once", "pi_once", 10_000, 4_000, "usd", "default", now),
    );
    let outcomes = deliver_at_once(&[&a, &b], 2, &second)?;
    check!(
        outcomes == ["applied", "duplicate"],
        "two replicas at once: {outcomes:?}"
    );
    // Both replicas see one charge refunded as Stripe last reported it.
    for app in [&a, &b] {
        let entry = charge_in(&ledger(app)?, "ch_once").context("the charge")?;
        check!(
            entry["amount_refunded"]["amount"] == 4_000 && entry["net"]["amount"] == 6_000,
            "{entry}"
        );
    }
    Ok(())
}

/// `POST /api/payments/refund` as the dashboard admin: (status, body).
fn refund(app: &App, body: &Value, key: Option<&str>) -> Result<(u16, Value)> {
    let mut r = app
        .post("/api/payments/refund")
        .header("X-Dash-Key", &dash(app));
    if let Some(k) = key {
        r = r.header("Idempotency-Key", k);
    }
    let resp = r.json(body).send()?;
    Ok((resp.status, resp.json().unwrap_or(Value::Null)))
}

/// The audit entries of `action` (newest first).
fn audit_of(app: &App, action: &str) -> Result<Vec<Value>> {
    let resp = app
        .get(&format!("/api/audit/chain?action={action}"))
        .header("X-Dash-Key", &dash(app))
        .send()?;
    let body = expect_status(&resp, 200)?;
    Ok(body["data"]["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

fn refunds(env: &Env) -> Result<()> {
    let stripe = mock::stripe()?;
    let app = env.app_with(|b| identity_vars(money_vars(b, &stripe)))?;
    let now = unix_now() as i64;
    // USD 6,000.00 paid.
    deliver_signed(
        &app,
        &event(
            "payment_intent.succeeded",
            intent("pi_big", "ch_big", 600_000, "usd", "default", now),
        ),
    )?;

    // The whole of it is over the $5,000 guardrail: refused, audited,
    // Stripe never asked.
    check_error(
        &refund(
            &app,
            &json!({ "charge_id": "ch_big", "note": "all of it" }),
            None,
        )?,
        422,
        "refund_over_cap",
    )?;
    check!(
        stripe.server.requests_to("/v1/refunds").is_empty(),
        "Stripe was not asked"
    );
    let refused = audit_of(&app, "payments.refund_refused")?;
    check!(
        refused.len() == 1 && refused[0]["target"] == "ch_big",
        "{refused:?}"
    );
    // $5,000.01 is over too; more than the charge is refused as such.
    check_error(
        &refund(
            &app,
            &json!({ "charge_id": "ch_big", "amount": 500_001 }),
            None,
        )?,
        422,
        "refund_over_cap",
    )?;
    check_error(
        &refund(
            &app,
            &json!({ "charge_id": "ch_big", "amount": 600_001 }),
            None,
        )?,
        422,
        "refund_exceeds_charge",
    )?;
    check_error(
        &refund(
            &app,
            &json!({ "charge_id": "ch_unknown", "amount": 1 }),
            None,
        )?,
        404,
        "unknown_charge",
    )?;
    check!(
        stripe.server.requests_to("/v1/refunds").is_empty(),
        "still no Stripe call"
    );

    // A partial refund under the cap: Stripe asked (form, key), the ledger
    // from its answer, an audit record.
    let (status, body) = refund(
        &app,
        &json!({ "charge_id": "ch_big", "amount": 150_000, "reason": "requested_by_customer", "note": "partial" }),
        Some("refund-e2e-1"),
    )?;
    check!(status == 200, "{status} {body}");
    let d = &body["data"];
    let sent = stripe.server.requests_to("/v1/refunds");
    check!(sent.len() == 1, "one refund call");
    let form = sent[0].form();
    check!(
        form.get("charge").map(String::as_str) == Some("ch_big")
            && form.get("amount").map(String::as_str) == Some("150000")
            && form.get("reason").map(String::as_str) == Some("requested_by_customer")
            && sent[0].header("idempotency-key") == Some("refund-e2e-1"),
        "{form:?}"
    );
    check!(
        d["refund"]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("re_"))
            && d["refund"]["status"] == "succeeded"
            && d["charge"]["amount_refunded"] == json!({"amount": 150_000, "currency": "USD"})
            && d["charge"]["remaining"] == json!({"amount": 450_000, "currency": "USD"}),
        "{d}"
    );
    let entry = charge_in(&ledger(&app)?, "ch_big").context("the charge")?;
    check!(entry["amount_refunded"]["amount"] == 150_000, "{entry}");
    let done = audit_of(&app, "payments.refund")?;
    check!(
        done.len() == 1
            && done[0]["target"] == "ch_big"
            && done[0]["detail"]["refund"] == d["refund"]["id"],
        "{done:?}"
    );
    // The same click retried with its Idempotency-Key (the answer was
    // lost): Stripe sees the same request and replays its refund; the
    // ledger and the audit chain are as they were.
    let (status, again) = refund(
        &app,
        &json!({ "charge_id": "ch_big", "amount": 150_000, "reason": "requested_by_customer", "note": "partial" }),
        Some("refund-e2e-1"),
    )?;
    check!(status == 200, "a retried refund: {status} {again}");
    check!(
        again["data"]["refund"]["id"] == d["refund"]["id"] && again["data"]["replayed"] == true,
        "{again}"
    );
    check!(
        stripe.server.requests_to("/v1/refunds").len() == 2,
        "the retry reached Stripe"
    );
    let entry = charge_in(&ledger(&app)?, "ch_big").context("the charge")?;
    check!(
        entry["amount_refunded"]["amount"] == 150_000,
        "refunded once: {entry}"
    );
    check!(
        audit_of(&app, "payments.refund")?.len() == 1,
        "audited once"
    );
    // The rest (USD 4,500.00) is under the cap: a full refund of what is left.
    let (status, body) = refund(&app, &json!({ "charge_id": "ch_big" }), None)?;
    check!(status == 200, "{status} {body}");
    check!(body["data"]["charge"]["remaining"]["amount"] == 0, "{body}");
    check_error(
        &refund(&app, &json!({ "charge_id": "ch_big" }), None)?,
        409,
        "already_refunded",
    )?;

    // Another tenant's admin: the charge answers as an unknown one.
    create_tenant(&app, &Cred::Dashboard, "acme")?;
    let (_, acme_admin) = user_token(&app, &Cred::Dashboard, "admin@acme.test", "admin", "acme")?;
    deliver_signed(
        &app,
        &event(
            "payment_intent.succeeded",
            intent("pi_small", "ch_small", 2_000, "usd", "default", now),
        ),
    )?;
    let resp = call(
        &app,
        "POST",
        "/api/payments/refund",
        &Cred::Bearer(acme_admin),
        Some(&json!({ "charge_id": "ch_small", "amount": 100 })),
    )?;
    expect_error(&resp, 404, "unknown_charge", "another tenant's charge")?;

    // In another currency the cap is checked in USD at the day's rate:
    // without a rate the guardrail fails closed; EUR 4,700.00 at 1.08 is
    // USD 5,076.00, over; EUR 4,600.00 is USD 4,968.00, under.
    deliver_signed(
        &app,
        &event(
            "payment_intent.succeeded",
            intent("pi_eur", "ch_eur", 470_000, "eur", "default", now),
        ),
    )?;
    let eur = |amount: i64| {
        refund(
            &app,
            &json!({ "charge_id": "ch_eur", "amount": amount }),
            None,
        )
    };
    check_error(&eur(470_000)?, 422, "missing_exchange_rate")?;
    let resp = app
        .post("/api/finance/rates")
        .header("X-Dash-Key", &dash(&app))
        .json(&json!({ "rates": { "EUR": "1.08" } }))
        .send()?;
    expect_status(&resp, 200)?;
    check_error(&eur(470_000)?, 422, "refund_over_cap")?;
    let (status, body) = eur(460_000)?;
    check!(status == 200, "{status} {body}");
    let g = &body["data"]["guardrail"];
    check!(
        g["amount_usd"]["amount"] == json!({"amount": 496_800, "currency": "USD"})
            && g["amount_usd"]["rate"] == "1.08"
            && g["cap"] == json!({"amount": 500_000, "currency": "USD"}),
        "{g}"
    );
    check!(
        body["data"]["refund"]["amount"] == json!({"amount": 460_000, "currency": "EUR"}),
        "{body}"
    );
    Ok(())
}

fn portal(env: &Env) -> Result<()> {
    let stripe = mock::stripe()?;
    let app = env.app_with(|b| identity_vars(money_vars(b, &stripe)))?;
    let email = "receipts@customer.example";
    let (job, session) = job_with_checkout(&app, email, "A brief with a receipt")?;
    pay(&app, &job, &session, email, PRICE)?;

    // The operator lists the customer's receipts, each with a signed link.
    let resp = app
        .get(&format!("/api/portal/receipts?email={email}"))
        .header("X-Dash-Key", &dash(&app))
        .send()?;
    let listing = expect_status(&resp, 200)?["data"].clone();
    let receipts = listing["receipts"].as_array().cloned().unwrap_or_default();
    check!(receipts.len() == 1, "{listing}");
    let r = &receipts[0];
    check!(
        r["job_id"] == job.as_str() && r["amount"] == json!({"amount": PRICE, "currency": "USD"}),
        "{r}"
    );
    let url = r["download_url"]
        .as_str()
        .context("a download link")?
        .to_string();
    let expires = r["expires_at"].as_i64().context("expires_at")?;
    let ttl = expires - unix_now() as i64;
    check!(
        (23 * 3600..=24 * 3600).contains(&ttl),
        "24 h links: {ttl} s"
    );
    check!(listing["link_ttl_hours"] == 24, "{listing}");

    // Anyone with the link downloads the printable receipt, no credential.
    let resp = app.get(&url).send()?;
    check!(resp.status == 200, "{} {}", resp.status, resp.text());
    check!(
        resp.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
            && resp.header("cache-control") == Some("private, no-store"),
        "{:?}",
        resp.header("content-type")
    );
    let page = resp.text();
    check!(
        page.contains(&job) && page.contains("1.00"),
        "the receipt: {page}"
    );

    // Tampered: another receipt id, another email, a longer life, a changed
    // digit, a truncated token: 403 each.
    let token = url
        .rsplit_once("token=")
        .map(|x| x.1)
        .unwrap_or_default()
        .to_string();
    let flipped = {
        let mut t = token.clone().into_bytes();
        t[10] = if t[10] == b'0' { b'1' } else { b'0' };
        String::from_utf8(t)?
    };
    let tampered = [
        url.replace(
            &format!("id={}", r["id"].as_str().unwrap_or_default()),
            "id=rcpt_other",
        ),
        url.replace("receipts%40customer.example", "other%40customer.example"),
        url.replace(
            &format!("expires={expires}"),
            &format!("expires={}", expires + 86_400),
        ),
        url.replace(&token, &flipped),
        url.replace(&token, &token[..32]),
    ];
    for t in &tampered {
        check!(t != &url, "the link was changed: {t}");
        let resp = app.get(t).send()?;
        expect_error(&resp, 403, "link_invalid", t)?;
    }
    // Expired: a link signed as the app signs it, an hour in the past.
    let id = r["id"].as_str().unwrap_or_default();
    let past = unix_now() as i64 - 3600;
    let expired = echopilot_core::payments::portal::download_url(PORTAL_SECRET, email, id, past);
    let resp = app.get(&expired).send()?;
    expect_error(&resp, 403, "link_expired", "an expired link")?;
    // A history link's token for the same email is no receipt token.
    let hist = echopilot_core::jobs::history::issue(
        PORTAL_SECRET,
        &echopilot_core::tenancy::TenantId::default_tenant(),
        email,
        (unix_now() as i64 + 3600) * 1000,
    );
    let (rest, sig) = hist.rsplit_once('.').context("a history token")?;
    let hist_expiry = rest.rsplit_once('.').map(|x| x.1).unwrap_or_default();
    let resp = app
        .get(&format!(
            "/api/portal/download?email={email}&id={id}&expires={hist_expiry}&token={sig}"
        ))
        .send()?;
    check!(
        resp.status == 403,
        "a history token as a receipt token: {}",
        resp.status
    );
    // Incomplete links are 400.
    let resp = app
        .get(&format!("/api/portal/download?email={email}&id={id}"))
        .send()?;
    expect_error(&resp, 400, "incomplete_link", "a link without its token")?;
    // Anonymous listing is refused.
    let resp = app
        .get(&format!("/api/portal/receipts?email={email}"))
        .send()?;
    check!(resp.status == 401, "anonymous receipts: {}", resp.status);
    // The signed-in customer lists their own receipts, and no one else's.
    let (_, customer) = user_token(&app, &Cred::Dashboard, email, "viewer", "default")?;
    let customer = Cred::Bearer(customer);
    let own = call(
        &app,
        "GET",
        &format!("/api/portal/receipts?email={email}"),
        &customer,
        None,
    )?;
    let own = expect_status(&own, 200)?;
    check!(own["data"]["receipts"][0]["id"] == r["id"], "{own}");
    let other = call(
        &app,
        "GET",
        "/api/portal/receipts?email=someone.else%40customer.example",
        &customer,
        None,
    )?;
    expect_error(&other, 403, "not_your_email", "another customer's receipts")?;
    Ok(())
}

/// An ISO date `days_ago` days before today (UTC).
fn date_days_ago(days_ago: i64) -> String {
    echopilot_core::time::date((unix_now() as i64 - days_ago * DAY_S) * 1000)
}

fn finance_get(app: &App, cred: &Cred, target: &str) -> Result<Value> {
    let resp = cred.apply(app.get(target)).send()?;
    Ok(expect_status(&resp, 200).with_context(|| target.to_string())?["data"].clone())
}

fn finops_and_pnl(env: &Env) -> Result<()> {
    let stripe = mock::stripe()?;
    let app = env.app_with(|b| identity_vars(money_vars(b, &stripe)))?;
    let root = Cred::Dashboard;
    create_tenant(&app, &root, "acme")?;
    let (_, analyst) = user_token(&app, &root, "analyst@acme.test", "analyst", "acme")?;
    let acme = Cred::Bearer(analyst);
    // EUR at 1.08 USD from ten days ago.
    let resp = app
        .post("/api/finance/rates")
        .header("X-Dash-Key", &dash(&app))
        .json(&json!({ "date": date_days_ago(10), "rates": { "EUR": "1.08" } }))
        .send()?;
    expect_status(&resp, 200)?;

    // The seeded data set (live mode, by the day Stripe created each):
    //   default: USD 120.00 today; USD 30.00 two days ago, 10.00 refunded;
    //            USD 99.99 twelve days ago (outside a 7-day window);
    //   acme:    EUR 50.00 one day ago; a test-mode USD 1,000.00 (never
    //            revenue).
    let now = unix_now() as i64;
    let seed = [
        ("pi_f1", "ch_f1", 12_000, "usd", "default", now),
        ("pi_f2", "ch_f2", 3_000, "usd", "default", now - 2 * DAY_S),
        ("pi_f3", "ch_f3", 9_999, "usd", "default", now - 12 * DAY_S),
        ("pi_f4", "ch_f4", 5_000, "eur", "acme", now - DAY_S),
    ];
    for (pi, ch, amount, cur, tenant, created) in seed {
        deliver_signed(
            &app,
            &event(
                "payment_intent.succeeded",
                intent(pi, ch, amount, cur, tenant, created),
            ),
        )?;
    }
    let mut test_mode: Value = serde_json::from_str(&event(
        "payment_intent.succeeded",
        intent("pi_f5", "ch_f5", 100_000, "usd", "acme", now),
    ))?;
    test_mode["livemode"] = json!(false);
    deliver_signed(&app, &test_mode.to_string())?;
    deliver_signed(
        &app,
        &event(
            "charge.refunded",
            refunded_charge(
                "ch_f2",
                "pi_f2",
                3_000,
                1_000,
                "usd",
                "default",
                now - 2 * DAY_S,
            ),
        ),
    )?;

    // By hand, over the last 7 days (no job ran: no AI cost):
    let usd_net = 12_000 + 3_000 - 1_000; // 14,000
    let eur_in_usd = 5_000 * 108 / 100; // 5,400
    let revenue = usd_net + eur_in_usd; // 19,400
    let infra = 7 * (50 + 10); // infra_cost_daily's default: 420
    let profit = revenue - infra; // 18,980
    let margin = (10_000.0 * profit as f64 / revenue as f64).round() / 100.0; // 97.84
    let roi = (10_000.0 * profit as f64 / infra as f64).round() / 100.0;
    let usd = |a: i64| json!({"amount": a, "currency": "USD"});

    let s = finance_get(&app, &root, "/api/finops/summary?days=7")?;
    let p = &s["profitability"];
    check!(p["total_revenue"] == usd(revenue), "{s}");
    check!(p["total_costs"] == usd(infra), "{s}");
    check!(p["profit"] == usd(profit), "{s}");
    check!(
        p["margin_pct"] == json!(margin) && p["roi"] == json!(roi),
        "{s}"
    );
    check!(s["revenue"]["payment_count"] == 3, "{s}");
    check!(
        s["revenue"]["by_currency"]["USD"]
            == json!({"payments": 2, "gross": 15_000, "refunded": 1_000, "net": 14_000})
            && s["revenue"]["by_currency"]["EUR"]["net"] == 5_000,
        "{s}"
    );
    let conv = &s["revenue"]["conversions"][0];
    check!(
        conv["amount"] == usd(eur_in_usd) && conv["rate_date"] == date_days_ago(10).as_str(),
        "the conversion names its rate and date: {s}"
    );
    check!(
        s["costs"]["ai"]["total_cost"] == usd(0) && s["costs"]["ai"]["job_count"] == 0,
        "{s}"
    );

    // Per tenant: acme's EUR revenue, default's USD; most revenue first.
    let t = finance_get(&app, &root, "/api/finops/tenants?days=7")?;
    let rows = t["tenants"].as_array().cloned().unwrap_or_default();
    let row = |id: &str| rows.iter().find(|r| r["tenant_id"] == id).cloned();
    let d = row("default").context("default's row")?;
    let a = row("acme").context("acme's row")?;
    check!(
        d["revenue"] == usd(usd_net) && a["revenue"] == usd(eur_in_usd),
        "{t}"
    );
    check!(rows[0]["tenant_id"] == "default", "most revenue first: {t}");
    // No job was attempted: a tenant's share of infrastructure is 0 of 0.
    check!(
        a["infrastructure_cost"] == usd(0) && a["profit"] == usd(eur_in_usd),
        "{t}"
    );

    // acme's analyst sees acme only, whatever it asks for.
    let mine = finance_get(&app, &acme, "/api/finops/summary?days=7")?;
    check!(
        mine["tenant_id"] == "acme" && mine["profitability"]["total_revenue"] == usd(eur_in_usd),
        "{mine}"
    );
    let theirs = finance_get(&app, &acme, "/api/finops/tenants?days=7")?;
    let ids: Vec<&Value> = theirs["tenants"]
        .as_array()
        .map(|v| v.iter().map(|r| &r["tenant_id"]).collect())
        .unwrap_or_default();
    check!(ids == [&json!("acme")], "{theirs}");
    let resp = acme
        .apply(app.get("/api/finops/summary?days=7&tenant_id=default"))
        .send()?;
    check!(
        resp.status == 403,
        "another tenant's figures: {} {}",
        resp.status,
        resp.text()
    );

    // P&L by day over the last 3 days: each day's sums by hand.
    let pnl = finance_get(
        &app,
        &root,
        &format!(
            "/api/finance/pnl?granularity=daily&from={}&to={}",
            date_days_ago(2),
            date_days_ago(0)
        ),
    )?;
    let periods = pnl["periods"].as_array().cloned().unwrap_or_default();
    check!(periods.len() == 3, "{pnl}");
    let day = |ago: i64| {
        periods
            .iter()
            .find(|p| p["period"] == date_days_ago(ago).as_str())
            .cloned()
    };
    let two = day(2).context("two days ago")?;
    check!(
        two["by_currency"]["USD"]["net_revenue"] == 2_000
            && two["by_currency"]["USD"]["infrastructure_cost"] == 60
            && two["converted"]["profit"] == 2_000 - 60,
        "{two}"
    );
    let one = day(1).context("yesterday")?;
    check!(
        one["by_currency"]["EUR"]["net_revenue"] == 5_000
            && one["converted"]["net_revenue"] == eur_in_usd
            && one["converted"]["profit"] == eur_in_usd - 60,
        "{one}"
    );
    let today = day(0).context("today")?;
    check!(today["converted"]["net_revenue"] == 12_000, "{today}");
    check!(
        pnl["total"]["converted"]["net_revenue"] == 2_000 + eur_in_usd + 12_000
            && pnl["total"]["converted"]["infrastructure_cost"] == 3 * 60
            && pnl["total"]["converted"]["profit"] == 2_000 + eur_in_usd + 12_000 - 180,
        "{pnl}"
    );
    // Monthly: this month's total includes every live charge in it.
    let monthly = finance_get(&app, &root, "/api/finance/pnl?granularity=monthly")?;
    check!(
        monthly["granularity"] == "monthly" && monthly["minor_units"] == true,
        "{monthly}"
    );
    Ok(())
}

/// The payout CSV as the dashboard admin downloads it.
fn payout_csv(app: &App) -> Result<String> {
    let resp = app
        .get("/api/growth/payouts/export")
        .header("X-Dash-Key", &dash(app))
        .send()?;
    check!(resp.status == 200, "{} {}", resp.status, resp.text());
    check!(
        resp.header("content-type")
            .is_some_and(|t| t.starts_with("text/csv")),
        "{:?}",
        resp.header("content-type")
    );
    Ok(resp.text())
}

fn referral(env: &Env) -> Result<()> {
    let stripe = mock::stripe()?;
    let app = env.app_with(|b| {
        money_vars(b, &stripe)
            .variable("referral_hold_days", "0")
            .variable("referral_min_payout_usd", "0.1")
    })?;
    let key = dash(&app);
    let post = |path: &str, body: Value, with_key: bool| -> Result<(u16, Value)> {
        let mut r = app.post(path);
        if with_key {
            r = r.header("X-Dash-Key", &key);
        }
        let resp = r.json(&body).send()?;
        Ok((resp.status, resp.json().unwrap_or(Value::Null)))
    };
    // A code for a partner in a campaign.
    let (status, body) = post(
        "/api/growth/referral/create",
        json!({ "referrer_id": "partner-7", "referrer_email": "partner@partner.example", "campaign": "spring" }),
        true,
    )?;
    check!(status == 201, "{status} {body}");
    let code = body["data"]["referral_code"]
        .as_str()
        .context("a code")?
        .to_string();
    // A click (public), a signup recorded by an operator.
    let (status, body) = post("/api/growth/referral/click", json!({ "code": code }), false)?;
    check!(
        status == 200 && body["data"]["counted"] == true,
        "{status} {body}"
    );
    let payer = "referred@customer.example";
    let (status, body) = post(
        "/api/growth/referral/signup",
        json!({ "code": code, "email": payer }),
        true,
    )?;
    check!(status == 201, "{status} {body}");
    // The same customer again, and the referrer themselves: refused.
    let (status, body) = post(
        "/api/growth/referral/signup",
        json!({ "code": code, "email": payer }),
        true,
    )?;
    check!(status == 409, "a duplicate signup: {status} {body}");
    let (status, body) = post(
        "/api/growth/referral/signup",
        json!({ "code": code, "email": "partner@partner.example" }),
        true,
    )?;
    check!(status == 409, "a self-referral: {status} {body}");
    // Anonymous signup for someone else's email: refused.
    let (status, _) = post(
        "/api/growth/referral/signup",
        json!({ "code": code, "email": "x@y.example" }),
        false,
    )?;
    check!(status == 401, "an anonymous signup: {status}");

    // The conversion comes from a real payment: USD 1.00 for a job.
    let (job, session) = job_with_checkout(&app, payer, "A referred customer's brief")?;
    let charge = pay(&app, &job, &session, payer, PRICE)?;

    // By hand: commission 20% of 100 = 20 cents, payable at once (hold 0).
    let csv = payout_csv(&app)?;
    let lines: Vec<&str> = csv.lines().collect();
    check!(
        lines.first() == Some(&"referral_code,referrer_id,campaign,signups,conversions,revenue_usd,payout_usd,payable_by_currency,conversions_used"),
        "{csv}"
    );
    check!(
        lines.len() == 2 && lines[1] == format!("{code},partner-7,spring,1,1,1.00,0.20,USD 0.20,"),
        "{csv}"
    );
    let resp = app
        .get("/api/growth/referrals?days=30")
        .header("X-Dash-Key", &key)
        .send()?;
    let board = expect_status(&resp, 200)?;
    check!(
        board.to_string().contains(&code),
        "the leaderboard lists the code: {board}"
    );

    // A partial refund of USD 0.50 reverses half the commission: 0.10 left
    // (the minimum payout), then the rest reverses it all.
    let (status, body) = refund(&app, &json!({ "charge_id": charge, "amount": 50 }), None)?;
    check!(status == 200, "{status} {body}");
    let csv = payout_csv(&app)?;
    let lines: Vec<&str> = csv.lines().collect();
    check!(
        lines.len() == 2 && lines[1] == format!("{code},partner-7,spring,1,1,0.50,0.10,USD 0.10,"),
        "after a partial refund: {csv}"
    );
    let (status, body) = refund(&app, &json!({ "charge_id": charge }), None)?;
    check!(status == 200, "{status} {body}");
    let csv = payout_csv(&app)?;
    check!(
        csv.lines().count() == 1,
        "nothing owed after the full refund: {csv}"
    );
    Ok(())
}

fn forecast(env: &Env) -> Result<()> {
    let stripe = mock::stripe()?;
    let app = env.app_with(|b| money_vars(b, &stripe))?;
    // Six weeks of daily revenue ending yesterday: a weekday pattern (low
    // weekends) on a rising trend, with deterministic noise of up to ±2.75 %
    // that repeats on no weekly cycle (so the fit cannot be exact).
    const WEEK: [i64; 7] = [9_000, 10_000, 10_500, 11_000, 12_000, 4_000, 3_000];
    let today = unix_now() as i64 / DAY_S;
    let days = 42;
    for i in 0..days {
        let day = today - days + i;
        let weekday = ((day + 3) % 7) as usize; // 1970-01-01 was a Thursday
        let clean = WEEK[weekday] + 40 * i;
        let amount = clean + clean * ((i * 37 + 11) % 23 - 11) / 400;
        let created = day * DAY_S + 12 * 3600;
        deliver_signed(
            &app,
            &event(
                "payment_intent.succeeded",
                intent(
                    &format!("pi_fc{i}"),
                    &format!("ch_fc{i}"),
                    amount,
                    "usd",
                    "default",
                    created,
                ),
            ),
        )?;
    }
    let f = finance_get(&app, &Cred::Dashboard, "/api/forecast?days=14")?;
    let rev = &f["revenue"];
    check!(
        f["method"]
            .as_str()
            .is_some_and(|m| m.contains("Holt-Winters")),
        "{f}"
    );
    let bt = &rev["backtest"];
    let mape = bt["mape_pct"].as_f64().context("the backtest's MAPE")?;
    // Reported (the noise is seen) and bounded: a weekly pattern this
    // regular is forecast within 10 % on the 14 held-out days.
    check!(
        mape > 0.0 && mape <= 10.0,
        "backtest MAPE {mape} % not in (0, 10]: {bt}"
    );
    check!(
        bt["holdout_days"] == 14 && bt["mae"].as_f64().is_some(),
        "{bt}"
    );
    let points = rev["points"].as_array().cloned().unwrap_or_default();
    check!(points.len() == 14, "{rev}");
    println!("forecast backtest on the seeded series: {bt}");
    Ok(())
}

/// This month and the one before, as `YYYY-MM`.
fn this_and_last_month() -> (String, String) {
    let today = echopilot_e2e::scenario::today_utc();
    let (y, m): (i64, i64) = (
        today[..4].parse().unwrap_or(1970),
        today[5..7].parse().unwrap_or(1),
    );
    let (ly, lm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    (today[..7].to_string(), format!("{ly:04}-{lm:02}"))
}

fn invoices(env: &Env) -> Result<()> {
    let stripe = mock::stripe()?;
    let ai = openai()?;
    // The default tenant's plan (enterprise) at USD 10.00 a month and
    // USD 1.00 a job, none included.
    let plans = r#"{"free":{"currency":"USD","monthly":0,"per_job":500,"included_jobs":0},"pro":{"currency":"USD","monthly":2900,"per_job":300,"included_jobs":20},"business":{"currency":"USD","monthly":9900,"per_job":200,"included_jobs":100},"enterprise":{"currency":"USD","monthly":1000,"per_job":100,"included_jobs":0}}"#;
    let app =
        env.app_with(|b| ai_vars(money_vars(b, &stripe), &ai).variable("plan_prices", plans))?;
    let key = dash(&app);
    let (this_month, last_month) = this_and_last_month();

    // Three jobs completed this month, one of them paid at checkout.
    let email = "usage@customer.example";
    let (paid_job, session) = job_with_checkout(&app, email, "The first usage brief")?;
    pay(&app, &paid_job, &session, email, PRICE)?;
    let others = [
        submit(&app, &json!({ "brief": "The second usage brief" }))?,
        submit(&app, &json!({ "brief": "The third usage brief" }))?,
    ];
    let jobs: Vec<&String> = std::iter::once(&paid_job).chain(others.iter()).collect();
    for _ in 0..6 {
        if jobs
            .iter()
            .all(|j| job_view(&app, j).is_ok_and(|v| v["status"] == "completed"))
        {
            break;
        }
        work(&app)?;
    }
    for j in &jobs {
        let v = job_view(&app, j)?;
        check!(v["status"] == "completed", "{j}: {v}");
    }

    // Usage by hand: 3 completed, 1 paid at checkout, 2 billed at 1.00,
    // plus the month's fee: USD 12.00.
    let resp = app
        .get(&format!("/api/billing/usage?period={this_month}"))
        .header("X-Dash-Key", &key)
        .send()?;
    let usage = expect_status(&resp, 200)?["data"].clone();
    let d = usage["tenants"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["tenant_id"] == "default"))
        .cloned()
        .context("the default tenant's usage")?;
    check!(
        d["jobs_completed"] == 3 && d["paid_at_checkout"] == 1 && d["billable_jobs"] == 2,
        "{d}"
    );
    check!(
        d["total"] == json!({"amount": 1_000 + 2 * 100, "currency": "USD"}) && d["open"] == true,
        "{d}"
    );

    // The open month is not invoiced; last month is (its fee alone: no job
    // finished then), once the tenant has a billing email.
    let draft = |period: &str| -> Result<(u16, Value)> {
        let resp = app
            .post("/api/billing/invoices")
            .header("X-Dash-Key", &key)
            .json(&json!({ "period": period }))
            .send()?;
        Ok((resp.status, resp.json().unwrap_or(Value::Null)))
    };
    check_error(&draft(&this_month)?, 422, "period_open")?;
    let (status, body) = draft(&last_month)?;
    check!(status == 201, "{status} {body}");
    let invoice = body["data"].clone();
    let id = invoice["id"].as_str().context("an invoice id")?.to_string();
    check!(
        invoice["status"] == "draft"
            && invoice["total"] == json!({"amount": 1_000, "currency": "USD"}),
        "{invoice}"
    );
    let (status, body) = draft(&last_month)?;
    check!(status == 409, "one invoice a month: {status} {body}");
    let send = || -> Result<(u16, Value)> {
        let resp = app
            .post(&format!("/api/billing/invoices/{id}/send"))
            .header("X-Dash-Key", &key)
            .send()?;
        Ok((resp.status, resp.json().unwrap_or(Value::Null)))
    };
    check_error(&send()?, 422, "no_billing_email")?;
    check!(
        stripe.server.requests_to("/v1/customers").is_empty(),
        "Stripe not asked yet"
    );
    let billing_email = "billing@customer.example";
    let resp = app
        .request("PATCH", "/api/billing/settings")
        .header("X-Dash-Key", &key)
        .json(&json!({ "billing_email": billing_email }))
        .send()?;
    expect_status(&resp, 200)?;

    // Sent through Stripe: a customer, an item per line, the invoice,
    // finalized and sent, each POST with its own idempotency key.
    let (status, body) = send()?;
    check!(status == 200, "{status} {body}");
    let sent = body["data"].clone();
    check!(sent["status"] == "sent", "{sent}");
    let calls: Vec<(String, Option<String>)> = stripe
        .server
        .requests()
        .into_iter()
        .filter(|r| {
            r.path_only().starts_with("/v1/customers") || r.path_only().starts_with("/v1/invoice")
        })
        .map(|r| {
            (
                r.path_only().to_string(),
                r.header("idempotency-key").map(str::to_string),
            )
        })
        .collect();
    let paths: Vec<&str> = calls.iter().map(|(p, _)| p.as_str()).collect();
    check!(
        paths.len() == 5
            && paths[..3] == ["/v1/customers", "/v1/invoiceitems", "/v1/invoices"]
            && paths[3].ends_with("/finalize")
            && paths[4].ends_with("/send"),
        "{paths:?}"
    );
    let keys: std::collections::BTreeSet<&Option<String>> = calls.iter().map(|(_, k)| k).collect();
    check!(keys.len() == 5 && !keys.contains(&None), "{calls:?}");
    let item = &stripe.server.requests_to("/v1/invoiceitems")[0].form();
    check!(
        item.get("amount").map(String::as_str) == Some("1000")
            && item.get("currency").map(String::as_str) == Some("usd"),
        "{item:?}"
    );
    let stripe_invoice = paths[4]
        .trim_start_matches("/v1/invoices/")
        .trim_end_matches("/send")
        .to_string();
    check_error(&send()?, 409, "not_a_draft")?;

    // Paid: invoice.paid marks it paid, the ledger has the charge, the
    // billing email has a receipt for it.
    let paid = event(
        "invoice.paid",
        json!({
            "id": stripe_invoice, "object": "invoice", "status": "paid", "amount_paid": 1_000,
            "currency": "usd", "customer_email": billing_email, "charge": "ch_invoice",
            "payment_intent": "pi_invoice", "metadata": { "echopilot_invoice": id, "tenant_id": "default" },
            "status_transitions": { "paid_at": unix_now() },
        }),
    );
    let data = deliver_signed(&app, &paid)?;
    check!(data["outcome"] == "applied", "{data}");
    let resp = app
        .get(&format!("/api/billing/invoices?period={last_month}"))
        .header("X-Dash-Key", &key)
        .send()?;
    let list = expect_status(&resp, 200)?["data"]["invoices"].clone();
    check!(
        list[0]["id"] == id.as_str() && list[0]["status"] == "paid",
        "{list}"
    );
    let entry = charge_in(&ledger(&app)?, "ch_invoice").context("the invoice's charge")?;
    check!(entry["amount"]["amount"] == 1_000, "{entry}");
    let resp = app
        .get(&format!("/api/portal/receipts?email={billing_email}"))
        .header("X-Dash-Key", &key)
        .send()?;
    let receipts = expect_status(&resp, 200)?["data"]["receipts"].clone();
    check!(
        receipts[0]["invoice_id"] == id.as_str()
            && receipts[0]["description"]
                == format!("EchoPilot usage invoice, {last_month}").as_str(),
        "{receipts}"
    );
    Ok(())
}

fn held_jobs(env: &Env) -> Result<()> {
    let stripe = mock::stripe()?;
    let ai = openai()?;
    let app = env.app_with(|b| ai_vars(money_vars(b, &stripe), &ai))?;
    let resp = app
        .request("PATCH", "/api/billing/settings")
        .header("X-Dash-Key", &dash(&app))
        .json(&json!({ "unpaid_jobs": "hold" }))
        .send()?;
    check!(
        expect_status(&resp, 200)?["data"]["unpaid_jobs"] == "hold",
        "the policy"
    );

    // Four checkouts of one job at once (a double click, two replicas):
    // one Idempotency-Key at Stripe, one session.
    let email = "held@customer.example";
    let job = submit(
        &app,
        &json!({ "brief": "A brief that waits for payment", "email": email }),
    )?;
    let answers: Vec<Result<Value>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| -> Result<Value> {
                    let resp = app.post(&format!("/api/public/checkout/{job}")).send()?;
                    check!(
                        resp.status == 200 || resp.status == 201,
                        "{} {}",
                        resp.status,
                        resp.text()
                    );
                    Ok(resp.json()?["data"].clone())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a checkout panicked")))
            })
            .collect()
    });
    let mut sessions = std::collections::BTreeSet::new();
    for a in answers {
        let a = a?;
        check!(a["held"] == true, "the queued job is held: {a}");
        sessions.insert(a["session_id"].as_str().unwrap_or_default().to_string());
    }
    check!(sessions.len() == 1, "one session: {sessions:?}");
    let keys: std::collections::BTreeSet<Option<String>> = stripe
        .server
        .requests_to("/v1/checkout/sessions")
        .iter()
        .map(|r| r.header("idempotency-key").map(str::to_string))
        .collect();
    check!(keys.len() == 1, "one idempotency key: {keys:?}");
    let session = sessions.into_iter().next().unwrap_or_default();

    // Held: the worker leaves it queued. Paid: released and worked.
    work(&app)?;
    check!(
        job_view(&app, &job)?["status"] == "queued",
        "a held job waits"
    );
    pay(&app, &job, &session, email, PRICE)?;
    for _ in 0..4 {
        work(&app)?;
        if job_view(&app, &job)?["status"] == "completed" {
            break;
        }
    }
    let v = job_view(&app, &job)?;
    check!(v["status"] == "completed", "the paid job ran: {v}");

    // Another held job whose checkout expires unpaid is cancelled.
    let (other, other_session) = job_with_checkout(&app, email, "A brief never paid for")?;
    let expired = event(
        "checkout.session.expired",
        json!({ "id": other_session, "object": "checkout.session", "status": "expired", "payment_status": "unpaid" }),
    );
    let data = deliver_signed(&app, &expired)?;
    check!(
        data["outcome"] == "applied" && data["detail"]["held_job"] == "cancelled",
        "{data}"
    );
    let v = job_view(&app, &other)?;
    check!(v["status"] == "cancelled", "{v}");
    check!(
        checkout_state(&app, &other)?["status"] == "expired",
        "the session expired"
    );
    let resp = app.post(&format!("/api/public/checkout/{other}")).send()?;
    expect_error(&resp, 409, "not_payable", "a cancelled job is not payable")?;
    Ok(())
}
