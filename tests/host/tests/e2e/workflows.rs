//! Workflows through the real components: the editor's calls (node
//! catalogue, templates, checks), a template saved, run in debug mode by
//! the worker with no outbound call, its live log; a signed webhook
//! accepted once and refused when replayed or unsigned; a new version;
//! cancel, restart from a node, delete; an invalid graph refused with node
//! ids; anonymous callers refused.

use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, wait_for, App, Env, Scenario};
use serde_json::{json, Value};
use std::time::Duration;

use crate::support::{dash, work};
use echopilot_e2e::{mock, HostBuilder};

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new(
        "workflows_are_saved_run_debugged_signed_and_restarted",
        workflows,
    ),
    Scenario::configured(
        "a_new_notion_page_starts_one_workflow_run_once",
        notion_page_trigger,
    ),
    Scenario::configured(
        "a_workflow_branches_both_ways_waits_fails_over_and_debugs_without_calls",
        branches,
    ),
    Scenario::spin_only(
        "workflow_steps_run_once_on_two_replicas_and_survive_a_restart",
        replicas_and_restart,
    ),
];

pub(crate) fn op(
    app: &App,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Value)> {
    let mut req = app.request(method, path).header("X-Dash-Key", &dash(app));
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send()?;
    let status = resp.status;
    Ok((status, resp.json().unwrap_or(Value::Null)))
}

/// Tick the worker until run `id` finishes (bounded: 40 ticks, 250 ms
/// apart, so a one-second Delay has passed well before the bound).
pub(crate) fn finish_waiting(app: &App, id: &str) -> Result<Value> {
    for _ in 0..40 {
        work(app)?;
        let (_, run) = op(app, "GET", &format!("/api/runs/{id}"), None)?;
        if run["data"]["status"] != "running" {
            return Ok(run["data"].clone());
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    anyhow::bail!("run {id} did not finish")
}

/// The step of node `node` in a finished run.
pub(crate) fn step<'a>(run: &'a Value, node: &str) -> Option<&'a Value> {
    run["steps"]
        .as_array()?
        .iter()
        .find(|s| s["node_id"] == node)
}

/// Tick the worker until run `id` finishes (bounded).
pub(crate) fn finish(app: &App, id: &str) -> Result<Value> {
    for _ in 0..10 {
        work(app)?;
        let (_, run) = op(app, "GET", &format!("/api/runs/{id}"), None)?;
        if run["data"]["status"] != "running" {
            return Ok(run["data"].clone());
        }
    }
    anyhow::bail!("run {id} did not finish")
}

fn workflows(env: &Env) -> Result<()> {
    let app = env.app()?;

    let (s, nodes) = op(&app, "GET", "/api/workflow-nodes", None)?;
    check!(s == 200, "{nodes}");
    let (s, templates) = op(&app, "GET", "/api/workflow-templates", None)?;
    check!(
        s == 200
            && templates["data"]["templates"]
                .as_array()
                .map_or(0, Vec::len)
                == 5,
        "{templates}"
    );

    let bad = json!({"nodes": [
        {"id": "start", "type": "trigger", "config": {"kind": "manual"}},
        {"id": "gadget", "type": "widget", "config": {}},
        {"id": "cond", "type": "condition", "config": {"expression": "trigger.x >"}}
    ], "edges": [{"from": "start", "to": "cond"}]});
    let (s, checked) = op(
        &app,
        "POST",
        "/api/workflow-checks",
        Some(&json!({"graph": bad})),
    )?;
    check!(s == 200 && checked["data"]["valid"] == false, "{checked}");
    let (s, refused) = op(
        &app,
        "POST",
        "/api/workflows",
        Some(&json!({"name": "bad", "graph": bad})),
    )?;
    check!(s == 422, "{refused}");
    let ids: Vec<&str> = refused["error"]["details"]["problems"]
        .as_array()
        .context("problems")?
        .iter()
        .filter_map(|p| p["node"].as_str())
        .collect();
    check!(
        ids.contains(&"gadget") && ids.contains(&"cond"),
        "{refused}"
    );

    let (s, created) = op(
        &app,
        "POST",
        "/api/workflows",
        Some(&json!({"template": "support_ticket_triage"})),
    )?;
    check!(s == 201, "{created}");
    let id = created["data"]["id"].as_str().context("id")?.to_string();
    let secret = created["data"]["webhook_secret"]
        .as_str()
        .context("secret")?
        .to_string();
    let (s, got) = op(&app, "GET", &format!("/api/workflows/{id}"), None)?;
    check!(
        s == 200 && got["data"].get("webhook_secret").is_none(),
        "{got}"
    );
    let (s, listed) = op(&app, "GET", "/api/workflows", None)?;
    check!(
        s == 200
            && listed["data"]["workflows"]
                .as_array()
                .is_some_and(|l| l.iter().any(|w| w["id"] == id.as_str())),
        "{listed}"
    );
    let (s, _) = op(
        &app,
        "GET",
        &format!("/api/workflows/{id}?tenant_id=acme"),
        None,
    )?;
    check!(s == 404, "another tenant's scope does not see it: {s}");

    // Debug run: simulated AI and integrations, run by the worker.
    let ctx =
        json!({"subject": "Site down", "customer": "Bob", "body": "all 500s", "priority": "high"});
    let (s, run) = op(
        &app,
        "POST",
        &format!("/api/workflows/{id}/run"),
        Some(&json!({"debug": true, "context": ctx})),
    )?;
    check!(s == 202, "{run}");
    let run_id = run["data"]["id"].as_str().context("run id")?.to_string();
    let done = finish(&app, &run_id)?;
    check!(done["status"] == "succeeded", "{done}");
    let steps = done["steps"].as_array().context("steps")?;
    check!(
        steps.iter().any(|s| s["node_id"] == "page"
            && s["status"] == "succeeded"
            && s["output"]["simulated"] == true),
        "{done}"
    );
    check!(
        steps
            .iter()
            .any(|s| s["node_id"] == "reply" && s["status"] == "skipped"),
        "{done}"
    );

    // A signed webhook: accepted once; a replay, a forgery and no signature are refused.
    let body = json!({"subject": "Refund", "customer": "Ann", "body": "please", "priority": "low"})
        .to_string();
    let t = echopilot_e2e::scenario::unix_now() as i64;
    let sig = echopilot_core::workflows::webhook::sign(&secret, t, body.as_bytes());
    let hook = |sig: Option<&str>, body: &str| -> Result<u16> {
        let mut req = app
            .post(&format!("/api/workflows/{id}/trigger"))
            .header("Content-Type", "application/json")
            .body(body.as_bytes().to_vec());
        if let Some(s) = sig {
            req = req.header("X-EchoPilot-Signature", s);
        }
        Ok(req.send()?.status)
    };
    check!(hook(Some(&sig), &body)? == 202, "signed delivery");
    check!(hook(Some(&sig), &body)? == 409, "replay");
    check!(
        hook(Some(&sig), "{\"subject\":\"forged\"}")? == 401,
        "forgery"
    );
    check!(hook(None, &body)? == 401, "unsigned");

    let (s, runs) = op(&app, "GET", &format!("/api/workflows/{id}/runs"), None)?;
    check!(
        s == 200 && runs["data"]["runs"].as_array().map_or(0, Vec::len) == 2,
        "{runs}"
    );
    let hooked = runs["data"]["runs"]
        .as_array()
        .and_then(|l| l.iter().find(|r| r["trigger"] == "webhook"))
        .and_then(|r| r["id"].as_str())
        .context("webhook run")?
        .to_string();
    let (s, cancelled) = op(&app, "POST", &format!("/api/runs/{hooked}/cancel"), None)?;
    check!(
        s == 200 && cancelled["data"]["status"] == "cancelled",
        "{cancelled}"
    );

    let (s, again) = op(
        &app,
        "POST",
        &format!("/api/runs/{run_id}/restart"),
        Some(&json!({"node": "urgent", "debug": true})),
    )?;
    check!(s == 202, "{again}");
    let again_id = again["data"]["id"]
        .as_str()
        .context("restart id")?
        .to_string();
    let redone = finish(&app, &again_id)?;
    check!(
        redone["status"] == "succeeded" && redone["restart_node"] == "urgent",
        "{redone}"
    );

    let mut graph = got["data"]["graph"].clone();
    graph["nodes"][0]["name"] = json!("Renamed trigger");
    let (s, saved) = op(
        &app,
        "PUT",
        &format!("/api/workflows/{id}"),
        Some(&json!({"name": "Triage v2", "graph": graph})),
    )?;
    check!(s == 200 && saved["data"]["version"] == 2, "{saved}");

    for (m, path) in [
        ("GET", "/api/workflows"),
        ("POST", "/api/workflows"),
        ("GET", "/api/workflow-nodes"),
    ] {
        let status = app.request(m, path).send()?.status;
        check!(status == 401, "anonymous {m} {path}: {status}");
    }

    let (s, _) = op(&app, "DELETE", &format!("/api/workflows/{id}"), None)?;
    check!(s == 200, "delete");
    let (s, _) = op(&app, "GET", &format!("/api/workflows/{id}"), None)?;
    check!(s == 404, "deleted");
    let resp = app
        .get(&format!("/api/runs/{run_id}"))
        .header("X-Dash-Key", &dash(&app))
        .send()?;
    check!(
        expect_status(&resp, 200)?["data"]["status"] == "succeeded",
        "finished runs stay readable"
    );
    Ok(())
}

pub(crate) const NOTION_QUEUE: &str = "0123456789abcdef0123456789abcdef";
pub(crate) const NOTION_BRIEFS: &str = "abcdefabcdefabcdefabcdefabcdef01";

pub(crate) fn brief_page(id: &str, created: &str, brief: &str) -> Value {
    let mut page = mock::notion_page(
        id,
        NOTION_BRIEFS,
        json!({
            "Name": {"type": "title", "title": [{"plain_text": format!("Brief {id}")}]},
            "Brief": {"type": "rich_text", "rich_text": [{"plain_text": brief}]},
            "Status": {"type": "status", "status": {"name": "New"}}
        }),
    );
    page["created_time"] = json!(created);
    page
}

/// The Notion mock: an empty Automation Queue and the briefs database
/// holding `pages`.
pub(crate) fn notion_with(pages: Vec<Value>) -> Result<mock::Notion> {
    let notion = mock::notion()?;
    notion.set_database(NOTION_QUEUE, vec![]);
    notion.set_database(NOTION_BRIEFS, pages);
    Ok(notion)
}

/// The app's Notion settings, pointing at `notion`.
pub(crate) fn notion_vars(b: HostBuilder, notion: &mock::Notion) -> HostBuilder {
    b.variable("notion_token", "secret_e2e_notion_token")
        .variable("notion_queue_db", NOTION_QUEUE)
        .variable("notion_base_url", notion.server.url())
}

/// The new-Notion-page trigger, polled by cron-notion-sync against the
/// mock Notion: a page created before the workflow is not new; each page
/// created after it starts one run, with its properties as the run's data
/// (the run writes them back to the page); polling again starts nothing.
fn notion_page_trigger(env: &Env) -> Result<()> {
    let notion = notion_with(vec![brief_page(
        "old-page",
        "2024-01-01T00:00:00.000Z",
        "old",
    )])?;
    let app = env.app_with(|b| notion_vars(b, &notion))?;
    let graph = json!({
        "nodes": [
            {"id": "page", "type": "trigger", "config": {"kind": "notion_page", "database_id": NOTION_BRIEFS}},
            {"id": "reply", "type": "action", "config": {"kind": "notion_update", "page_id": "{{trigger.id}}",
                "status": "Done", "content": "Seen: {{trigger.title}} / {{trigger.properties.Brief}}"}}
        ],
        "edges": [{"from": "page", "to": "reply"}]
    });
    let (s, created) = op(
        &app,
        "POST",
        "/api/workflows",
        Some(&json!({"name": "Brief watcher", "graph": graph})),
    )?;
    check!(s == 201, "{created}");
    let id = created["data"]["id"].as_str().context("id")?.to_string();
    let now = echopilot_core::time::rfc3339(echopilot_e2e::scenario::unix_now() as i64 * 1000);
    let mut pages = notion.pages(NOTION_BRIEFS);
    pages.push(brief_page("new-1", &now, "first brief"));
    pages.push(brief_page("new-2", &now, "second brief"));
    notion.set_database(NOTION_BRIEFS, pages);

    app.run_job("notion-sync")?;
    let runs = |app: &App| -> Result<Vec<Value>> {
        let (s, runs) = op(app, "GET", &format!("/api/workflows/{id}/runs"), None)?;
        check!(s == 200, "{runs}");
        Ok(runs["data"]["runs"].as_array().cloned().unwrap_or_default())
    };
    let started = runs(&app)?;
    check!(
        started.len() == 2 && started.iter().all(|r| r["trigger"] == "notion_page"),
        "one run per new page, none for the old one: {started:?}"
    );
    for r in &started {
        let done = finish(&app, r["id"].as_str().context("run id")?)?;
        check!(done["status"] == "succeeded", "{done}");
    }
    for (page, brief) in [("new-1", "first brief"), ("new-2", "second brief")] {
        let p = notion
            .pages(NOTION_BRIEFS)
            .into_iter()
            .find(|p| p["id"] == page)
            .context("page")?;
        let text = p["children"].to_string();
        check!(
            p.pointer("/properties/Status/status/name") == Some(&json!("Done"))
                && text.contains(&format!("Seen: Brief {page} / {brief}")),
            "the run wrote the page's own data back: {p}"
        );
    }
    let old = notion
        .pages(NOTION_BRIEFS)
        .into_iter()
        .find(|p| p["id"] == "old-page")
        .context("old page")?;
    check!(
        old.get("children").is_none(),
        "the old page was left alone: {old}"
    );

    app.run_job_in_own_slot("notion-sync")?;
    check!(runs(&app)?.len() == 2, "polled again: nothing starts twice");
    Ok(())
}

/// The engine's acceptance against real integrations (the Notion mock):
/// a Condition routes both ways; the `false` way waits on a Delay that
/// resumes once its time has passed; an Action that fails (a page Notion
/// does not have) takes its error branch; the same graph in debug mode
/// makes no outbound call at all.
fn branches(env: &Env) -> Result<()> {
    let notion = notion_with(vec![brief_page(
        "known-page",
        "2024-01-01T00:00:00.000Z",
        "a brief",
    )])?;
    let app = env.app_with(|b| notion_vars(b, &notion))?;
    let graph = json!({
        "nodes": [
            {"id": "start", "type": "trigger", "config": {"kind": "manual"}},
            {"id": "check", "type": "condition", "config": {"expression": "trigger.priority == \"high\""}},
            {"id": "urgent", "type": "action", "config": {"kind": "notion_update", "page_id": "{{trigger.page}}",
                "status": "Urgent", "content": "Escalated: {{trigger.subject}}", "max_attempts": 1}},
            {"id": "fallback", "type": "action", "config": {"kind": "create_job",
                "brief": "Escalate by hand: {{trigger.subject}}", "priority": "high"}},
            {"id": "later", "type": "delay", "config": {"kind": "duration", "duration": "1s"}},
            {"id": "followup", "type": "action", "config": {"kind": "create_job",
                "brief": "Follow up on {{trigger.subject}}"}}
        ],
        "edges": [
            {"from": "start", "to": "check"},
            {"from": "check", "to": "urgent", "port": "true"},
            {"from": "check", "to": "later", "port": "false"},
            {"from": "urgent", "to": "fallback", "port": "error"},
            {"from": "later", "to": "followup"}
        ]
    });
    let (s, created) = op(
        &app,
        "POST",
        "/api/workflows",
        Some(&json!({"name": "Escalation", "graph": graph})),
    )?;
    check!(s == 201, "{created}");
    let id = created["data"]["id"].as_str().context("id")?.to_string();
    let run = |context: Value, debug: bool| -> Result<Value> {
        let (s, started) = op(
            &app,
            "POST",
            &format!("/api/workflows/{id}/run"),
            Some(&json!({"context": context, "debug": debug})),
        )?;
        check!(s == 202, "{started}");
        finish_waiting(&app, started["data"]["id"].as_str().context("run id")?)
    };

    // Debug first: simulated integrations, so the mock hears nothing.
    let calls_before = notion.server.requests().len();
    let debugged = run(
        json!({"priority": "high", "page": "known-page", "subject": "debug"}),
        true,
    )?;
    check!(debugged["status"] == "succeeded", "{debugged}");
    check!(
        step(&debugged, "urgent").is_some_and(|s| s["output"]["simulated"] == true),
        "{debugged}"
    );
    check!(
        notion.server.requests().len() == calls_before,
        "debug mode made no outbound call: {:?}",
        notion.server.requests()
    );

    // `true`: the page is updated for real.
    let high = run(
        json!({"priority": "high", "page": "known-page", "subject": "site down"}),
        false,
    )?;
    check!(high["status"] == "succeeded", "{high}");
    check!(
        step(&high, "urgent").is_some_and(|s| s["status"] == "succeeded")
            && step(&high, "later").is_none_or(|s| s["status"] == "skipped"),
        "the true way only: {high}"
    );
    let page = notion
        .pages(NOTION_BRIEFS)
        .into_iter()
        .find(|p| p["id"] == "known-page")
        .context("page")?;
    check!(
        page.pointer("/properties/Status/status/name") == Some(&json!("Urgent"))
            && page["children"]
                .to_string()
                .contains("Escalated: site down"),
        "{page}"
    );

    // `false`: the Delay holds the run, then resumes it.
    let low = run(json!({"priority": "low", "subject": "a question"}), false)?;
    check!(low["status"] == "succeeded", "{low}");
    let waited = step(&low, "later").context("delay step")?;
    let followed = step(&low, "followup").context("follow-up step")?;
    check!(
        step(&low, "urgent").is_none_or(|s| s["status"] == "skipped")
            && followed["status"] == "succeeded",
        "the false way only: {low}"
    );
    let at = |step: &Value, field: &str| -> Result<i64> {
        echopilot_core::time::parse_rfc3339(step[field].as_str().unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("{field}: {}", e.message))
    };
    check!(
        at(followed, "started_at")? >= at(waited, "started_at")? + 1000,
        "the follow-up ran a second after the delay began, not before: {waited} {followed}"
    );
    let job_id = followed["output"]["job_id"]
        .as_str()
        .or_else(|| followed["output"]["job"]["id"].as_str())
        .context("the follow-up's job")?;
    let job = crate::support::job(&app, job_id)?;
    check!(job["brief"] == "Follow up on a question", "{job}");

    // A failing Action takes its error branch.
    let missing = run(
        json!({"priority": "high", "page": "no-such-page", "subject": "lost page"}),
        false,
    )?;
    check!(
        step(&missing, "urgent").is_some_and(|s| s["status"] == "failed")
            && step(&missing, "fallback").is_some_and(|s| s["status"] == "succeeded"),
        "the error branch ran: {missing}"
    );
    Ok(())
}

/// Under real Spin with the cron plugin: two `spin up` replicas on one
/// state directory start and drain eight runs (each step claimed once, each
/// Notion update made once); both stop while every run waits on its Delay;
/// a third process on the same directory finishes them all.
fn replicas_and_restart(env: &Env) -> Result<()> {
    const RUNS: usize = 8;
    let notion = notion_with(
        (0..RUNS)
            .map(|i| brief_page(&format!("run-page-{i}"), "2024-01-01T00:00:00.000Z", "x"))
            .collect(),
    )?;
    let data = tempfile::tempdir()?;
    let start = || {
        env.app_with(|b| {
            notion_vars(b, &notion)
                // The test reads every run's log while it waits.
                .variable("rate_limit_credential_per_minute", "100000")
                .data_dir(data.path())
                .scheduler(true)
        })
    };
    let (a, b) = (start()?, start()?);
    let graph = json!({
        "nodes": [
            {"id": "start", "type": "trigger", "config": {"kind": "manual"}},
            {"id": "first", "type": "action", "config": {"kind": "notion_update",
                "page_id": "{{trigger.page}}", "content": "STEP-ONE {{trigger.page}}"}},
            {"id": "pause", "type": "delay", "config": {"kind": "duration", "duration": "30s"}},
            {"id": "second", "type": "action", "config": {"kind": "notion_update",
                "page_id": "{{trigger.page}}", "status": "Done", "content": "STEP-TWO {{trigger.page}}"}}
        ],
        "edges": [
            {"from": "start", "to": "first"},
            {"from": "first", "to": "pause"},
            {"from": "pause", "to": "second"}
        ]
    });
    let (s, created) = op(
        &a,
        "POST",
        "/api/workflows",
        Some(&json!({"name": "Two steps and a wait", "graph": graph})),
    )?;
    check!(s == 201, "{created}");
    let id = created["data"]["id"].as_str().context("id")?.to_string();
    let mut runs = Vec::new();
    for i in 0..RUNS {
        let app = if i % 2 == 0 { &a } else { &b };
        let (s, started) = op(
            app,
            "POST",
            &format!("/api/workflows/{id}/run"),
            Some(&json!({"context": {"page": format!("run-page-{i}")}})),
        )?;
        check!(s == 202, "{started}");
        runs.push(
            started["data"]["id"]
                .as_str()
                .context("run id")?
                .to_string(),
        );
    }
    // Both replicas' plugins drain the first steps, then every run waits
    // on its Delay (the replicas stop only then: a step cut off mid-call
    // would be retried once its lease expires, minutes later).
    let waiting = |app: &App, run: &str| -> bool {
        op(app, "GET", &format!("/api/runs/{run}"), None).is_ok_and(|(s, got)| {
            s == 200 && step(&got["data"], "pause").is_some_and(|p| p["status"] == "succeeded")
        })
    };
    wait_for(Duration::from_secs(90), || {
        std::thread::sleep(Duration::from_millis(500));
        runs.iter().all(|r| waiting(&b, r)).then_some(())
    })
    .context("every run waiting on its Delay")?;
    drop(a);
    drop(b);
    let c = start()?;
    let statuses = |app: &App| -> Option<Vec<String>> {
        std::thread::sleep(Duration::from_millis(250));
        let (s, got) = op(app, "GET", &format!("/api/workflows/{id}/runs"), None).ok()?;
        (s == 200).then(|| {
            got["data"]["runs"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .map(|r| r["status"].as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default()
        })
    };
    wait_for(Duration::from_secs(120), || {
        statuses(&c)
            .filter(|l| l.len() == RUNS && l.iter().all(|s| s == "succeeded"))
            .map(|_| ())
    })
    .with_context(|| format!("runs after the restart: {:?}", statuses(&c)))?;

    for (i, run) in runs.iter().enumerate() {
        let (_, run) = op(&c, "GET", &format!("/api/runs/{run}"), None)?;
        let run = &run["data"];
        let attempts: Vec<i64> = run["steps"]
            .as_array()
            .context("steps")?
            .iter()
            .map(|s| s["attempts"].as_i64().unwrap_or(0))
            .collect();
        check!(
            attempts.iter().all(|&n| n <= 1),
            "each step claimed once: {run}"
        );
        let page_id = format!("run-page-{i}");
        let page = notion
            .pages(NOTION_BRIEFS)
            .into_iter()
            .find(|p| p["id"] == page_id.as_str())
            .context("page")?;
        let text = page["children"].to_string();
        check!(
            text.matches(&format!("STEP-ONE {page_id}")).count() == 1
                && text.matches(&format!("STEP-TWO {page_id}")).count() == 1
                && page.pointer("/properties/Status/status/name") == Some(&json!("Done")),
            "each update made once: {page}"
        );
    }
    Ok(())
}
