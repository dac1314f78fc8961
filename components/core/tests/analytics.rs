//! Product analytics against real SQLite: the usage figures on a data set
//! computed by hand, raw events kept bounded by the daily rollup, the
//! daily salts forgotten, the intake's limits, and nothing personal stored.

mod support;

use echopilot_core::analytics::{self, intake, rollup, usage};
use echopilot_core::http::{Method, Request};
use echopilot_core::ports::{DbExt, Env};
use echopilot_core::time::{day_of, rfc3339, DAY_MS};
use serde_json::{json, Value};
use support::*;

/// Noon of the day of T0.
const TODAY_NOON: i64 = (T0 / DAY_MS) * DAY_MS + 12 * 3_600_000;

fn count(env: &Env, sql: &str) -> i64 {
    env.db.query_one(sql, &[]).unwrap().i64(0).unwrap()
}

/// Record `names` as `visitor` (a client address) of `tenant`, now.
fn visit(env: &Env, tenant: &str, visitor: &str, names: &[&'static str]) {
    let now = env.clock.now_ms();
    let events: Vec<intake::Event> = names
        .iter()
        .map(|n| intake::Event {
            name: n,
            view: (*n == "page.view").then_some("overview"),
            at_ms: now,
        })
        .collect();
    intake::record(env, tenant, visitor, "Mozilla/5.0 (test)", &events).unwrap();
}

fn post_events(env: &Env, body: &Value, address: &str) -> (u16, Value, Option<String>) {
    let req = post_json("/api/analytics/event", body)
        .with_header("user-agent", "Mozilla/5.0 (test)")
        .with_header("spin-client-addr", &format!("{address}:5000"));
    let (resp, json) = call(&analytics::APP, env, req);
    let cookie = resp.header("set-cookie").map(str::to_string);
    (resp.status, json, cookie)
}

#[test]
fn usage_figures_match_a_data_set_computed_by_hand() {
    let (env, clock) = env(&[]);
    let day = |n: i64| TODAY_NOON - n * DAY_MS;
    // 40 days ago: G (outside MAU). 10 days ago: D, E, F. 3 days ago: A.
    clock.set(day(40));
    visit(&env, "default", "g", &["page.view"]);
    clock.set(day(10));
    for v in ["d", "e", "f"] {
        visit(&env, "default", v, &["job.create"]);
    }
    clock.set(day(3));
    visit(&env, "default", "a", &["palette.open"]);
    // Yesterday: A and C; then the rollup folds the final days, so the
    // report reads both rolled-up and raw days.
    clock.set(day(1));
    visit(&env, "default", "a", &["page.view"]);
    visit(&env, "default", "c", &["job.retry"]);
    let folded = rollup::fold(&env, day(1)).unwrap();
    assert_eq!((folded.days, folded.events), (3, 5));
    // Today: A (3 events), B (1), and another tenant's visitor.
    clock.set(day(0));
    visit(
        &env,
        "default",
        "a",
        &["page.view", "palette.open", "palette.run"],
    );
    visit(&env, "default", "b", &["job.create"]);
    visit(&env, "acme", "z", &["job.create", "job.create"]);

    let u = usage::report(env.db.as_ref(), "default", TODAY_NOON, 7).unwrap();
    assert_eq!(u.dau, 2, "A and B today");
    assert_eq!(u.wau, 5, "2 today + 2 yesterday + 1 three days ago");
    assert_eq!(u.mau, 8, "the week's 5 + D, E, F ten days ago");
    assert_eq!(u.stickiness, Some(0.25));
    let top: Vec<(String, i64)> = u
        .top_events
        .iter()
        .map(|t| (t.name.clone(), t.count))
        .collect();
    assert_eq!(
        top,
        vec![
            ("page.view".to_string(), 2),
            ("palette.open".to_string(), 2),
            ("job.create".to_string(), 1),
            ("job.retry".to_string(), 1),
            ("palette.run".to_string(), 1),
        ]
    );
    let daily: Vec<(i64, i64)> = u.daily.iter().map(|d| (d.visitors, d.events)).collect();
    assert_eq!(
        daily,
        vec![(0, 0), (0, 0), (0, 0), (1, 1), (0, 0), (2, 2), (2, 4)]
    );
    assert_eq!(u.daily[6].date, echopilot_core::time::date(TODAY_NOON));
    assert_eq!(u.window.days, 7);
    assert_eq!(u.window.from, rfc3339((day_of(TODAY_NOON) - 6) * DAY_MS));

    // The other tenant sees only its own; a tenant with nothing has no
    // stickiness.
    let acme = usage::report(env.db.as_ref(), "acme", TODAY_NOON, 30).unwrap();
    assert_eq!((acme.dau, acme.mau, acme.daily.len()), (1, 1, 30));
    assert_eq!(acme.top_events[0].count, 2);
    let none = usage::report(env.db.as_ref(), "nobody", TODAY_NOON, 30).unwrap();
    assert_eq!((none.mau, none.stickiness), (0, None));
}

#[test]
fn the_rollup_keeps_raw_events_bounded_and_counts_every_event_once() {
    let (env, clock) = env(&[]);
    let start = TODAY_NOON - 20 * DAY_MS;
    let mut recorded = 0;
    for d in 0..20 {
        // A day of traffic, then the 03:15 run of the next day.
        clock.set(start + d * DAY_MS);
        for v in ["v1", "v2", "v3"] {
            visit(&env, "default", v, &["page.view", "palette.open"]);
            recorded += 2;
        }
        let run_at = (day_of(start) + d + 1) * DAY_MS + (3 * 60 + 15) * 60_000;
        clock.set(run_at);
        let f = rollup::fold(&env, run_at).unwrap();
        // After the run only yesterday (not final) is raw.
        let raw_days = count(&env, "SELECT COUNT(DISTINCT day) FROM analytics_events");
        assert!(raw_days <= 1, "day {d}: {raw_days} raw days");
        assert!(f.raw_left <= 6, "day {d}: {} raw events", f.raw_left);
        assert!(
            count(&env, "SELECT COUNT(*) FROM analytics_salts") <= 2,
            "day {d}: salts of past days are forgotten"
        );
        // A second run (another replica, a retry) changes nothing.
        let again = rollup::fold(&env, run_at).unwrap();
        assert_eq!((again.days, again.events), (0, 0));
    }
    let rolled = count(&env, "SELECT COALESCE(SUM(events), 0) FROM analytics_days");
    let raw = count(&env, "SELECT COUNT(*) FROM analytics_events");
    assert_eq!(rolled + raw, recorded, "every event counted exactly once");
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM analytics_days WHERE visitors <> 3"
        ),
        0,
        "three visitors every day"
    );
}

#[test]
fn the_intake_records_a_batch_under_the_callers_tenant_and_stores_nothing_personal() {
    let (env, _) = env(&[("dashboard_key", DASH_KEY)]);
    let (status, body, cookie) = post_events(
        &env,
        &json!({"events": [
            {"name": "page.view", "view": "landing"},
            {"name": "auth.sign_in", "at": rfc3339(T0 - 60_000)},
        ]}),
        "198.51.100.23",
    );
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["data"]["accepted"], 2);
    assert_eq!(cookie, None, "analytics sets no cookie");
    // A signed-in caller's events count under its tenant (the dashboard
    // key is an admin of the default tenant).
    let req = post_json(
        "/api/analytics/event",
        &json!({"events": [{"name": "cap.set"}]}),
    )
    .with_header("x-dash-key", DASH_KEY);
    let (resp, _) = call(&analytics::APP, &env, req);
    assert_eq!(resp.status, 202);
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM analytics_events WHERE tenant_id = 'default'"
        ),
        3
    );
    let dump = env
        .db
        .exec("SELECT * FROM analytics_events", &[])
        .unwrap()
        .rows
        .iter()
        .map(|r| format!("{:?}", r.values))
        .collect::<Vec<_>>()
        .join("\n");
    for personal in ["198.51.100", "Mozilla"] {
        assert!(!dump.contains(personal), "{personal} stored: {dump}");
    }
}

#[test]
fn bad_batches_are_refused_whole_and_change_nothing() {
    let (env, _) = env(&[]);
    let cases = [
        (
            json!({"events": [{"name": "page.view", "view": "jobs"}, {"name": "rm -rf"}]}),
            400,
            "unknown_event",
        ),
        (json!({"events": []}), 400, "invalid_batch"),
        (
            json!({"events": [{"name": "page.view", "view": "jobs", "email": "x@y.z"}]}),
            400,
            "invalid_json",
        ),
        (
            json!({"events": [{"name": "page.view", "view": "x".repeat(17_000)}]}),
            413,
            "payload_too_large",
        ),
    ];
    for (body, status, code) in cases {
        let (got, json, _) = post_events(&env, &body, "192.0.2.1");
        assert_eq!((got, json["error"]["code"].as_str()), (status, Some(code)));
    }
    assert_eq!(count(&env, "SELECT COUNT(*) FROM analytics_events"), 0);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM analytics_intake"), 0);
}

#[test]
fn floods_meet_the_address_visitor_and_daily_limits() {
    // Anonymous: 5 batches per address (the smallest burst), then 429.
    let (anon, _) = env(&[("analytics_anonymous_per_minute", "1")]);
    let one = json!({"events": [{"name": "palette.open"}]});
    for _ in 0..5 {
        assert_eq!(post_events(&anon, &one, "203.0.113.9").0, 202);
    }
    let (status, body, _) = post_events(&anon, &one, "203.0.113.9");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    assert_eq!(
        post_events(&anon, &one, "203.0.113.10").0,
        202,
        "per address"
    );

    // Per visitor, whatever the credential.
    let (signed, _) = env(&[
        ("analytics_visitor_per_minute", "1"),
        ("dashboard_key", DASH_KEY),
    ]);
    let signed_in = || {
        let req = post_json("/api/analytics/event", &one)
            .with_header("x-dash-key", DASH_KEY)
            .with_header("user-agent", "agent");
        call(&analytics::APP, &signed, req).0.status
    };
    let statuses: Vec<u16> = (0..6).map(|_| signed_in()).collect();
    assert_eq!(statuses, vec![202, 202, 202, 202, 202, 429]);

    // The daily cap per tenant: a batch that does not fit is refused whole.
    let (capped, _) = env(&[("analytics_daily_events_max", "3")]);
    let two = json!({"events": [{"name": "palette.open"}, {"name": "palette.run"}]});
    assert_eq!(post_events(&capped, &two, "192.0.2.50").0, 202);
    let (status, body, _) = post_events(&capped, &two, "192.0.2.51");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("analytics_cap_reached"))
    );
    assert_eq!(count(&capped, "SELECT COUNT(*) FROM analytics_events"), 2);
    assert_eq!(
        post_events(&capped, &one, "192.0.2.52").0,
        202,
        "one still fits"
    );
}

#[test]
fn usage_is_for_analysts_and_their_own_tenant() {
    let (env, _) = env(&[("dashboard_key", DASH_KEY)]);
    visit(&env, "default", "a", &["page.view"]);
    let (resp, body) = call(&analytics::APP, &env, op_get("/api/analytics/usage?days=7"));
    assert_eq!(resp.status, 200, "{body}");
    assert_eq!(body["data"]["tenant_id"], "default");
    assert_eq!(body["data"]["dau"], 1);
    assert_eq!(body["data"]["daily"].as_array().unwrap().len(), 7);
    for bad in ["0", "91", "seven"] {
        let (resp, body) = call(
            &analytics::APP,
            &env,
            op_get(&format!("/api/analytics/usage?days={bad}")),
        );
        assert_eq!(
            (resp.status, body["error"]["code"].as_str()),
            (400, Some("invalid_days"))
        );
    }
    let (resp, _) = call(
        &analytics::APP,
        &env,
        Request::new(Method::Get, "/api/analytics/usage"),
    );
    assert_eq!(resp.status, 401, "anonymous callers may post, not read");
}
