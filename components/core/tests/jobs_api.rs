//! The jobs API on native adapters: intake, validation, idempotency,
//! status, history links, intake budgets, operator routes.

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
    let (env, _) = env(&[(
        "portal_signing_secret",
        "portal-secret-for-native-tests-0123456789",
    )]);
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
    assert!(
        body["data"].get("history_token").is_none() && !body.to_string().contains("token"),
        "no credential in the answer: {body}"
    );
    assert!(
        body["data"].get("history_link").is_none(),
        "email is not configured: no link goes out"
    );
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

const HISTORY_VARS: &[(&str, &str)] = &[
    (
        "portal_signing_secret",
        "portal-secret-for-native-tests-0123456789",
    ),
    ("dashboard_key", DASH_KEY),
    ("alert_email_from", "jobs@echopilot.example"),
    ("public_base_url", "https://echopilot.example"),
];

fn submit(env: &echopilot_core::ports::Env, body: serde_json::Value) -> serde_json::Value {
    let (resp, body) = call(&APP, env, post_json("/api/public/create-job", &body));
    assert_eq!(resp.status, 201, "{body}");
    body
}

/// The history links emailed to `to`, oldest first.
fn mailed_links(env: &echopilot_core::ports::Env, to: &str) -> Vec<String> {
    let rows = env
        .db
        .exec(
            "SELECT payload FROM incident_deliveries WHERE channel = 'email' ORDER BY id",
            &[],
        )
        .unwrap();
    rows.rows
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.text(0).unwrap()).unwrap())
        .filter(|p| p["to"] == json!([to]))
        .map(|p| {
            assert_eq!(p["confidential"], true);
            let text = p["text"].as_str().unwrap();
            let start = text.find("https://").unwrap();
            text[start..].split_whitespace().next().unwrap().to_string()
        })
        .collect()
}

fn get(path: &str) -> echopilot_core::http::Request {
    echopilot_core::http::Request::new(echopilot_core::http::Method::Get, path)
}

#[test]
fn history_links_go_to_the_mailbox_and_never_to_the_caller() {
    let (env, _) = env(HISTORY_VARS);
    // The attack: anyone submits a job naming someone else's email.
    let a = submit(&env, json!({"brief": "one", "email": "ann@example.com"}));
    assert_eq!(a["data"]["history_link"], "emailed");
    assert!(
        a["data"].get("history_token").is_none() && !a.to_string().contains("token"),
        "the answer carries no credential: {a}"
    );
    submit(&env, json!({"brief": "two", "email": "ann@example.com"}));
    submit(&env, json!({"brief": "other", "email": "bob@example.com"}));
    // One link per address and hour, to that address only.
    let ann = mailed_links(&env, "ann@example.com");
    assert_eq!(ann.len(), 1, "{ann:?}");
    assert!(ann[0].starts_with(
        "https://echopilot.example/api/public/job-history/ann@example.com?token=v2.default."
    ));
    let bob = mailed_links(&env, "bob@example.com");
    assert_eq!(bob.len(), 1);
    let path = |link: &str| {
        link.trim_start_matches("https://echopilot.example")
            .to_string()
    };

    let (resp, body) = call(&APP, &env, get(&path(&ann[0])));
    assert_eq!(resp.status, 200, "{body}");
    assert_eq!(body["data"]["jobs"].as_array().unwrap().len(), 2);
    let ann_token = ann[0].split("token=").nth(1).unwrap();
    let (resp, _) = call(
        &APP,
        &env,
        get(&format!(
            "/api/public/job-history/bob@example.com?token={ann_token}"
        )),
    );
    assert_eq!(resp.status, 401, "ann's link does not open bob's history");
    let (resp, body) = call(&APP, &env, get("/api/public/job-history/ann@example.com"));
    assert_eq!(resp.status, 401, "never by email alone: {body}");
    let (resp, body) = call(
        &APP,
        &env,
        get("/api/public/job-history/ann@example.com")
            .with_header("authorization", &format!("Bearer {ann_token}")),
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
    // The operators' deliveries list does not show the link.
    let (resp, body) = call(
        &echopilot_core::ops::api::APP,
        &env,
        op_get("/api/incidents/deliveries"),
    );
    assert_eq!(resp.status, 200, "{body}");
    assert!(!body.to_string().contains("token="), "{body}");
    assert!(body.to_string().contains("withheld"), "{body}");
}

#[test]
fn tokens_handed_out_before_no_longer_open_history() {
    use hmac::{Hmac, Mac};
    let (env, _) = env(HISTORY_VARS);
    submit(&env, json!({"brief": "one", "email": "ann@example.com"}));
    // A v1 token exactly as create-job used to return it to any caller.
    let expiry = (T0 + 29 * 86_400_000) / 1000;
    let mut m =
        Hmac::<sha2::Sha256>::new_from_slice(b"portal-secret-for-native-tests-0123456789").unwrap();
    m.update(format!("history|v1|default|ann@example.com|{expiry}").as_bytes());
    let v1 = format!(
        "v1.default.{expiry}.{}",
        echopilot_core::hex(&m.finalize().into_bytes())
    );
    let (resp, body) = call(
        &APP,
        &env,
        get(&format!(
            "/api/public/job-history/ann@example.com?token={v1}"
        )),
    );
    assert_eq!(resp.status, 401, "{body}");
}

#[test]
fn anonymous_intake_has_its_own_budget_per_address_and_per_day() {
    let (env, clock) = env(&[
        ("dashboard_key", DASH_KEY),
        ("intake_anonymous_per_address_hourly", "3"),
        ("intake_anonymous_daily", "5"),
    ]);
    let from = |addr: &str, key: Option<&str>| {
        let mut req = post_json(
            "/api/public/create-job",
            &json!({"brief": "x".repeat(10_000)}),
        );
        if let Some(k) = key {
            req = req.with_header("idempotency-key", k);
        }
        req.client_addr = Some(format!("{addr}:5000"));
        let (resp, body) = call(&APP, &env, req);
        (
            resp.status,
            body,
            resp.header("retry-after").map(str::to_string),
        )
    };
    // The attack: one address submits as fast as it can.
    let statuses: Vec<u16> = (0..6).map(|_| from("203.0.113.9", None).0).collect();
    assert_eq!(statuses, [201, 201, 201, 429, 429, 429]);
    let (_, body, retry) = from("203.0.113.9", None);
    assert_eq!(body["error"]["code"], "intake_budget_exceeded");
    assert!(retry.unwrap().parse::<i64>().unwrap() <= 3600);
    assert_eq!(count_jobs(&env), 3, "refused submissions create nothing");
    // Another anonymous caller has its own hourly budget, within the day's.
    assert_eq!(from("198.51.100.4", Some("k1")).0, 201);
    assert_eq!(from("198.51.100.4", Some("k1")).0, 200, "a replay");
    assert_eq!(
        from("198.51.100.4", None).0,
        201,
        "the replay counted nothing"
    );
    let (status, body, _) = from("198.51.100.4", None);
    assert_eq!(status, 429, "the anonymous day is spent: {body}");
    // Credentials are not anonymous: their budget is their tenant's.
    let (resp, body) = call(
        &APP,
        &env,
        post_json("/api/queue/enqueue", &json!({"brief": "operator work"}))
            .with_header("x-dash-key", DASH_KEY),
    );
    assert_eq!(resp.status, 201, "{body}");
    // A new hour gives the address its budget back, not the day.
    clock.advance(3_600_000);
    assert_eq!(from("203.0.113.9", None).0, 429);
    clock.advance(86_400_000);
    assert_eq!(from("203.0.113.9", None).0, 201);
}

#[test]
fn a_tenant_spends_only_its_own_daily_budget() {
    let (env, _) = env(&[("dashboard_key", DASH_KEY)]);
    let dash = DASH_KEY;
    let (resp, body) = call(
        &echopilot_core::identity::api::APP,
        &env,
        post_json(
            "/api/tenant/create",
            &json!({"id": "acme", "name": "Acme", "limits": {"jobs_per_day": 2}}),
        )
        .with_header("x-dash-key", dash),
    );
    assert_eq!(resp.status, 201, "{body}");
    let enqueue = |tenant: &str| {
        let (resp, body) = call(
            &APP,
            &env,
            post_json(
                "/api/queue/enqueue",
                &json!({"brief": "work", "tenant_id": tenant}),
            )
            .with_header("x-dash-key", dash),
        );
        (resp.status, body)
    };
    assert_eq!(enqueue("acme").0, 201);
    assert_eq!(enqueue("acme").0, 201);
    let (status, body) = enqueue("acme");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("intake_budget_exceeded"))
    );
    assert!(body["error"]["detail"]
        .as_str()
        .unwrap()
        .contains("jobs_per_day"));
    // Other tenants and anonymous callers are unaffected.
    assert_eq!(enqueue("default").0, 201);
    assert_eq!(
        call(
            &APP,
            &env,
            post_json("/api/public/create-job", &json!({"brief": "x"}))
        )
        .0
        .status,
        201
    );
}

#[test]
fn operators_enqueue_list_filter_page_cancel_and_retry() {
    let (env, clock) = env(&[("dashboard_key", DASH_KEY)]);
    for t in ["acme", "other"] {
        echopilot_core::identity::tenants::create(
            &env,
            &echopilot_core::tenancy::TenantId::parse(t).unwrap(),
            &Default::default(),
        )
        .unwrap();
    }
    let enqueue = |body: serde_json::Value| {
        post_json("/api/queue/enqueue", &body).with_header("x-dash-key", DASH_KEY)
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
    .with_header("x-dash-key", DASH_KEY);
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
    .with_header("x-dash-key", DASH_KEY);
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
