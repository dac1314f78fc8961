//! Demo mode against real SQLite: the seeder fills every kind of demo data
//! once (a second run, or a replica, finds it seeded), removal restores
//! every table exactly as it was (real rows, counters, the id sequence),
//! real work done in between survives removal, write routes are refused
//! while demo mode is on, and every component that has write routes reads
//! the `demo_mode` variable.

mod support;

use echopilot_core::adapters::native::ManualClock;
use echopilot_core::app::App;
use echopilot_core::catalog::APPS;
use echopilot_core::demo::{remove, seed};
use echopilot_core::http::{Method, Request};
use echopilot_core::jobs::model::{Brief, JobType, NewJob};
use echopilot_core::jobs::store;
use echopilot_core::ports::{DbExt, Env};
use echopilot_core::tenancy::TenantId;
use echopilot_core::time::{day_of, DAY_MS};
use serde_json::json;
use std::collections::BTreeMap;
use support::*;

/// Every table's rows, each row rendered and the rows sorted: equal
/// snapshots mean equal databases.
fn snapshot(env: &Env) -> BTreeMap<String, Vec<String>> {
    let tables = env
        .db
        .exec(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
            &[],
        )
        .unwrap();
    let mut out = BTreeMap::new();
    for t in tables.rows {
        let name = t.text(0).unwrap();
        let mut rows: Vec<String> = env
            .db
            .exec(&format!("SELECT * FROM \"{name}\""), &[])
            .unwrap()
            .rows
            .iter()
            .map(|r| format!("{:?}", r.values))
            .collect();
        rows.sort();
        out.insert(name, rows);
    }
    out
}

fn count(env: &Env, sql: &str) -> i64 {
    env.db.query_one(sql, &[]).unwrap().i64(0).unwrap()
}

fn real_job(env: &Env) -> String {
    let job = NewJob::new(JobType::AiTask, Brief::parse("Draft a real memo").unwrap());
    store::create(env, &TenantId::default_tenant(), &job, None)
        .unwrap()
        .job
        .id
}

/// A database with real data where the demo writes too: a job and an
/// attempt, LLM spend and analytics of today.
fn with_real_data() -> (Env, ManualClock) {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    echopilot_core::db::migrate::ensure_current(env.db.as_ref()).unwrap();
    let job = real_job(&env);
    env.db
        .exec(
            "INSERT INTO job_attempts (job_id, tenant_id, claim, round, worker, status, build_sha, started_at)
             VALUES (?1, 'default', 1, 1, 'w', 'passed', 'sha', ?2)",
            echopilot_core::params![job, T0],
        )
        .unwrap();
    let today = day_of(T0);
    env.db
        .exec(
            "INSERT INTO llm_usage_days VALUES (?1, 'gpt-4o', 'work', 3, 300, 200, 2750, 0, 0)",
            echopilot_core::params![today],
        )
        .unwrap();
    env.db
        .exec(
            "INSERT INTO analytics_days VALUES ('default', ?1, 4, 17)",
            echopilot_core::params![today - 1],
        )
        .unwrap();
    (env, clock)
}

#[test]
fn seeding_fills_every_kind_of_demo_data_once() {
    let (env, _) = with_real_data();
    let seeded = match seed::seed(&env, T0).unwrap() {
        seed::Outcome::Seeded(rows) => rows,
        other => panic!("expected a seed, got {other:?}"),
    };
    for table in [
        "tenants",
        "jobs",
        "incidents",
        "api_keys",
        "llm_usage_days",
        "analytics_days",
        "analytics_day_events",
    ] {
        assert!(
            seeded.get(table).copied().unwrap_or(0) > 0,
            "{table}: {seeded:?}"
        );
    }
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM tenants WHERE id LIKE 'demo-%'"),
        4
    );
    // Every final state, with attempts, outputs and QA scores.
    for status in ["completed", "failed", "dead", "cancelled"] {
        assert!(
            count(
                &env,
                &format!("SELECT COUNT(*) FROM jobs WHERE status = '{status}'")
            ) > 0,
            "{status}"
        );
    }
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'processing')"
        ),
        1,
        "only the real job waits: the worker never touches demo rows"
    );
    assert!(
        count(
            &env,
            "SELECT COUNT(*) FROM jobs j WHERE status = 'completed' AND (output IS NULL OR qa_score IS NULL
                OR NOT EXISTS (SELECT 1 FROM job_attempts a WHERE a.job_id = j.id AND a.status = 'passed'))"
        ) == 0
    );
    // Job counts agree with the jobs (the triggers kept them).
    assert_eq!(
        count(&env, "SELECT SUM(n) FROM job_counts"),
        count(&env, "SELECT COUNT(*) FROM jobs")
    );
    // The spend is what the attempts cost, on top of the real spend.
    assert_eq!(
        count(&env, "SELECT SUM(cost_micros) FROM llm_usage_days"),
        count(&env, "SELECT SUM(cost_micros) FROM job_attempts") + 2750
    );
    // Today's demo spend stays far below the default $25 cap.
    assert!(
        count(
            &env,
            &format!(
                "SELECT COALESCE(SUM(cost_micros), 0) FROM llm_usage_days WHERE day = {}",
                day_of(T0)
            )
        ) < 5_000_000
    );
    // Nothing reached the audit chain or the event log.
    assert_eq!(count(&env, "SELECT COUNT(*) FROM audit_log"), 0);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM event_log"), 0);

    let after_first = snapshot(&env);
    assert!(matches!(
        seed::seed(&env, T0 + 60_000).unwrap(),
        seed::Outcome::Already(at) if at == T0
    ));
    assert_eq!(snapshot(&env), after_first, "a second seed changes nothing");
}

#[test]
fn removal_restores_every_table_exactly() {
    let (env, _) = with_real_data();
    let before = snapshot(&env);
    seed::seed(&env, T0).unwrap();
    assert_ne!(snapshot(&env), before);
    let plan = remove::plan(&env).unwrap();
    assert!(plan["rows"]["jobs"].as_i64().unwrap() > 30, "{plan}");
    assert!(
        plan["rows"]["job_attempts"].as_i64().unwrap() > 30,
        "{plan}"
    );
    let removed = remove::remove(&env).unwrap();
    assert!(
        removed["removed"]["jobs"].as_i64().unwrap() > 30,
        "{removed}"
    );
    assert_eq!(snapshot(&env), before, "no trace left");
    // And the demo can be seeded again afterwards.
    assert!(matches!(
        seed::seed(&env, T0 + DAY_MS).unwrap(),
        seed::Outcome::Seeded(_)
    ));
}

#[test]
fn real_work_done_while_the_demo_was_there_survives_removal() {
    let (env, _) = with_real_data();
    seed::seed(&env, T0).unwrap();
    // Real work after seeding: a job with an attempt (its id comes after
    // the demo's), spend on a day the demo also spent, a user in a demo
    // tenant.
    let job = real_job(&env);
    env.db
        .exec(
            "INSERT INTO job_attempts (job_id, tenant_id, claim, round, worker, status, build_sha, started_at)
             VALUES (?1, 'default', 1, 1, 'w', 'passed', 'sha', ?2)",
            echopilot_core::params![job.as_str(), T0],
        )
        .unwrap();
    let attempt = count(&env, "SELECT MAX(id) FROM job_attempts");
    env.db
        .exec(
            "UPDATE llm_usage_days SET calls = calls + 1, cost_micros = cost_micros + 1000
             WHERE day = ?1 AND model = 'gpt-4o' AND role = 'work'",
            echopilot_core::params![day_of(T0)],
        )
        .unwrap();
    env.db
        .exec(
            "INSERT INTO users (id, tenant_id, email, password_hash, role, created_at, updated_at)
             VALUES ('usr_real', 'demo-acme', 'real@acme.test', 'x', 'viewer', 0, 0)",
            &[],
        )
        .unwrap();
    remove::remove(&env).unwrap();

    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM jobs"),
        2,
        "the two real jobs"
    );
    assert_eq!(count(&env, "SELECT COUNT(*) FROM job_attempts"), 2);
    assert_eq!(
        count(
            &env,
            "SELECT seq FROM sqlite_sequence WHERE name = 'job_attempts'"
        ),
        attempt,
        "ids are never reused"
    );
    assert_eq!(
        count(
            &env,
            &format!(
                "SELECT calls * 1000000 + cost_micros FROM llm_usage_days WHERE day = {} AND model = 'gpt-4o'",
                day_of(T0)
            )
        ),
        4 * 1_000_000 + 3750,
        "the real spend, before and after seeding"
    );
    assert_eq!(
        count(&env, "SELECT SUM(n) FROM job_counts"),
        2,
        "counts follow the real jobs"
    );
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM tenants WHERE id LIKE 'demo-%'"),
        1,
        "a demo tenant a real user joined stays"
    );
    assert_eq!(count(&env, "SELECT COUNT(*) FROM demo_rows"), 0);
}

#[test]
fn the_console_dry_runs_then_removes_and_audits_both() {
    let (env, _) = with_real_data();
    let before = snapshot(&env);
    seed::seed(&env, T0).unwrap();
    let ops: &App = &echopilot_core::ops::api::APP;
    let command = |confirm: bool| {
        let req = post_json(
            "/api/ops/command",
            &json!({"command": "remove_demo_data", "confirm": confirm}),
        )
        .with_header("x-dash-key", DASH_KEY);
        call(ops, &env, req)
    };
    let (resp, body) = command(false);
    assert_eq!(resp.status, 200, "{body}");
    assert!(
        body["data"]["result"]["demo"]["rows"]["jobs"]
            .as_i64()
            .unwrap()
            > 0
    );
    assert!(
        count(&env, "SELECT COUNT(*) FROM demo_rows") > 0,
        "a dry run changes nothing"
    );
    let (resp, body) = command(true);
    assert_eq!(resp.status, 200, "{body}");
    assert_eq!(count(&env, "SELECT COUNT(*) FROM demo_rows"), 0);
    // Only the two audit entries of the commands (and the requests'
    // telemetry) are new: the demo itself left nothing.
    let mut after = snapshot(&env);
    let audits = after.remove("audit_log").unwrap();
    assert_eq!(audits.len(), 2);
    after.remove("request_samples");
    let mut before = before;
    before.remove("audit_log");
    before.remove("request_samples");
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    for (table, rows) in &before {
        if table == "rate_buckets" {
            continue; // the requests' own rate limiting
        }
        assert_eq!(&after[table], rows, "{table}");
    }
}

#[test]
fn demo_mode_refuses_writes_through_the_pipeline_but_not_reads_or_sign_in() {
    let (env, _) = env(&[("dashboard_key", DASH_KEY), ("demo_mode", "on")]);
    let jobs: &App = &echopilot_core::jobs::api::APP;
    let req =
        post_json("/api/queue/enqueue", &json!({"brief": "x"})).with_header("x-dash-key", DASH_KEY);
    let (resp, body) = call(jobs, &env, req.with_header("accept-language", "es"));
    assert_eq!(resp.status, 403);
    assert_eq!(body["error"]["code"], "demo_read_only");
    assert_eq!(resp.header("content-language"), Some("es"));
    assert_eq!(count(&env, "SELECT COUNT(*) FROM jobs"), 0);
    let (resp, _) = call(jobs, &env, op_get("/api/jobs"));
    assert_eq!(resp.status, 200);
    let auth: &App = &echopilot_core::identity::api::APP;
    let (resp, body) = call(
        auth,
        &env,
        post_json(
            "/api/auth/login",
            &json!({"email": "a@b.c", "password": "p"}),
        ),
    );
    assert_ne!(
        body["error"]["code"], "demo_read_only",
        "{} {body}",
        resp.status
    );
    // The version says so, for the dashboard's banner.
    let health: &App = &echopilot_core::health::APP;
    let (_, body) = call(health, &env, Request::new(Method::Get, "/api/version"));
    assert_eq!(body["data"]["demo_mode"], true);
    let (off, _) = support::env(&[]);
    let (_, body) = call(health, &off, Request::new(Method::Get, "/api/version"));
    assert_eq!(body["data"]["demo_mode"], false);
}

#[test]
fn the_demo_job_seeds_only_in_demo_mode() {
    use echopilot_core::scheduler::Trigger;
    let job = &echopilot_core::demo::JOB;
    let (off, _) = env(&[]);
    let body = match job.body {
        echopilot_core::scheduler::JobFn::Sync(f) => f,
        _ => panic!("the demo job is synchronous"),
    };
    let said = body(&off, &run_context(job, T0, Trigger::Cron)).unwrap();
    assert!(said.contains("off"), "{said}");
    assert_eq!(count(&off, "SELECT COUNT(*) FROM demo_rows"), 0);
    let (on, _) = env(&[("demo_mode", "on")]);
    let said = body(&on, &run_context(job, T0, Trigger::Cron)).unwrap();
    assert!(said.contains("seeded"), "{said}");
    let said = body(&on, &run_context(job, T0 + 60_000, Trigger::Cron)).unwrap();
    assert!(said.contains("was seeded"), "{said}");
}

/// A component whose routes write and that did not read `demo_mode` would
/// silently stay writable in a demo.
#[test]
fn every_component_with_write_routes_reads_demo_mode() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../spin.toml")).unwrap();
    for app in APPS {
        let writes = app
            .routes
            .iter()
            .any(|r| !matches!(r.method, Method::Get | Method::Head | Method::Options));
        if !writes {
            continue;
        }
        let header = format!("[component.{}.variables]", app.component);
        let section = manifest
            .split(&header)
            .nth(1)
            .unwrap_or_else(|| panic!("spin.toml has no {header}"));
        let section = section.split("\n[").next().unwrap_or("");
        assert!(
            section.contains("demo_mode = \"{{ demo_mode }}\""),
            "{} has write routes but does not declare demo_mode",
            app.component
        );
    }
}
