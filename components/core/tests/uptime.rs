//! Uptime over 30 days from the heartbeats, on real SQLite: missed
//! minutes, the window's start, `/health` and `/metrics`.

mod support;

use echopilot_core::heartbeat::{self, UPTIME_MINUTES};
use echopilot_core::http::{Method, Request};
use echopilot_core::params;
use echopilot_core::ports::{Clock, DbExt, Env};
use futures::executor::block_on;
use support::*;

const MIN: i64 = 60_000;

fn beat(env: &Env, at: i64) {
    env.db
        .exec(
            "INSERT INTO heartbeats (at, slot, trigger, git_sha, dirty) VALUES (?1, ?2, 'cron', 'test', 0)",
            params![at, at / MIN],
        )
        .unwrap();
}

#[test]
fn missed_minutes_lower_the_uptime() {
    let (env, clock) = env(&[("metrics_token", "metrics-token-for-native-tests-012345")]);
    let start = clock.now_ms();
    let missed = [3, 4, 5, 40, 41, 77, 98];
    for m in (0..100).filter(|m| !missed.contains(m)) {
        beat(&env, start + m * MIN + 350);
    }
    // A second beat in one minute (a retried slot) counts once.
    beat(&env, start + 10 * MIN + 20_000);
    // 100 whole minutes have passed; the 101st is in progress.
    clock.set(start + 100 * MIN + 30_000);
    let u = heartbeat::uptime(env.db.as_ref(), clock.now_ms()).unwrap();
    assert_eq!(
        (u.minutes_expected, u.minutes_up, u.missed_minutes),
        (100, 93, 7)
    );
    assert_eq!(u.pct, Some(93.0));

    let (resp, body) = call(
        &echopilot_core::health::APP,
        &env,
        Request::new(Method::Get, "/health"),
    );
    assert_eq!(resp.status, 200);
    let up = &body["data"]["uptime_30d"];
    assert_eq!(up["pct"], 93.0, "{body}");
    assert_eq!(up["missed_minutes"], 7);
    assert_eq!(up["since"], echopilot_core::time::rfc3339(start));

    let req = Request::new(Method::Get, "/metrics").with_header(
        "authorization",
        "Bearer metrics-token-for-native-tests-012345",
    );
    let resp = block_on(echopilot_core::app::serve(
        &echopilot_core::ops::api::APP,
        &env,
        req,
    ));
    let text = String::from_utf8(resp.body).unwrap();
    assert!(
        text.contains("# TYPE echopilot_uptime_ratio_30d gauge"),
        "{text}"
    );
    assert!(
        text.contains("\nechopilot_uptime_ratio_30d 0.93\n"),
        "{text}"
    );
}

#[test]
fn the_window_is_thirty_days_at_most_and_empty_before_the_first_minute() {
    let (env, clock) = env(&[]);
    let now = clock.now_ms();
    assert_eq!(
        heartbeat::uptime(env.db.as_ref(), now).unwrap().pct,
        None,
        "no heartbeat yet"
    );
    beat(&env, now + 100);
    assert_eq!(
        heartbeat::uptime(env.db.as_ref(), now + 30_000)
            .unwrap()
            .minutes_expected,
        0,
        "the first minute is still in progress"
    );
    // Forty days of beats, the first ten days without any gap and the
    // last thirty missing one minute in ten.
    let (env, clock) = support::env(&[]);
    let start = clock.now_ms();
    let days = 40 * 1440;
    for m in 0..days {
        let last_thirty = m >= days - UPTIME_MINUTES;
        if !(last_thirty && m % 10 == 0) {
            beat(&env, start + m * MIN + 100);
        }
    }
    clock.set(start + days * MIN + 5_000);
    let u = heartbeat::uptime(env.db.as_ref(), clock.now_ms()).unwrap();
    assert_eq!(u.minutes_expected, UPTIME_MINUTES);
    assert_eq!(u.missed_minutes, UPTIME_MINUTES / 10);
    assert_eq!(u.pct, Some(90.0));
}

#[test]
fn uptime_reads_the_heartbeat_index() {
    let (env, _) = env(&[]);
    let plan = env
        .db
        .exec(
            "EXPLAIN QUERY PLAN SELECT COUNT(DISTINCT at / 60000) FROM heartbeats WHERE at >= ?1 AND at < ?2",
            params![1, 2],
        )
        .unwrap()
        .rows
        .iter()
        .map(|r| r.text(3).unwrap())
        .collect::<Vec<_>>()
        .join("; ");
    assert!(plan.contains("COVERING INDEX heartbeats_by_time"), "{plan}");
}
