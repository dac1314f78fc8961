//! Payments reconciliation against a scripted Stripe: paging, dry runs that
//! write nothing, added / changed / local-only charges, the incident, the
//! console command, the scheduled job, revenue in the daily report, and
//! Stripe's failures (a rejected key, an outage) that change nothing.

mod support;

use echopilot_core::adapters::native::ScriptedHttp;
use echopilot_core::payments::{self, ledger, Requester};
use echopilot_core::ports::{DbExt, Env, OutboundRequest, OutboundResponse};
use echopilot_core::scheduler::Trigger;
use echopilot_core::time::DAY_MS;
use futures::executor::block_on;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use support::*;

const OPS: &echopilot_core::app::App = &echopilot_core::ops::api::APP;
const KEY: &str = "sk_test_secret_4242";
const VARS: &[(&str, &str)] = &[
    ("dashboard_key", DASH_KEY),
    ("stripe_secret_key", KEY),
    ("stripe_base_url", "https://stripe.test"),
];

/// Stripe as a list of charge objects, paged the way `GET /v1/charges`
/// pages (newest first, `starting_after`, `created[gte|lt]`, `limit`).
#[derive(Clone, Default)]
struct FakeStripe {
    charges: Arc<Mutex<Vec<Value>>>,
    /// Answer every request with this status instead (outages, bad keys).
    fail: Arc<Mutex<Option<u16>>>,
}

fn query(url: &str) -> BTreeMap<String, String> {
    let q = url.split_once('?').map_or("", |(_, q)| q);
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.replace("%5B", "[").replace("%5D", "]"), v.to_string()))
        .collect()
}

impl FakeStripe {
    fn answer(&self, req: &OutboundRequest) -> OutboundResponse {
        let reply = |status: u16, body: Value| OutboundResponse {
            status,
            headers: vec![],
            body: body.to_string().into_bytes(),
        };
        if let Some(status) = *self.fail.lock().unwrap() {
            return reply(
                status,
                json!({"error": {"message": format!("Invalid API Key provided: {KEY}")}}),
            );
        }
        assert!(req.url.starts_with("https://stripe.test/v1/charges?"));
        assert!(req
            .headers
            .contains(&("authorization".into(), format!("Bearer {KEY}"))));
        let q = query(&req.url);
        let n = |k: &str| q[k].parse::<i64>().unwrap();
        let mut list: Vec<Value> = self
            .charges
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c["created"].as_i64().unwrap() >= n("created[gte]"))
            .filter(|c| c["created"].as_i64().unwrap() < n("created[lt]"))
            .cloned()
            .collect();
        list.sort_by_key(|c| {
            std::cmp::Reverse((c["created"].as_i64(), c["id"].as_str().map(str::to_string)))
        });
        if let Some(after) = q.get("starting_after") {
            let i = list.iter().position(|c| c["id"] == after.as_str()).unwrap();
            list.drain(..=i);
        }
        let limit = n("limit") as usize;
        let has_more = list.len() > limit;
        list.truncate(limit);
        reply(
            200,
            json!({"object": "list", "data": list, "has_more": has_more}),
        )
    }
}

fn charge(id: &str, amount: i64, created_ms: i64) -> Value {
    json!({
        "id": id, "object": "charge", "amount": amount, "amount_refunded": 0,
        "currency": "eur", "status": "succeeded", "disputed": false, "livemode": true,
        "created": created_ms / 1000, "customer": "cus_1", "metadata": {"tenant_id": "acme"}
    })
}

fn setup(
    vars: &[(&str, &str)],
) -> (
    Env,
    echopilot_core::adapters::native::ManualClock,
    FakeStripe,
    Arc<ScriptedHttp>,
) {
    let (mut env, clock) = env(vars);
    let stripe = FakeStripe::default();
    let s = stripe.clone();
    let http = Arc::new(ScriptedHttp::new(move |r| Ok(s.answer(r))));
    env.http = Box::new(SharedHttp(http.clone()));
    (env, clock, stripe, http)
}

const CONSOLE: Requester<'static> = Requester {
    trigger: "console",
    actor: "user:test",
};

fn count(env: &Env, sql: &str) -> i64 {
    env.db.query_one(sql, &[]).unwrap().i64(0).unwrap()
}

#[test]
fn a_reconciliation_pages_through_stripe_and_a_dry_run_writes_nothing() {
    let (env, _, stripe, http) = setup(VARS);
    // 150 charges over the last two days (two pages), one older than the window.
    let mut charges: Vec<Value> = (0..150)
        .map(|i| charge(&format!("ch_{i:03}"), 1000 + i, T0 - 60_000 * (i + 1)))
        .collect();
    charges.push(charge("ch_old", 999, T0 - 10 * DAY_MS));
    *stripe.charges.lock().unwrap() = charges;

    let dry = block_on(payments::reconcile_and_record(&env, 3, false, &CONSOLE)).unwrap();
    assert_eq!((dry.fetched, dry.pages, dry.added.count), (150, 2, 150));
    assert_eq!(
        dry.added.items.len(),
        50,
        "ids are listed up to 50, counted exactly"
    );
    assert!(!dry.applied && dry.id.is_none());
    assert_eq!(count(&env, "SELECT COUNT(*) FROM payments"), 0);
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM payment_reconciliations"),
        0
    );
    // The second page continued after the first page's last charge.
    assert!(http.sent()[1].url.contains("starting_after=ch_099"));

    let applied = block_on(payments::reconcile_and_record(&env, 3, true, &CONSOLE)).unwrap();
    assert!(applied.applied);
    assert_eq!((applied.added.count, applied.local_only.count), (150, 0));
    assert_eq!(count(&env, "SELECT COUNT(*) FROM payments"), 150);
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM payments WHERE tenant_id = 'acme' AND source = 'reconcile'"
        ),
        150
    );
    // Idempotent: the same Stripe state again changes nothing.
    let again = block_on(payments::reconcile_and_record(&env, 3, true, &CONSOLE)).unwrap();
    assert_eq!(
        (again.added.count, again.changed.count, again.unchanged),
        (0, 0, 150)
    );
    assert!(again.incident_id.is_none());
}

#[test]
fn refunds_are_changes_and_ledger_charges_stripe_lacks_raise_a_warning() {
    let (env, _, stripe, _) = setup(VARS);
    *stripe.charges.lock().unwrap() = vec![
        charge("ch_a", 5000, T0 - 3_600_000),
        charge("ch_b", 7000, T0 - 7_200_000),
    ];
    block_on(payments::reconcile_and_record(&env, 3, true, &CONSOLE)).unwrap();
    // Later: ch_a partly refunded and disputed; the ledger has a charge Stripe never listed.
    {
        let mut list = stripe.charges.lock().unwrap();
        list[0]["amount_refunded"] = json!(1500);
        list[0]["disputed"] = json!(true);
    }
    let ghost = payments::stripe::Charge::parse(&charge("ch_ghost", 100, T0 - 60_000)).unwrap();
    ledger::upsert(env.db.as_ref(), &ghost, "webhook", T0).unwrap();

    let r = block_on(payments::reconcile_and_record(&env, 3, true, &CONSOLE)).unwrap();
    assert_eq!(
        (r.changed.count, r.unchanged, r.local_only.count),
        (1, 1, 1)
    );
    let fields: Vec<&str> = r.changed.items[0].fields.iter().map(|f| f.field).collect();
    assert_eq!(fields, ["amount_refunded", "disputed"]);
    assert_eq!(r.changed.items[0].fields[0].ledger, json!(0));
    assert_eq!(r.changed.items[0].fields[0].stripe, json!(1500));
    assert_eq!(r.local_only.items, ["ch_ghost"]);
    // The ledger follows Stripe and keeps what only it has.
    assert_eq!(
        count(
            &env,
            "SELECT amount_refunded FROM payments WHERE id = 'ch_a'"
        ),
        1500
    );
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM payments WHERE id = 'ch_ghost'"),
        1
    );
    let incident = env
        .db
        .query_one(
            "SELECT severity, source, links FROM incidents WHERE id = ?1",
            &[r.incident_id.clone().unwrap().into()],
        )
        .unwrap();
    assert_eq!(incident.text(0).unwrap(), "WARNING");
    assert_eq!(incident.text(1).unwrap(), "payments");
    assert!(incident.text(2).unwrap().contains("ch_ghost"));

    // Revenue of today: both charges succeeded, 12,000 gross less 1,500 refunded.
    let day = T0.div_euclid(DAY_MS);
    let rev = ledger::revenue(env.db.as_ref(), day * DAY_MS, (day + 1) * DAY_MS, true).unwrap();
    let eur = &rev["eur"];
    assert_eq!((eur.gross, eur.refunded, eur.net), (12_100, 1_500, 10_600));
}

#[test]
fn the_console_dry_runs_confirms_and_audits_and_refuses_bad_windows() {
    let (env, _, stripe, _) = setup(VARS);
    *stripe.charges.lock().unwrap() = vec![charge("ch_1", 2500, T0 - 60_000)];
    let run = |body: Value| {
        let (resp, json) = call(
            OPS,
            &env,
            post_json("/api/ops/command", &body).with_header("x-dash-key", DASH_KEY),
        );
        (resp.status, json)
    };
    let (status, body) = run(json!({"command": "reconcile_payments"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["dry_run"], true);
    assert_eq!(
        body["data"]["result"]["reconciliation"]["added"]["items"],
        json!(["ch_1"])
    );
    assert_eq!(count(&env, "SELECT COUNT(*) FROM payments"), 0);

    let (status, body) =
        run(json!({"command": "reconcile_payments", "args": {"days": 7}, "confirm": true}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["result"]["reconciliation"]["applied"], true);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM payments"), 1);

    for bad in [
        json!({"days": 0}),
        json!({"days": 91}),
        json!({"days": "3"}),
        json!({"window": 3}),
    ] {
        let (status, body) =
            run(json!({"command": "reconcile_payments", "args": bad, "confirm": true}));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("invalid_args"))
        );
    }
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM audit_log WHERE action = 'ops.command' AND target = 'reconcile_payments'"),
        6
    );
    // The applied run is listed for operators.
    let (resp, body) = call(OPS, &env, op_get("/api/payments/reconciliations"));
    assert_eq!(resp.status, 200);
    assert_eq!(body["data"]["configured"], true);
    assert_eq!(body["data"]["reconciliations"][0]["added"], 1);
    assert_eq!(body["data"]["reconciliations"][0]["trigger"], "console");
}

#[test]
fn stripe_failures_change_nothing_and_never_show_the_key() {
    let (env, _, stripe, http) = setup(VARS);
    *stripe.charges.lock().unwrap() = vec![charge("ch_1", 2500, T0 - 60_000)];
    *stripe.fail.lock().unwrap() = Some(401);
    let e = block_on(payments::reconcile_and_record(&env, 3, true, &CONSOLE)).unwrap_err();
    assert_eq!((e.code, e.status()), ("stripe_rejected", 503));
    assert!(
        e.message.contains("stripe_secret_key was rejected"),
        "{}",
        e.message
    );
    assert!(!e.message.contains(KEY), "{}", e.message);
    assert_eq!(http.sent().len(), 1, "a rejected key is not retried");

    *stripe.fail.lock().unwrap() = Some(503);
    let e = block_on(payments::reconcile_and_record(&env, 3, true, &CONSOLE)).unwrap_err();
    assert_eq!(e.code, "stripe_unavailable");
    assert!(!e.message.contains(KEY));
    assert_eq!(http.sent().len(), 3, "an outage is tried twice");
    assert_eq!(count(&env, "SELECT COUNT(*) FROM payments"), 0);
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM payment_reconciliations"),
        0
    );
    let state = env
        .db
        .query_one(
            "SELECT state, detail FROM integration_status WHERE name = 'stripe'",
            &[],
        )
        .unwrap();
    assert_eq!(state.text(0).unwrap(), "error");
    assert!(!state.text(1).unwrap().contains(KEY));
}

#[test]
fn without_a_key_the_job_succeeds_the_console_says_so_and_revenue_is_unavailable() {
    let (env, _, _, http) = setup(&[("dashboard_key", DASH_KEY)]);
    let job = &payments::JOB;
    let ctx = run_context(job, T0, Trigger::Cron);
    let echopilot_core::scheduler::JobFn::Async(f) = job.body else {
        panic!("the payments job is async")
    };
    let summary = block_on(f(&env, &ctx)).unwrap();
    assert!(summary.contains("not configured"), "{summary}");
    assert!(http.sent().is_empty());
    let (resp, body) = call(
        OPS,
        &env,
        post_json(
            "/api/ops/command",
            &json!({"command": "reconcile_payments"}),
        )
        .with_header("x-dash-key", DASH_KEY),
    );
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (503, Some("payments_not_configured"))
    );
    let day = T0.div_euclid(DAY_MS);
    let rev = payments::revenue_figures(&env, day).unwrap();
    assert_eq!(rev["available"], false);
}

#[test]
fn the_scheduled_run_reconciles_three_days_and_feeds_the_report() {
    let (env, _, stripe, _) = setup(VARS);
    let day = T0.div_euclid(DAY_MS);
    let mut test_mode = charge("ch_test_key", 100, day * DAY_MS + 2000);
    test_mode["livemode"] = json!(false);
    *stripe.charges.lock().unwrap() = vec![
        charge("ch_today", 4900, day * DAY_MS + 1000),
        charge("ch_yesterday", 1900, (day - 1) * DAY_MS + 1000),
        charge("ch_last_week", 900, (day - 7) * DAY_MS),
        test_mode,
    ];
    let ctx = run_context(&payments::JOB, T0, Trigger::Cron);
    let echopilot_core::scheduler::JobFn::Async(f) = payments::JOB.body else {
        panic!("the payments job is async")
    };
    let summary = block_on(f(&env, &ctx)).unwrap();
    assert!(summary.starts_with("3 charges: 3 added"), "{summary}");
    let rev = payments::revenue_figures(&env, day).unwrap();
    assert_eq!(rev["available"], true);
    assert_eq!(rev["by_currency"]["eur"]["net"], 4900);
    assert_eq!(rev["day_before"]["eur"]["net"], 1900);
    // Test-mode charges are shown apart and never count as revenue.
    assert_eq!(rev["by_currency"]["eur"]["charges"], 1);
    assert_eq!(rev["test_mode_by_currency"]["eur"]["net"], 100);
    // A day no reconciliation covered is unavailable, not zero.
    let old = payments::revenue_figures(&env, day - 7).unwrap();
    assert_eq!(old["available"], false, "{old}");
    // A run that missed days catches them up in its window.
    let mut late = run_context(&payments::JOB, T0 + DAY_MS, Trigger::Cron);
    late.missed_slots = 6;
    block_on(f(&env, &late)).unwrap();
    assert_eq!(
        payments::revenue_figures(&env, day - 7).unwrap()["available"],
        true
    );
    let report = echopilot_core::reports::generate(&env, day).unwrap();
    assert_eq!(report["revenue"]["by_currency"]["eur"]["charges"], 1);
}
