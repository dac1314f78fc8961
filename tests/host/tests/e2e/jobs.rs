//! Job intake, processing with QA, status and history (api-jobs, cron-worker).

use crate::support::{self, ai_vars, dash, grades, job, mock_usage, submit, work};
use anyhow::Result;
use echopilot_e2e::check;
use echopilot_e2e::mock::Reply;
use echopilot_e2e::scenario::{expect_status, wait_for, Env, Scenario};
use serde_json::{json, Value};
use std::time::Duration;

pub const SCENARIOS: &[Scenario] = &[
    Scenario::configured(
        "job_goes_from_the_api_to_a_graded_completion_with_exact_costs",
        api_to_completion,
    ),
    Scenario::configured("job_qa_failure_then_pass_on_retry", qa_retry),
    Scenario::configured(
        "job_provider_429_then_success_and_long_retry_after_snoozes",
        rate_limits,
    ),
    Scenario::new("job_bad_input_is_refused_and_creates_nothing", bad_input),
    Scenario::new("job_idempotency_key_replays_and_conflicts", idempotency),
    Scenario::configured("job_runs_simulated_without_an_ai_key", simulated),
    // The host's request bound kills the worker mid-job (Spin has none).
    Scenario::host_only(
        "job_worker_killed_mid_job_recovers_after_the_lease",
        lease_recovery,
    ),
    Scenario::configured(
        "job_two_replicas_never_run_a_job_twice_nor_lose_one",
        replicas,
    ),
];

/// gpt-4o and gpt-4o-mini list prices, micro-dollars per million tokens.
fn cost(model: &str, tokens_in: i64, tokens_out: i64) -> i64 {
    let (i, o) = match model {
        "gpt-4o" => (2_500_000i128, 10_000_000i128),
        "gpt-4o-mini" => (150_000, 600_000),
        _ => panic!("unexpected model {model}"),
    };
    ((tokens_in as i128 * i + tokens_out as i128 * o + 999_999) / 1_000_000) as i64
}

fn api_to_completion(env: &Env) -> Result<()> {
    let ai = support::openai()?;
    let app = env.app_with(|b| ai_vars(b, &ai))?;
    let id = submit(
        &app,
        &json!({"brief": "Write a 100-word launch note for a solar lamp", "title": "Solar lamp"}),
    )?;
    let status = expect_status(
        &app.get(&format!("/api/public/job-status/{id}")).send()?,
        200,
    )?;
    check!(status["data"]["status"] == "queued", "{status}");
    work(&app)?;
    // Right after the change: ask past the one-second micro-cache.
    let status = expect_status(
        &app.get(&format!("/api/public/job-status/{id}"))
            .header("Cache-Control", "no-cache")
            .send()?,
        200,
    )?;
    check!(status["data"]["status"] == "completed", "{status}");
    check!(status["data"]["output"] == "Finished work.", "{status}");
    check!(status["data"]["qa"]["passed"] == true, "{status}");

    // Tokens and costs match what the mock reported, call by call.
    let j = job(&app, &id)?;
    let calls = ai.completions();
    check!(
        calls.len() == 2,
        "one work and one grading call: {}",
        calls.len()
    );
    let (work_req, grade_req) = (calls[0].json(), calls[1].json());
    check!(
        work_req["model"] == "gpt-4o" && grade_req["model"] == "gpt-4o-mini",
        "models"
    );
    let (wi, wo) = mock_usage(&work_req, "Finished work.");
    let (gi, go) = mock_usage(&grade_req, &grades(90, 90, 90, 90));
    check!(
        j["tokens"]["input"] == wi && j["tokens"]["output"] == wo,
        "work tokens {} vs ({wi}, {wo})",
        j["tokens"]
    );
    check!(
        j["tokens"]["qa_input"] == gi && j["tokens"]["qa_output"] == go,
        "grading tokens {}",
        j["tokens"]
    );
    let (work_cost, qa_cost) = (cost("gpt-4o", wi, wo), cost("gpt-4o-mini", gi, go));
    check!(
        j["cost"]["micros"] == work_cost + qa_cost,
        "cost {} vs {}",
        j["cost"],
        work_cost + qa_cost
    );
    check!(
        j["qa_cost"]["micros"] == qa_cost,
        "qa cost {}",
        j["qa_cost"]
    );
    check!(j["qa"]["score"] == 90.0, "score {}", j["qa"]);
    let attempts = j["attempt_records"].as_array().cloned().unwrap_or_default();
    check!(
        attempts.len() == 1 && attempts[0]["status"] == "passed",
        "{attempts:?}"
    );
    check!(
        attempts[0]["price_version"] == "openai-2025-08",
        "{}",
        attempts[0]
    );
    check!(
        attempts[0]["cost"]["micros"] == work_cost,
        "{}",
        attempts[0]
    );
    check!(
        j["build"]["git_sha"].is_string() && j["source"] == "api",
        "{j}"
    );
    check!(
        calls[0].header("authorization") == Some("Bearer sk-e2e-test"),
        "the key is sent"
    );
    // Spin sends an outbound body chunked unless the app says its length.
    for call in &calls {
        support::check_content_length("openai", call)?;
    }
    Ok(())
}

fn qa_retry(env: &Env) -> Result<()> {
    let ai = support::openai()?;
    ai.push_content("First draft.");
    ai.push_content(grades(92, 35, 88, 95));
    ai.push_content("Second draft, with correct facts.");
    ai.push_content(grades(92, 90, 88, 95));
    let app = env.app_with(|b| ai_vars(b, &ai))?;
    let id = submit(&app, &json!({"brief": "Explain the tides"}))?;
    work(&app)?;
    let j = job(&app, &id)?;
    check!(j["status"] == "completed", "{j}");
    check!(
        j["output"] == "Second draft, with correct facts.",
        "{}",
        j["output"]
    );
    let attempts = j["attempt_records"].as_array().cloned().unwrap_or_default();
    let statuses: Vec<&str> = attempts
        .iter()
        .filter_map(|a| a["status"].as_str())
        .collect();
    check!(statuses == ["qa_failed", "passed"], "{statuses:?}");
    let feedback = attempts[1]["feedback"].as_str().unwrap_or_default();
    check!(
        feedback.contains("accuracy (35/100)"),
        "feedback: {feedback}"
    );
    check!(
        !feedback.contains("clarity"),
        "only the failed criteria: {feedback}"
    );
    let second_work = ai.completions()[2].text();
    check!(
        second_work.contains("accuracy (35/100)"),
        "the feedback reached the model"
    );
    Ok(())
}

fn rate_limits(env: &Env) -> Result<()> {
    let ai = support::openai()?;
    ai.server.enqueue(Reply::rate_limited(1));
    let app = env.app_with(|b| ai_vars(b, &ai))?;
    let id = submit(&app, &json!({"brief": "Summarise the quarter"}))?;
    work(&app)?;
    let j = job(&app, &id)?;
    check!(
        j["status"] == "completed",
        "a 1 s Retry-After is waited out: {j}"
    );
    check!(
        ai.server.requests().len() == 3,
        "429, then work and grading"
    );

    // A long Retry-After snoozes the job without spending an attempt.
    ai.server.enqueue(Reply::rate_limited(120));
    let id = submit(&app, &json!({"brief": "Another one"}))?;
    work(&app)?;
    let j = job(&app, &id)?;
    check!(
        j["status"] == "queued" && j["attempts"] == 0,
        "snoozed: {j}"
    );
    check!(
        j["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("rate limited"),
        "{j}"
    );
    Ok(())
}

fn bad_input(env: &Env) -> Result<()> {
    let app = env.app()?;
    let long = "x".repeat(10_001);
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"brief": ""}), 422, "invalid_brief"),
        (json!({}), 422, "invalid_brief"),
        (json!({"brief": long}), 422, "invalid_brief"),
        (json!({"brief": "x", "type": "mining"}), 422, "invalid_type"),
        (
            json!({"brief": "x", "priority": "urgent"}),
            422,
            "invalid_priority",
        ),
        (
            json!({"brief": "x", "email": "not-an-email"}),
            422,
            "invalid_email",
        ),
        (json!({"brief": "x", "breif": "typo"}), 400, "invalid_json"),
    ];
    for (body, status, code) in cases {
        let resp = app.post("/api/public/create-job").json(&body).send()?;
        check!(
            resp.status == status && resp.error_code().as_deref() == Some(code),
            "{body}: {} {}",
            resp.status,
            resp.text()
        );
    }
    let resp = app
        .post("/api/public/create-job")
        .header("Content-Type", "text/plain")
        .body("{\"brief\":\"x\"}")
        .send()?;
    check!(resp.status == 415, "wrong content type: {}", resp.status);
    let big = json!({"brief": "x", "context": {"pad": "y".repeat(70_000)}});
    let resp = app.post("/api/public/create-job").json(&big).send()?;
    check!(resp.status == 413, "over the limit: {}", resp.status);
    let resp = app
        .post("/api/public/create-job")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()?;
    check!(resp.status == 400, "malformed: {}", resp.status);
    let status = expect_status(
        &app.get("/api/queue/status")
            .header("X-Dash-Key", &dash(&app))
            .send()?,
        200,
    )?;
    if app.is_isolated() {
        check!(
            status["data"]["total"] == 0,
            "nothing was created: {status}"
        );
    }
    Ok(())
}

fn idempotency(env: &Env) -> Result<()> {
    let app = env.app()?;
    let send = |brief: &str| {
        app.post("/api/public/create-job")
            .header("Idempotency-Key", "order-42")
            .json(&json!({"brief": brief}))
            .send()
    };
    let first = send("Summarise Q3")?;
    let again = send("Summarise Q3")?;
    check!(
        first.status == 201 && again.status == 200,
        "{} {}",
        first.status,
        again.status
    );
    check!(
        first.json()?["data"]["job"]["id"] == again.json()?["data"]["job"]["id"],
        "same job"
    );
    check!(
        again.header("idempotent-replayed") == Some("true"),
        "replay header"
    );
    let conflict = send("Summarise Q4")?;
    check!(
        conflict.status == 409 && conflict.error_code().as_deref() == Some("idempotency_conflict"),
        "{}",
        conflict.text()
    );
    Ok(())
}

fn simulated(env: &Env) -> Result<()> {
    let app = env.app()?;
    let id = submit(&app, &json!({"brief": "Draft a welcome note"}))?;
    work(&app)?;
    let j = job(&app, &id)?;
    check!(j["status"] == "completed" && j["simulated"] == true, "{j}");
    check!(
        j["provider"] == "simulated" && j["cost"]["micros"] == 0,
        "{j}"
    );
    let health = expect_status(&app.get("/health").send()?, 200)?;
    check!(
        health["data"]["integrations"]["ai"]["state"] == "simulated",
        "{}",
        health["data"]["integrations"]
    );
    Ok(())
}

fn lease_recovery(env: &Env) -> Result<()> {
    let ai = support::openai()?;
    // The first work call never answers: the tick is killed mid-job (the
    // host's bound), as a crashed worker or a dead replica would be.
    ai.server.enqueue(Reply::hang());
    let app = env.app_with(|b| {
        ai_vars(b, &ai)
            .variable("worker_lease_ms", "10000")
            .request_timeout(Duration::from_secs(2))
    })?;
    let id = submit(&app, &json!({"brief": "Survive a crash"}))?;
    check!(work(&app).is_err(), "the tick was cut off");
    let j = job(&app, &id)?;
    check!(
        j["status"] == "processing",
        "left processing under a lease: {j}"
    );
    // After the lease expires, a tick recovers and finishes it.
    wait_for(Duration::from_secs(40), || {
        work(&app).ok()?;
        let j = job(&app, &id).ok()?;
        (j["status"] == "completed").then_some(())
    })?;
    let j = job(&app, &id)?;
    let statuses: Vec<String> = j["attempt_records"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a["status"].as_str().map(str::to_string))
        .collect();
    check!(
        statuses.first().map(String::as_str) == Some("abandoned"),
        "the killed attempt is recorded: {statuses:?}"
    );
    check!(
        statuses.last().map(String::as_str) == Some("passed"),
        "{statuses:?}"
    );
    check!(j["attempts"] == 2, "two claims: {}", j["attempts"]);
    Ok(())
}

fn replicas(env: &Env) -> Result<()> {
    let ai = support::openai()?;
    let dir = tempfile::tempdir()?;
    let a = env.app_with(|b| {
        ai_vars(b, &ai)
            .data_dir(dir.path())
            .variable("worker_concurrency", "4")
    })?;
    let b = env.app_with(|b| {
        ai_vars(b, &ai)
            .data_dir(dir.path())
            .variable("worker_concurrency", "4")
    })?;
    let mut ids = Vec::new();
    for i in 0..40 {
        let app = if i % 2 == 0 { &a } else { &b };
        ids.push(submit(app, &json!({"brief": format!("job number {i}")}))?);
    }
    // Both replicas tick at once, repeatedly, until the queue is empty.
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = [&a, &b]
            .into_iter()
            .map(|app| {
                s.spawn(move || -> Result<()> {
                    for _ in 0..20 {
                        work(app)?;
                        let q = expect_status(
                            &app.get("/api/queue/status")
                                .header("X-Dash-Key", &dash(app))
                                .send()?,
                            200,
                        )?;
                        if q["data"]["by_status"]["queued"] == 0
                            && q["data"]["by_status"]["processing"] == 0
                        {
                            break;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a replica thread panicked"))??;
        }
        Ok(())
    })?;
    // Every job completed exactly once: one work call per brief.
    support::check_one_work_call_each(&ai, 40)?;
    for id in &ids {
        let j = job(&a, id)?;
        check!(
            j["status"] == "completed" && j["attempts"] == 1,
            "{id}: {} after {} attempts",
            j["status"],
            j["attempts"]
        );
    }
    Ok(())
}
