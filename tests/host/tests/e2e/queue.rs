//! Queue and job operations, prompts and QA consistency (api-jobs), and the
//! worker's internal route (cron-worker).

use crate::support::{self, ai_vars, dash, grades, job, submit, work};
use anyhow::Result;
use echopilot_e2e::check;
use echopilot_e2e::mock::Reply;
use echopilot_e2e::scenario::{expect_status, Env, Scenario};
use serde_json::json;

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new(
        "queue_operators_enqueue_list_filter_and_page",
        enqueue_and_list,
    ),
    Scenario::configured(
        "queue_dead_jobs_are_retried_and_queued_jobs_cancelled",
        retry_and_cancel,
    ),
    Scenario::configured("queue_prompt_versions_have_their_own_stats", prompts),
    Scenario::configured("queue_qa_consistency_reports_agreement", consistency),
    Scenario::new("queue_worker_runs_from_its_internal_route", internal_route),
];

fn enqueue_and_list(env: &Env) -> Result<()> {
    let app = env.app()?;
    let key = dash(&app);
    let anon = app
        .post("/api/queue/enqueue")
        .json(&json!({"brief": "x"}))
        .send()?;
    check!(
        anon.status == 401,
        "enqueue needs a credential: {}",
        anon.status
    );
    for i in 0..5 {
        let resp = app
            .post("/api/queue/enqueue")
            .header("X-Dash-Key", &key)
            .json(&json!({"brief": format!("report {i}"), "type": "report_gen", "priority": "critical", "max_attempts": 5}))
            .send()?;
        let body = expect_status(&resp, 201)?;
        check!(
            body["data"]["job"]["source"] == "operator" && body["data"]["job"]["max_attempts"] == 5,
            "{body}"
        );
    }
    submit(&app, &json!({"brief": "a public one"}))?;
    let status = expect_status(
        &app.get("/api/queue/status")
            .header("X-Dash-Key", &key)
            .send()?,
        200,
    )?;
    let d = &status["data"];
    if app.is_isolated() {
        check!(d["total"] == 6 && d["by_status"]["queued"] == 6, "{d}");
        check!(
            d["by_type"]["report_gen"] == 5 && d["by_priority"]["critical"] == 5,
            "{d}"
        );
    }
    check!(d["oldest_queued_age_seconds"].as_i64().is_some(), "{d}");

    let page1 = expect_status(
        &app.get("/api/jobs?type=report_gen&limit=2")
            .header("X-Dash-Key", &key)
            .send()?,
        200,
    )?;
    let jobs = page1["data"]["jobs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    check!(
        jobs.len() == 2 && jobs[0]["brief"] == "report 4",
        "newest first: {page1}"
    );
    let cursor = page1["data"]["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let page2 = expect_status(
        &app.get(&format!(
            "/api/jobs?type=report_gen&limit=2&cursor={cursor}"
        ))
        .header("X-Dash-Key", &key)
        .send()?,
        200,
    )?;
    check!(page2["data"]["jobs"][0]["brief"] == "report 2", "{page2}");
    let bad = app
        .get("/api/jobs?status=sleeping")
        .header("X-Dash-Key", &key)
        .send()?;
    check!(bad.status == 422, "unknown filter: {}", bad.status);
    let one = job(&app, jobs[0]["id"].as_str().unwrap_or_default())?;
    check!(one["attempt_records"].as_array().is_some(), "{one}");
    let missing = app
        .get("/api/jobs/job_NOPE")
        .header("X-Dash-Key", &key)
        .send()?;
    check!(missing.status == 404, "{}", missing.status);
    Ok(())
}

fn retry_and_cancel(env: &Env) -> Result<()> {
    let ai = support::openai()?;
    let app = env.app_with(|b| ai_vars(b, &ai))?;
    let key = dash(&app);
    // A provider that keeps failing: the job with one attempt dies.
    for _ in 0..3 {
        ai.server.enqueue(Reply::status(500));
    }
    let resp = app
        .post("/api/queue/enqueue")
        .header("X-Dash-Key", &key)
        .json(&json!({"brief": "doomed", "max_attempts": 1}))
        .send()?;
    let id = expect_status(&resp, 201)?["data"]["job"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    work(&app)?;
    let j = job(&app, &id)?;
    check!(
        j["status"] == "dead"
            && j["dead_reason"]
                .as_str()
                .unwrap_or_default()
                .contains("500"),
        "{j}"
    );
    let dead = expect_status(
        &app.get("/api/jobs?status=dead")
            .header("X-Dash-Key", &key)
            .send()?,
        200,
    )?;
    check!(
        dead["data"]["jobs"].as_array().map(|a| a.len()) == Some(1),
        "{dead}"
    );
    let retried = expect_status(
        &app.post(&format!("/api/jobs/{id}/retry"))
            .header("X-Dash-Key", &key)
            .send()?,
        200,
    )?;
    check!(
        retried["data"]["status"] == "queued" && retried["data"]["attempts"] == 0,
        "{retried}"
    );
    work(&app)?;
    check!(
        job(&app, &id)?["status"] == "completed",
        "the provider recovered"
    );
    let again = app
        .post(&format!("/api/jobs/{id}/retry"))
        .header("X-Dash-Key", &key)
        .send()?;
    check!(
        again.status == 409 && again.error_code().as_deref() == Some("not_retryable"),
        "{}",
        again.text()
    );

    let other = submit(&app, &json!({"brief": "never mind"}))?;
    let cancelled = expect_status(
        &app.post(&format!("/api/jobs/{other}/cancel"))
            .header("X-Dash-Key", &key)
            .json(&json!({"reason": "changed my mind"}))
            .send()?,
        200,
    )?;
    check!(cancelled["data"]["status"] == "cancelled", "{cancelled}");
    work(&app)?;
    check!(
        job(&app, &other)?["status"] == "cancelled",
        "a cancelled job is not run"
    );
    let twice = app
        .post(&format!("/api/jobs/{other}/cancel"))
        .header("X-Dash-Key", &key)
        .send()?;
    check!(twice.status == 409, "{}", twice.status);
    Ok(())
}

fn prompts(env: &Env) -> Result<()> {
    let ai = support::openai()?;
    ai.push_content("v1 work");
    ai.push_content(grades(60, 60, 60, 60));
    let app = env.app_with(|b| ai_vars(b, &ai).variable("qa_max_retries", "0"))?;
    let key = dash(&app);
    submit(&app, &json!({"brief": "first"}))?;
    work(&app)?;
    let created = app
        .post("/api/prompts")
        .header("X-Dash-Key", &key)
        .json(&json!({"job_type": "ai_task", "system_prompt": "Be better.", "user_template": "Do: {{brief}}{{feedback}}", "notes": "v2"}))
        .send()?;
    let created = expect_status(&created, 201)?;
    check!(
        created["data"]["id"] == "pt_ai_task_v2" && created["data"]["active"] == true,
        "{created}"
    );
    let invalid = app
        .post("/api/prompts")
        .header("X-Dash-Key", &key)
        .json(&json!({"job_type": "ai_task", "system_prompt": "x", "user_template": "no brief"}))
        .send()?;
    check!(invalid.status == 422, "{}", invalid.status);
    submit(&app, &json!({"brief": "second"}))?;
    work(&app)?;
    check!(
        ai.completions()
            .iter()
            .any(|r| r.text().contains("Be better.")),
        "v2 reached the model"
    );
    let list = expect_status(
        &app.get("/api/prompts").header("X-Dash-Key", &key).send()?,
        200,
    )?;
    check!(
        list["data"]["templates"].as_array().map(|t| t.len()) == Some(4),
        "{list}"
    );
    let v1 = expect_status(
        &app.get("/api/prompts/pt_ai_task_v1/stats")
            .header("X-Dash-Key", &key)
            .send()?,
        200,
    )?;
    let v2 = expect_status(
        &app.get("/api/prompts/pt_ai_task_v2/stats")
            .header("X-Dash-Key", &key)
            .send()?,
        200,
    )?;
    check!(
        v1["data"]["graded"] == 1 && v1["data"]["pass_rate"] == 0.0,
        "{v1}"
    );
    check!(
        v2["data"]["graded"] == 1 && v2["data"]["pass_rate"] == 1.0,
        "{v2}"
    );
    Ok(())
}

fn consistency(env: &Env) -> Result<()> {
    let ai = support::openai()?;
    ai.push_content("work");
    ai.push_content(grades(90, 90, 90, 90));
    ai.push_content(grades(88, 55, 92, 90));
    let app = env.app_with(|b| ai_vars(b, &ai).variable("qa_consistency_sample", "1"))?;
    let id = submit(&app, &json!({"brief": "double graded"}))?;
    work(&app)?;
    let r = expect_status(
        &app.get("/api/qa/consistency?days=7")
            .header("X-Dash-Key", &dash(&app))
            .send()?,
        200,
    )?;
    let c = &r["data"]["criteria"];
    check!(
        c["accuracy"]["samples"] == 1 && c["accuracy"]["mean_abs_diff"] == 35.0,
        "{c}"
    );
    check!(
        c["accuracy"]["verdict"] == "noisy" && c["clarity"]["verdict"] == "consistent",
        "{c}"
    );
    let j = job(&app, &id)?;
    check!(
        j["qa_cost"]["micros"].as_i64().unwrap_or(0) > 0,
        "both gradings are grading cost: {j}"
    );
    Ok(())
}

fn internal_route(env: &Env) -> Result<()> {
    let app = env.app()?;
    submit(&app, &json!({"brief": "via the route"}))?;
    let token = app.cron_token.clone().unwrap_or_default();
    let none = app.post("/api/internal/cron/worker").send()?;
    check!(none.status == 401, "{}", none.status);
    let ran = expect_status(
        &app.post("/api/internal/cron/worker")
            .bearer(&token)
            .send()?,
        200,
    )?;
    check!(ran["data"]["job"] == "worker", "{ran}");
    check!(
        matches!(
            ran["data"]["outcome"].as_str(),
            Some("ran" | "already_done")
        ),
        "{ran}"
    );
    if ran["data"]["outcome"] == "ran" {
        check!(
            ran["data"]["summary"]
                .as_str()
                .unwrap_or_default()
                .contains("completed 1"),
            "{ran}"
        );
    }
    Ok(())
}
