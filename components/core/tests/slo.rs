//! SLOs on real SQLite: induced errors move the burn and the alert level
//! as the windows predict, the minimum-traffic guard, latency and quality
//! SLOs, the deploy gate's two hours, rebaselines, `/healthz/strict`, and
//! the job's incidents.

mod support;

use echopilot_core::adapters::native::ManualClock;
use echopilot_core::ai::worker::drain;
use echopilot_core::http::{Method, Request};
use echopilot_core::jobs::model::{Brief, JobType, NewJob};
use echopilot_core::jobs::store;
use echopilot_core::ports::{Clock, DbExt, Env};
use echopilot_core::scheduler::{RunContext, Trigger};
use echopilot_core::slo::{self, gate, Level};
use echopilot_core::telemetry::{self, Sample};
use echopilot_core::tenancy::TenantId;
use futures::executor::block_on;
use support::*;

const OPS: &echopilot_core::app::App = &echopilot_core::ops::api::APP;
const HEALTH: &echopilot_core::app::App = &echopilot_core::health::APP;
const MIN: i64 = 60_000;

/// `per_minute` requests in each of the `minutes` minutes ending at the
/// clock's minute, a share `err(minute_offset)` of them 5xx, `latency_us`.
fn traffic(
    env: &Env,
    clock: &ManualClock,
    minutes: i64,
    per_minute: i64,
    latency_us: i64,
    err: impl Fn(i64) -> f64,
) {
    let end = clock.now_ms();
    for back in (0..minutes).rev() {
        clock.set(end - back * MIN);
        let errors = (per_minute as f64 * err(back)).round() as i64;
        for i in 0..per_minute {
            let s = Sample {
                component: "api-jobs",
                route: "/api/jobs",
                method: Method::Get,
                status: if i < errors { 503 } else { 200 },
                tenant: "default".into(),
                request_id: format!("r{back}-{i}"),
            };
            telemetry::record(env, &s, latency_us).unwrap();
        }
    }
    clock.set(end);
}

fn run(now_ms: i64) -> RunContext {
    run_context(&echopilot_core::slo::JOB, now_ms, Trigger::Http)
}

#[test]
fn a_fast_burn_is_critical_and_degrades_to_warning_once_the_errors_stop() {
    let (env, clock) = env(&[]);
    // An hour at 100 requests a minute, a quarter of them failing.
    traffic(&env, &clock, 60, 100, 20_000, |_| 0.25);
    let r = slo::report(&env).unwrap();
    assert_eq!(r.burn_alert, Level::Critical, "{:?}", r.availability.rules);
    assert_eq!(r.windows["1h"].requests, 6000);
    assert_eq!(r.windows["1h"].errors, 1500);
    assert_eq!(r.windows["1h"].burn_rate, 25.0, "25% errors on a 1% budget");
    assert_eq!(r.windows["5m"].requests, 500);
    assert!(r.breaches.iter().any(|b| b.contains("CRITICAL")));
    assert_eq!(r.slo_targets.daily_error_budget_pct, 1.0);

    // Five clean minutes later the short window no longer confirms the
    // 14.4x rule, but 6 h and 30 min still burn over 6x: WARNING.
    clock.advance(5 * MIN);
    traffic(&env, &clock, 5, 100, 20_000, |_| 0.0);
    let r = slo::report(&env).unwrap();
    let critical = &r.availability.rules[0];
    assert!(
        !critical.firing && critical.short_burn == 0.0,
        "{critical:?}"
    );
    assert_eq!(r.burn_alert, Level::Warning);
    assert!(
        r.remaining_budget_pct < 0.0,
        "the month's budget is overspent"
    );
}

#[test]
fn three_requests_in_an_hour_cannot_page_anyone() {
    let (env, clock) = env(&[]);
    traffic(&env, &clock, 3, 1, 5_000, |_| 1.0);
    let r = slo::report(&env).unwrap();
    assert_eq!(r.windows["1h"].errors, 3);
    assert_eq!(r.burn_alert, Level::Ok);
    assert!(r.availability.rules.iter().all(|x| x.guarded && !x.firing));
    assert!(r.breaches.is_empty(), "{:?}", r.breaches);
}

#[test]
fn slow_requests_breach_the_latency_slo() {
    let (env, clock) = env(&[("slo_p95_ms", "800")]);
    traffic(&env, &clock, 10, 20, 2_000_000, |_| 0.0);
    let r = slo::report(&env).unwrap();
    assert!(r.latency_1h.breached);
    assert!(r.latency_1h.p95_ms.unwrap() > 800.0);
    assert_eq!(r.burn_alert, Level::Ok, "slow is not an error");
    let resp = block_on(echopilot_core::app::serve(
        HEALTH,
        &env,
        Request::new(Method::Get, "/healthz/strict"),
    ));
    assert_eq!(resp.status, 503);
    let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert!(
        body["data"]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("latency"),
        "{body}"
    );
}

#[test]
fn healthz_strict_flips_to_503_and_back_and_its_own_503s_do_not_count() {
    let (env, clock) = env(&[]);
    let strict = |env: &Env| {
        block_on(echopilot_core::app::serve(
            HEALTH,
            env,
            Request::new(Method::Get, "/healthz/strict"),
        ))
        .status
    };
    traffic(&env, &clock, 10, 50, 10_000, |_| 0.0);
    assert_eq!(strict(&env), 200);
    clock.advance(MIN);
    traffic(&env, &clock, 10, 50, 10_000, |_| 0.5);
    for _ in 0..20 {
        assert_eq!(strict(&env), 503);
    }
    let errors = slo::report(&env).unwrap().windows["1h"].errors;
    assert_eq!(errors, 250, "the 20 strict 503s are not errors");
    // Half an hour of clean traffic later the burn has passed.
    clock.advance(60 * MIN);
    traffic(&env, &clock, 60, 50, 10_000, |_| 0.0);
    assert_eq!(strict(&env), 200);
}

#[test]
fn rebaseline_forgets_old_errors_and_is_audited() {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    traffic(&env, &clock, 30, 50, 10_000, |_| 0.5);
    assert_eq!(slo::report(&env).unwrap().burn_alert, Level::Critical);
    clock.advance(MIN);
    let req = post_json(
        "/api/slo/rebaseline",
        &serde_json::json!({"reason": "bad deploy rolled back"}),
    )
    .with_header("x-dash-key", DASH_KEY);
    let (resp, body) = call(OPS, &env, req);
    assert_eq!(resp.status, 200, "{body}");
    assert_eq!(body["data"]["burn_alert"], "OK");
    assert_eq!(body["data"]["windows"]["1h"]["requests"], 0);
    assert!(body["data"]["baseline_at"].is_string());
    let audited = env
        .db
        .query_one(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'slo.rebaseline'",
            &[],
        )
        .unwrap()
        .i64(0)
        .unwrap();
    assert_eq!(audited, 1);
    // Within one minute: what came before the rebaseline stops counting,
    // what comes after counts.
    traffic(&env, &clock, 1, 40, 10_000, |_| 0.5);
    slo::budget::rebaseline(&env, clock.now_ms()).unwrap();
    assert_eq!(slo::report(&env).unwrap().windows["5m"].requests, 0);
    traffic(&env, &clock, 1, 10, 10_000, |_| 0.0);
    let w = &slo::report(&env).unwrap().windows["5m"];
    assert_eq!((w.requests, w.errors), (10, 0));
    // Bad input changes nothing.
    let bad = post_json("/api/slo/rebaseline", &serde_json::json!({"because": "x"}))
        .with_header("x-dash-key", DASH_KEY);
    assert_eq!(call(OPS, &env, bad).0.status, 400);
}

#[test]
fn the_deploy_gate_rises_after_two_critical_hours_and_recovery_or_an_operator_clears_it() {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    let t0 = clock.now_ms();
    assert_eq!(
        gate::observe(&env, Level::Critical, t0).unwrap(),
        gate::Change::None
    );
    assert_eq!(
        gate::observe(&env, Level::Critical, t0 + 119 * MIN).unwrap(),
        gate::Change::None
    );
    assert!(!gate::state(env.db.as_ref()).unwrap().up);
    assert_eq!(
        gate::observe(&env, Level::Critical, t0 + 120 * MIN).unwrap(),
        gate::Change::Raised
    );
    assert!(gate::state(env.db.as_ref()).unwrap().up);
    // A WARNING evaluation breaks the streak but does not clear the gate.
    assert_eq!(
        gate::observe(&env, Level::Warning, t0 + 135 * MIN).unwrap(),
        gate::Change::None
    );
    assert!(gate::state(env.db.as_ref()).unwrap().up);
    // OK: recovery clears it.
    assert_eq!(
        gate::observe(&env, Level::Ok, t0 + 150 * MIN).unwrap(),
        gate::Change::Recovered
    );
    let g = gate::state(env.db.as_ref()).unwrap();
    assert!(!g.up && g.cleared_by.as_deref() == Some("recovery"));
    // A streak interrupted before two hours never raises it.
    gate::observe(&env, Level::Critical, t0 + 200 * MIN).unwrap();
    gate::observe(&env, Level::Ok, t0 + 260 * MIN).unwrap();
    assert_eq!(
        gate::observe(&env, Level::Critical, t0 + 330 * MIN).unwrap(),
        gate::Change::None
    );
    // Up again after two more hours; an operator clears it, audited.
    gate::observe(&env, Level::Critical, t0 + 450 * MIN).unwrap();
    assert!(gate::state(env.db.as_ref()).unwrap().up);
    let req = post_json(
        "/api/slo/deploy-gate/clear",
        &serde_json::json!({"reason": "hotfix verified"}),
    )
    .with_header("x-dash-key", DASH_KEY);
    let (resp, body) = call(OPS, &env, req);
    assert_eq!(resp.status, 200, "{body}");
    assert_eq!(body["data"]["up"], false);
    let by = gate::state(env.db.as_ref()).unwrap().cleared_by.unwrap();
    assert!(by.contains("dashboard"), "{by}");
    // The gate shows in /health and makes /healthz/strict fail while up.
    gate::observe(&env, Level::Critical, t0 + 460 * MIN).unwrap();
    gate::observe(&env, Level::Critical, t0 + 580 * MIN).unwrap();
    let (resp, body) = call(HEALTH, &env, Request::new(Method::Get, "/health"));
    assert_eq!(resp.status, 200);
    assert_eq!(body["data"]["deploy_gate"]["up"], true, "{body}");
    let (resp, body) = call(HEALTH, &env, Request::new(Method::Get, "/healthz/strict"));
    assert_eq!(resp.status, 503);
    assert!(
        body["data"]["reasons"].to_string().contains("deploy gate"),
        "{body}"
    );
}

#[test]
fn the_job_raises_an_incident_per_burn_and_counts_repeats() {
    let (env, clock) = env(&[]);
    traffic(&env, &clock, 60, 100, 20_000, |_| 0.3);
    let summary = slo::evaluate(&env, &run(clock.now_ms())).unwrap();
    assert!(summary.starts_with("availability CRITICAL"), "{summary}");
    clock.advance(15 * MIN);
    traffic(&env, &clock, 15, 100, 20_000, |_| 0.3);
    slo::evaluate(&env, &run(clock.now_ms())).unwrap();
    let rows = env
        .db
        .exec(
            "SELECT severity, source, repeat_count FROM incidents ORDER BY created_at",
            &[],
        )
        .unwrap();
    assert_eq!(rows.rows.len(), 1, "one incident");
    let r = &rows.rows[0];
    assert_eq!(
        (r.text(0).unwrap(), r.text(1).unwrap(), r.i64(2).unwrap()),
        ("CRITICAL".into(), "slo".into(), 1)
    );
}

#[test]
fn qa_failures_burn_the_quality_slo() {
    let mock = mock_openai(vec![Ok(grades(40, 40, 40, 40))]);
    let mut vars = OPENAI_VARS.to_vec();
    vars.extend([("qa_max_retries", "0"), ("slo_min_events", "5")]);
    let (mut env, _) = env(&vars);
    env.http = Box::new(SharedHttp(mock.http.clone()));
    for i in 0..8 {
        let job = NewJob::new(
            JobType::AiTask,
            Brief::parse(&format!("brief {i}")).unwrap(),
        );
        store::create(&env, &TenantId::default_tenant(), &job, None).unwrap();
    }
    block_on(drain(&env)).unwrap();
    let r = slo::report(&env).unwrap();
    assert_eq!(r.windows["1h"].graded, 8);
    assert_eq!(r.windows["1h"].qa_failed, 8);
    // Every output failing on a 90% target burns the 10% budget at 10x:
    // over the 6x rule, and as fast as that budget can burn (a 14.4x
    // page needs a target above 93.1%).
    assert_eq!(r.quality.level, Level::Warning);
    assert_eq!(r.windows["1h"].qa_failed * 10 / r.windows["1h"].graded, 10);
    assert_eq!(r.quality_pass_rate_pct, Some(0.0));
    assert!(r.breaches.iter().any(|b| b.contains("quality")));
}

#[test]
fn provider_errors_burn_the_job_slo() {
    let http = echopilot_core::adapters::native::ScriptedHttp::new(|_| {
        Ok(echopilot_core::ports::OutboundResponse {
            status: 500,
            headers: vec![],
            body: br#"{"error":{"message":"upstream exploded"}}"#.to_vec(),
        })
    });
    let mut vars = OPENAI_VARS.to_vec();
    vars.push(("slo_min_events", "5"));
    let (mut env, _) = env(&vars);
    env.http = Box::new(http);
    for i in 0..6 {
        let job = NewJob::new(
            JobType::AiTask,
            Brief::parse(&format!("brief {i}")).unwrap(),
        );
        store::create(&env, &TenantId::default_tenant(), &job, None).unwrap();
    }
    let tick = block_on(drain(&env)).unwrap();
    assert_eq!(tick.retried, 6, "{tick:?}");
    let r = slo::report(&env).unwrap();
    assert_eq!(
        (r.windows["1h"].job_rounds, r.windows["1h"].job_errors),
        (6, 6)
    );
    assert_eq!(
        r.jobs.level,
        Level::Critical,
        "100% failures on a 1% budget"
    );
    assert_eq!(r.burn_alert, Level::Ok, "no HTTP request failed");
    assert!(
        r.breaches.iter().any(|b| b.contains("job processing")),
        "{:?}",
        r.breaches
    );
}
