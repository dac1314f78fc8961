//! Helpers shared by the pipeline scenarios.

use anyhow::{bail, Result};
use echopilot_e2e::check;
use echopilot_e2e::mock::{self, OpenAi, Recorded};
use echopilot_e2e::scenario::App;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Grades as the grader model answers them.
pub fn grades(clarity: i64, accuracy: i64, completeness: i64, tone: i64) -> String {
    json!({
        "clarity": { "score": clarity, "reason": "clarity reason" },
        "accuracy": { "score": accuracy, "reason": "accuracy reason" },
        "completeness": { "score": completeness, "reason": "completeness reason" },
        "professional_tone": { "score": tone, "reason": "tone reason" }
    })
    .to_string()
}

/// Whether a chat-completions request body is a grading call (graders ask
/// for a JSON object).
pub fn is_grading(body: &Value) -> bool {
    body.get("response_format").is_some()
}

/// A mock OpenAI that answers work with `"Finished work for: <first words>"`
/// and grading with passing grades, unless contents are pushed.
pub fn openai() -> Result<OpenAi> {
    let ai = mock::openai()?;
    ai.set_responder(|body| {
        if is_grading(body) {
            grades(90, 90, 90, 90)
        } else {
            "Finished work.".to_string()
        }
    });
    Ok(ai)
}

/// The variables pointing the worker at `ai`, with rate limits and the
/// anonymous intake budget out of the way (scenarios submit many jobs from
/// one address).
pub fn ai_vars(b: echopilot_e2e::HostBuilder, ai: &OpenAi) -> echopilot_e2e::HostBuilder {
    b.variable("openai_api_key", "sk-e2e-test")
        .variable("openai_base_url", ai.server.url())
        .variable("qa_consistency_sample", "0")
        .variable("rate_limit_ip_per_minute", "1000000")
        .variable("rate_limit_credential_per_minute", "1000000")
        .variable("intake_anonymous_per_address_hourly", "1000000")
        .variable("intake_anonymous_daily", "100000000")
}

/// Run one worker tick in a slot of its own (the worker runs once per
/// 5-second slot; a test host ticks a future slot, a real `spin up` runs
/// it now or waits for the next slot).
pub fn work(app: &App) -> Result<()> {
    app.run_job_in_own_slot("worker")
}

/// `GET /api/jobs/{id}` as an operator.
pub fn job(app: &App, id: &str) -> Result<Value> {
    let key = app.dashboard_key.clone().unwrap_or_default();
    let resp = app
        .get(&format!("/api/jobs/{id}"))
        .header("X-Dash-Key", &key)
        .send()?;
    if resp.status != 200 {
        bail!("GET /api/jobs/{id}: {} {}", resp.status, resp.text());
    }
    Ok(resp.json()?["data"].clone())
}

/// Submit a brief publicly; the job id.
pub fn submit(app: &App, body: &Value) -> Result<String> {
    let resp = app.post("/api/public/create-job").json(body).send()?;
    if resp.status != 201 {
        bail!("create-job: {} {}", resp.status, resp.text());
    }
    Ok(resp.json()?["data"]["job"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// `POST /api/ops/command` with the dashboard key `key`, expecting 200.
pub fn console(app: &App, key: &str, body: Value) -> Result<Value> {
    let resp = app
        .post("/api/ops/command")
        .header("X-Dash-Key", key)
        .json(&body)
        .send()?;
    echopilot_e2e::scenario::expect_status(&resp, 200)
}

/// The dashboard key header value.
pub fn dash(app: &App) -> String {
    app.dashboard_key.clone().unwrap_or_default()
}

/// What the mock OpenAI charged for `req` (its token formula), as
/// (prompt tokens, completion tokens), given the answer `content`.
pub fn mock_usage(req: &Value, content: &str) -> (i64, i64) {
    let messages = req["messages"].as_array().cloned().unwrap_or_default();
    let text: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    let prompt = mock::approx_tokens(&text.join("\n")) + 3 * messages.len() as u64;
    (prompt as i64, mock::approx_tokens(content) as i64)
}

/// A request with a body left with `Content-Length` (the body's length)
/// and without chunked transfer encoding: Spin sends outbound bodies
/// chunked unless the app says how long they are.
pub fn check_content_length(what: &str, r: &Recorded) -> Result<()> {
    check!(
        r.header("content-length") == Some(r.body.len().to_string().as_str()),
        "{what} {} {}: content-length {:?} for {} bytes",
        r.method,
        r.path,
        r.header("content-length"),
        r.body.len()
    );
    check!(
        r.header("transfer-encoding").is_none(),
        "{what} {} {}: transfer-encoding {:?}",
        r.method,
        r.path,
        r.header("transfer-encoding")
    );
    Ok(())
}

/// Every one of `jobs` distinct briefs reached the model in exactly one
/// work call (grading calls aside): no job ran twice, none was lost.
pub fn check_one_work_call_each(ai: &OpenAi, jobs: usize) -> Result<()> {
    let mut work_calls: BTreeMap<String, usize> = BTreeMap::new();
    for r in ai.completions() {
        let body = r.json();
        if !is_grading(&body) {
            let brief = body["messages"][1]["content"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            *work_calls.entry(brief).or_default() += 1;
        }
    }
    check!(
        work_calls.len() == jobs && work_calls.values().all(|n| *n == 1),
        "work calls per job: {work_calls:?}"
    );
    Ok(())
}

/// A job run over its internal route: 200, and when this call ran the
/// slot (not another caller first), a summary saying `what`.
pub fn ran_saying(resp: &echopilot_e2e::Response, what: &str) -> Result<()> {
    let body = echopilot_e2e::scenario::expect_status(resp, 200)?;
    let report = &body["data"];
    match report["outcome"].as_str() {
        Some("ran") => echopilot_e2e::check!(
            report["summary"].as_str().is_some_and(|s| s.contains(what)),
            "the run says {what:?}: {body}"
        ),
        Some("already_done") => {}
        _ => anyhow::bail!("unexpected run report: {body}"),
    }
    Ok(())
}
