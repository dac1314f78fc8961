//! The workflow engine on real SQLite: templates run to completion in
//! debug mode with no outbound call; conditions route both ways; delays
//! resume when time passes; a failing action takes the error branch or
//! fails the run; steps are claimed once across replicas; runs are
//! cancelled and restarted from a node; invalid graphs are refused with
//! node ids; tenants see only their own workflows.

mod support;

use echopilot_core::adapters::native::{ScriptedHttp, SqliteDb};
use echopilot_core::ports::{Env, HttpError, OutboundResponse};
use echopilot_core::tenancy::{Scope, TenantId};
use echopilot_core::workflows::engine::{self, Run, Start};
use echopilot_core::workflows::store::{self, Draft};
use echopilot_core::workflows::templates::TEMPLATES;
use futures::executor::block_on;
use serde_json::{json, Value};
use std::sync::Arc;
use support::*;

const ORIGIN: &str = "http://127.0.0.1:9";

fn tenant() -> TenantId {
    TenantId::parse("default").unwrap()
}

fn setup(
    respond: impl Fn(&echopilot_core::ports::OutboundRequest) -> Result<OutboundResponse, HttpError>
        + Send
        + Sync
        + 'static,
) -> (
    Env,
    echopilot_core::adapters::native::ManualClock,
    Arc<ScriptedHttp>,
) {
    let (mut env, clock) = env(&[("workflow_http_allowed_origins", ORIGIN)]);
    let http = Arc::new(ScriptedHttp::new(respond));
    env.http = Box::new(SharedHttp(http.clone()));
    (env, clock, http)
}

fn ok(status: u16, body: &str) -> Result<OutboundResponse, HttpError> {
    Ok(OutboundResponse {
        status,
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    })
}

fn save(env: &Env, graph: Value) -> store::Workflow {
    let draft = Draft::from_json(&json!({ "name": "test", "graph": graph })).unwrap();
    store::create(env, &tenant(), &draft, "tester").unwrap().0
}

fn start(env: &Env, wf: &store::Workflow, input: Value, debug: bool) -> Run {
    engine::start(
        env,
        wf,
        &Start {
            trigger: "manual",
            input,
            debug,
        },
    )
    .unwrap()
}

/// Drain steps until none is due (bounded).
fn drain(env: &Env) {
    for _ in 0..50 {
        let r = block_on(engine::drain(env, "wrk_test", 100, f64::MAX)).unwrap();
        assert_eq!(r.errors, 0, "{r:?}");
        if r.claimed == 0 {
            return;
        }
    }
    panic!("the step queue did not drain");
}

fn run_of(env: &Env, id: &str) -> (Run, Vec<engine::Step>) {
    (
        engine::get_run(env, &Scope::All, id).unwrap(),
        engine::steps(env, id).unwrap(),
    )
}

fn status_of<'a>(steps: &'a [engine::Step], node: &str) -> &'a str {
    steps
        .iter()
        .find(|s| s.node_id == node)
        .map(|s| s.status.as_str())
        .unwrap_or("absent")
}

#[test]
fn every_template_runs_to_completion_in_debug_mode_with_no_outbound_call() {
    let (env, _clock, http) = setup(|_| ok(500, "no call expected"));
    let input = json!({
        "id": "page-1", "title": "Launch", "properties": {"Brief": "Announce the launch"},
        "name": "Ada", "company": "Acme", "email": "ada@example.com", "website": "https://acme.test",
        "message": "hi", "subject": "Refund", "customer": "Bob", "body": "It broke", "priority": "high",
        "content": "A long article", "fired_at": "2027-01-15T08:00:00Z", "schedule": "0 8 * * 1-5"
    });
    for t in TEMPLATES {
        let draft = Draft::from_json(&json!({ "template": t.id })).unwrap();
        let (wf, secret) = store::create(&env, &tenant(), &draft, "tester").unwrap();
        assert!(secret.starts_with("whsec_"));
        let run = start(&env, &wf, input.clone(), true);
        drain(&env);
        let (run, steps) = run_of(&env, &run.id);
        assert_eq!(
            run.status, "succeeded",
            "{}: {:?} {steps:?}",
            t.id, run.error
        );
        assert!(
            steps
                .iter()
                .all(|s| s.status == "succeeded" || s.status == "skipped"),
            "{}: {steps:?}",
            t.id
        );
    }
    assert!(
        http.sent().is_empty(),
        "debug mode made a call: {:?}",
        http.sent()
    );
}

fn routing_graph() -> Value {
    json!({
        "nodes": [
            {"id": "start", "type": "trigger", "config": {"kind": "manual"}},
            {"id": "check", "type": "condition", "config": {"expression": "trigger.amount > 100"}},
            {"id": "big", "type": "action", "config": {"kind": "http", "url": format!("{ORIGIN}/big"), "content": "{\"amount\": {{trigger.amount}}}"}},
            {"id": "small", "type": "action", "config": {"kind": "http", "url": format!("{ORIGIN}/small"), "max_attempts": 1}},
            {"id": "oops", "type": "notification", "config": {"kind": "telegram", "message": "failed: {{nodes.small.error}}"}}
        ],
        "edges": [
            {"from": "start", "to": "check"},
            {"from": "check", "to": "big", "port": "true"},
            {"from": "check", "to": "small", "port": "false"},
            {"from": "small", "to": "oops", "port": "error"}
        ]
    })
}

#[test]
fn a_condition_routes_both_ways_and_a_failing_action_takes_the_error_branch() {
    let (env, _clock, http) = setup(|r| {
        if r.url.ends_with("/big") {
            ok(200, r#"{"stored":true}"#)
        } else {
            ok(400, "bad")
        }
    });
    let wf = save(&env, routing_graph());
    let big = start(&env, &wf, json!({"amount": 500}), false);
    drain(&env);
    let (run, steps) = run_of(&env, &big.id);
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(status_of(&steps, "big"), "succeeded");
    assert_eq!(status_of(&steps, "small"), "skipped");
    assert_eq!(status_of(&steps, "oops"), "skipped");
    let sent = http.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        String::from_utf8(sent[0].body.clone()).unwrap(),
        r#"{"amount": 500}"#
    );

    // The false branch: the action fails (400, not retried), the error
    // branch runs; Telegram is not configured, so that step fails and
    // with no error branch of its own the run fails, naming it.
    let small = start(&env, &wf, json!({"amount": 5}), false);
    drain(&env);
    let (run, steps) = run_of(&env, &small.id);
    assert_eq!(status_of(&steps, "big"), "skipped");
    assert_eq!(status_of(&steps, "small"), "failed");
    let small_step = steps.iter().find(|s| s.node_id == "small").unwrap();
    assert_eq!(small_step.port.as_deref(), Some("error"));
    assert!(small_step.error.as_deref().unwrap().contains("HTTP 400"));
    assert_eq!(status_of(&steps, "oops"), "failed");
    assert_eq!(run.status, "failed");
    assert!(
        run.error.as_deref().unwrap().contains("oops"),
        "{:?}",
        run.error
    );
}

#[test]
fn a_transient_failure_is_retried_with_backoff_then_succeeds() {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = calls.clone();
    let (env, clock, _http) = setup(move |_| {
        if c.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            ok(503, "down")
        } else {
            ok(200, "{}")
        }
    });
    let wf = save(&env, routing_graph());
    let run = start(&env, &wf, json!({"amount": 500}), false);
    drain(&env);
    let (r, steps) = run_of(&env, &run.id);
    assert_eq!(r.status, "running");
    assert_eq!(
        status_of(&steps, "big"),
        "queued",
        "waiting for its backoff"
    );
    clock.advance(600_000);
    drain(&env);
    let (r, steps) = run_of(&env, &run.id);
    assert_eq!(r.status, "succeeded", "{:?}", r.error);
    assert_eq!(
        steps.iter().find(|s| s.node_id == "big").unwrap().attempts,
        2
    );
}

#[test]
fn a_delay_resumes_only_after_time_passes_and_survives_a_restart() {
    let path = std::env::temp_dir().join(format!("wf-delay-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let graph = json!({
        "nodes": [
            {"id": "start", "type": "trigger", "config": {"kind": "manual"}},
            {"id": "wait", "type": "delay", "config": {"kind": "duration", "duration": "1h"}},
            {"id": "after", "type": "condition", "config": {"expression": "trigger.x == 1"}}
        ],
        "edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "after"}]
    });
    let run_id = {
        let (env, _clock) = env_with(SqliteDb::open(&path).unwrap(), &[]);
        let wf = save(&env, graph);
        let run = start(&env, &wf, json!({"x": 1}), false);
        drain(&env);
        let (r, steps) = run_of(&env, &run.id);
        assert_eq!(r.status, "running");
        assert_eq!(status_of(&steps, "after"), "queued");
        run.id
    };
    // A new process on the same database: nothing is due yet, then it is.
    let (env, clock) = env_with(SqliteDb::open(&path).unwrap(), &[]);
    clock.advance(59 * 60_000);
    drain(&env);
    assert_eq!(run_of(&env, &run_id).0.status, "running");
    clock.advance(2 * 60_000);
    drain(&env);
    let (r, steps) = run_of(&env, &run_id);
    assert_eq!(r.status, "succeeded");
    assert_eq!(
        steps
            .iter()
            .find(|s| s.node_id == "after")
            .unwrap()
            .port
            .as_deref(),
        Some("true")
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn two_replicas_never_claim_one_step() {
    let (env, _clock, _http) = setup(|_| ok(200, "{}"));
    let wf = save(&env, routing_graph());
    start(&env, &wf, json!({"amount": 500}), false);
    let first = engine::claim(&env, "replica-a").unwrap();
    assert!(first.is_some());
    assert!(engine::claim(&env, "replica-b").unwrap().is_none());
    // The other replica cannot finish a step it does not hold.
    let lost = block_on(engine::process(&env, first.as_ref().unwrap(), "replica-b")).unwrap();
    assert_eq!(lost, engine::Outcome::Lost);
    let done = block_on(engine::process(&env, first.as_ref().unwrap(), "replica-a")).unwrap();
    assert_eq!(done, engine::Outcome::Succeeded);
}

#[test]
fn a_dead_worker_s_step_is_recovered_after_its_lease() {
    let (env, clock, _http) = setup(|_| ok(200, "{}"));
    let wf = save(&env, routing_graph());
    let run = start(&env, &wf, json!({"amount": 500}), false);
    assert!(engine::claim(&env, "dies").unwrap().is_some());
    clock.advance(engine::STEP_LEASE_MS + 1);
    drain(&env);
    assert_eq!(run_of(&env, &run.id).0.status, "succeeded");
}

#[test]
fn runs_are_cancelled_and_restarted_from_a_node() {
    let (env, _clock, http) = setup(|_| ok(200, "{}"));
    let wf = save(&env, routing_graph());
    let run = start(&env, &wf, json!({"amount": 500}), false);
    let cancelled = engine::cancel(&env, &Scope::Tenant(tenant()), &run.id).unwrap();
    assert_eq!(cancelled.status, "cancelled");
    drain(&env);
    assert!(http.sent().is_empty());
    assert_eq!(
        engine::cancel(&env, &Scope::All, &run.id)
            .unwrap_err()
            .status(),
        409
    );

    let run = start(&env, &wf, json!({"amount": 500}), false);
    drain(&env);
    let again = engine::restart(&env, &Scope::Tenant(tenant()), &run.id, "big", None).unwrap();
    assert_eq!(again.restart_node.as_deref(), Some("big"));
    drain(&env);
    let (r, steps) = run_of(&env, &again.id);
    assert_eq!(r.status, "succeeded");
    assert!(steps.iter().find(|s| s.node_id == "check").unwrap().copied);
    assert!(!steps.iter().find(|s| s.node_id == "big").unwrap().copied);
    assert_eq!(
        http.sent().len(),
        2,
        "the first run and the restart each called once"
    );
    let e = engine::restart(&env, &Scope::All, &run.id, "nope", None).unwrap_err();
    assert_eq!(e.status(), 422);
}

#[test]
fn an_invalid_graph_is_refused_with_node_ids() {
    let (env, _clock, _http) = setup(|_| ok(200, "{}"));
    let draft = Draft::from_json(&json!({ "name": "bad", "graph": {
        "nodes": [
            {"id": "start", "type": "trigger", "config": {"kind": "manual"}},
            {"id": "c", "type": "condition", "config": {"expression": "trigger.x >"}},
            {"id": "island", "type": "delay", "config": {"kind": "duration", "duration": "1h"}},
            {"id": "w", "type": "widget", "config": {}}
        ],
        "edges": [{"from": "start", "to": "c", "port": "next"}]
    }}))
    .unwrap();
    let e = store::create(&env, &tenant(), &draft, "t").unwrap_err();
    assert_eq!(e.status(), 422);
    let details = serde_json::to_value(e.details.as_deref().unwrap()).unwrap();
    let nodes: Vec<&str> = details["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["node"].as_str())
        .collect();
    for id in ["c", "island", "w"] {
        assert!(nodes.contains(&id), "{id} missing from {details}");
    }
    assert!(
        store::list(&env, &Scope::All).unwrap().is_empty(),
        "nothing saved"
    );
}

#[test]
fn tenants_see_only_their_own_workflows_and_runs() {
    let (env, _clock, _http) = setup(|_| ok(200, "{}"));
    let wf = save(&env, routing_graph());
    let run = start(&env, &wf, json!({"amount": 5}), true);
    let other = Scope::Tenant(TenantId::parse("acme").unwrap());
    assert_eq!(store::get(&env, &other, &wf.id).unwrap_err().status(), 404);
    assert_eq!(
        engine::get_run(&env, &other, &run.id).unwrap_err().status(),
        404
    );
    assert_eq!(
        engine::cancel(&env, &other, &run.id).unwrap_err().status(),
        404
    );
    assert!(store::list(&env, &other).unwrap().is_empty());
    let acme = TenantId::parse("acme").unwrap();
    let draft = Draft::from_json(&json!({ "name": "x", "graph": routing_graph() })).unwrap();
    assert_eq!(
        store::update(&env, &acme, &wf.id, &draft, None)
            .unwrap_err()
            .status(),
        404
    );
    assert_eq!(
        store::delete(&env, &acme, &wf.id).unwrap_err().status(),
        404
    );
}

#[test]
fn saving_makes_a_new_version_and_runs_keep_theirs() {
    let (env, _clock, _http) = setup(|_| ok(200, "{}"));
    let wf = save(&env, routing_graph());
    let run = start(&env, &wf, json!({"amount": 500}), true);
    let mut g = routing_graph();
    g["nodes"][1]["config"]["expression"] = json!("trigger.amount > 1000");
    let draft = Draft::from_json(&json!({ "name": "v2", "graph": g })).unwrap();
    let v2 = store::update(&env, &tenant(), &wf.id, &draft, Some(1)).unwrap();
    assert_eq!(v2.version, 2);
    // An editor still on version 1 does not overwrite version 2.
    let stale = store::update(&env, &tenant(), &wf.id, &draft, Some(1)).unwrap_err();
    assert_eq!((stale.status(), stale.code), (409, "workflow_changed"));
    assert_eq!(
        store::get(&env, &Scope::Tenant(tenant()), &wf.id)
            .unwrap()
            .version,
        2,
        "nothing saved"
    );
    drain(&env);
    let (r, steps) = run_of(&env, &run.id);
    assert_eq!(r.version, 1);
    assert_eq!(
        status_of(&steps, "big"),
        "succeeded",
        "version 1's condition"
    );
}

mod api {
    use super::*;
    use echopilot_core::http::{Method, Request};
    use echopilot_core::workflows::api::APP;
    use echopilot_core::workflows::webhook;

    fn op(method: Method, path: &str, body: Option<Value>) -> Request {
        let r = Request::new(method, path).with_header("x-dash-key", DASH_KEY);
        match body {
            Some(b) => r
                .with_header("content-type", "application/json")
                .with_body(b.to_string().into_bytes()),
            None => r,
        }
    }

    fn api_env() -> (Env, echopilot_core::adapters::native::ManualClock) {
        env(&[
            ("dashboard_key", DASH_KEY),
            ("workflow_http_allowed_origins", ORIGIN),
        ])
    }

    #[test]
    fn the_editor_s_calls_work_end_to_end() {
        let (env, _clock) = api_env();
        let (resp, nodes) = call(&APP, &env, op(Method::Get, "/api/workflow-nodes", None));
        assert_eq!(resp.status, 200, "{nodes}");
        let (_, templates) = call(&APP, &env, op(Method::Get, "/api/workflow-templates", None));
        assert_eq!(templates["data"]["templates"].as_array().unwrap().len(), 5);

        let (resp, bad) = call(
            &APP,
            &env,
            op(
                Method::Post,
                "/api/workflow-checks",
                Some(
                    json!({"graph": {"nodes": [{"id": "x", "type": "widget", "config": {}}], "edges": []}}),
                ),
            ),
        );
        assert_eq!(resp.status, 200);
        assert_eq!(bad["data"]["valid"], json!(false));
        assert!(bad["data"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["node"] == "x"));

        let (resp, refused) = call(
            &APP,
            &env,
            op(
                Method::Post,
                "/api/workflows",
                Some(
                    json!({"name": "bad", "graph": {"nodes": [{"id": "x", "type": "widget", "config": {}}], "edges": []}}),
                ),
            ),
        );
        assert_eq!(resp.status, 422, "{refused}");
        assert_eq!(refused["error"]["code"], "invalid_workflow");
        assert!(refused["error"]["details"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["node"] == "x"));

        let (resp, created) = call(
            &APP,
            &env,
            op(
                Method::Post,
                "/api/workflows",
                Some(json!({"template": "support_ticket_triage"})),
            ),
        );
        assert_eq!(resp.status, 201, "{created}");
        let id = created["data"]["id"].as_str().unwrap().to_string();
        let secret = created["data"]["webhook_secret"]
            .as_str()
            .unwrap()
            .to_string();
        let (_, got) = call(
            &APP,
            &env,
            op(Method::Get, &format!("/api/workflows/{id}"), None),
        );
        assert!(
            got["data"].get("webhook_secret").is_none(),
            "the secret is shown once"
        );
        let (resp, _) = call(
            &APP,
            &env,
            op(
                Method::Get,
                &format!("/api/workflows/{id}?tenant_id=acme"),
                None,
            ),
        );
        assert_eq!(resp.status, 404, "another tenant's scope does not see it");

        let (resp, run) = call(
            &APP,
            &env,
            op(
                Method::Post,
                &format!("/api/workflows/{id}/run"),
                Some(
                    json!({"debug": true, "context": {"subject": "Down", "customer": "Bob", "body": "x", "priority": "high"}}),
                ),
            ),
        );
        assert_eq!(resp.status, 202, "{run}");
        let run_id = run["data"]["id"].as_str().unwrap().to_string();
        drain(&env);
        let (_, log) = call(
            &APP,
            &env,
            op(Method::Get, &format!("/api/runs/{run_id}"), None),
        );
        assert_eq!(log["data"]["status"], "succeeded", "{log}");
        assert!(log["data"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["node_id"] == "page" && s["status"] == "succeeded"));

        // Signed webhook: accepted once, refused when replayed, tampered or unsigned.
        let body =
            json!({"subject": "Refund", "customer": "Ann", "body": "please", "priority": "low"})
                .to_string();
        let sig = webhook::sign(&secret, T0 / 1000, body.as_bytes());
        let hook = |sig: Option<&str>, body: &str| {
            let mut r = Request::new(Method::Post, &format!("/api/workflows/{id}/trigger"))
                .with_header("content-type", "application/json")
                .with_body(body.as_bytes().to_vec());
            if let Some(s) = sig {
                r = r.with_header("x-echopilot-signature", s);
            }
            r
        };
        let (resp, accepted) = call(&APP, &env, hook(Some(&sig), &body));
        assert_eq!(resp.status, 202, "{accepted}");
        let (resp, _) = call(&APP, &env, hook(Some(&sig), &body));
        assert_eq!(resp.status, 409, "a replay is refused");
        let (resp, _) = call(&APP, &env, hook(Some(&sig), "{\"subject\":\"forged\"}"));
        assert_eq!(resp.status, 401);
        let (resp, _) = call(&APP, &env, hook(None, &body));
        assert_eq!(resp.status, 401);

        let (_, runs) = call(
            &APP,
            &env,
            op(Method::Get, &format!("/api/workflows/{id}/runs"), None),
        );
        assert_eq!(runs["data"]["runs"].as_array().unwrap().len(), 2);
        let webhook_run = runs["data"]["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["trigger"] == "webhook")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let (resp, cancelled) = call(
            &APP,
            &env,
            op(
                Method::Post,
                &format!("/api/runs/{webhook_run}/cancel"),
                None,
            ),
        );
        assert_eq!(resp.status, 200, "{cancelled}");
        let (resp, restarted) = call(
            &APP,
            &env,
            op(
                Method::Post,
                &format!("/api/runs/{run_id}/restart"),
                Some(json!({"node": "urgent", "debug": true})),
            ),
        );
        assert_eq!(resp.status, 202, "{restarted}");

        // The editor's auto-save names the version it edited: a stale one
        // is refused rather than overwriting what someone saved since.
        let (_, current) = call(
            &APP,
            &env,
            op(Method::Get, &format!("/api/workflows/{id}"), None),
        );
        let version = current["data"]["version"].as_i64().unwrap();
        let save = |v: Value| {
            op(
                Method::Put,
                &format!("/api/workflows/{id}"),
                Some(json!({"name": "edited", "graph": current["data"]["graph"], "version": v})),
            )
        };
        let (resp, saved) = call(&APP, &env, save(json!(version)));
        assert_eq!(resp.status, 200, "{saved}");
        assert_eq!(saved["data"]["version"], json!(version + 1));
        let (resp, stale) = call(&APP, &env, save(json!(version)));
        assert_eq!(resp.status, 409, "{stale}");
        assert_eq!(stale["error"]["code"], "workflow_changed");
        let (resp, bad) = call(&APP, &env, save(json!("latest")));
        assert_eq!(resp.status, 422, "{bad}");
        assert_eq!(bad["error"]["code"], "invalid_version");

        let (resp, _) = call(
            &APP,
            &env,
            op(Method::Delete, &format!("/api/workflows/{id}"), None),
        );
        assert_eq!(resp.status, 200);
        let (resp, _) = call(
            &APP,
            &env,
            op(Method::Get, &format!("/api/workflows/{id}"), None),
        );
        assert_eq!(resp.status, 404);
    }

    #[test]
    fn anonymous_callers_reach_nothing_but_the_signed_trigger() {
        let (env, _clock) = api_env();
        for (m, path) in [
            (Method::Get, "/api/workflows"),
            (Method::Post, "/api/workflows"),
            (Method::Get, "/api/runs/run_x"),
            (Method::Get, "/api/workflow-nodes"),
        ] {
            let (resp, _) = call(&APP, &env, Request::new(m, path));
            assert_eq!(resp.status, 401, "{path}");
        }
        let (resp, _) = call(
            &APP,
            &env,
            post_json("/api/workflows/wf_nope/trigger", &json!({})),
        );
        assert_eq!(
            resp.status, 401,
            "an unknown workflow looks like a bad signature"
        );
    }
}

#[test]
fn a_schedule_trigger_runs_each_slot_once_across_replicas() {
    let (env, clock, _http) = setup(|_| ok(200, "{}"));
    let graph = json!({
        "nodes": [
            {"id": "tick", "type": "trigger", "config": {"kind": "schedule", "cron": "*/15 * * * *"}},
            {"id": "wait", "type": "delay", "config": {"kind": "duration", "duration": "1s"}}
        ],
        "edges": [{"from": "tick", "to": "wait"}]
    });
    let wf = save(&env, graph);
    // T0 is a minute boundary; move to the next quarter hour.
    let to_quarter = 900_000 - T0.rem_euclid(900_000);
    clock.advance(to_quarter + 30_000);
    let a = echopilot_core::workflows::schedule::fire_due(&env).unwrap();
    let b = echopilot_core::workflows::schedule::fire_due(&env).unwrap();
    assert_eq!((a, b), (1, 0), "the second replica finds the slot taken");
    clock.advance(60_000);
    assert_eq!(
        echopilot_core::workflows::schedule::fire_due(&env).unwrap(),
        0
    );
    clock.advance(15 * 60_000);
    assert_eq!(
        echopilot_core::workflows::schedule::fire_due(&env).unwrap(),
        1
    );
    let runs = engine::runs_of(&env, &wf.id, 10).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r.trigger == "schedule"));
    assert!(runs[0].input["fired_at"]
        .as_str()
        .unwrap()
        .ends_with(":00.000Z"));
}

mod notion_pages {
    //! New-Notion-page triggers: one run per page created after the save,
    //! once, however often (and by however many replicas) the database is
    //! polled; the page's properties are the run's data.

    use super::*;
    use echopilot_core::notion::{Notion, NotionSettings};
    use echopilot_core::ports::DbExt;
    use echopilot_core::workflows::notion_trigger::{self, PollReport};
    use std::sync::Mutex;

    const DB: &str = "0123456789abcdef0123456789abcdef";
    const OTHER_DB: &str = "fedcba9876543210fedcba9876543210";

    fn page(id: &str, created_ms: i64, brief: &str) -> Value {
        json!({
            "object": "page", "id": id, "url": format!("https://www.notion.so/{id}"),
            "created_time": echopilot_core::time::rfc3339(created_ms),
            "last_edited_time": echopilot_core::time::rfc3339(created_ms),
            "properties": {
                "Name": {"type": "title", "title": [{"plain_text": format!("Brief {id}")}]},
                "Brief": {"type": "rich_text", "rich_text": [{"plain_text": brief}]},
                "Stage": {"type": "select", "select": {"name": "New"}}
            }
        })
    }

    /// A scripted Notion: each database's pages, filtered by the query's
    /// `created_time.on_or_after`, two per result page.
    fn notion_env(
        pages: Arc<Mutex<Vec<(String, Value)>>>,
        extra: &[(&str, &str)],
    ) -> (
        Env,
        echopilot_core::adapters::native::ManualClock,
        Arc<ScriptedHttp>,
    ) {
        let mut vars = vec![
            ("notion_token", "secret_test_token"),
            ("notion_queue_db", DB),
            ("notion_base_url", "http://notion.test"),
        ];
        vars.extend_from_slice(extra);
        let (mut env, clock) = env(&vars);
        let http = Arc::new(ScriptedHttp::new(move |req| {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let since = body
                .pointer("/filter/created_time/on_or_after")
                .and_then(Value::as_str)
                .map(|t| echopilot_core::time::parse_rfc3339(t).unwrap())
                .expect("a created_time filter");
            let db = req.url.split('/').rev().nth(1).unwrap().to_string();
            let all: Vec<Value> = pages
                .lock()
                .unwrap()
                .iter()
                .filter(|(d, p)| {
                    *d == db
                        && echopilot_core::time::parse_rfc3339(p["created_time"].as_str().unwrap())
                            .unwrap()
                            >= since
                })
                .map(|(_, p)| p.clone())
                .collect();
            let start: usize = body["start_cursor"]
                .as_str()
                .map_or(0, |c| c.parse().unwrap());
            let end = (start + 2).min(all.len());
            let more = end < all.len();
            ok(
                200,
                &json!({"object": "list", "results": all[start..end], "has_more": more,
                "next_cursor": if more { json!(end.to_string()) } else { Value::Null }})
                .to_string(),
            )
        }));
        env.http = Box::new(SharedHttp(http.clone()));
        (env, clock, http)
    }

    fn poll(env: &Env) -> PollReport {
        let s = NotionSettings::load(env.config.as_ref()).unwrap().unwrap();
        let client = Notion::new(env, &s);
        block_on(notion_trigger::poll(env, &s, &client, f64::MAX)).unwrap()
    }

    fn watcher(env: &Env, tenant: &TenantId, database: Option<&str>) -> store::Workflow {
        let mut config = json!({"kind": "notion_page"});
        if let Some(d) = database {
            config["database_id"] = json!(d);
        }
        let graph = json!({
            "nodes": [
                {"id": "page", "type": "trigger", "config": config},
                {"id": "check", "type": "condition", "config": {"expression": "trigger.properties.Stage == \"New\""}}
            ],
            "edges": [{"from": "page", "to": "check"}]
        });
        let draft = Draft::from_json(&json!({ "name": "watch", "graph": graph })).unwrap();
        store::create(env, tenant, &draft, "tester").unwrap().0
    }

    fn runs(env: &Env, wf: &store::Workflow) -> Vec<Run> {
        engine::runs_of(env, &wf.id, 100).unwrap()
    }

    #[test]
    fn each_new_page_starts_one_run_with_its_properties_once() {
        let pages = Arc::new(Mutex::new(Vec::new()));
        let (env, clock, http) = notion_env(pages.clone(), &[]);
        // Older than the trigger: not new.
        pages
            .lock()
            .unwrap()
            .push((DB.into(), page("old", T0 - 3_600_000, "before")));
        let wf = watcher(&env, &tenant(), None);
        clock.advance(30_000);
        pages
            .lock()
            .unwrap()
            .push((DB.into(), page("p1", T0 + 10_000, "first brief")));
        pages
            .lock()
            .unwrap()
            .push((DB.into(), page("p2", T0 + 20_000, "second")));
        pages
            .lock()
            .unwrap()
            .push((DB.into(), page("p3", T0 + 25_000, "third")));

        let report = poll(&env);
        assert_eq!(
            (report.workflows, report.started, report.seen),
            (1, 3, 0),
            "{report:?}"
        );
        let all = runs(&env, &wf);
        assert_eq!(all.len(), 3);
        let first = all.iter().find(|r| r.input["id"] == "p1").unwrap();
        assert_eq!(first.trigger, "notion_page");
        assert_eq!(
            first.input,
            json!({"id": "p1", "url": "https://www.notion.so/p1", "title": "Brief p1",
                   "created_time": echopilot_core::time::rfc3339(T0 + 10_000),
                   "properties": {"Name": "Brief p1", "Brief": "first brief", "Stage": "New"}})
        );
        // The query asked only for pages since the save (a minute back).
        let asked: Value = serde_json::from_slice(&http.sent()[0].body).unwrap();
        assert_eq!(
            asked["filter"]["created_time"]["on_or_after"],
            echopilot_core::time::rfc3339(wf.updated_at - notion_trigger::OVERLAP_MS)
        );
        // The runs run: the page's data reaches the condition.
        drain(&env);
        let (run, steps) = run_of(&env, &first.id);
        assert_eq!(run.status, "succeeded", "{:?}", run.error);
        assert_eq!(steps[1].port.as_deref(), Some("true"));

        // Polled again (and by a second replica on the same database):
        // nothing starts twice; a page created since starts its run.
        assert_eq!(poll(&env).started, 0);
        pages
            .lock()
            .unwrap()
            .push((DB.into(), page("p4", T0 + 90_000, "later")));
        clock.advance(120_000);
        let again = poll(&env);
        assert_eq!(
            (again.started, again.seen),
            (1, 3),
            "p1-p3 are within the query's minute of overlap, recognised: {again:?}"
        );
        assert_eq!(poll(&env).started, 0);
        assert_eq!(runs(&env, &wf).len(), 4);
        let pages_started = env
            .db
            .query_one(
                "SELECT COUNT(*) FROM workflow_notion_pages WHERE workflow_id = ?1",
                &[wf.id.as_str().into()],
            )
            .unwrap()
            .i64(0)
            .unwrap();
        assert_eq!(pages_started, 4);
    }

    /// A process on the SQLite file `path` with the scripted Notion over
    /// `pages` and the variables `extra`.
    fn replica(
        path: &std::path::Path,
        pages: &Arc<Mutex<Vec<(String, Value)>>>,
        extra: &[(&str, &str)],
    ) -> (Env, Arc<ScriptedHttp>) {
        let (scripted, _, http) = notion_env(pages.clone(), extra);
        let mut vars = vec![
            ("notion_token", "secret_test_token"),
            ("notion_queue_db", DB),
            ("notion_base_url", "http://notion.test"),
        ];
        vars.extend_from_slice(extra);
        drop(scripted);
        let (mut env, clock) =
            support::env_with(SqliteDb::open(path.to_str().unwrap()).unwrap(), &vars);
        clock.advance(10_000);
        env.http = Box::new(SharedHttp(http.clone()));
        (env, http)
    }

    fn temp_db(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("wf-notion-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("app.db")
    }

    #[test]
    fn two_replicas_on_one_database_start_each_page_once() {
        let path = temp_db("replicas");
        let pages = Arc::new(Mutex::new(Vec::new()));
        let (a, _) = replica(&path, &pages, &[]);
        let (b, _) = replica(&path, &pages, &[]);
        let wf = watcher(&a, &tenant(), Some(OTHER_DB));
        for i in 0..5 {
            pages.lock().unwrap().push((
                OTHER_DB.into(),
                page(&format!("r{i}"), wf.updated_at + 1_000 * i, "x"),
            ));
        }
        let (ra, rb) = (poll(&a), poll(&b));
        assert_eq!(
            (ra.started, rb.started, rb.seen),
            (5, 0, 5),
            "{ra:?} {rb:?}"
        );
        assert_eq!(runs(&b, &wf).len(), 5);
        // A replica that lost its cursor's update still starts nothing twice.
        b.db.exec("UPDATE workflow_notion_cursors SET since_ms = 0", &[])
            .unwrap();
        let again = poll(&b);
        assert_eq!((again.started, again.seen), (0, 5), "{again:?}");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn a_tenant_whose_integrations_are_withdrawn_is_not_polled() {
        let path = temp_db("policy");
        let pages = Arc::new(Mutex::new(Vec::new()));
        let acme = TenantId::parse("acme").unwrap();
        let (allowed, _) = replica(&path, &pages, &[("workflow_integration_tenants", "acme")]);
        let wf = watcher(&allowed, &acme, None);
        pages
            .lock()
            .unwrap()
            .push((DB.into(), page("p1", wf.updated_at + 1_000, "x")));
        let (withdrawn, http) = replica(&path, &pages, &[]);
        let report = poll(&withdrawn);
        assert_eq!(
            (report.workflows, report.skipped, report.started),
            (0, 1, 0)
        );
        assert!(http.sent().is_empty(), "no query for it");
        assert_eq!(poll(&allowed).started, 1);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
