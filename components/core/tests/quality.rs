//! Prompt template versions with their QA statistics, and judge
//! consistency, through the API.

mod support;

use echopilot_core::ai::worker::drain;
use echopilot_core::http::{Method, Request};
use echopilot_core::jobs::api::APP;
use echopilot_core::jobs::model::{Brief, JobType, NewJob};
use echopilot_core::jobs::store;
use echopilot_core::tenancy::TenantId;
use futures::executor::block_on;
use serde_json::json;
use support::*;

#[test]
fn a_new_template_version_takes_over_and_each_version_has_its_own_stats() {
    let mock = mock_openai(vec![Ok(grades(60, 60, 60, 60)), Ok(grades(90, 90, 90, 90))]);
    let (mut env, _) = env(&[OPENAI_VARS, &[("qa_max_retries", "0")]].concat());
    env.http = Box::new(SharedHttp(mock.http.clone()));
    let submit = |env: &echopilot_core::ports::Env| {
        store::create(
            env,
            &TenantId::default_tenant(),
            &NewJob::new(JobType::AiTask, Brief::parse("x").unwrap()),
            None,
        )
        .unwrap()
    };
    submit(&env);
    block_on(drain(&env)).unwrap();

    let (resp, body) = call(&APP, &env, post_json("/api/prompts", &json!({
        "job_type": "ai_task", "system_prompt": "Be better.", "user_template": "Do: {{brief}}{{feedback}}", "notes": "v2 trial"
    })).with_header("x-dash-key", DASH_KEY));
    assert_eq!(resp.status, 201, "{body}");
    assert_eq!(
        (
            body["data"]["id"].as_str(),
            body["data"]["version"].as_i64()
        ),
        (Some("pt_ai_task_v2"), Some(2))
    );
    let (resp, body) = call(
        &APP,
        &env,
        post_json(
            "/api/prompts",
            &json!({
                "job_type": "ai_task", "system_prompt": "x", "user_template": "no placeholder"
            }),
        )
        .with_header("x-dash-key", DASH_KEY),
    );
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (422, Some("invalid_template"))
    );

    submit(&env);
    block_on(drain(&env)).unwrap();
    let (_, list) = call(&APP, &env, op_get("/api/prompts"));
    let active: Vec<&str> = list["data"]["templates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["active"] == true)
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        active
            .iter()
            .filter(|id| id.starts_with("pt_ai_task"))
            .collect::<Vec<_>>(),
        [&"pt_ai_task_v2"]
    );

    let (_, v1) = call(&APP, &env, op_get("/api/prompts/pt_ai_task_v1/stats"));
    let (_, v2) = call(&APP, &env, op_get("/api/prompts/pt_ai_task_v2/stats"));
    assert_eq!(
        (
            v1["data"]["graded"].as_i64(),
            v1["data"]["passed"].as_i64(),
            v1["data"]["pass_rate"].as_f64()
        ),
        (Some(1), Some(0), Some(0.0))
    );
    assert_eq!(
        (
            v2["data"]["graded"].as_i64(),
            v2["data"]["passed"].as_i64(),
            v2["data"]["pass_rate"].as_f64()
        ),
        (Some(1), Some(1), Some(1.0))
    );
    assert_eq!(
        v2["data"]["avg_by_criterion"]["accuracy"].as_f64(),
        Some(90.0)
    );
    let (resp, _) = call(&APP, &env, op_get("/api/prompts/pt_nope/stats"));
    assert_eq!(resp.status, 404);
    // The v2 wording reached the model.
    assert!(mock
        .http
        .sent()
        .iter()
        .any(|r| String::from_utf8_lossy(&r.body).contains("Be better.")));
}

#[test]
fn sampled_outputs_are_graded_twice_and_agreement_is_reported() {
    // Every output is sampled; the two gradings disagree by 30 points on accuracy.
    let mock = mock_openai(vec![Ok(grades(90, 90, 90, 90)), Ok(grades(88, 60, 92, 90))]);
    let (mut env, _) = env(&[OPENAI_VARS, &[("qa_consistency_sample", "1")]].concat());
    env.http = Box::new(SharedHttp(mock.http.clone()));
    let id = store::create(
        &env,
        &TenantId::default_tenant(),
        &NewJob::new(JobType::AiTask, Brief::parse("x").unwrap()),
        None,
    )
    .unwrap()
    .job
    .id;
    block_on(drain(&env)).unwrap();
    let (resp, body) = call(&APP, &env, op_get("/api/qa/consistency?days=7"));
    assert_eq!(resp.status, 200, "{body}");
    let c = &body["data"]["criteria"];
    assert_eq!(c["accuracy"]["samples"], 1);
    assert_eq!(c["accuracy"]["mean_abs_diff"], 30.0);
    assert_eq!(c["accuracy"]["pass_fail_agreement"], 0.0);
    assert_eq!(c["accuracy"]["verdict"], "noisy");
    assert_eq!(c["clarity"]["verdict"], "consistent");
    // The second grading is grader cost, counted apart from the work.
    let job = store::get(&env, &echopilot_core::tenancy::Scope::All, &id).unwrap();
    assert_eq!(job.qa_cost_micros, 360);
    assert_eq!(job.cost_micros, 7_500 + 360);
    let (resp, _) = call(&APP, &env, op_get("/api/qa/consistency?days=0"));
    assert_eq!(resp.status, 400);
    let (resp, _) = call(&APP, &env, Request::new(Method::Get, "/api/qa/consistency"));
    assert_eq!(resp.status, 401);
}
