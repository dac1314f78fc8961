//! Payments: the operator console and cron-payments reconcile the mock
//! Stripe's charges into the ledger, the daily report shows the revenue,
//! and a rejected key fails clearly without showing the key.

use anyhow::Result;
use echopilot_e2e::check;
use echopilot_e2e::mock;
use echopilot_e2e::scenario::{expect_status, unix_now, App, Env, Scenario};
use serde_json::{json, Value};

use crate::support::dash;

pub const SCENARIOS: &[Scenario] = &[Scenario::configured(
    "payments_reconciliation_fills_the_ledger_and_the_report",
    reconcile,
)];

fn command(app: &App, key: &str, body: Value) -> Result<(u16, Value)> {
    let resp = app
        .post("/api/ops/command")
        .header("X-Dash-Key", key)
        .json(&body)
        .send()?;
    Ok((resp.status, resp.json()?))
}

fn reconcile(env: &Env) -> Result<()> {
    let stripe = mock::stripe()?;
    let now = unix_now() as i64;
    // Today's charge now (so its day is today's), one a day ago, one ten
    // days ago (outside the default three-day window).
    stripe.set_charges(vec![
        mock::charge("ch_now", 4900, "eur", now, Some("default")),
        mock::charge("ch_day_ago", 1900, "eur", now - 86_400, None),
        mock::charge("ch_old", 900, "eur", now - 10 * 86_400, None),
    ]);
    let app = env.app_with(|b| {
        b.variable("stripe_secret_key", "sk_test_e2e_reconcile")
            .variable("stripe_base_url", stripe.url())
    })?;
    let key = dash(&app);

    // A dry run compares and writes nothing.
    let (status, body) = command(&app, &key, json!({"command": "reconcile_payments"}))?;
    check!(status == 200, "{body}");
    let r = &body["data"]["result"]["reconciliation"];
    check!(r["applied"] == false && r["added"]["count"] == 2, "{r}");
    let list = |app: &App| -> Result<Value> {
        let resp = app
            .get("/api/payments/reconciliations")
            .header("X-Dash-Key", &key)
            .send()?;
        Ok(expect_status(&resp, 200)?["data"].clone())
    };
    check!(
        list(&app)?["reconciliations"] == json!([]),
        "a dry run is not recorded"
    );

    // Confirmed over ten days plus a margin: all three charges.
    let (status, body) = command(
        &app,
        &key,
        json!({"command": "reconcile_payments", "args": {"days": 11}, "confirm": true}),
    )?;
    check!(status == 200, "{body}");
    let r = &body["data"]["result"]["reconciliation"];
    check!(r["applied"] == true && r["added"]["count"] == 3, "{r}");
    let sent = stripe.server.requests();
    check!(
        sent.iter()
            .all(|q| q.header("authorization") == Some("Bearer sk_test_e2e_reconcile")),
        "every Stripe call carries the key"
    );

    // The scheduled run (cron-payments, three days) finds nothing new.
    app.run_job("payments")?;
    let runs = list(&app)?;
    let latest = &runs["reconciliations"][0];
    check!(latest["trigger"] == "schedule", "{runs}");
    check!(latest["unchanged"] == 2 && latest["added"] == 0, "{latest}");

    // The day's report shows the revenue from the ledger.
    let today = echopilot_core::time::date(now * 1000);
    let resp = app
        .get(&format!("/api/reports/daily?date={today}"))
        .header("X-Dash-Key", &key)
        .send()?;
    let report = expect_status(&resp, 200)?;
    let revenue = &report["data"]["revenue"];
    check!(revenue["available"] == true, "{revenue}");
    // The mock's charges are test-mode: shown apart, never as revenue.
    check!(
        revenue["test_mode_by_currency"]["eur"]["net"] == 4900,
        "{revenue}"
    );
    check!(revenue["by_currency"] == json!({}), "{revenue}");

    // A key Stripe rejects: 503 with the reason, never the key.
    let bad = env.app_with(|b| {
        b.variable("stripe_secret_key", "rk_live_rejected_key")
            .variable("stripe_base_url", stripe.url())
    })?;
    let (status, body) = command(&bad, &dash(&bad), json!({"command": "reconcile_payments"}))?;
    check!(
        status == 503 && body["error"]["code"] == "stripe_rejected",
        "{body}"
    );
    check!(!body.to_string().contains("rk_live_rejected_key"), "{body}");
    Ok(())
}
