//! The request pipeline through real apps on native adapters: envelope,
//! request ids, security headers, 404/405/413, access, health, heartbeat.

use echopilot_core::adapters::native::{self, ManualClock};
use echopilot_core::app::{serve, App};
use echopilot_core::http::{security::SECURITY_HEADERS, Method, Request, Response};
use echopilot_core::ports::Env;
use echopilot_core::{health, heartbeat};
use futures::executor::block_on;
use serde_json::Value;

fn call(app: &App, env: &Env, req: Request) -> (Response, Value) {
    let resp = block_on(serve(app, env, req));
    let json = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    (resp, json)
}

fn get(path: &str) -> Request {
    Request::new(Method::Get, path)
}

#[test]
fn health_reports_build_store_and_heartbeat() {
    let env = native::memory_env(&[]);
    let (resp, body) = call(&health::APP, &env, get("/health"));
    assert_eq!(resp.status, 200);
    assert_eq!(body["ok"], true);
    let data = &body["data"];
    assert_eq!(data["status"], "degraded", "no heartbeat yet: {data}");
    assert_eq!(data["heartbeat"]["status"], "never");
    assert_eq!(data["store"]["status"], "ok");
    assert_eq!(
        data["store"]["schema_version"],
        echopilot_core::db::migrations::latest()
    );
    assert!(data["store"]["uptime_seconds"].as_i64().unwrap() >= 0);
    assert_eq!(data["version"], env!("CARGO_PKG_VERSION"));
    assert!(data["git_sha"].is_string() && data["dirty"].is_boolean());

    let (resp, body) = call(&health::APP, &env, get("/api/version"));
    assert_eq!(resp.status, 200);
    assert_eq!(body["data"]["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn a_heartbeat_makes_health_ok_and_its_age_is_reported() {
    let clock = ManualClock::new(1_800_000_000_000);
    let mut env = native::memory_env(&[("cron_token", "cron-token-for-native-tests-0123456789")]);
    env.clock = Box::new(clock.clone());
    let beat = Request::new(Method::Post, "/api/internal/cron/heartbeat").with_header(
        "authorization",
        "Bearer cron-token-for-native-tests-0123456789",
    );
    let (resp, body) = call(&heartbeat::APP, &env, beat.clone());
    assert_eq!(resp.status, 200, "{body}");
    assert_eq!(body["data"]["outcome"], "ran");
    assert_eq!(body["data"]["job"], "heartbeat");
    // Same minute again: already done, no second row.
    let (_, body) = call(&heartbeat::APP, &env, beat);
    assert_eq!(body["data"]["outcome"], "already_done");

    clock.advance(42_000);
    let (_, body) = call(&health::APP, &env, get("/health"));
    assert_eq!(body["data"]["status"], "ok");
    assert_eq!(body["data"]["heartbeat"]["age_seconds"], 42);
    clock.advance(200_000);
    let (_, body) = call(&health::APP, &env, get("/health"));
    assert_eq!(body["data"]["heartbeat"]["status"], "stale");
    assert_eq!(body["data"]["status"], "degraded");
}

#[test]
fn every_response_carries_a_request_id_and_the_security_headers() {
    let env = native::memory_env(&[]);
    for req in [
        get("/health"),
        get("/nowhere"),
        Request::new(Method::Delete, "/health"),
        get("/api/version").with_header("x-request-id", "client-id-1"),
    ] {
        let echo = req.header("x-request-id").map(str::to_string);
        let (resp, _) = call(&health::APP, &env, req);
        let id = resp.header("x-request-id").expect("request id");
        if let Some(echo) = echo {
            assert_eq!(id, echo);
        } else {
            assert!(id.starts_with("req_"));
        }
        for (name, _) in SECURITY_HEADERS {
            assert!(
                resp.header(name).is_some(),
                "{name} missing on {}",
                resp.status
            );
        }
    }
}

#[test]
fn unknown_paths_and_methods_get_enveloped_404_and_405() {
    let env = native::memory_env(&[]);
    let (resp, body) = call(&health::APP, &env, get("/nowhere"));
    assert_eq!(resp.status, 404);
    assert_eq!(body["ok"], false);
    assert_eq!(body["error"]["code"], "not_found");
    let (resp, body) = call(&health::APP, &env, Request::new(Method::Post, "/health"));
    assert_eq!(resp.status, 405);
    assert_eq!(body["error"]["code"], "method_not_allowed");
    assert_eq!(resp.header("allow"), Some("GET, HEAD"));
    let (resp, _) = call(&health::APP, &env, Request::new(Method::Options, "/health"));
    assert_eq!(resp.status, 204);
    assert_eq!(resp.header("allow"), Some("GET, HEAD"));
}

#[test]
fn head_answers_headers_without_a_body() {
    let env = native::memory_env(&[]);
    let (resp, _) = call(
        &health::APP,
        &env,
        Request::new(Method::Head, "/api/version"),
    );
    assert_eq!(resp.status, 200);
    assert!(resp.body.is_empty());
    assert_eq!(resp.header("content-type"), Some("application/json"));
}

#[test]
fn scheduler_routes_need_a_valid_credential_checked_before_the_body() {
    let env = native::memory_env(&[
        ("dashboard_key", "dash-key-for-native-tests-0123456789"),
        ("cron_token", "cron-token-for-native-tests-0123456789"),
    ]);
    let path = "/api/internal/cron/heartbeat";
    let cases: &[(&[(&str, &str)], u16)] = &[
        (&[], 401),
        (&[("authorization", "Bearer wrong")], 401),
        (&[("authorization", "Basic dG9r")], 401),
        (&[("x-dash-key", "wrong")], 401),
        (
            &[(
                "authorization",
                "Bearer cron-token-for-native-tests-0123456789",
            )],
            200,
        ),
        (
            &[("x-dash-key", "dash-key-for-native-tests-0123456789")],
            200,
        ),
    ];
    for (headers, status) in cases {
        let mut req = Request::new(Method::Post, path);
        for (k, v) in *headers {
            req = req.with_header(k, v);
        }
        let (resp, body) = call(&heartbeat::APP, &env, req);
        assert_eq!(resp.status, *status, "{headers:?}: {body}");
        if *status == 401 {
            assert_eq!(body["error"]["code"], "unauthorized");
        }
    }
    // Unauthenticated oversize bodies are refused as 401, not read.
    let big = vec![b'x'; 2 * 1024 * 1024];
    let (resp, _) = call(
        &heartbeat::APP,
        &env,
        Request::new(Method::Post, path).with_body(big.clone()),
    );
    assert_eq!(resp.status, 401);
    let req = Request::new(Method::Post, path)
        .with_header("x-dash-key", "dash-key-for-native-tests-0123456789")
        .with_body(big);
    let (resp, body) = call(&heartbeat::APP, &env, req);
    assert_eq!(resp.status, 413);
    assert_eq!(body["error"]["code"], "payload_too_large");
}

#[test]
fn unconfigured_credentials_say_so() {
    let env = native::memory_env(&[]);
    let req = Request::new(Method::Post, "/api/internal/cron/heartbeat")
        .with_header("x-dash-key", "anything");
    let (resp, body) = call(&heartbeat::APP, &env, req);
    assert_eq!(resp.status, 503);
    assert_eq!(body["error"]["code"], "not_configured");
    let req = Request::new(Method::Post, "/api/internal/cron/heartbeat")
        .with_header("authorization", "Bearer x");
    let (resp, body) = call(&heartbeat::APP, &env, req);
    assert_eq!(
        resp.status, 401,
        "no cron_token: an opaque bearer is simply not valid"
    );
    assert!(body["error"]["detail"]
        .as_str()
        .unwrap()
        .contains("cron_token"));
}

#[test]
fn unknown_jobs_are_404_after_authentication() {
    let env = native::memory_env(&[("dashboard_key", "dash-key-for-native-tests-0123456789")]);
    let (resp, _) = call(
        &health::APP,
        &env,
        Request::new(Method::Post, "/api/internal/cron/nope"),
    );
    assert_eq!(resp.status, 401);
    let req = Request::new(Method::Post, "/api/internal/cron/nope")
        .with_header("x-dash-key", "dash-key-for-native-tests-0123456789");
    let (resp, body) = call(&health::APP, &env, req);
    assert_eq!(resp.status, 404);
    assert_eq!(body["error"]["code"], "unknown_job");
    assert!(body["error"]["detail"]
        .as_str()
        .unwrap()
        .contains("heartbeat"));
}
