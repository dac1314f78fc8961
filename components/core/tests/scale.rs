//! Autoscaling on real SQLite: every seed rule from real request samples
//! and real jobs, min/max, the cooldown and its remaining seconds, the
//! deploy gate, dry runs, applies (state and audit), operator counts, the
//! forecast, bad input, and the worker's concurrency following the applied
//! workers.

mod support;

use echopilot_core::adapters::native::ManualClock;
use echopilot_core::ai::worker::drain;
use echopilot_core::audit::Who;
use echopilot_core::http::Method;
use echopilot_core::jobs::model::{Brief, JobType, NewJob};
use echopilot_core::jobs::store;
use echopilot_core::ports::{Clock, DbExt, Env};
use echopilot_core::scale::{self, ApplyRequest};
use echopilot_core::scheduler::{RunContext, Trigger};
use echopilot_core::slo::{gate, Level};
use echopilot_core::telemetry::{self, Sample};
use echopilot_core::tenancy::TenantId;
use futures::executor::block_on;
use serde_json::{json, Value};
use support::*;

const OPS: &echopilot_core::app::App = &echopilot_core::ops::api::APP;
const MIN: i64 = 60_000;

/// `per_minute` requests of `latency_us` in each of the `minutes` minutes
/// ending at the clock's minute.
fn traffic(env: &Env, clock: &ManualClock, minutes: i64, per_minute: i64, latency_us: i64) {
    let end = clock.now_ms();
    for back in (0..minutes).rev() {
        clock.set(end - back * MIN);
        for i in 0..per_minute {
            let s = Sample {
                component: "api-jobs",
                route: "/api/jobs",
                method: Method::Get,
                status: 200,
                tenant: "default".into(),
                request_id: format!("r{back}-{i}"),
            };
            telemetry::record(env, &s, latency_us).unwrap();
        }
    }
    clock.set(end);
}

fn create_job(env: &Env, n: usize) {
    let job = NewJob::new(
        JobType::AiTask,
        Brief::parse(&format!("brief {n}")).unwrap(),
    );
    store::create(env, &TenantId::default_tenant(), &job, None).unwrap();
}

/// `per_minute(back)` jobs created a second into each of the `minutes`
/// minutes before the clock's minute (`back` = 1 is the last whole one).
fn arrivals(env: &Env, clock: &ManualClock, minutes: i64, per_minute: impl Fn(i64) -> i64) {
    let now = clock.now_ms();
    let now_min = now / MIN;
    let mut n = 0;
    for back in (1..=minutes).rev() {
        clock.set((now_min - back) * MIN + 1000);
        for _ in 0..per_minute(back) {
            create_job(env, n);
            n += 1;
        }
    }
    clock.set(now);
}

fn status(env: &Env) -> Value {
    let (resp, body) = call(OPS, env, op_get("/api/scale/status"));
    assert_eq!(resp.status, 200, "{body}");
    body["data"].clone()
}

fn apply(env: &Env, body: Value) -> (u16, Value) {
    let req = post_json("/api/scale/apply", &body).with_header("x-dash-key", DASH_KEY);
    let (resp, body) = call(OPS, env, req);
    (resp.status, body)
}

fn changes(env: &Env) -> i64 {
    env.db
        .query_one("SELECT COUNT(*) FROM scale_changes", &[])
        .unwrap()
        .i64(0)
        .unwrap()
}

fn audited(env: &Env) -> Vec<Value> {
    env.db
        .exec(
            "SELECT detail FROM audit_log WHERE action = 'scale.apply' ORDER BY seq",
            &[],
        )
        .unwrap()
        .rows
        .iter()
        .map(|r| serde_json::from_str(&r.text(0).unwrap()).unwrap())
        .collect()
}

/// Set the workers as an operator (bypassing the cooldown), then let the
/// cooldown pass.
fn set_workers(env: &Env, clock: &ManualClock, workers: i64) {
    let (code, body) = apply(env, json!({"dry_run": false, "workers": workers}));
    assert_eq!(code, 200, "{body}");
    clock.advance(11 * MIN);
}

fn run(now_ms: i64) -> RunContext {
    run_context(&echopilot_core::scale::JOB, now_ms, Trigger::Cron)
}

#[test]
fn slow_requests_scale_up_in_the_seed_s_shape() {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    traffic(&env, &clock, 10, 20, 1_600_000);
    let s = status(&env);
    assert_eq!(s["current_workers"], 1);
    assert_eq!(s["desired_workers"], 2);
    assert_eq!(s["reason"], "high_latency");
    assert_eq!(s["dry_run"], true);
    assert!(s["ts"].is_string());
    let p95 = s["metrics"]["p95_latency_ms"].as_f64().unwrap();
    assert!(p95 > 1000.0, "{s}");
    assert_eq!(s["metrics"]["queue_depth"], 0);
    assert_eq!(s["metrics"]["arrival_rate_per_min"], 0.0);
    assert_eq!(s["metrics"]["requests_10m"], 200);
    assert_eq!(
        s["constraints"],
        json!({"min": 1, "max": 6, "cooldown_min": 10, "cooldown_remaining_sec": 0, "deploy_gate_active": false})
    );
    assert_eq!(s["forecast"]["horizon_minutes"], 30);
    assert_eq!(s["forecast"]["window_minutes"], 60);
    assert_eq!(s["metrics"]["forecast_arrival_rate_per_min"], 0.0);
    assert_eq!(
        (s["action"].as_str(), s["target_workers"].as_i64()),
        (Some("scale_up"), Some(2))
    );
    assert_eq!(
        s["effective_concurrency"], 16,
        "1 worker x worker_concurrency 16"
    );
    assert_eq!(changes(&env), 0, "a status changes nothing");
}

#[test]
fn requests_older_than_ten_minutes_do_not_count() {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    traffic(&env, &clock, 5, 20, 1_600_000);
    clock.advance(10 * MIN);
    traffic(&env, &clock, 5, 20, 50_000);
    let s = status(&env);
    assert_eq!(s["metrics"]["requests_10m"], 100);
    assert_eq!(s["reason"], "low_utilization");
}

#[test]
fn many_arrivals_scale_up() {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    arrivals(&env, &clock, 10, |_| 11);
    traffic(&env, &clock, 10, 10, 50_000);
    let s = status(&env);
    assert_eq!(s["metrics"]["arrival_rate_per_min"], 11.0, "{s}");
    assert_eq!(s["metrics"]["queue_depth"], 110);
    assert_eq!(
        (s["desired_workers"].as_i64(), s["reason"].as_str()),
        (Some(2), Some("high_arrival_rate"))
    );
}

#[test]
fn a_fast_quiet_system_scales_down_and_a_middling_one_holds() {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    set_workers(&env, &clock, 3);
    traffic(&env, &clock, 10, 10, 40_000);
    arrivals(&env, &clock, 10, |back| (back % 2 == 0) as i64);
    let s = status(&env);
    assert_eq!(s["metrics"]["arrival_rate_per_min"], 0.5);
    assert_eq!(
        (
            s["current_workers"].as_i64(),
            s["desired_workers"].as_i64(),
            s["reason"].as_str()
        ),
        (Some(3), Some(2), Some("low_utilization"))
    );
    assert_eq!(s["action"], "scale_down");
    // 600 ms requests: neither rule fires.
    clock.advance(11 * MIN);
    traffic(&env, &clock, 10, 10, 600_000);
    let s = status(&env);
    assert_eq!(
        (s["desired_workers"].as_i64(), s["reason"].as_str()),
        (Some(3), Some("steady"))
    );
    assert_eq!(s["action"], "hold");
}

#[test]
fn min_and_max_bound_the_decision() {
    let (env, clock) = env(&[
        ("dashboard_key", DASH_KEY),
        ("scale_min", "2"),
        ("scale_max", "3"),
    ]);
    // Before any change the workers are scale_min.
    let s = status(&env);
    assert_eq!(
        (s["current_workers"].as_i64(), s["desired_workers"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        s["reason"], "low_utilization",
        "wants fewer, but 2 is the minimum"
    );
    assert_eq!(s["action"], "hold");
    set_workers(&env, &clock, 3);
    traffic(&env, &clock, 10, 10, 3_000_000);
    let s = status(&env);
    assert_eq!(
        (s["desired_workers"].as_i64(), s["reason"].as_str()),
        (Some(3), Some("high_latency"))
    );
    let (code, body) = apply(&env, json!({"dry_run": false}));
    assert_eq!(code, 200);
    assert_eq!(body["data"]["applied"], false, "already at the maximum");
}

#[test]
fn the_cooldown_holds_changes_and_counts_down() {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    traffic(&env, &clock, 10, 10, 2_000_000);
    let (code, body) = apply(&env, json!({"dry_run": false}));
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (body["data"]["from"].as_i64(), body["data"]["to"].as_i64()),
        (Some(1), Some(2))
    );
    // Four and a half minutes later it is still slow, but the cooldown holds.
    clock.advance(4 * MIN + 30_000);
    traffic(&env, &clock, 1, 10, 2_000_000);
    let s = status(&env);
    assert_eq!(
        (s["current_workers"].as_i64(), s["desired_workers"].as_i64()),
        (Some(2), Some(3))
    );
    assert_eq!(s["blocked_by"], "cooldown");
    assert_eq!(s["constraints"]["cooldown_remaining_sec"], 330);
    assert_eq!(s["target_workers"], 2);
    let (_, body) = apply(&env, json!({"dry_run": false}));
    assert_eq!(body["data"]["applied"], false);
    assert_eq!(changes(&env), 1);
    // Once it has passed, the next change goes through.
    clock.advance(5 * MIN + 30_000);
    traffic(&env, &clock, 1, 10, 2_000_000);
    assert_eq!(status(&env)["constraints"]["cooldown_remaining_sec"], 0);
    let (_, body) = apply(&env, json!({"dry_run": false}));
    assert_eq!(
        (
            body["data"]["applied"].as_bool(),
            body["data"]["to"].as_i64()
        ),
        (Some(true), Some(3))
    );
    assert_eq!(scale::current_workers(&env).unwrap(), 3);
}

fn raise_gate(env: &Env, clock: &ManualClock) {
    let now = clock.now_ms();
    gate::observe(env, Level::Critical, now - 121 * MIN).unwrap();
    assert_eq!(
        gate::observe(env, Level::Critical, now).unwrap(),
        gate::Change::Raised
    );
}

#[test]
fn the_deploy_gate_blocks_scaling_up_but_not_down() {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    set_workers(&env, &clock, 3);
    raise_gate(&env, &clock);
    traffic(&env, &clock, 10, 10, 2_000_000);
    let s = status(&env);
    assert_eq!(s["constraints"]["deploy_gate_active"], true);
    assert_eq!(
        (s["desired_workers"].as_i64(), s["blocked_by"].as_str()),
        (Some(4), Some("deploy_gate"))
    );
    let (_, body) = apply(&env, json!({"dry_run": false}));
    assert_eq!(body["data"]["applied"], false);
    // An operator may not raise it either...
    let (code, body) = apply(&env, json!({"dry_run": false, "workers": 5}));
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("deploy_gate_up"))
    );
    assert_eq!(scale::current_workers(&env).unwrap(), 3);
    // ...but scaling down goes ahead, automatically or by hand.
    clock.advance(11 * MIN);
    traffic(&env, &clock, 10, 10, 20_000);
    let (_, body) = apply(&env, json!({"dry_run": false}));
    assert_eq!(
        (
            body["data"]["applied"].as_bool(),
            body["data"]["to"].as_i64()
        ),
        (Some(true), Some(2))
    );
    let (code, _) = apply(&env, json!({"dry_run": false, "workers": 1}));
    assert_eq!(code, 200);
    assert_eq!(scale::current_workers(&env).unwrap(), 1);
}

#[test]
fn dry_runs_change_nothing() {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    traffic(&env, &clock, 10, 10, 2_000_000);
    for body in [json!({}), json!({"dry_run": true}), json!({"workers": 4})] {
        let (code, resp) = apply(&env, body.clone());
        assert_eq!(code, 200, "{resp}");
        let d = &resp["data"];
        assert_eq!(
            (d["dry_run"].as_bool(), d["applied"].as_bool()),
            (Some(true), Some(false)),
            "{body}"
        );
        assert_eq!(d["from"], 1);
    }
    // An empty body is a dry run too.
    let req = echopilot_core::http::Request::new(Method::Post, "/api/scale/apply")
        .with_header("x-dash-key", DASH_KEY);
    let (resp, body) = call(OPS, &env, req);
    assert_eq!(
        (resp.status, body["data"]["to"].as_i64()),
        (200, Some(2)),
        "{body}"
    );
    assert_eq!(changes(&env), 0);
    assert!(audited(&env).is_empty());
    assert_eq!(scale::current_workers(&env).unwrap(), 1);
}

#[test]
fn applying_changes_the_state_and_appends_to_the_audit_chain() {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    traffic(&env, &clock, 10, 10, 2_000_000);
    let (code, body) = apply(&env, json!({"dry_run": false}));
    assert_eq!(code, 200, "{body}");
    let d = &body["data"];
    assert_eq!(
        (
            d["applied"].as_bool(),
            d["from"].as_i64(),
            d["to"].as_i64(),
            d["reason"].as_str()
        ),
        (Some(true), Some(1), Some(2), Some("high_latency"))
    );
    let s = status(&env);
    assert_eq!(s["current_workers"], 2);
    assert_eq!(s["last_change"]["by"], "dashboard");
    assert_eq!(s["last_change"]["reason"], "high_latency");
    assert_eq!(s["constraints"]["cooldown_remaining_sec"], 600);
    assert_eq!(s["effective_concurrency"], 32);
    let audit = audited(&env);
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0]["from"].as_i64(), audit[0]["to"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(audit[0]["reason"], "high_latency");
    let actor = env
        .db
        .query_one(
            "SELECT actor, request_id FROM audit_log WHERE action = 'scale.apply'",
            &[],
        )
        .unwrap();
    assert_eq!(actor.text(0).unwrap(), "dashboard");
    assert!(actor.opt_text(1).unwrap().is_some());
    // An operator's count ignores the cooldown and is audited as such.
    let (code, body) = apply(&env, json!({"dry_run": false, "workers": 5}));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["reason"], "operator");
    assert_eq!(scale::current_workers(&env).unwrap(), 5);
    assert_eq!(audited(&env)[1]["reason"], "operator");
    // The same count again changes nothing and audits nothing.
    let (_, body) = apply(&env, json!({"dry_run": false, "workers": 5}));
    assert_eq!(body["data"]["applied"], false);
    assert_eq!((changes(&env), audited(&env).len()), (2, 2));
}

#[test]
fn the_cron_job_applies_only_when_dry_run_is_off() {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    traffic(&env, &clock, 10, 10, 2_000_000);
    let now = clock.now_ms();
    let summary = scale::autoscale(&env, &run(now)).unwrap();
    assert!(
        summary.starts_with("dry run: would scale 1 -> 2 (high_latency)"),
        "{summary}"
    );
    assert_eq!(changes(&env), 0);

    let (env, clock) = support::env(&[("scale_dry_run", "false")]);
    traffic(&env, &clock, 10, 10, 2_000_000);
    let now = clock.now_ms();
    let report = block_on(echopilot_core::scheduler::run(
        &env,
        &scale::JOB,
        Trigger::Cron,
        now,
    ))
    .unwrap();
    let summary = serde_json::to_value(&report).unwrap()["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        summary.starts_with("scaled 1 -> 2 (high_latency)"),
        "{summary}"
    );
    assert_eq!(scale::current_workers(&env).unwrap(), 2);
    let actor = env
        .db
        .query_one(
            "SELECT actor FROM audit_log WHERE action = 'scale.apply'",
            &[],
        )
        .unwrap()
        .text(0)
        .unwrap();
    assert_eq!(actor, "scheduler");
    // The variable off, a body may still ask for a dry run.
    let apply = scale::apply(
        &env,
        &ApplyRequest {
            dry_run: Some(true),
            workers: Some(4),
        },
        &Who::scheduler(),
    )
    .unwrap();
    assert!(apply.dry_run && !apply.applied);
    assert_eq!(scale::current_workers(&env).unwrap(), 2);
}

#[test]
fn a_rising_arrival_forecast_scales_up_before_the_load_arrives() {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    // Jobs per minute rise by one every 6 minutes: 0 an hour ago, 9 now.
    arrivals(&env, &clock, 60, |back| (60 - back) / 6);
    let s = status(&env);
    let rate = s["metrics"]["arrival_rate_per_min"].as_f64().unwrap();
    let forecast = s["metrics"]["forecast_arrival_rate_per_min"]
        .as_f64()
        .unwrap();
    assert!(rate < 10.0, "{s}");
    assert!(forecast > 10.0, "{s}");
    assert!(
        s["forecast"]["slope_per_min"].as_f64().unwrap() > 0.15,
        "{s}"
    );
    assert_eq!(
        (s["desired_workers"].as_i64(), s["reason"].as_str()),
        (Some(2), Some("forecast_arrival_rate"))
    );

    // The same load, flat for the hour, holds.
    let (env, clock) = support::env(&[("dashboard_key", DASH_KEY)]);
    arrivals(&env, &clock, 60, |_| 9);
    let s = status(&env);
    assert_eq!(s["metrics"]["forecast_arrival_rate_per_min"], 9.0, "{s}");
    assert_eq!(s["reason"], "steady");
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    traffic(&env, &clock, 10, 10, 2_000_000);
    let cases = [
        (
            json!({"dry_run": false, "workers": 0}),
            422,
            "workers_out_of_range",
        ),
        (
            json!({"dry_run": false, "workers": 7}),
            422,
            "workers_out_of_range",
        ),
        (json!({"workers": -3}), 422, "workers_out_of_range"),
        (json!({"dry_run": false, "worker": 2}), 400, "invalid_json"),
        (json!({"dry_run": "no"}), 400, "invalid_json"),
        (
            json!({"dry_run": false, "workers": 2.5}),
            400,
            "invalid_json",
        ),
        (json!([1]), 400, "invalid_json"),
    ];
    for (body, status, code) in cases {
        let (got, resp) = apply(&env, body.clone());
        assert_eq!(
            (got, resp["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let req = echopilot_core::http::Request::new(Method::Post, "/api/scale/apply")
        .with_header("x-dash-key", DASH_KEY)
        .with_header("content-type", "text/plain")
        .with_body(b"workers=2".to_vec());
    assert_eq!(call(OPS, &env, req).0.status, 415);
    assert_eq!(changes(&env), 0);
    assert!(audited(&env).is_empty());
    // No credential: 401; the routes are in the policy table.
    let (resp, _) = call(
        OPS,
        &env,
        echopilot_core::http::Request::new(Method::Get, "/api/scale/status"),
    );
    assert_eq!(resp.status, 401);
}

#[test]
fn the_worker_keeps_workers_times_concurrency_jobs_in_flight() {
    let mock = mock_openai(vec![Ok(grades(90, 90, 90, 90))]);
    let mut vars = OPENAI_VARS.to_vec();
    vars.push(("worker_concurrency", "3"));
    let (mut env, clock) = env(&vars);
    env.http = Box::new(SharedHttp(mock.http.clone()));
    for i in 0..20 {
        create_job(&env, i);
    }
    let one = block_on(drain(&env)).unwrap();
    assert_eq!((one.completed, one.peak_in_flight), (20, 3), "{one:?}");

    let (code, body) = apply(&env, json!({"dry_run": false, "workers": 2}));
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["data"]["decision"]["effective_concurrency"], 3,
        "before the change"
    );
    assert_eq!(status(&env)["effective_concurrency"], 6);
    for i in 20..40 {
        create_job(&env, i);
    }
    let two = block_on(drain(&env)).unwrap();
    assert_eq!((two.completed, two.peak_in_flight), (20, 6), "{two:?}");

    // Back to one worker: back to three in flight.
    clock.advance(MIN);
    apply(&env, json!({"dry_run": false, "workers": 1}));
    for i in 40..60 {
        create_job(&env, i);
    }
    assert_eq!(block_on(drain(&env)).unwrap().peak_in_flight, 3);
}

fn plan(env: &Env, sql: &str) -> String {
    env.db
        .exec(
            &format!("EXPLAIN QUERY PLAN {sql}"),
            echopilot_core::params![1, 2],
        )
        .unwrap()
        .rows
        .iter()
        .map(|r| r.text(3).unwrap())
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn arrivals_read_an_index_range_not_the_jobs_table() {
    let (env, _) = env(&[]);
    let count = plan(
        &env,
        "SELECT COUNT(*) FROM jobs WHERE created_at > ?1 AND created_at <= ?2",
    );
    assert!(
        count.contains("COVERING INDEX jobs_by_created (created_at>? AND created_at<?)"),
        "{count}"
    );
    let per_minute = plan(
        &env,
        "SELECT created_at / 60000, COUNT(*) FROM jobs WHERE created_at >= ?1 AND created_at < ?2 GROUP BY 1",
    );
    assert!(
        per_minute.contains("COVERING INDEX jobs_by_created"),
        "{per_minute}"
    );
    assert!(!per_minute.contains("SCAN jobs"), "{per_minute}");
}
