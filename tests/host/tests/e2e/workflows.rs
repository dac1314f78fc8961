//! Workflows through the real components: the editor's calls (node
//! catalogue, templates, checks), a template saved, run in debug mode by
//! the worker with no outbound call, its live log; a signed webhook
//! accepted once and refused when replayed or unsigned; a new version;
//! cancel, restart from a node, delete; an invalid graph refused with node
//! ids; anonymous callers refused.

use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, App, Env, Scenario};
use serde_json::{json, Value};

use crate::support::{dash, work};

pub const SCENARIOS: &[Scenario] = &[Scenario::new(
    "workflows_are_saved_run_debugged_signed_and_restarted",
    workflows,
)];

fn op(app: &App, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
    let mut req = app.request(method, path).header("X-Dash-Key", &dash(app));
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send()?;
    let status = resp.status;
    Ok((status, resp.json().unwrap_or(Value::Null)))
}

/// Tick the worker until run `id` finishes (bounded).
fn finish(app: &App, id: &str) -> Result<Value> {
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
