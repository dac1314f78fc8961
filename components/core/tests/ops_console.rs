//! The operator console: the allow-list, dry runs that change nothing,
//! confirmed commands that do, strict arguments, and an audit entry for
//! every call.

mod support;

use echopilot_core::ai::worker::drain;
use echopilot_core::jobs::model::{Brief, JobType, NewJob};
use echopilot_core::jobs::store;
use echopilot_core::ports::{DbExt, Env};
use echopilot_core::tenancy::{Scope, TenantId};
use futures::executor::block_on;
use serde_json::{json, Value};
use support::*;

const OPS: &echopilot_core::app::App = &echopilot_core::ops::api::APP;

fn command(env: &Env, body: Value) -> (u16, Value) {
    let (resp, json) = call(
        OPS,
        env,
        post_json("/api/ops/command", &body).with_header("x-dash-key", DASH_KEY),
    );
    (resp.status, json)
}

fn audited(env: &Env) -> i64 {
    env.db
        .query_one(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'ops.command'",
            &[],
        )
        .unwrap()
        .i64(0)
        .unwrap()
}

fn submit(env: &Env) -> String {
    let job = NewJob::new(
        JobType::AiTask,
        Brief::parse("Draft a status update").unwrap(),
    );
    store::create(env, &TenantId::default_tenant(), &job, None)
        .unwrap()
        .job
        .id
}

#[test]
fn the_allow_list_is_listed_and_anything_else_is_refused() {
    let (env, _) = env(&[("dashboard_key", DASH_KEY)]);
    let (resp, body) = call(OPS, &env, op_get("/api/ops/commands"));
    assert_eq!(resp.status, 200);
    let names: Vec<&str> = body["data"]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "pause_queue",
            "resume_queue",
            "retry_dead_jobs",
            "rebaseline_slo",
            "clear_deploy_gate",
            "run_daily_report",
            "run_backup",
            "verify_backup",
            "run_drill",
            "reconcile_payments",
            "remove_demo_data",
            "tail_logs"
        ]
    );
    let (status, body) = command(&env, json!({"command": "drop_database", "confirm": true}));
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "unknown_command");
    let (status, body) = command(
        &env,
        json!({"command": "pause_queue", "args": {"reasn": "typo"}, "confirm": true}),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_args"))
    );
    assert!(
        block_on(async { echopilot_core::jobs::queue::paused(&env) })
            .unwrap()
            .is_none(),
        "nothing changed"
    );
    let (status, _) = command(&env, json!({"command": "pause_queue", "confirm": "yes"}));
    assert_eq!(status, 400, "confirm must be a boolean");
    assert_eq!(
        audited(&env),
        2,
        "refused commands are audited too (the malformed body never parsed)"
    );
}

#[test]
fn pausing_is_a_dry_run_until_confirmed_and_stops_the_worker() {
    let mock = mock_openai(vec![Ok(grades(95, 95, 95, 95))]);
    let mut vars = OPENAI_VARS.to_vec();
    vars.push(("dashboard_key", DASH_KEY));
    let (mut env, _) = env(&vars);
    env.http = Box::new(SharedHttp(mock.http.clone()));
    let id = submit(&env);

    let (status, body) = command(
        &env,
        json!({"command": "pause_queue", "args": {"reason": "provider incident"}}),
    );
    assert_eq!(status, 200);
    assert_eq!(body["data"]["dry_run"], true);
    assert_eq!(body["data"]["result"]["would"], "pause the queue");
    assert!(
        echopilot_core::jobs::queue::paused(&env).unwrap().is_none(),
        "a dry run changes nothing"
    );

    let (_, body) = command(
        &env,
        json!({"command": "pause_queue", "args": {"reason": "provider incident"}, "confirm": true}),
    );
    assert_eq!(
        body["data"]["result"]["paused"]["reason"],
        "provider incident"
    );
    let tick = block_on(drain(&env)).unwrap();
    assert!(tick.paused && tick.claimed == 0, "{tick:?}");
    assert_eq!(
        store::get(&env, &Scope::All, &id).unwrap().status.as_str(),
        "queued"
    );

    command(&env, json!({"command": "resume_queue", "confirm": true}));
    let tick = block_on(drain(&env)).unwrap();
    assert_eq!(tick.completed, 1, "{tick:?}");
    assert_eq!(audited(&env), 3);
}

#[test]
fn dead_jobs_are_listed_in_a_dry_run_and_retried_when_confirmed() {
    let (env, _) = env(&[("dashboard_key", DASH_KEY)]);
    let ids: Vec<String> = (0..3).map(|_| submit(&env)).collect();
    for id in &ids {
        env.db
            .exec(
                "UPDATE jobs SET status = 'dead', dead_reason = 'test' WHERE id = ?1",
                echopilot_core::params![id.as_str()],
            )
            .unwrap();
    }
    let (_, body) = command(
        &env,
        json!({"command": "retry_dead_jobs", "args": {"limit": 2}}),
    );
    assert_eq!(body["data"]["result"]["jobs"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"]["result"]["more"], true);
    assert_eq!(
        store::get(&env, &Scope::All, &ids[0])
            .unwrap()
            .status
            .as_str(),
        "dead"
    );
    let (_, body) = command(&env, json!({"command": "retry_dead_jobs", "confirm": true}));
    assert_eq!(
        body["data"]["result"]["retried"].as_array().unwrap().len(),
        3
    );
    for id in &ids {
        assert_eq!(
            store::get(&env, &Scope::All, id).unwrap().status.as_str(),
            "queued"
        );
    }
    let (status, body) = command(
        &env,
        json!({"command": "retry_dead_jobs", "args": {"limit": 0}}),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_args"))
    );
}

#[test]
fn tail_logs_reads_and_slo_commands_act() {
    let (env, _) = env(&[("dashboard_key", DASH_KEY)]);
    echopilot_core::events::emit(
        &env,
        &echopilot_core::events::Event::new(
            echopilot_core::events::Level::Error,
            "cron-worker",
            "worker",
            "boom",
        ),
    );
    let (_, body) = command(
        &env,
        json!({"command": "tail_logs", "args": {"level": "error"}}),
    );
    assert_eq!(body["data"]["result"]["events"][0]["message"], "boom");
    let (_, body) = command(&env, json!({"command": "rebaseline_slo", "confirm": true}));
    assert!(
        body["data"]["result"]["rebaselined_at"].is_string(),
        "{body}"
    );
    let (_, body) = command(
        &env,
        json!({"command": "clear_deploy_gate", "confirm": true}),
    );
    assert_eq!(body["data"]["result"]["gate"]["up"], false);
}
