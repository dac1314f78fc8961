//! Money through the product, against a scripted Stripe: a job paid through
//! Checkout and a webhook signed as Stripe signs it; replayed, stale,
//! unsigned and tampered deliveries that change nothing; refunds under the
//! guardrail; a referral commission earned by a real payment and reversed
//! by a refund; FinOps and P&L equal to hand-computed sums.

mod support;

use echopilot_core::adapters::native::{ScriptedHttp, SqliteDb};
use echopilot_core::app::App;
use echopilot_core::http::{Method, Request};
use echopilot_core::payments::ledger;
use echopilot_core::payments::stripe::Charge;
use echopilot_core::ports::{DbExt, Env, OutboundRequest, OutboundResponse};
use echopilot_core::time::DAY_MS;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use support::*;

const BILLING: &App = &echopilot_core::payments::routes::APP;
const FINANCE: &App = &echopilot_core::finance::api::APP;
const JOBS: &App = &echopilot_core::jobs::api::APP;
const WHSEC: &str = "whsec_test_secret";
const VARS: &[(&str, &str)] = &[
    ("dashboard_key", DASH_KEY),
    ("stripe_secret_key", "sk_test_billing"),
    ("stripe_base_url", "https://stripe.test"),
    (
        "stripe_webhook_secret",
        "whsec_old_rolled_out,whsec_test_secret",
    ),
    ("public_base_url", "https://app.example.com"),
    ("infra_cost_daily", "compute=50,database=10"),
];

/// Every request Stripe received, and its answers.
#[derive(Clone, Default)]
struct FakeStripe {
    seen: Arc<Mutex<Vec<OutboundRequest>>>,
}

impl FakeStripe {
    fn answer(&self, req: &OutboundRequest) -> OutboundResponse {
        self.seen.lock().unwrap().push(req.clone());
        let form: Vec<(String, String)> = form_urlencoded(&req.body);
        let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let path = req.url.trim_start_matches("https://stripe.test");
        let body = match path {
            "/v1/checkout/sessions" => json!({
                "id": format!("cs_test_{}", field("client_reference_id").unwrap()),
                "object": "checkout.session",
                "url": "https://checkout.stripe.com/c/pay/cs_test",
                "livemode": true,
            }),
            "/v1/refunds" => json!({
                "id": format!("re_{}", self.seen.lock().unwrap().len()),
                "object": "refund",
                "amount": field("amount").unwrap().parse::<i64>().unwrap(),
                "charge": field("charge"),
                "status": "succeeded",
            }),
            other => panic!("unexpected Stripe call {other}"),
        };
        OutboundResponse {
            status: 200,
            headers: vec![],
            body: body.to_string().into_bytes(),
        }
    }
}

fn form_urlencoded(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    text.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn setup(
    vars: &[(&str, &str)],
) -> (
    Env,
    echopilot_core::adapters::native::ManualClock,
    FakeStripe,
) {
    let (mut env, clock) = env_with(SqliteDb::open_in_memory().unwrap(), vars);
    let stripe = FakeStripe::default();
    let s = stripe.clone();
    env.http = Box::new(SharedHttp(Arc::new(ScriptedHttp::new(move |r| {
        Ok(s.answer(r))
    }))));
    (env, clock, stripe)
}

/// The `Stripe-Signature` header Stripe sends for `payload` at `t`.
fn sign(secret: &str, t: i64, payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{payload}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

fn deliver(env: &Env, header: Option<String>, payload: &str) -> (u16, Value) {
    let mut req = Request::new(Method::Post, "/api/stripe/webhook")
        .with_header("content-type", "application/json")
        .with_body(payload.as_bytes().to_vec());
    if let Some(h) = header {
        req = req.with_header("stripe-signature", &h);
    }
    let (resp, body) = call(BILLING, env, req);
    (resp.status, body)
}

fn now_s(env: &Env) -> i64 {
    env.clock.now_ms() / 1000
}

fn count(env: &Env, sql: &str) -> i64 {
    env.db.query_one(sql, &[]).unwrap().i64(0).unwrap()
}

fn admin(req: Request) -> Request {
    req.with_header("x-dash-key", DASH_KEY)
}

fn create_job(env: &Env, email: &str) -> String {
    let (resp, body) = call(
        JOBS,
        env,
        post_json(
            "/api/public/create-job",
            &json!({"brief": "Write a 100-word product blurb for a solar lamp", "type": "ai_task", "email": email}),
        ),
    );
    assert_eq!(resp.status, 201, "{body}");
    body["data"]["job"]["id"].as_str().unwrap().to_string()
}

/// A new Checkout Session for `job` (201): the answer's body.
fn open_checkout(env: &Env, job: &str) -> Value {
    let (resp, body) = call(
        BILLING,
        env,
        Request::new(Method::Post, &format!("/api/public/checkout/{job}")),
    );
    assert_eq!(resp.status, 201, "{body}");
    body
}

fn completed_event(id: &str, session: &str, pi: &str, email: &str) -> String {
    json!({
        "id": id, "object": "event", "type": "checkout.session.completed", "livemode": true,
        "created": 1_800_000_000,
        "data": {"object": {
            "id": session, "object": "checkout.session", "payment_status": "paid", "status": "complete",
            "payment_intent": pi, "customer_details": {"email": email},
        }}
    })
    .to_string()
}

#[test]
fn a_job_is_paid_once_through_checkout_and_a_signed_webhook() {
    let (env, _clock, stripe) = setup(VARS);
    let job = create_job(&env, "ann@example.com");
    let body = open_checkout(&env, &job);
    let session = body["data"]["session_id"].as_str().unwrap().to_string();
    assert!(body["data"]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://checkout.stripe.com/"));
    {
        let seen = stripe.seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let key = seen[0]
            .headers
            .iter()
            .find(|(k, _)| k == "idempotency-key")
            .map(|(_, v)| v.clone());
        assert_eq!(
            key.as_deref(),
            Some(format!("echopilot-checkout-{job}-1").as_str())
        );
    }
    // Asking again returns the open session; Stripe is not asked twice.
    let (resp, again) = call(
        BILLING,
        &env,
        Request::new(Method::Post, &format!("/api/public/checkout/{job}")),
    );
    assert_eq!(resp.status, 200, "{again}");
    assert_eq!(again["data"]["reused"], true);
    assert_eq!(stripe.seen.lock().unwrap().len(), 1);

    let payload = completed_event("evt_paid_1", &session, "pi_paid_1", "ann@example.com");
    let t = now_s(&env);
    let before = count(&env, "SELECT COUNT(*) FROM stripe_events");

    // Unsigned, tampered, stale, signed by an unknown secret: 400, nothing changes.
    let tampered = payload.replace("\"paid\"", "\"unpaid\"");
    let refusals = [
        (None, payload.clone(), "signature_missing"),
        (
            Some(sign(WHSEC, t, &payload)),
            tampered,
            "signature_mismatch",
        ),
        (
            Some(sign(WHSEC, t - 301, &payload)),
            payload.clone(),
            "signature_expired",
        ),
        (
            Some(sign("whsec_attacker", t, &payload)),
            payload.clone(),
            "signature_mismatch",
        ),
        (
            Some("t=1,v1=zz".into()),
            payload.clone(),
            "signature_malformed",
        ),
    ];
    for (header, body, code) in refusals {
        let (status, answer) = deliver(&env, header, &body);
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{answer}"
        );
    }
    assert_eq!(count(&env, "SELECT COUNT(*) FROM stripe_events"), before);
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM checkout_sessions WHERE status = 'paid'"
        ),
        0
    );

    // Signed as Stripe signs: applied once; a replay is a duplicate.
    let (status, answer) = deliver(&env, Some(sign(WHSEC, t, &payload)), &payload);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["outcome"], "applied", "{answer}");
    let (status, answer) = deliver(&env, Some(sign(WHSEC, t, &payload)), &payload);
    assert_eq!(
        (status, answer["data"]["outcome"].as_str()),
        (200, Some("duplicate")),
        "{answer}"
    );
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM stripe_events"),
        before + 1
    );
    assert_eq!(count(&env, "SELECT COUNT(*) FROM receipts"), 1);
    let (resp, status) = call(
        BILLING,
        &env,
        Request::new(Method::Get, &format!("/api/public/checkout/{job}")),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(status["data"]["status"], "paid", "{status}");
    // Paid: a new checkout is refused.
    let (resp, body) = call(
        BILLING,
        &env,
        Request::new(Method::Post, &format!("/api/public/checkout/{job}")),
    );
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (409, Some("already_paid"))
    );

    // Unknown types are acknowledged and recorded.
    let other =
        json!({"id": "evt_other", "type": "customer.created", "livemode": true, "created": 1,
                        "data": {"object": {"id": "cus_1"}}})
        .to_string();
    let (status, answer) = deliver(&env, Some(sign(WHSEC, t, &other)), &other);
    assert_eq!(
        (status, answer["data"]["outcome"].as_str()),
        (200, Some("unrecognised"))
    );
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM stripe_events WHERE id = 'evt_other' AND outcome = 'unrecognised'"),
        1
    );
}

#[test]
fn webhooks_without_a_secret_are_refused_and_change_nothing() {
    let vars: Vec<(&str, &str)> = VARS
        .iter()
        .copied()
        .filter(|(k, _)| *k != "stripe_webhook_secret")
        .collect();
    let (env, _clock, _stripe) = setup(&vars);
    let payload = completed_event("evt_x", "cs_x", "pi_x", "a@b.co");
    let (status, body) = deliver(&env, Some(sign(WHSEC, now_s(&env), &payload)), &payload);
    assert_eq!(status, 503, "{body}");
    assert_eq!(count(&env, "SELECT COUNT(*) FROM stripe_events"), 0);
}

fn seed_charge(env: &Env, id: &str, amount: i64, currency: &str, tenant: &str, day_offset: i64) {
    ledger::upsert(
        env.db.as_ref(),
        &Charge {
            id: id.into(),
            tenant_id: Some(tenant.into()),
            customer: Some("cus_1".into()),
            payment_intent: Some(format!("pi_{id}")),
            amount,
            amount_refunded: 0,
            currency: currency.into(),
            status: "succeeded".into(),
            disputed: false,
            description: None,
            livemode: true,
            // An hour before now, `day_offset` days back.
            created_at: env.clock.now_ms() - day_offset * DAY_MS - 3_600_000,
        },
        "reconcile",
        env.clock.now_ms(),
    )
    .unwrap();
}

fn refund(env: &Env, body: Value) -> (u16, Value) {
    let (resp, body) = call(
        BILLING,
        env,
        admin(post_json("/api/payments/refund", &body)),
    );
    (resp.status, body)
}

#[test]
fn refunds_respect_the_cap_allow_partials_and_update_the_ledger() {
    let (env, _clock, stripe) = setup(VARS);
    seed_charge(&env, "ch_big", 800_000, "usd", "default", 0);
    // Over the $5,000 cap: refused before Stripe is asked, and audited.
    let (status, body) = refund(&env, json!({"charge_id": "ch_big", "amount": 500_001}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("refund_over_cap")),
        "{body}"
    );
    assert!(stripe.seen.lock().unwrap().is_empty());
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'payments.refund_refused'"
        ),
        1
    );
    // Bad input: no Stripe call either.
    for (bad, code) in [
        (
            json!({"charge_id": "ch_big", "amount": 0}),
            "refund_exceeds_charge",
        ),
        (
            json!({"charge_id": "ch_big", "payment_intent": "pi_ch_big"}),
            "invalid_refund",
        ),
        (json!({"charge_id": "py_123"}), "invalid_field"),
        (
            json!({"charge_id": "ch_big", "reason": "because"}),
            "invalid_reason",
        ),
        (json!({"charge_id": "ch_unknown"}), "unknown_charge"),
    ] {
        let (status, body) = refund(&env, bad);
        assert_eq!(
            body["error"]["code"].as_str(),
            Some(code),
            "{status} {body}"
        );
    }
    assert!(stripe.seen.lock().unwrap().is_empty());
    // Partial refunds up to the cap each.
    let (status, body) = refund(
        &env,
        json!({"charge_id": "ch_big", "amount": 500_000, "reason": "requested_by_customer"}),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = refund(
        &env,
        json!({"payment_intent": "pi_ch_big", "amount": 100_000}),
    );
    assert_eq!(status, 200, "{body}");
    let charge = ledger::get(env.db.as_ref(), "ch_big").unwrap().unwrap();
    assert_eq!(charge.amount_refunded, 600_000);
    // More than is left is refused.
    let (status, body) = refund(&env, json!({"charge_id": "ch_big", "amount": 200_001}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("refund_exceeds_charge"))
    );
    assert_eq!(count(&env, "SELECT COUNT(*) FROM refunds"), 2);
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'payments.refund'"
        ),
        2
    );
    // Stripe's charge.refunded for the next refund arrives before Stripe's
    // answer to the request that made it (the fake's next id is re_3): the
    // refund is still the admin's, recorded once and audited.
    env.db
        .exec(
            "INSERT INTO refunds (id, charge_id, payment_intent, tenant_id, amount, currency, status, actor, created_at)
             VALUES ('re_3', 'ch_big', 'pi_ch_big', 'default', 100000, 'usd', 'succeeded', 'stripe', ?1)",
            echopilot_core::params![env.clock.now_ms()],
        )
        .unwrap();
    let (status, body) = refund(
        &env,
        json!({"charge_id": "ch_big", "amount": 100_000, "note": "after its event"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["replayed"], false, "{body}");
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM refunds WHERE id = 're_3' AND actor != 'stripe' AND note = 'after its event'"
        ),
        1
    );
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'payments.refund'"
        ),
        3
    );
    let charge = ledger::get(env.db.as_ref(), "ch_big").unwrap().unwrap();
    assert_eq!(charge.amount_refunded, 700_000);
}

#[test]
fn a_referred_payment_earns_a_commission_that_a_refund_reverses() {
    let (env, clock, _stripe) = setup(VARS);
    let (resp, code) = call(
        FINANCE,
        &env,
        admin(post_json(
            "/api/growth/referral/create",
            &json!({"referrer_id": "partner-1", "referrer_email": "pat@partner.io", "campaign": "spring"}),
        )),
    );
    assert_eq!(resp.status, 201, "{code}");
    let code = code["data"]["referral_code"]
        .as_str()
        .or_else(|| code["data"]["code"].as_str())
        .unwrap()
        .to_string();
    // The referrer's own email is a self-referral: refused and recorded.
    let (resp, body) = call(
        FINANCE,
        &env,
        admin(post_json(
            "/api/growth/referral/signup",
            &json!({"code": code, "email": "Pat+x@partner.io"}),
        )),
    );
    assert_eq!(resp.status / 100, 4, "{body}");
    let (resp, body) = call(
        FINANCE,
        &env,
        admin(post_json(
            "/api/growth/referral/signup",
            &json!({"code": code, "email": "cat@shop.io"}),
        )),
    );
    assert_eq!(resp.status, 201, "{body}");
    let (resp, body) = call(
        FINANCE,
        &env,
        admin(post_json(
            "/api/growth/referral/signup",
            &json!({"code": code, "email": "CAT@shop.io"}),
        )),
    );
    assert_eq!(resp.status / 100, 4, "a duplicate signup: {body}");
    assert_eq!(count(&env, "SELECT COUNT(*) FROM referral_refusals"), 2);
    // Anonymous callers cannot claim a customer for a code.
    let (resp, _) = call(
        FINANCE,
        &env,
        post_json(
            "/api/growth/referral/signup",
            &json!({"code": code, "email": "dan@shop.io"}),
        ),
    );
    assert_eq!(resp.status, 401);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM referral_signups"), 1);

    // The referred customer pays for a job.
    let job = create_job(&env, "cat@shop.io");
    let (_, body) = call(
        BILLING,
        &env,
        Request::new(Method::Post, &format!("/api/public/checkout/{job}")),
    );
    let session = body["data"]["session_id"].as_str().unwrap().to_string();
    let amount = body["data"]["amount"]["amount"].as_i64().unwrap();
    let payload = completed_event("evt_ref_1", &session, "pi_ref_1", "cat@shop.io");
    let (status, answer) = deliver(&env, Some(sign(WHSEC, now_s(&env), &payload)), &payload);
    assert_eq!(status, 200, "{answer}");
    let earned = count(
        &env,
        "SELECT COALESCE(SUM(amount), 0) FROM referral_commissions WHERE kind = 'earned'",
    );
    assert_eq!(earned, amount * 20 / 100, "20% of {amount}");

    // Held for the refund window: nothing payable yet.
    let export = |env: &Env| {
        let (resp, _) = call(
            FINANCE,
            env,
            admin(Request::new(Method::Get, "/api/growth/payouts/export")),
        );
        assert_eq!(resp.status, 200);
        String::from_utf8(resp.body).unwrap()
    };
    let csv = export(&env);
    assert_eq!(csv.lines().count(), 1, "only the header while held:\n{csv}");

    // A full refund (Stripe's charge.refunded) reverses the commission.
    let charge_event = json!({
        "id": "evt_ref_refund", "type": "charge.refunded", "livemode": true, "created": 1_800_000_100,
        "data": {"object": {"id": "ch_ref_1", "object": "charge", "amount": amount, "amount_refunded": amount,
            "currency": "usd", "status": "succeeded", "payment_intent": "pi_ref_1", "livemode": true,
            "created": 1_800_000_000, "metadata": {"tenant_id": "default"}, "refunded": true}}
    })
    .to_string();
    let (status, answer) = deliver(
        &env,
        Some(sign(WHSEC, now_s(&env), &charge_event)),
        &charge_event,
    );
    assert_eq!(status, 200, "{answer}");
    let net = count(
        &env,
        "SELECT COALESCE(SUM(CASE kind WHEN 'earned' THEN amount ELSE -ABS(amount) END), 0) FROM referral_commissions",
    );
    assert_eq!(net, 0, "the refund reverses the commission");
    clock.advance(31 * DAY_MS);
    let csv = export(&env);
    assert_eq!(
        csv.lines().count(),
        1,
        "nothing owed after the reversal:\n{csv}"
    );
}

#[test]
fn finops_and_pnl_equal_hand_computed_sums() {
    let (env, _clock, _stripe) = setup(VARS);
    // Two live USD charges today and yesterday, one partly refunded.
    seed_charge(&env, "ch_a", 12_000, "usd", "default", 0);
    seed_charge(&env, "ch_b", 3_000, "usd", "default", 1);
    ledger::add_refunded(env.db.as_ref(), "ch_b", 1_000, env.clock.now_ms()).unwrap();
    let (resp, summary) = call(
        FINANCE,
        &env,
        admin(Request::new(Method::Get, "/api/finops/summary?days=7")),
    );
    assert_eq!(resp.status, 200, "{summary}");
    // Revenue: 12,000 + 3,000 - 1,000 refunded = 14,000 cents; infrastructure
    // 7 days x (50 + 10) = 420; profit 13,580; margin 97.0 %.
    let p = &summary["data"]["profitability"];
    assert_eq!(
        p["total_revenue"],
        json!({"amount": 14_000, "currency": "USD"}),
        "{summary}"
    );
    assert_eq!(
        p["total_costs"],
        json!({"amount": 420, "currency": "USD"}),
        "{summary}"
    );
    assert_eq!(
        p["profit"],
        json!({"amount": 13_580, "currency": "USD"}),
        "{summary}"
    );
    assert_eq!(p["margin_pct"], json!(97.0), "{summary}");
    let (resp, pnl) = call(
        FINANCE,
        &env,
        admin(Request::new(
            Method::Get,
            "/api/finance/pnl?granularity=daily",
        )),
    );
    assert_eq!(resp.status, 200, "{pnl}");
    let text = pnl.to_string();
    assert!(text.contains("12000") && text.contains("2000"), "{pnl}");
}

#[test]
fn the_same_event_delivered_to_two_replicas_at_once_is_applied_once() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = Arc::new(dir.path().join("db.sqlite"));
        let (mut env, _clock) = env_with(SqliteDb::open(path.as_ref()).unwrap(), VARS);
        let stripe = FakeStripe::default();
        let s = stripe.clone();
        env.http = Box::new(SharedHttp(Arc::new(ScriptedHttp::new(move |r| {
            Ok(s.answer(r))
        }))));
        let job = create_job(&env, "ann@example.com");
        let (_, body) = call(
            BILLING,
            &env,
            Request::new(Method::Post, &format!("/api/public/checkout/{job}")),
        );
        let session = body["data"]["session_id"].as_str().unwrap().to_string();
        let payload = Arc::new(completed_event(
            "evt_twice",
            &session,
            "pi_twice",
            "ann@example.com",
        ));
        let header = Arc::new(sign(WHSEC, now_s(&env), &payload));
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let replicas: Vec<_> = (0..2)
            .map(|_| {
                let (path, payload, header, barrier) = (
                    path.clone(),
                    payload.clone(),
                    header.clone(),
                    barrier.clone(),
                );
                std::thread::spawn(move || {
                    let (replica, _clock) = env_with(SqliteDb::open(path.as_ref()).unwrap(), VARS);
                    barrier.wait();
                    deliver(&replica, Some(header.to_string()), &payload)
                })
            })
            .collect();
        let mut outcomes: Vec<String> = replicas
            .into_iter()
            .map(|h| {
                let (status, body) = h.join().unwrap();
                assert_eq!(status, 200, "round {round}: {body}");
                body["data"]["outcome"].as_str().unwrap().to_string()
            })
            .collect();
        outcomes.sort();
        assert_eq!(outcomes, ["applied", "duplicate"], "round {round}");
        assert_eq!(count(&env, "SELECT COUNT(*) FROM stripe_events"), 1);
        assert_eq!(count(&env, "SELECT COUNT(*) FROM receipts"), 1);
        assert_eq!(
            count(
                &env,
                "SELECT COUNT(*) FROM checkout_sessions WHERE status = 'paid'"
            ),
            1
        );
    }
}

fn ledger_page(env: &Env, query: &str) -> (u16, Value) {
    let (resp, body) = call(
        BILLING,
        env,
        admin(Request::new(Method::Get, &format!("/api/payments{query}"))),
    );
    (resp.status, body)
}

fn listed_ids(body: &Value) -> Vec<String> {
    body["data"]["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_ledger_names_each_charges_job_and_filters_by_status_and_currency() {
    let (env, _clock, _stripe) = setup(VARS);
    // A job paid through Checkout: its charge arrives with the payment intent.
    let job = create_job(&env, "lee@example.com");
    let session = open_checkout(&env, &job)["data"]["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = now_s(&env);
    let paid = completed_event("evt_job_paid", &session, "pi_job", "lee@example.com");
    assert_eq!(deliver(&env, Some(sign(WHSEC, t, &paid)), &paid).0, 200);
    let intent = json!({
        "id": "evt_job_intent", "object": "event", "type": "payment_intent.succeeded", "livemode": true,
        "created": t, "data": {"object": {
            "id": "pi_job", "object": "payment_intent", "amount": 4900, "amount_received": 4900,
            "currency": "usd", "latest_charge": "ch_job", "created": t,
            "metadata": {"tenant_id": "default", "job_id": job},
        }}
    })
    .to_string();
    let (status, answer) = deliver(&env, Some(sign(WHSEC, t, &intent)), &intent);
    assert_eq!(status, 200, "{answer}");
    seed_charge(&env, "ch_eur", 2500, "eur", "default", 1);
    seed_charge(&env, "ch_usd", 1200, "usd", "default", 2);
    env.db
        .exec(
            "UPDATE payments SET status = 'failed' WHERE id = 'ch_usd'",
            &[],
        )
        .unwrap();

    let (status, all) = ledger_page(&env, "");
    assert_eq!(status, 200, "{all}");
    assert_eq!(listed_ids(&all), ["ch_job", "ch_eur", "ch_usd"]);
    assert_eq!(all["data"]["payments"][0]["job_id"], json!(job), "{all}");
    assert_eq!(all["data"]["payments"][1]["job_id"], Value::Null, "{all}");

    // Filters narrow the page, and the cursor keeps them.
    assert_eq!(
        listed_ids(&ledger_page(&env, "?currency=EUR").1),
        ["ch_eur"]
    );
    assert_eq!(
        listed_ids(&ledger_page(&env, "?status=failed").1),
        ["ch_usd"]
    );
    let (_, first) = ledger_page(&env, "?currency=usd&limit=1");
    assert_eq!(listed_ids(&first), ["ch_job"]);
    let next = first["data"]["next_cursor"].as_str().unwrap().to_string();
    let (_, second) = ledger_page(&env, &format!("?currency=usd&limit=1&cursor={next}"));
    assert_eq!(listed_ids(&second), ["ch_usd"]);
    assert_eq!(second["data"]["next_cursor"], Value::Null);
    assert!(listed_ids(&ledger_page(&env, "?status=pending").1).is_empty());

    // A status the ledger never holds, a currency the product does not know.
    let (status, body) = ledger_page(&env, "?status=refunded");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_status")),
        "{body}"
    );
    let (status, body) = ledger_page(&env, "?currency=xyz");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_currency")),
        "{body}"
    );
}
