//! The jobs API on native adapters: intake, validation, idempotency,
//! status, history tokens, operator routes.

mod support;

use echopilot_core::jobs::api::APP;
use echopilot_core::ports::DbExt;
use serde_json::json;
use support::*;

fn count_jobs(env: &echopilot_core::ports::Env) -> i64 {
    env.db
        .query_one("SELECT COUNT(*) FROM jobs", &[])
        .unwrap()
        .i64(0)
        .unwrap()
}

#[test]
fn a_public_submission_creates_a_queued_job_with_a_status_url() {
    let (env, _) = env(&[("portal_signing_secret", "s3cret")]);
    let (resp, body) = call(
        &APP,
        &env,
        post_json(
            "/api/public/create-job",
            &json!({
                "brief": "Write a 100-word product blurb for a solar lamp", "type": "ai_task", "email": "Ann@Example.com", "title": "Solar lamp"
            }),
        ),
    );
    assert_eq!(resp.status, 201, "{body}");
    let job = &body["data"]["job"];
    assert_eq!(job["status"], "queued");
    assert_eq!(job["type"], "ai_task");
    assert!(job["id"].as_str().unwrap().starts_with("job_"));
    assert!(
        job.get("tenant_id").is_none(),
        "public view hides internals"
    );
    let url = body["data"]["status_url"].as_str().unwrap();
    assert_eq!(resp.header("location"), Some(url));
    let (resp, status) = call(
        &APP,
        &env,
        echopilot_core::http::Request::new(echopilot_core::http::Method::Get, url),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(status["data"]["status"], "queued");
    assert!(body["data"]["history_token"]
        .as_str()
        .unwrap()
        .starts_with("v1.default."));
}

#[test]
fn bad_input_is_refused_with_a_clear_code_and_creates_nothing() {
    let (env, _) = env(&[]);
    let long = "x".repeat(10_001);
    let cases: Vec<(echopilot_core::http::Request, u16, &str)> = vec![
        (
            post_json("/api/public/create-job", &json!({"brief": ""})),
            422,
            "invalid_brief",
        ),
        (
            post_json("/api/public/create-job", &json!({"brief": "   "})),
            422,
            "invalid_brief",
        ),
        (
            post_json("/api/public/create-job", &json!({})),
            422,
            "invalid_brief",
        ),
        (
            post_json("/api/public/create-job", &json!({"brief": long})),
            422,
            "invalid_brief",
        ),
        (
            post_json(
                "/api/public/create-job",
                &json!({"brief": "x", "type": "mining"}),
            ),
            422,
            "invalid_type",
        ),
        (
            post_json(
                "/api/public/create-job",
                &json!({"brief": "x", "priority": "urgent"}),
            ),
            422,
            "invalid_priority",
        ),
        (
            post_json(
                "/api/public/create-job",
                &json!({"brief": "x", "priority": "critical"}),
            ),
            422,
            "priority_not_allowed",
        ),
        (
            post_json(
                "/api/public/create-job",
                &json!({"brief": "x", "email": "not-an-email"}),
            ),
            422,
            "invalid_email",
        ),
        (
            post_json(
                "/api/public/create-job",
                &json!({"brief": "x", "run_at": "tomorrow"}),
            ),
            422,
            "invalid_run_at",
        ),
        (
            post_json(
                "/api/public/create-job",
                &json!({"brief": "x", "max_attempts": 5}),
            ),
            422,
            "field_not_allowed",
        ),
        (
            post_json(
                "/api/public/create-job",
                &json!({"brief": "x", "context": [1]}),
            ),
            422,
            "invalid_context",
        ),
        (
            post_json(
                "/api/public/create-job",
                &json!({"brief": "x", "breif": "typo"}),
            ),
            400,
            "invalid_json",
        ),
        (
            post_json("/api/public/create-job", &json!({"brief": 5})),
            400,
            "invalid_json",
        ),
        (
            echopilot_core::http::Request::new(
                echopilot_core::http::Method::Post,
                "/api/public/create-job",
            )
            .with_header("content-type", "application/json")
            .with_body(b"{not json".to_vec()),
            400,
            "invalid_json",
        ),
        (
            echopilot_core::http::Request::new(
                echopilot_core::http::Method::Post,
                "/api/public/create-job",
            )
            .with_header("content-type", "text/plain")
            .with_body(b"{\"brief\":\"x\"}".to_vec()),
            415,
            "unsupported_media_type",
        ),
        (
            post_json(
                "/api/public/create-job",
                &json!({"brief": "x", "context": {"pad": "y".repeat(70_000)}}),
            ),
            413,
            "payload_too_large",
        ),
        (
            post_json("/api/public/create-job", &json!({"brief": "x"}))
                .with_header("idempotency-key", "has space"),
            400,
            "invalid_idempotency_key",
        ),
    ];
    for (req, status, code) in cases {
        let (resp, body) = call(&APP, &env, req);
        assert_eq!(
            (resp.status, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    assert_eq!(count_jobs(&env), 0);
}

#[test]
fn idempotency_keys_replay_the_same_job_and_refuse_a_different_body() {
    let (env, _) = env(&[]);
    let req = || {
        post_json("/api/public/create-job", &json!({"brief": "Summarise Q3"}))
            .with_header("idempotency-key", "order-42")
    };
    let (first, a) = call(&APP, &env, req());
    let (again, b) = call(&APP, &env, req());
    assert_eq!((first.status, again.status), (201, 200));
    assert_eq!(a["data"]["job"]["id"], b["data"]["job"]["id"]);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    // The key in the body works the same.
    let (_, c) = call(
        &APP,
        &env,
        post_json(
            "/api/public/create-job",
            &json!({"brief": "Summarise Q3", "idempotency_key": "order-42"}),
        ),
    );
    assert_eq!(c["data"]["job"]["id"], a["data"]["job"]["id"]);
    let (conflict, body) = call(
        &APP,
        &env,
        post_json("/api/public/create-job", &json!({"brief": "Summarise Q4"}))
            .with_header("idempotency-key", "order-42"),
    );
    assert_eq!(
        (conflict.status, body["error"]["code"].as_str()),
        (409, Some("idempotency_conflict"))
    );
    assert_eq!(count_jobs(&env), 1);
}

#[test]
fn history_needs_a_token_for_that_email_or_an_operator() {
    let (env, _) = env(&[
        ("portal_signing_secret", "s3cret"),
        ("dashboard_key", "dash"),
    ]);
    let (_, a) = call(
        &APP,
        &env,
        post_json(
            "/api/public/create-job",
            &json!({"brief": "one", "email": "ann@example.com"}),
        ),
    );
    call(
        &APP,
        &env,
        post_json(
            "/api/public/create-job",
            &json!({"brief": "two", "email": "ann@example.com"}),
        ),
    );
    call(
        &APP,
        &env,
        post_json(
            "/api/public/create-job",
            &json!({"brief": "other", "email": "bob@example.com"}),
        ),
    );
    let token = a["data"]["history_token"].as_str().unwrap().to_string();
    let get =
        |path: &str| echopilot_core::http::Request::new(echopilot_core::http::Method::Get, path);

    let (resp, body) = call(&APP, &env, get("/api/public/job-history/ann@example.com"));
    assert_eq!(resp.status, 401, "never by email alone: {body}");
    let (resp, body) = call(
        &APP,
        &env,
        get(&format!(
            "/api/public/job-history/ann@example.com?token={token}"
        )),
    );
    assert_eq!(resp.status, 200, "{body}");
    assert_eq!(body["data"]["jobs"].as_array().unwrap().len(), 2);
    let (resp, _) = call(
        &APP,
        &env,
        get(&format!(
            "/api/public/job-history/bob@example.com?token={token}"
        )),
    );
    assert_eq!(resp.status, 401, "ann's token does not open bob's history");
    let (resp, body) = call(
        &APP,
        &env,
        get("/api/public/job-history/bob@example.com")
            .with_header("authorization", &format!("Bearer {token}")),
    );
    assert_eq!(resp.status, 401, "{body}");
    let (resp, body) = call(
        &APP,
        &env,
        op_get("/api/public/job-history/bob@example.com"),
    );
    assert_eq!(
        (resp.status, body["data"]["jobs"].as_array().unwrap().len()),
        (200, 1)
    );
    let (resp, _) = call(
        &APP,
        &env,
        get("/api/public/job-history/ann@example.com").with_header("x-dash-key", "wrong"),
    );
    assert_eq!(resp.status, 401);
}

#[test]
fn operators_enqueue_list_filter_page_cancel_and_retry() {
    let (env, clock) = env(&[("dashboard_key", "dash")]);
    for t in ["acme", "other"] {
        echopilot_core::identity::tenants::create(
            &env,
            &echopilot_core::tenancy::TenantId::parse(t).unwrap(),
            &Default::default(),
        )
        .unwrap();
    }
    let enqueue = |body: serde_json::Value| {
        post_json("/api/queue/enqueue", &body).with_header("x-dash-key", "dash")
    };
    let (resp, _) = call(
        &APP,
        &env,
        post_json("/api/queue/enqueue", &json!({"brief": "x"})),
    );
    assert_eq!(resp.status, 401);
    for i in 0..5 {
        clock.advance(1);
        let (resp, body) = call(
            &APP,
            &env,
            enqueue(
                json!({"brief": format!("job {i}"), "priority": "critical", "type": "report_gen", "tenant_id": "acme", "max_attempts": 5}),
            ),
        );
        assert_eq!(resp.status, 201, "{body}");
        assert_eq!(body["data"]["job"]["source"], "operator");
        assert_eq!(body["data"]["job"]["max_attempts"], 5);
    }
    call(&APP, &env, enqueue(json!({"brief": "other tenant"})));

    let (_, page1) = call(&APP, &env, op_get("/api/jobs?tenant_id=acme&limit=2"));
    let jobs = page1["data"]["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0]["brief"], "job 4", "newest first");
    let cursor = page1["data"]["next_cursor"].as_str().unwrap();
    let (_, page2) = call(
        &APP,
        &env,
        op_get(&format!("/api/jobs?tenant_id=acme&limit=2&cursor={cursor}")),
    );
    assert_eq!(page2["data"]["jobs"][0]["brief"], "job 2");
    let (_, all) = call(
        &APP,
        &env,
        op_get("/api/jobs?type=report_gen&priority=critical&status=queued"),
    );
    assert_eq!(all["data"]["jobs"].as_array().unwrap().len(), 5);
    let (resp, body) = call(&APP, &env, op_get("/api/jobs?status=sleeping"));
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (422, Some("invalid_status"))
    );
    let (resp, _) = call(&APP, &env, op_get("/api/jobs?limit=1000"));
    assert_eq!(resp.status, 400);

    let id = jobs[0]["id"].as_str().unwrap();
    let cancel = echopilot_core::http::Request::new(
        echopilot_core::http::Method::Post,
        &format!("/api/jobs/{id}/cancel"),
    )
    .with_header("x-dash-key", "dash");
    let (resp, body) = call(&APP, &env, cancel.clone());
    assert_eq!(
        (resp.status, body["data"]["status"].as_str()),
        (200, Some("cancelled"))
    );
    let (resp, body) = call(&APP, &env, cancel);
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (409, Some("not_cancellable"))
    );
    let retry = echopilot_core::http::Request::new(
        echopilot_core::http::Method::Post,
        &format!("/api/jobs/{id}/retry"),
    )
    .with_header("x-dash-key", "dash");
    let (resp, body) = call(&APP, &env, retry);
    assert_eq!(
        (
            resp.status,
            body["data"]["status"].as_str(),
            body["data"]["attempts"].as_i64()
        ),
        (200, Some("queued"), Some(0))
    );
    let (resp, _) = call(&APP, &env, op_get("/api/jobs/job_NOPE"));
    assert_eq!(resp.status, 404);
    let (resp, _) = call(
        &APP,
        &env,
        op_get(&format!("/api/jobs/{id}?tenant_id=other")),
    );
    assert_eq!(
        resp.status, 404,
        "another tenant's job is not found in this scope"
    );

    let (_, status) = call(&APP, &env, op_get("/api/queue/status"));
    let d = &status["data"];
    assert_eq!(d["total"], 6);
    assert_eq!(d["by_status"]["queued"], 6);
    assert_eq!(d["by_type"]["report_gen"], 5);
    assert_eq!(d["by_priority"]["critical"], 5);
    assert!(d["oldest_queued_age_seconds"].as_i64().unwrap() >= 0);
    let (_, acme) = call(&APP, &env, op_get("/api/queue/status?tenant_id=acme"));
    assert_eq!(acme["data"]["total"], 5);
}
