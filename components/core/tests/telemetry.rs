//! Request telemetry, the event log, LLM usage and `/metrics` on real
//! SQLite: what a request records, how compaction folds it (once, even with
//! two compactors), retention, window statistics, the Prometheus text and
//! `GET /api/logs`.

mod support;

use echopilot_core::adapters::native::SqliteDb;
use echopilot_core::ai::worker::drain;
use echopilot_core::events::{self, Event, Level};
use echopilot_core::http::{Method, Request};
use echopilot_core::jobs::model::{Brief, JobType, NewJob};
use echopilot_core::jobs::store;
use echopilot_core::ports::{DbExt, Env};
use echopilot_core::telemetry::{self, Sample};
use echopilot_core::tenancy::{Scope, TenantId};
use futures::executor::block_on;
use std::collections::HashMap;
use support::*;

const OPS: &echopilot_core::app::App = &echopilot_core::ops::api::APP;
const JOBS: &echopilot_core::app::App = &echopilot_core::jobs::api::APP;

fn sample(route: &'static str, status: u16, request_id: &str) -> Sample {
    Sample {
        component: "api-jobs",
        route,
        method: Method::Get,
        status,
        tenant: "default".into(),
        request_id: request_id.into(),
    }
}

fn one(env: &Env, sql: &str) -> i64 {
    env.db.query_one(sql, &[]).unwrap().i64(0).unwrap()
}

/// The exposition as a map from `name{labels}` to value.
fn scrape(env: &Env, req: Request) -> HashMap<String, f64> {
    let resp = block_on(echopilot_core::app::serve(OPS, env, req));
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    assert!(resp
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(resp.body).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            let v = match v {
                "NaN" => f64::NAN,
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("bad value in {l}")),
            };
            (k.to_string(), v)
        })
        .collect()
}

#[test]
fn a_served_request_is_recorded_under_its_route_template_status_and_tenant() {
    let (env, _) = env(&[("dashboard_key", DASH_KEY)]);
    let (resp, _) = call(JOBS, &env, op_get("/api/jobs/job_does_not_exist"));
    assert_eq!(resp.status, 404);
    let (resp, _) = call(JOBS, &env, Request::new(Method::Get, "/api/nowhere"));
    assert_eq!(resp.status, 404);
    let (resp, _) = call(JOBS, &env, Request::new(Method::Get, "/api/jobs"));
    assert_eq!(resp.status, 401);
    let rows = env
        .db
        .exec(
            "SELECT route, method, status, tenant_id, request_id FROM request_samples ORDER BY id",
            &[],
        )
        .unwrap();
    let got: Vec<(String, String, i64, String)> = rows
        .rows
        .iter()
        .map(|r| {
            (
                r.text(0).unwrap(),
                r.text(1).unwrap(),
                r.i64(2).unwrap(),
                r.text(3).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("/api/jobs/{id}".into(), "GET".into(), 404, "default".into()),
            (telemetry::UNMATCHED.into(), "GET".into(), 404, "-".into()),
            ("/api/jobs".into(), "GET".into(), 401, "-".into()),
        ]
    );
    for r in &rows.rows {
        assert!(
            !r.text(4).unwrap().is_empty(),
            "every sample has its request id"
        );
    }
}

#[test]
fn recording_can_be_switched_off() {
    let (env, _) = env(&[("dashboard_key", DASH_KEY), ("request_telemetry", "off")]);
    call(JOBS, &env, op_get("/api/jobs"));
    assert_eq!(
        env.db
            .query_opt("SELECT COUNT(*) FROM request_samples", &[])
            .ok()
            .flatten()
            .map(|r| r.i64(0).unwrap())
            .unwrap_or(0),
        0
    );
}

#[test]
fn compaction_folds_each_sample_once_and_keeps_rollups_and_totals_apart() {
    let (env, clock) = env(&[]);
    for i in 0..1000 {
        let status = if i % 10 == 0 { 500 } else { 200 };
        telemetry::record(&env, &sample("/api/jobs", status, "r"), (i % 100) * 1000).unwrap();
    }
    let first = telemetry::compact(&env).unwrap();
    assert_eq!(first.folded, 1000);
    assert_eq!(telemetry::compact(&env).unwrap().folded, 0, "nothing twice");
    assert_eq!(one(&env, "SELECT SUM(n) FROM request_minutes"), 1000);
    assert_eq!(one(&env, "SELECT SUM(n) FROM request_totals"), 1000);
    let buckets: i64 = (0..12)
        .map(|i| one(&env, &format!("SELECT SUM(b{i}) FROM request_totals")))
        .sum();
    assert_eq!(buckets, 1000, "every sample in exactly one bucket");

    let w = telemetry::window(&env, T0, T0, None).unwrap();
    assert_eq!((w.requests, w.errors), (1000, 100));
    assert!((w.error_ratio() - 0.1).abs() < 1e-9);
    let p95 = w.latency.quantile_ms(0.95).unwrap();
    assert!(
        (50.0..=100.0).contains(&p95),
        "p95 of 0..99 ms is in the 50-100 ms bucket: {p95}"
    );
    assert_eq!(
        telemetry::window(&env, T0 + 60_000, T0 + 120_000, None)
            .unwrap()
            .requests,
        0
    );

    // Raw samples go after an hour; minute rollups after 30 days; totals stay.
    clock.advance(telemetry::SAMPLES_KEPT_MS + 1);
    telemetry::record(&env, &sample("/api/jobs", 200, "late"), 1000).unwrap();
    let later = telemetry::compact(&env).unwrap();
    assert_eq!((later.folded, later.pruned), (1, 1000));
    assert_eq!(
        one(&env, "SELECT COUNT(*) FROM request_samples"),
        1,
        "the recent one stays"
    );
    clock.advance(telemetry::MINUTES_KEPT_DAYS * 86_400_000 + 60_000);
    telemetry::compact(&env).unwrap();
    assert_eq!(one(&env, "SELECT COUNT(*) FROM request_minutes"), 0);
    assert_eq!(one(&env, "SELECT SUM(n) FROM request_totals"), 1001);
}

#[test]
fn two_compactors_on_one_database_fold_every_sample_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let (env, _) = env_with(SqliteDb::open(&path).unwrap(), &[]);
    echopilot_core::db::migrate::ensure_current(env.db.as_ref()).unwrap();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let (env, _) = env_with(SqliteDb::open(&path).unwrap(), &[]);
                let mut folded = 0;
                for i in 0..500 {
                    let id = format!("w{w}-{i}");
                    telemetry::record(&env, &sample("/api/jobs", 200, &id), 2000).unwrap();
                    if i % 50 == 0 {
                        folded += telemetry::compact(&env).unwrap().folded;
                    }
                }
                folded + telemetry::compact(&env).unwrap().folded
            })
        })
        .collect();
    let folded: i64 = writers.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(folded, 1000);
    assert_eq!(one(&env, "SELECT SUM(n) FROM request_totals"), 1000);
    assert_eq!(one(&env, "SELECT SUM(n) FROM request_minutes"), 1000);
}

#[test]
fn metrics_expose_requests_jobs_llm_usage_and_build_to_the_scraper_only() {
    let mock = mock_openai(vec![Ok(grades(60, 60, 60, 60)), Ok(grades(95, 95, 95, 95))]);
    let mut vars = OPENAI_VARS.to_vec();
    vars.push(("metrics_token", "metrics-token-for-native-tests-012345"));
    let (mut env, _) = env(&vars);
    env.http = Box::new(SharedHttp(mock.http.clone()));
    let job = NewJob::new(
        JobType::AiTask,
        Brief::parse("Write a product update").unwrap(),
    );
    store::create(&env, &TenantId::default_tenant(), &job, None).unwrap();
    let report = block_on(drain(&env)).unwrap();
    assert_eq!(report.completed, 1);
    for _ in 0..3 {
        call(JOBS, &env, op_get("/api/queue/status"));
    }

    let scraper = |path: &str| {
        Request::new(Method::Get, path).with_header(
            "authorization",
            "Bearer metrics-token-for-native-tests-012345",
        )
    };
    let m = scrape(&env, scraper("/metrics"));
    let get = |k: &str| {
        *m.get(k)
            .unwrap_or_else(|| panic!("no {k} in {:?}", m.keys()))
    };
    assert_eq!(
        get(
            r#"echopilot_http_requests_total{component="api-jobs",route="/api/queue/status",method="GET",status="200"}"#
        ),
        3.0
    );
    let h = r#"component="api-jobs",route="/api/queue/status",method="GET""#;
    assert_eq!(
        get(&format!(
            "echopilot_http_request_duration_seconds_count{{{h}}}"
        )),
        3.0
    );
    assert_eq!(
        get(&format!(
            r#"echopilot_http_request_duration_seconds_bucket{{{h},le="+Inf"}}"#
        )),
        3.0
    );
    assert_eq!(
        get(r#"echopilot_jobs{status="completed",type="ai_task"}"#),
        1.0
    );
    assert_eq!(get("echopilot_queue_depth"), 0.0);
    // One QA failure then a pass: two work calls and two gradings.
    assert_eq!(
        get(r#"echopilot_llm_calls_total{model="gpt-4o",role="work"}"#),
        2.0
    );
    assert_eq!(
        get(r#"echopilot_llm_calls_total{model="gpt-4o-mini",role="qa"}"#),
        2.0
    );
    assert_eq!(
        get(r#"echopilot_llm_tokens_total{model="gpt-4o",role="work",direction="in"}"#),
        2000.0
    );
    assert_eq!(
        get(r#"echopilot_qa_graded_total{model="gpt-4o",result="passed"}"#),
        1.0
    );
    assert_eq!(
        get(r#"echopilot_qa_graded_total{model="gpt-4o",result="failed"}"#),
        1.0
    );
    assert_eq!(get("echopilot_qa_pass_ratio"), 0.5);
    let j = &store::list(&env, &Scope::All, &Default::default(), None, 10)
        .unwrap()
        .jobs[0];
    let spent = get(r#"echopilot_llm_cost_usd_total{model="gpt-4o",role="work"}"#)
        + get(r#"echopilot_llm_cost_usd_total{model="gpt-4o-mini",role="qa"}"#);
    assert!(
        (spent * 1e6 - j.cost_micros as f64).abs() < 0.5,
        "metrics spend {spent} equals the job's cost {} micro-dollars",
        j.cost_micros
    );
    assert!(m
        .keys()
        .any(|k| k.starts_with("echopilot_build_info{version=")));

    // Who may scrape.
    let status = |req: Request| block_on(echopilot_core::app::serve(OPS, &env, req)).status;
    assert_eq!(status(Request::new(Method::Get, "/metrics")), 401);
    assert_eq!(
        status(Request::new(Method::Get, "/metrics").with_header("authorization", "Bearer wrong")),
        401
    );
    assert_eq!(status(op_get("/metrics")), 200, "the operator console may");
    assert_eq!(
        status(scraper("/api/logs")),
        401,
        "the metrics token opens /metrics and nothing else"
    );
}

#[test]
fn logs_find_a_request_and_its_events_by_request_id_and_filter_strictly() {
    let (env, _) = env(&[("dashboard_key", DASH_KEY)]);
    let req = op_get("/api/jobs").with_header("x-request-id", "req-abc-123");
    let (resp, _) = call(JOBS, &env, req);
    assert_eq!(resp.header("x-request-id"), Some("req-abc-123"));
    events::emit(
        &env,
        &Event::new(Level::Warn, "api-jobs", "test", "something odd")
            .request("req-abc-123")
            .fields(serde_json::json!({"n": 1})),
    );
    events::emit(
        &env,
        &Event::new(Level::Info, "cron-worker", "worker", "tick"),
    );

    let (resp, body) = call(OPS, &env, op_get("/api/logs?request_id=req-abc-123"));
    assert_eq!(resp.status, 200, "{body}");
    let d = &body["data"];
    assert_eq!(d["requests"][0]["route"], "/api/jobs");
    assert_eq!(d["requests"][0]["status"], 200);
    assert_eq!(d["events"].as_array().unwrap().len(), 1);
    assert_eq!(d["events"][0]["message"], "something odd");
    assert_eq!(d["events"][0]["fields"]["n"], 1);

    let (_, body) = call(OPS, &env, op_get("/api/logs?level=warn"));
    assert_eq!(body["data"]["events"].as_array().unwrap().len(), 1);
    let (_, body) = call(OPS, &env, op_get("/api/logs?component=cron-worker&limit=1"));
    assert_eq!(body["data"]["events"][0]["message"], "tick");

    for (query, code) in [
        ("level=loud", "invalid_level"),
        ("since=yesterday", "invalid_timestamp"),
        ("cursor=abc", "invalid_cursor"),
        ("limit=0", "invalid_limit"),
        (
            "since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z",
            "invalid_time_range",
        ),
    ] {
        let (resp, body) = call(OPS, &env, op_get(&format!("/api/logs?{query}")));
        assert_eq!(resp.status, 400, "{query}");
        assert_eq!(body["error"]["code"], code, "{query}");
    }
}

#[test]
fn events_past_their_retention_are_pruned() {
    let (env, clock) = env(&[("log_retention_days", "2")]);
    events::emit(&env, &Event::new(Level::Info, "x", "y", "old"));
    clock.advance(3 * 86_400_000);
    events::emit(&env, &Event::new(Level::Info, "x", "y", "new"));
    assert_eq!(events::prune(&env).unwrap(), 1);
    assert_eq!(one(&env, "SELECT COUNT(*) FROM event_log"), 1);
}
