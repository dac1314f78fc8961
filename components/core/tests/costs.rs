//! Cost guardrails on real SQLite with a scripted OpenAI: the status
//! figures and levels, set-cap, the worker's throttling and downgrades,
//! the hourly incidents, and the cost per passing output.

mod support;

use echopilot_core::adapters::native::{ManualClock, ScriptedHttp};
use echopilot_core::ai::worker::{drain, TickReport};
use echopilot_core::app::Ctx;
use echopilot_core::costs;
use echopilot_core::http::router::{self, Handler};
use echopilot_core::http::{Method, Request};
use echopilot_core::identity::{Credential, Principal, Role};
use echopilot_core::jobs::model::{Brief, JobType, NewJob, Priority};
use echopilot_core::jobs::{store, Job};
use echopilot_core::ops;
use echopilot_core::ports::{DbExt, Env};
use echopilot_core::scheduler::{RunContext, Trigger};
use echopilot_core::tenancy::{Scope, TenantId};
use futures::executor::block_on;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use support::*;

const DAY_MS: i64 = 86_400_000;
const TODAY: i64 = T0 / DAY_MS;
const RECHECK_MS: i64 = 15 * 60_000;

/// Work on gpt-4o: 1000 in x $2.50 + 500 out x $10.00 per million.
const GPT4O_WORK: i64 = 7_500;
/// Work on gpt-4o-mini: 1000 x $0.15 + 500 x $0.60.
const MINI_WORK: i64 = 450;
/// One grading on gpt-4o-mini: 800 x $0.15 + 100 x $0.60.
const GRADING: i64 = 180;

/// A scripted OpenAI that answers with the model it was asked for: work
/// calls 1000 in / 500 out, grading calls the next grades of `script`
/// (the last repeats) with 800 in / 100 out.
struct EchoAi {
    http: Arc<ScriptedHttp>,
    work_models: Arc<Mutex<Vec<String>>>,
    grade_calls: Arc<AtomicUsize>,
}

fn echo_ai(script: Vec<String>) -> EchoAi {
    let work_models = Arc::new(Mutex::new(Vec::new()));
    let grade_calls = Arc::new(AtomicUsize::new(0));
    let (models, grades_seen) = (work_models.clone(), grade_calls.clone());
    let http = ScriptedHttp::new(move |req| {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let model = body["model"].as_str().unwrap().to_string();
        if is_grading(req) {
            let n = grades_seen.fetch_add(1, Ordering::SeqCst);
            let answer = script.get(n).or(script.last()).unwrap().clone();
            Ok(completion(&answer, &model, 800, 100))
        } else {
            models.lock().unwrap().push(model.clone());
            Ok(completion("Finished work.", &model, 1000, 500))
        }
    });
    EchoAi {
        http: Arc::new(http),
        work_models,
        grade_calls,
    }
}

fn passing() -> Vec<String> {
    vec![grades(90, 90, 90, 90)]
}

fn ai_env(ai: &EchoAi, extra: &[(&str, &str)]) -> (Env, ManualClock) {
    let mut vars = OPENAI_VARS.to_vec();
    vars.push(("worker_concurrency", "1"));
    vars.extend_from_slice(extra);
    let (mut env, clock) = env(&vars);
    env.http = Box::new(SharedHttp(ai.http.clone()));
    (env, clock)
}

fn work_models(ai: &EchoAi) -> Vec<String> {
    ai.work_models.lock().unwrap().clone()
}

/// Add spend (and QA verdicts) to `llm_usage_days` as the worker records it.
fn spend(env: &Env, day: i64, model: &str, role: &str, micros: i64, passed: i64, failed: i64) {
    env.db
        .exec(
            "INSERT INTO llm_usage_days (day, model, role, calls, tokens_in, tokens_out, cost_micros, qa_passed, qa_failed)
             VALUES (?1, ?2, ?3, 1, 0, 0, ?4, ?5, ?6)
             ON CONFLICT (day, model, role) DO UPDATE SET cost_micros = cost_micros + excluded.cost_micros,
                qa_passed = qa_passed + excluded.qa_passed, qa_failed = qa_failed + excluded.qa_failed",
            &[
                day.into(),
                model.into(),
                role.into(),
                micros.into(),
                passed.into(),
                failed.into(),
            ],
        )
        .unwrap();
}

fn submit(env: &Env, priority: Priority) -> String {
    let mut job = NewJob::new(
        JobType::AiTask,
        Brief::parse("Write a launch email").unwrap(),
    );
    job.priority = priority;
    store::create(env, &TenantId::parse("default").unwrap(), &job, None)
        .unwrap()
        .job
        .id
}

fn job(env: &Env, id: &str) -> Job {
    store::get(env, &Scope::All, id).unwrap()
}

fn attempts(env: &Env, id: &str) -> Vec<echopilot_core::jobs::record::AttemptView> {
    store::attempts(env, &job(env, id)).unwrap()
}

fn tick(env: &Env) -> TickReport {
    block_on(drain(env)).unwrap()
}

fn status(env: &Env) -> Value {
    let (resp, body) = call(&ops::api::APP, env, op_get("/api/costs/status"));
    assert_eq!(resp.status, 200, "{body}");
    body["data"].clone()
}

fn set_cap(env: &Env, body: Value) -> (u16, Value) {
    let req = post_json("/api/costs/set-cap", &body).with_header("x-dash-key", DASH_KEY);
    let (resp, body) = call(&ops::api::APP, env, req);
    (resp.status, body)
}

fn count(env: &Env, sql: &str) -> i64 {
    env.db.query_one(sql, &[]).unwrap().i64(0).unwrap()
}

/// The cost incidents: (severity, message, repeat_count, links), oldest first.
fn cost_incidents(env: &Env) -> Vec<(String, String, i64, Value)> {
    env.db
        .exec(
            "SELECT severity, message, repeat_count, links FROM incidents WHERE source = 'costs' ORDER BY created_at, id",
            &[],
        )
        .unwrap()
        .rows
        .iter()
        .map(|r| {
            (
                r.text(0).unwrap(),
                r.text(1).unwrap(),
                r.i64(2).unwrap(),
                serde_json::from_str(&r.text(3).unwrap()).unwrap(),
            )
        })
        .collect()
}

fn downgrades(env: &Env, job_id: &str) -> Vec<(String, String, String)> {
    env.db
        .exec(
            "SELECT requested_model, model, reason FROM cost_downgrades WHERE job_id = ?1 ORDER BY attempt_id",
            &[job_id.into()],
        )
        .unwrap()
        .rows
        .iter()
        .map(|r| (r.text(0).unwrap(), r.text(1).unwrap(), r.text(2).unwrap()))
        .collect()
}

// ------------------------------------------------------------------ status

#[test]
fn the_status_shows_todays_spend_per_model_in_the_seed_shape_with_exact_figures() {
    let (env, _) = env(&[("dashboard_key", DASH_KEY)]);
    spend(&env, TODAY, "gpt-4o", "work", 12_000_000, 0, 0);
    spend(&env, TODAY, "gpt-4o-2024-08-06", "qa", 300_000, 0, 0);
    spend(&env, TODAY, "gpt-4o-mini", "qa", 5_700_000, 0, 0);
    spend(&env, TODAY, "gpt-4.1", "work", 500_000, 0, 0);
    spend(&env, TODAY - 1, "gpt-4o", "work", 99_000_000, 0, 0);
    let s = status(&env);
    assert_eq!(s["ts"], "2027-01-15T08:00:00.000Z");
    assert_eq!(s["day"], "2027-01-15");
    assert_eq!(s["resets_at"], "2027-01-16T00:00:00.000Z");
    assert_eq!(s["period_hours"], 24);
    assert_eq!(s["total_spent_usd"], 18.5);
    assert_eq!(s["total_spent_micros"], 18_500_000);
    assert_eq!(s["daily_cap_usd"], 25.0);
    assert_eq!(s["daily_cap_micros"], 25_000_000);
    assert_eq!(s["daily_cap_source"], "variable");
    assert_eq!(s["global_utilization_pct"], 74.0);
    assert_eq!(
        s["by_model"]["gpt-4o"],
        json!({"spent_usd": 12.3, "spent_micros": 12_300_000, "cap_usd": 15.0, "cap_micros": 15_000_000,
               "cap_source": "variable", "utilization_pct": 82.0, "alert_level": "OK"}),
        "a dated snapshot counts under its family"
    );
    assert_eq!(s["by_model"]["gpt-4o-mini"]["utilization_pct"], 57.0);
    assert_eq!(
        s["by_model"]["gpt-4.1"],
        json!({"spent_usd": 0.5, "spent_micros": 500_000, "cap_usd": null, "cap_micros": null,
               "cap_source": null, "utilization_pct": null, "alert_level": "OK"}),
        "an uncapped model is listed with its spend"
    );
    assert_eq!(
        (s["alert_level"].as_str(), s["action"].as_str()),
        (Some("OK"), Some("NONE"))
    );
    assert_eq!(s["downgrades"]["gpt-4o"]["to"], "gpt-4o-mini");
    assert_eq!(
        s["downgrades"]["gpt-4o"]["quality"]["verdict"],
        "no_evidence"
    );
    assert_eq!(s["cost_per_passing_output"]["window_days"], 7);
}

#[test]
fn alert_levels_switch_at_89_90_and_100_percent_of_a_cap() {
    let (env, _) = env(&[("dashboard_key", DASH_KEY)]);
    let level = |s: &Value| {
        (
            s["by_model"]["gpt-4o"]["utilization_pct"].as_f64().unwrap(),
            s["by_model"]["gpt-4o"]["alert_level"]
                .as_str()
                .unwrap()
                .to_string(),
            s["alert_level"].as_str().unwrap().to_string(),
            s["action"].as_str().unwrap().to_string(),
        )
    };
    spend(&env, TODAY, "gpt-4o", "work", 13_350_000, 0, 0);
    assert_eq!(
        level(&status(&env)),
        (89.0, "OK".into(), "OK".into(), "NONE".into())
    );
    spend(&env, TODAY, "gpt-4o", "work", 149_999, 0, 0);
    assert_eq!(
        level(&status(&env)),
        (89.99, "OK".into(), "OK".into(), "NONE".into()),
        "one micro-dollar under 90 % is still OK"
    );
    spend(&env, TODAY, "gpt-4o", "work", 1, 0, 0);
    assert_eq!(
        level(&status(&env)),
        (90.0, "WARNING".into(), "WARNING".into(), "NONE".into())
    );
    spend(&env, TODAY, "gpt-4o", "work", 1_500_000, 0, 0);
    assert_eq!(
        level(&status(&env)),
        (
            100.0,
            "CRITICAL".into(),
            "CRITICAL".into(),
            "THROTTLE".into()
        )
    );
    assert_eq!(status(&env)["global_utilization_pct"], 60.0);

    // The global cap alone raises the level too.
    let (env, _) = support::env(&[("dashboard_key", DASH_KEY)]);
    spend(&env, TODAY, "gpt-4.1", "work", 22_500_000, 0, 0);
    let s = status(&env);
    assert_eq!(
        (
            s["global_utilization_pct"].as_f64(),
            s["alert_level"].as_str()
        ),
        (Some(90.0), Some("WARNING"))
    );
    spend(&env, TODAY, "gpt-4.1", "work", 2_500_000, 0, 0);
    let s = status(&env);
    assert_eq!(
        (s["alert_level"].as_str(), s["action"].as_str()),
        (Some("CRITICAL"), Some("THROTTLE"))
    );
}

// ------------------------------------------------------------------ set-cap

#[test]
fn set_cap_refuses_bad_input_without_changing_anything() {
    let (env, _) = env(&[("dashboard_key", DASH_KEY)]);
    for (body, status, code) in [
        (
            json!({"scope": "global", "cap_usd": 10, "note": "x"}),
            400,
            "invalid_json",
        ),
        (
            json!({"scope": "global", "cap_usd": "10"}),
            400,
            "invalid_json",
        ),
        (json!({"cap_usd": 10}), 422, "invalid_scope"),
        (
            json!({"scope": "tenant", "cap_usd": 10}),
            422,
            "invalid_scope",
        ),
        (json!({"scope": "global"}), 422, "invalid_cap"),
        (
            json!({"scope": "global", "cap_usd": -0.01}),
            422,
            "invalid_cap",
        ),
        (
            json!({"scope": "global", "cap_usd": 1_000_000.01}),
            422,
            "invalid_cap",
        ),
        (
            json!({"scope": "model", "cap_usd": 10}),
            422,
            "invalid_model",
        ),
        (
            json!({"scope": "model", "model": "", "cap_usd": 10}),
            422,
            "invalid_model",
        ),
        (
            json!({"scope": "model", "model": "gpt 4o", "cap_usd": 10}),
            422,
            "invalid_model",
        ),
        (
            json!({"scope": "global", "model": "gpt-4o", "cap_usd": 10}),
            422,
            "invalid_model",
        ),
    ] {
        let (got, answer) = set_cap(&env, body.clone());
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let plain = Request::new(Method::Post, "/api/costs/set-cap")
        .with_header("x-dash-key", DASH_KEY)
        .with_header("content-type", "text/plain")
        .with_body(b"{\"scope\":\"global\",\"cap_usd\":1}".to_vec());
    assert_eq!(call(&ops::api::APP, &env, plain).0.status, 415);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM cost_caps"), 0);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM audit_log"), 0);
    assert_eq!(status(&env)["daily_cap_usd"], 25.0);
}

#[test]
fn set_cap_overrides_the_variables_until_removed_and_every_change_is_audited() {
    let (env, _) = env(&[
        ("dashboard_key", DASH_KEY),
        ("model_caps", r#"{"gpt-4o": 15}"#),
    ]);
    spend(&env, TODAY, "gpt-4o", "work", 4_500_000, 0, 0);

    let (code, body) = set_cap(
        &env,
        json!({"scope": "model", "model": "gpt-4o-2024-08-06", "cap_usd": 5}),
    );
    assert_eq!(code, 200, "{body}");
    let gpt4o = &body["data"]["by_model"]["gpt-4o"];
    assert_eq!(
        (
            gpt4o["cap_usd"].as_f64(),
            gpt4o["cap_source"].as_str(),
            gpt4o["alert_level"].as_str()
        ),
        (Some(5.0), Some("override"), Some("WARNING")),
        "the answer is the new status; a snapshot name caps its family"
    );
    let (code, body) = set_cap(&env, json!({"scope": "global", "cap_usd": 40.5}));
    assert_eq!(code, 200);
    assert_eq!(
        (
            body["data"]["daily_cap_usd"].as_f64(),
            body["data"]["daily_cap_source"].as_str()
        ),
        (Some(40.5), Some("override"))
    );
    let (code, body) = set_cap(
        &env,
        json!({"scope": "model", "model": "gpt-5", "cap_usd": 0}),
    );
    assert_eq!(code, 200);
    assert_eq!(
        body["data"]["by_model"]["gpt-5"]["alert_level"], "CRITICAL",
        "a zero cap is reached at once"
    );
    assert_eq!(body["data"]["action"], "THROTTLE");

    let (code, body) = set_cap(
        &env,
        json!({"scope": "model", "model": "gpt-4o", "cap_usd": null}),
    );
    assert_eq!(code, 200);
    assert_eq!(
        body["data"]["by_model"]["gpt-4o"]["cap_usd"], 15.0,
        "back to the variable"
    );
    assert_eq!(body["data"]["by_model"]["gpt-4o"]["cap_source"], "variable");

    let rows = env
        .db
        .exec(
            "SELECT actor, action, target, detail, request_id FROM audit_log ORDER BY seq",
            &[],
        )
        .unwrap();
    let entries: Vec<(String, String, Value)> = rows
        .rows
        .iter()
        .map(|r| {
            assert_eq!(r.text(0).unwrap(), "dashboard");
            assert_eq!(r.text(1).unwrap(), "costs.set_cap");
            assert!(r.opt_text(4).unwrap().is_some(), "the request is linked");
            (
                r.text(1).unwrap(),
                r.text(2).unwrap(),
                serde_json::from_str(&r.text(3).unwrap()).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        entries.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
        [
            "model:gpt-4o",
            "global:global",
            "model:gpt-5",
            "model:gpt-4o"
        ]
    );
    assert_eq!(
        entries[0].2,
        json!({"scope": "model", "model": "gpt-4o", "removed_override": false, "client": "unknown",
               "before": {"cap_micros": 15_000_000, "source": "variable"},
               "after": {"cap_micros": 5_000_000, "source": "override"}})
    );
    assert_eq!(entries[3].2["removed_override"], true);
    assert_eq!(
        entries[3].2["after"],
        json!({"cap_micros": 15_000_000, "source": "variable"})
    );
    assert_eq!(count(&env, "SELECT COUNT(*) FROM cost_caps"), 2);
}

#[test]
fn costs_are_the_platforms_other_tenants_are_refused() {
    let (env, _) = env(&[]);
    let outsider = Principal {
        credential: Credential::DashboardKey,
        role: Some(Role::Admin),
        tenant: TenantId::parse("acme").unwrap(),
    };
    for (method, path, body) in [
        (Method::Get, "/api/costs/status", None),
        (
            Method::Post,
            "/api/costs/set-cap",
            Some(json!({"scope": "global", "cap_usd": 1})),
        ),
    ] {
        let mut req = Request::new(method, path);
        if let Some(b) = body {
            req = req
                .with_header("content-type", "application/json")
                .with_body(b.to_string().into_bytes());
        }
        let (route, params) = router::find(costs::api::ROUTES, method, path).unwrap();
        let ctx = Ctx {
            env: &env,
            request_id: "req_test".into(),
            params,
            principal: outsider.clone(),
            scope: Scope::Tenant(TenantId::parse("acme").unwrap()),
            client: "127.0.0.1".into(),
            component: "api-ops",
            route: route.pattern,
        };
        let Handler::Sync(handler) = route.handler else {
            panic!("cost handlers are sync")
        };
        let err = handler(&ctx, &req).unwrap_err();
        assert_eq!((err.status(), err.code), (403, "platform_only"), "{path}");
    }
    assert_eq!(count(&env, "SELECT COUNT(*) FROM cost_caps"), 0);
}

// ------------------------------------------------------------------ the worker

#[test]
fn a_global_cap_breach_snoozes_non_critical_jobs_while_critical_ones_run() {
    let ai = echo_ai(passing());
    let (env, clock) = ai_env(&ai, &[]);
    spend(&env, TODAY, "gpt-4.1", "work", 25_000_000, 0, 0);
    let waiting: Vec<String> = [Priority::High, Priority::Normal, Priority::Low]
        .into_iter()
        .map(|p| submit(&env, p))
        .collect();
    let critical = submit(&env, Priority::Critical);

    let report = tick(&env);
    assert_eq!(
        (report.claimed, report.completed, report.snoozed),
        (4, 1, 3),
        "{report:?}"
    );
    for id in &waiting {
        let j = job(&env, id);
        assert_eq!(
            (j.status.as_str(), j.attempts, j.run_at),
            ("queued", 0, T0 + RECHECK_MS)
        );
        assert_eq!(
            j.last_error.as_deref(),
            Some("cost cap reached: global daily cap $25.00")
        );
        assert!(attempts(&env, id).is_empty(), "nothing was spent on it");
    }
    let c = job(&env, &critical);
    assert_eq!(
        (c.status.as_str(), c.model.as_deref()),
        ("completed", Some("gpt-4o"))
    );
    assert_eq!(
        work_models(&ai),
        ["gpt-4o"],
        "one work call: the critical job's"
    );
    let incidents = cost_incidents(&env);
    assert_eq!(incidents.len(), 1);
    assert_eq!(
        (
            incidents[0].0.as_str(),
            incidents[0].1.as_str(),
            incidents[0].2
        ),
        ("CRITICAL", "daily cost cap reached: global", 0),
        "raised once in the tick"
    );
    assert_eq!(incidents[0].3["cap_micros"], 25_000_000);
    assert_eq!(incidents[0].3["spent_micros"], 25_000_000);

    // Still over the cap 15 minutes later: snoozed again, the incident repeats.
    clock.advance(RECHECK_MS);
    let report = tick(&env);
    assert_eq!((report.claimed, report.snoozed), (3, 3));
    assert_eq!(cost_incidents(&env)[0].2, 1, "a repeat, not a new page");
    assert_eq!(cost_incidents(&env).len(), 1);

    // Admin routes are never throttled: raise the cap, and the work runs.
    let (code, body) = set_cap(&env, json!({"scope": "global", "cap_usd": 100}));
    assert_eq!((code, body["data"]["action"].as_str()), (200, Some("NONE")));
    clock.advance(RECHECK_MS);
    let report = tick(&env);
    assert_eq!((report.claimed, report.completed), (3, 3), "{report:?}");
    for id in &waiting {
        let j = job(&env, id);
        assert_eq!((j.status.as_str(), j.attempts), ("completed", 1));
    }
}

#[test]
fn a_wait_ends_at_midnight_when_that_is_sooner() {
    let ai = echo_ai(passing());
    let (env, clock) = ai_env(&ai, &[]);
    let midnight = (TODAY + 1) * DAY_MS;
    clock.set(midnight - 60_000);
    spend(&env, TODAY, "gpt-4.1", "work", 25_000_000, 0, 0);
    let id = submit(&env, Priority::Normal);
    assert_eq!(tick(&env).snoozed, 1);
    assert_eq!(job(&env, &id).run_at, midnight);
    // A new day, a new budget.
    clock.set(midnight);
    assert_eq!(tick(&env).completed, 1);
}

#[test]
fn a_model_cap_breach_moves_the_work_to_the_cheaper_model_when_its_pass_rate_holds() {
    let ai = echo_ai(passing());
    let (env, _) = ai_env(&ai, &[]);
    spend(&env, TODAY, "gpt-4o", "work", 15_000_000, 0, 0);
    spend(&env, TODAY - 1, "gpt-4o-mini", "work", 0, 18, 2);
    let id = submit(&env, Priority::Normal);

    let report = tick(&env);
    assert_eq!((report.completed, report.snoozed), (1, 0), "{report:?}");
    assert_eq!(
        work_models(&ai),
        ["gpt-4o-mini"],
        "the cheaper model was called"
    );
    let j = job(&env, &id);
    assert_eq!(j.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(
        j.cost_micros,
        MINI_WORK + GRADING,
        "priced on the model that billed"
    );
    let a = attempts(&env, &id);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(a[0].cost["micros"], MINI_WORK);
    let d = downgrades(&env, &id);
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].0.as_str(), d[0].1.as_str()),
        ("gpt-4o", "gpt-4o-mini")
    );
    assert_eq!(
        d[0].2,
        "cost cap reached: gpt-4o daily cap $15.00; downgraded to gpt-4o-mini, which passes QA 90.0% (floor 75.0%)"
    );
    let billed = count(
        &env,
        &format!("SELECT cost_micros FROM llm_usage_days WHERE day = {TODAY} AND model = 'gpt-4o-mini' AND role = 'work'"),
    );
    assert_eq!(
        billed, MINI_WORK,
        "today's spend counts it under gpt-4o-mini"
    );
    let incidents = cost_incidents(&env);
    assert_eq!(
        (
            incidents.len(),
            incidents[0].0.as_str(),
            incidents[0].1.as_str()
        ),
        (1, "CRITICAL", "daily cost cap reached: gpt-4o")
    );
}

#[test]
fn without_evidence_about_the_cheaper_model_the_downgrade_goes_ahead() {
    let ai = echo_ai(passing());
    let (env, _) = ai_env(&ai, &[]);
    spend(&env, TODAY, "gpt-4o", "work", 15_000_000, 0, 0);
    spend(&env, TODAY, "gpt-4o-mini", "work", 0, 0, 19);
    let id = submit(&env, Priority::Low);
    assert_eq!(tick(&env).completed, 1);
    assert_eq!(job(&env, &id).model.as_deref(), Some("gpt-4o-mini"));
    assert!(
        downgrades(&env, &id)[0]
            .2
            .ends_with("which has 19 graded outputs in 7 days: no evidence yet, allowed"),
        "{:?}",
        downgrades(&env, &id)
    );
}

#[test]
fn under_the_pass_rate_floor_non_critical_work_waits_and_critical_work_keeps_its_model() {
    let ai = echo_ai(passing());
    let (env, _) = ai_env(&ai, &[]);
    spend(&env, TODAY, "gpt-4o", "work", 15_000_000, 0, 0);
    spend(&env, TODAY - 6, "gpt-4o-mini", "work", 0, 10, 5);
    spend(&env, TODAY - 7, "gpt-4o-mini", "work", 0, 100, 0);
    spend(&env, TODAY, "gpt-4o-mini", "work", 0, 4, 1);
    // 14 of 20 in the week (the day before it does not count): 70 % < 75 %.
    let normal = submit(&env, Priority::Normal);
    let critical = submit(&env, Priority::Critical);

    let report = tick(&env);
    assert_eq!((report.completed, report.snoozed), (1, 1), "{report:?}");
    let n = job(&env, &normal);
    assert_eq!(
        (n.status.as_str(), n.attempts, n.run_at),
        ("queued", 0, T0 + RECHECK_MS)
    );
    assert_eq!(
        n.last_error.as_deref(),
        Some("cost cap reached: gpt-4o daily cap $15.00; no downgrade: gpt-4o-mini passes QA 70.0% over 7 days, under the 75.0% floor")
    );
    let c = job(&env, &critical);
    assert_eq!(
        (c.status.as_str(), c.model.as_deref()),
        ("completed", Some("gpt-4o"))
    );
    assert_eq!(work_models(&ai), ["gpt-4o"]);
    assert!(downgrades(&env, &critical).is_empty());
}

#[test]
fn no_downgrade_onto_a_cheaper_model_whose_own_cap_is_reached() {
    let ai = echo_ai(passing());
    let (env, _) = ai_env(&ai, &[("cost_cap_daily_usd", "100")]);
    spend(&env, TODAY, "gpt-4o", "work", 15_000_000, 0, 0);
    spend(&env, TODAY, "gpt-4o-mini", "qa", 10_000_000, 0, 0);
    let id = submit(&env, Priority::High);
    assert_eq!(tick(&env).snoozed, 1);
    assert_eq!(
        job(&env, &id).last_error.as_deref(),
        Some("cost cap reached: gpt-4o daily cap $15.00; no downgrade: gpt-4o-mini daily cap $10.00 is reached too")
    );
    assert!(work_models(&ai).is_empty());
    let mut messages: Vec<String> = cost_incidents(&env).into_iter().map(|i| i.1).collect();
    messages.sort();
    assert_eq!(
        messages,
        [
            "daily cost cap reached: gpt-4o",
            "daily cost cap reached: gpt-4o-mini"
        ]
    );
}

#[test]
fn the_cap_that_counts_is_the_billing_models_even_mid_job() {
    // gpt-4o is capped out; gpt-4o-mini has $0.0006 left. The first job's
    // downgraded work (450 µ$) and grading (180 µ$) bill gpt-4o-mini and
    // use up its cap, so the second job cannot be downgraded and waits.
    let ai = echo_ai(passing());
    let (env, _) = ai_env(&ai, &[("cost_cap_daily_usd", "100")]);
    spend(&env, TODAY, "gpt-4o", "work", 15_000_000, 0, 0);
    spend(&env, TODAY, "gpt-4o-mini", "qa", 10_000_000 - 600, 0, 0);
    let ids = [
        submit(&env, Priority::Normal),
        submit(&env, Priority::Normal),
    ];
    let report = tick(&env);
    assert_eq!((report.completed, report.snoozed), (1, 1), "{report:?}");
    let (done, waiting): (Vec<Job>, Vec<Job>) = ids
        .iter()
        .map(|id| job(&env, id))
        .partition(|j| j.status.as_str() == "completed");
    assert_eq!(done[0].model.as_deref(), Some("gpt-4o-mini"));
    assert!(waiting[0]
        .last_error
        .as_deref()
        .unwrap()
        .ends_with("no downgrade: gpt-4o-mini daily cap $10.00 is reached too"));
    assert_eq!(work_models(&ai), ["gpt-4o-mini"]);

    // And when the downgraded work itself fills the grading model's cap,
    // the grading waits: the attempt is kept as snoozed with its cost.
    let ai = echo_ai(passing());
    let (env, _) = ai_env(&ai, &[("cost_cap_daily_usd", "100")]);
    spend(&env, TODAY, "gpt-4o", "work", 15_000_000, 0, 0);
    spend(&env, TODAY, "gpt-4o-mini", "qa", 10_000_000 - 400, 0, 0);
    let id = submit(&env, Priority::Normal);
    assert_eq!(tick(&env).snoozed, 1);
    assert_eq!(
        ai.grade_calls.load(Ordering::SeqCst),
        0,
        "no grading was spent"
    );
    let j = job(&env, &id);
    assert_eq!(
        (j.status.as_str(), j.attempts, j.cost_micros),
        ("queued", 0, MINI_WORK)
    );
    let a = attempts(&env, &id);
    assert_eq!(
        (a[0].status.as_str(), a[0].model.as_deref()),
        ("snoozed", Some("gpt-4o-mini"))
    );
    assert_eq!(a[0].cost["micros"], MINI_WORK);
    assert_eq!(
        a[0].error.as_deref(),
        Some("cost cap reached: gpt-4o-mini daily cap $10.00; the grading model is never swapped")
    );
}

#[test]
fn a_reached_grading_cap_holds_work_back_before_anything_is_spent() {
    let ai = echo_ai(passing());
    let (env, _) = ai_env(&ai, &[]);
    spend(&env, TODAY, "gpt-4o-mini", "qa", 10_000_000, 0, 0);
    let normal = submit(&env, Priority::Normal);
    let critical = submit(&env, Priority::Critical);
    let report = tick(&env);
    assert_eq!((report.snoozed, report.completed), (1, 1));
    assert!(attempts(&env, &normal).is_empty());
    assert_eq!(work_models(&ai), ["gpt-4o"], "only the critical job worked");
    assert_eq!(
        job(&env, &critical).qa_model.as_deref(),
        Some("gpt-4o-mini")
    );
}

#[test]
fn with_the_simulated_provider_and_no_spend_nothing_is_held_back() {
    let (env, _) = env(&[]);
    let id = submit(&env, Priority::Low);
    assert_eq!(tick(&env).completed, 1);
    assert_eq!(job(&env, &id).status.as_str(), "completed");
    assert!(cost_incidents(&env).is_empty());
}

// ------------------------------------------------------------------ the hourly job

fn run_ctx(now_ms: i64) -> RunContext {
    run_context(&echopilot_core::costs::JOB, now_ms, Trigger::Http)
}

#[test]
fn the_hourly_job_raises_a_warning_at_90_and_a_critical_at_100_percent_once() {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    spend(&env, TODAY, "gpt-4o", "work", 13_499_999, 0, 0);
    let summary = costs::check(&env, &run_ctx(T0)).unwrap();
    assert_eq!(
        summary,
        "global 53.99% OK; gpt-4o 89.99% OK; gpt-4o-mini 0.00% OK"
    );
    assert!(cost_incidents(&env).is_empty(), "nothing under 90 %");

    spend(&env, TODAY, "gpt-4o", "work", 1, 0, 0);
    let summary = costs::check(&env, &run_ctx(T0)).unwrap();
    assert!(
        summary.contains("gpt-4o 90.00% WARNING (incident raised)"),
        "{summary}"
    );
    clock.advance(10 * 60_000);
    let summary = costs::check(&env, &run_ctx(T0)).unwrap();
    assert!(
        summary.contains("gpt-4o 90.00% WARNING (incident repeated)"),
        "{summary}"
    );
    let incidents = cost_incidents(&env);
    assert_eq!(incidents.len(), 1);
    let (severity, message, repeats, links) = &incidents[0];
    assert_eq!(
        (severity.as_str(), message.as_str(), *repeats),
        ("WARNING", "daily cost cap at 90%: gpt-4o", 1)
    );
    assert_eq!(
        *links,
        json!({"cap": "gpt-4o", "model": "gpt-4o", "day": "2027-01-15", "spent_micros": 13_500_000,
               "cap_micros": 15_000_000, "spent_usd": 13.5, "cap_usd": 15.0, "utilization_pct": 90.0,
               "alert_level": "WARNING"})
    );

    spend(&env, TODAY, "gpt-4o", "work", 1_500_000, 0, 0);
    clock.advance(60_000);
    let summary = costs::check(&env, &run_ctx(T0)).unwrap();
    assert!(
        summary.contains("gpt-4o 100.00% CRITICAL (incident raised)"),
        "{summary}"
    );
    let pages = count(&env, "SELECT COUNT(*) FROM incident_deliveries");
    clock.advance(60_000);
    let summary = costs::check(&env, &run_ctx(T0)).unwrap();
    assert!(
        summary.contains("gpt-4o 100.00% CRITICAL (incident repeated)"),
        "{summary}"
    );
    let incidents = cost_incidents(&env);
    assert_eq!(incidents.len(), 2, "{incidents:?}");
    assert_eq!(
        (
            incidents[1].0.as_str(),
            incidents[1].1.as_str(),
            incidents[1].2
        ),
        ("CRITICAL", "daily cost cap reached: gpt-4o", 1)
    );
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM incident_deliveries"),
        pages,
        "a repeat sends nothing"
    );
}

#[test]
fn the_hourly_job_runs_through_its_internal_route_once_per_hour() {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    spend(&env, TODAY, "gpt-4.1", "work", 25_000_000, 0, 0);
    let run = || {
        let req = Request::new(Method::Post, "/api/internal/cron/costs")
            .with_header("x-dash-key", DASH_KEY);
        let (resp, body) = call(&costs::APP, &env, req);
        assert_eq!(resp.status, 200, "{body}");
        body["data"].clone()
    };
    let first = run();
    assert_eq!(first["outcome"], "ran", "{first}");
    assert_eq!(
        first["summary"],
        "global 100.00% CRITICAL (incident raised); gpt-4o 0.00% OK; gpt-4o-mini 0.00% OK"
    );
    assert_eq!(run()["outcome"], "already_done", "one run per hourly slot");
    // An hour later the breach is still known and unresolved: no new page.
    clock.advance(3_600_000);
    assert_eq!(
        run()["summary"],
        "global 100.00% CRITICAL (today's incident still open); gpt-4o 0.00% OK; gpt-4o-mini 0.00% OK"
    );
    let incidents = cost_incidents(&env);
    assert_eq!(incidents.len(), 1);
    assert_eq!(
        (incidents[0].1.as_str(), incidents[0].2),
        ("daily cost cap reached: global", 0)
    );
    // Resolved while the cap is still reached: the next check raises anew.
    env.db
        .exec("UPDATE incidents SET status = 'resolved'", &[])
        .unwrap();
    clock.advance(3_600_000);
    assert!(run()["summary"]
        .as_str()
        .unwrap()
        .starts_with("global 100.00% CRITICAL (incident raised)"));
    assert_eq!(cost_incidents(&env).len(), 2);
}

// ------------------------------------------------------------------ cost per passing output

#[test]
fn cost_per_passing_output_counts_grading_and_retries() {
    let fail = grades(40, 40, 40, 40);
    let pass = grades(90, 90, 90, 90);
    // An old job (passes at once), then three jobs in the window: one
    // fails QA and passes on its retry, one passes at once, one never
    // passes (two rounds with qa_max_retries 1).
    let ai = echo_ai(vec![pass.clone(), fail.clone(), pass.clone(), pass, fail]);
    let (env, clock) = ai_env(&ai, &[("qa_max_retries", "1")]);
    clock.set(T0 - 8 * DAY_MS);
    submit(&env, Priority::Normal);
    assert_eq!(tick(&env).completed, 1);
    clock.set(T0);
    for _ in 0..3 {
        submit(&env, Priority::Normal);
    }
    let report = tick(&env);
    assert_eq!((report.completed, report.qa_failed), (2, 1), "{report:?}");
    let gpt4o = status(&env)["cost_per_passing_output"]["by_model"]["gpt-4o"].clone();
    let rounds = 5;
    let cost = rounds * (GPT4O_WORK + GRADING);
    assert_eq!(
        gpt4o,
        json!({"attempts": rounds, "graded": rounds, "passed": 2, "pass_rate": 0.4,
               "cost_micros": cost, "cost_usd": cost as f64 / 1e6,
               "per_passing_output_micros": cost / 2, "per_passing_output_usd": (cost / 2) as f64 / 1e6})
    );
}

mod workflow_steps {
    //! Workflow AI Task steps spend against the same daily caps as jobs:
    //! their calls are counted in the day's spend, and a reached cap makes
    //! the step wait (no attempt spent) until it is raised.

    use super::*;
    use echopilot_core::costs::spend;
    use echopilot_core::ports::Clock;
    use echopilot_core::workflows::engine::{self, Start};
    use echopilot_core::workflows::store::{self as workflows, Draft};

    fn ai_workflow(env: &Env) -> workflows::Workflow {
        let graph = json!({
            "nodes": [
                {"id": "start", "type": "trigger", "config": {"kind": "manual"}},
                {"id": "write", "type": "ai_task", "config": {"user_template": "Write about {{trigger.topic}}", "qa": true}}
            ],
            "edges": [{"from": "start", "to": "write"}]
        });
        let draft = Draft::from_json(&json!({ "name": "writer", "graph": graph })).unwrap();
        workflows::create(env, &TenantId::default_tenant(), &draft, "tester")
            .unwrap()
            .0
    }

    fn run(env: &Env, wf: &workflows::Workflow) -> String {
        let how = Start {
            trigger: "manual",
            input: json!({"topic": "caps"}),
            debug: false,
        };
        engine::start(env, wf, &how).unwrap().id
    }

    fn drain_steps(env: &Env) -> engine::DrainReport {
        block_on(engine::drain(env, "wrk_costs", 50, f64::MAX)).unwrap()
    }

    fn write_step(env: &Env, run: &str) -> engine::Step {
        engine::steps(env, run)
            .unwrap()
            .into_iter()
            .find(|s| s.node_id == "write")
            .unwrap()
    }

    #[test]
    fn ai_task_spend_counts_toward_the_daily_cap_and_a_reached_cap_makes_steps_wait() {
        const ROUND: i64 = GPT4O_WORK + GRADING;
        let ai = echo_ai(passing());
        let (env, clock) = ai_env(&ai, &[("cost_cap_daily_usd", "0.008")]);
        let wf = ai_workflow(&env);

        // Under the cap: the step runs; its work and grading calls are in
        // the day's spend, as a job round's are, with the QA verdict.
        let first = run(&env, &wf);
        drain_steps(&env);
        let step = write_step(&env, &first);
        assert_eq!(
            (step.status.as_str(), step.cost_micros),
            ("succeeded", ROUND)
        );
        assert_eq!(spend::on_day(env.db.as_ref(), TODAY).unwrap().total, ROUND);
        assert_eq!(
            count(
                &env,
                "SELECT qa_passed FROM llm_usage_days WHERE role = 'work'"
            ),
            1
        );
        let finished = engine::get_run(&env, &Scope::All, &first).unwrap();
        assert_eq!(
            (finished.status.as_str(), finished.cost_micros),
            ("succeeded", ROUND)
        );

        // The next run's work call takes the day past the cap: its grading
        // is held back (the work stays counted, on the step too) and the
        // step waits, back in the queue with its attempt given back.
        let second = run(&env, &wf);
        let report = drain_steps(&env);
        assert_eq!(report.waiting, 1, "{report:?}");
        assert_eq!(
            ai.grade_calls.load(Ordering::SeqCst),
            1,
            "only the first run's"
        );
        assert_eq!(
            spend::on_day(env.db.as_ref(), TODAY).unwrap().total,
            ROUND + GPT4O_WORK
        );
        assert_eq!(status(&env)["action"], "THROTTLE");
        // Rechecks while the cap holds: nothing is called, no attempt is
        // spent (more rechecks than the step has attempts).
        for round in 0..4 {
            let step = write_step(&env, &second);
            assert_eq!(
                (
                    step.status.as_str(),
                    step.attempts,
                    step.run_at,
                    step.cost_micros
                ),
                ("queued", 0, clock.now_ms() + RECHECK_MS, GPT4O_WORK),
                "recheck {round}"
            );
            assert!(
                step.error
                    .as_deref()
                    .unwrap()
                    .starts_with("cost cap reached: global daily cap"),
                "{:?}",
                step.error
            );
            clock.advance(RECHECK_MS);
            assert_eq!(drain_steps(&env).waiting, 1);
        }
        assert_eq!(work_models(&ai).len(), 2, "no call was made while capped");
        let waiting = engine::get_run(&env, &Scope::All, &second).unwrap();
        assert_eq!(waiting.status, "running");

        // Raised: the step runs on its next recheck and is counted.
        let (code, _) = set_cap(&env, json!({"scope": "global", "cap_usd": 100}));
        assert_eq!(code, 200);
        clock.advance(RECHECK_MS);
        let report = drain_steps(&env);
        assert_eq!(report.succeeded, 1, "{report:?}");
        let step = write_step(&env, &second);
        assert_eq!(
            (step.status.as_str(), step.attempts, step.cost_micros),
            ("succeeded", 1, GPT4O_WORK + ROUND)
        );
        assert_eq!(
            spend::on_day(env.db.as_ref(), TODAY).unwrap().total,
            2 * ROUND + GPT4O_WORK
        );
        let done = engine::get_run(&env, &Scope::All, &second).unwrap();
        assert_eq!(
            (done.status.as_str(), done.cost_micros),
            ("succeeded", GPT4O_WORK + ROUND)
        );
    }

    #[test]
    fn a_debug_run_spends_nothing_and_is_never_held_back() {
        let ai = echo_ai(passing());
        let (env, _clock) = ai_env(&ai, &[("cost_cap_daily_usd", "0")]);
        let wf = ai_workflow(&env);
        let how = Start {
            trigger: "manual",
            input: json!({"topic": "caps"}),
            debug: true,
        };
        let id = engine::start(&env, &wf, &how).unwrap().id;
        drain_steps(&env);
        assert_eq!(write_step(&env, &id).status, "succeeded");
        assert!(ai.http.sent().is_empty());
        assert_eq!(count(&env, "SELECT COUNT(*) FROM llm_usage_days"), 0);
    }
}
