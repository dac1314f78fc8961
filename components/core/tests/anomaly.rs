//! The latency anomaly guard on real SQLite: request samples recorded as
//! the app records them, judged against the 50 before each, one incident
//! per run, the watermark, health checks left out, and the cap.

mod support;

use echopilot_core::adapters::native::ManualClock;
use echopilot_core::anomaly::{self, scan};
use echopilot_core::http::Method;
use echopilot_core::ports::{Clock, DbExt, Env};
use echopilot_core::scheduler::{RunContext, Trigger};
use echopilot_core::telemetry::{self, Sample};
use futures::executor::block_on;
use serde_json::Value;
use support::*;

/// Record one request per latency (µs), a second apart, on `route`, with
/// request ids `{tag}-{i}`.
fn requests(env: &Env, clock: &ManualClock, route: &'static str, tag: &str, latencies: &[i64]) {
    for (i, &us) in latencies.iter().enumerate() {
        clock.advance(1000);
        let s = Sample {
            component: "api-jobs",
            route,
            method: Method::Get,
            status: 200,
            tenant: "default".into(),
            request_id: format!("{tag}-{i}"),
        };
        telemetry::record(env, &s, us).unwrap();
    }
}

/// `n` latencies around 20 ms (19.6 to 20.4 ms).
fn steady(n: usize) -> Vec<i64> {
    (0..n as i64).map(|i| 19_600 + (i * 37) % 800).collect()
}

fn run(now_ms: i64) -> RunContext {
    run_context(&echopilot_core::anomaly::JOB, now_ms, Trigger::Cron)
}

fn guard(env: &Env, clock: &ManualClock) -> String {
    anomaly::guard(env, &run(clock.now_ms())).unwrap()
}

fn incidents(env: &Env) -> Vec<(String, String, String, i64, Value)> {
    env.db
        .exec(
            "SELECT severity, source, message, repeat_count, links FROM incidents ORDER BY created_at",
            &[],
        )
        .unwrap()
        .rows
        .iter()
        .map(|r| {
            (
                r.text(0).unwrap(),
                r.text(1).unwrap(),
                r.text(2).unwrap(),
                r.i64(3).unwrap(),
                serde_json::from_str(&r.text(4).unwrap()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_spike_after_a_steady_series_raises_one_warning_with_links() {
    let (env, clock) = env(&[]);
    requests(&env, &clock, "/api/jobs", "steady", &steady(80));
    requests(
        &env,
        &clock,
        "/api/jobs/{id}",
        "spike",
        &[2_000_000, 1_500_000],
    );
    requests(&env, &clock, "/api/jobs", "after", &steady(10));
    let summary = guard(&env, &clock);
    assert!(
        summary.contains("examined 92 request samples (0 skipped), 2 beyond 3σ"),
        "{summary}"
    );
    assert!(summary.contains("(new)"), "{summary}");
    let all = incidents(&env);
    assert_eq!(all.len(), 1, "one incident per run");
    let (severity, source, message, repeats, links) = &all[0];
    assert_eq!(
        (
            severity.as_str(),
            source.as_str(),
            message.as_str(),
            *repeats
        ),
        ("WARNING", "anomaly", "request latency anomaly", 0)
    );
    assert_eq!(links["metric"], "echopilot_http_request_duration_seconds");
    assert_eq!(links["count"], 2);
    assert_eq!(
        links["request_ids"],
        serde_json::json!(["spike-0", "spike-1"])
    );
    let worst = &links["samples"][0];
    assert_eq!(worst["route"], "/api/jobs/{id}");
    assert_eq!(worst["latency_ms"], 2000.0);
    let mean = worst["mean_ms"].as_f64().unwrap();
    let std = worst["std_ms"].as_f64().unwrap();
    assert!((19.6..=20.4).contains(&mean), "{worst}");
    assert!(std > 0.1 && std < 0.5, "{worst}");
    assert!(worst["sigmas"].as_f64().unwrap() > 3.0);
    assert_eq!(links["mean_ms"], worst["mean_ms"]);
    // The second spike is judged against a window holding the first, so
    // it is fewer deviations out, but still out.
    assert!(links["samples"][1]["sigmas"].as_f64().unwrap() > 3.0);
}

#[test]
fn a_steady_series_raises_nothing() {
    let (env, clock) = env(&[]);
    requests(&env, &clock, "/api/jobs", "steady", &steady(300));
    let summary = guard(&env, &clock);
    assert!(
        summary.contains("examined 300 request samples (0 skipped), 0 beyond"),
        "{summary}"
    );
    assert!(incidents(&env).is_empty());
}

#[test]
fn fewer_than_fifty_samples_judge_nothing() {
    let (env, clock) = env(&[]);
    requests(&env, &clock, "/api/jobs", "steady", &steady(49));
    requests(&env, &clock, "/api/jobs", "spike", &[5_000_000]);
    guard(&env, &clock);
    assert!(incidents(&env).is_empty());
    // The 49 and the spike are history now: one more steady sample is
    // judged against a full window (which the spike makes wide).
    requests(&env, &clock, "/api/jobs", "next", &steady(1));
    assert!(guard(&env, &clock).contains("examined 1 request samples"));
    assert!(incidents(&env).is_empty());
}

#[test]
fn a_second_run_does_not_examine_old_samples_again() {
    let (env, clock) = env(&[]);
    requests(&env, &clock, "/api/jobs", "steady", &steady(60));
    requests(&env, &clock, "/api/jobs", "spike", &[3_000_000]);
    guard(&env, &clock);
    assert_eq!(incidents(&env).len(), 1);
    let mark = scan::watermark(env.db.as_ref()).unwrap();
    assert_eq!(mark, 61);
    // Nothing new: nothing examined, no repeat.
    clock.advance(300_000);
    let summary = guard(&env, &clock);
    assert!(
        summary.starts_with("examined 0 request samples"),
        "{summary}"
    );
    assert_eq!(
        incidents(&env)[0].3,
        0,
        "the old spike was not raised again"
    );
    // New steady samples are judged against the window before them (the
    // spike included), and raise nothing.
    requests(&env, &clock, "/api/jobs", "calm", &steady(100));
    guard(&env, &clock);
    assert_eq!(incidents(&env)[0].3, 0);
    // A new spike within the hour repeats the same incident.
    requests(&env, &clock, "/api/jobs", "again", &[4_000_000]);
    guard(&env, &clock);
    let all = incidents(&env);
    assert_eq!((all.len(), all[0].3), (1, 1));
}

#[test]
fn health_checks_are_left_out() {
    let (env, clock) = env(&[]);
    requests(&env, &clock, "/api/jobs", "steady", &steady(60));
    requests(&env, &clock, "/health", "health", &[9_000_000]);
    requests(&env, &clock, "/healthz/strict", "strict", &[9_000_000]);
    let summary = guard(&env, &clock);
    assert!(summary.contains("examined 60 request samples"), "{summary}");
    assert!(incidents(&env).is_empty());
}

#[test]
fn a_run_examines_at_most_the_newest_samples_of_its_cap() {
    let (env, clock) = env(&[]);
    let n = scan::MAX_EXAMINED as usize + 200;
    let mut latencies = steady(n);
    latencies[100] = 9_000_000; // among the skipped ones: never judged
    requests(&env, &clock, "/api/jobs", "bulk", &latencies);
    let found = scan::scan(&env).unwrap();
    assert_eq!(found.examined as i64, scan::MAX_EXAMINED);
    assert_eq!(found.skipped, 200);
    assert!(found.anomalies.is_empty());
    assert_eq!(found.upto, n as i64);
}

#[test]
fn the_job_runs_through_the_scheduler() {
    let (env, clock) = env(&[]);
    requests(&env, &clock, "/api/jobs", "steady", &steady(60));
    requests(&env, &clock, "/api/jobs", "spike", &[3_000_000]);
    let report = block_on(echopilot_core::scheduler::run(
        &env,
        &anomaly::JOB,
        Trigger::Cron,
        clock.now_ms(),
    ))
    .unwrap();
    let report = serde_json::to_value(&report).unwrap();
    assert_eq!(report["outcome"], "ran", "{report}");
    assert!(report["summary"].as_str().unwrap().contains("1 beyond 3σ"));
    assert_eq!(incidents(&env).len(), 1);
}
