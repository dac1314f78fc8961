//! Shared helpers for core's integration tests.
#![allow(dead_code)]

pub mod identity;

use echopilot_core::adapters::native::{self, ManualClock, ScriptedHttp, SqliteDb};
use echopilot_core::app::{serve, App};
use echopilot_core::http::{Method, Request, Response};
use echopilot_core::ports::{Env, HttpError, OutboundRequest, OutboundResponse};
use echopilot_core::scheduler::{Job, RunContext, Trigger};
use futures::executor::block_on;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A minute boundary in 2027.
pub const T0: i64 = 1_800_000_000_000;

/// The dashboard key of native tests (a secret: 32 characters or more).
pub const DASH_KEY: &str = "dash-key-for-native-tests-0123456789";

/// An env on `db` with a manual clock at T0 and `vars`.
pub fn env_with(db: SqliteDb, vars: &[(&str, &str)]) -> (Env, ManualClock) {
    let clock = ManualClock::new(T0);
    let mut env = native::env(db, vars);
    env.clock = Box::new(clock.clone());
    (env, clock)
}

/// An in-memory env.
pub fn env(vars: &[(&str, &str)]) -> (Env, ManualClock) {
    env_with(SqliteDb::open_in_memory().unwrap(), vars)
}

/// Call `app` and parse the JSON body.
pub fn call(app: &App, env: &Env, req: Request) -> (Response, Value) {
    let resp = block_on(serve(app, env, req));
    let json = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    (resp, json)
}

/// A JSON POST.
pub fn post_json(path: &str, body: &Value) -> Request {
    Request::new(Method::Post, path)
        .with_header("content-type", "application/json")
        .with_body(body.to_string().into_bytes())
}

/// A GET with the operator key `dash`.
pub fn op_get(path: &str) -> Request {
    Request::new(Method::Get, path).with_header("x-dash-key", DASH_KEY)
}

/// An OpenAI-style chat completion answer.
pub fn completion(
    content: &str,
    model: &str,
    prompt_tokens: i64,
    completion_tokens: i64,
) -> OutboundResponse {
    let body = json!({
        "id": "chatcmpl-test", "object": "chat.completion", "model": model,
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                   "total_tokens": prompt_tokens + completion_tokens }
    });
    OutboundResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

/// Grades as the grader answers them.
pub fn grades(clarity: i64, accuracy: i64, completeness: i64, tone: i64) -> String {
    json!({
        "clarity": { "score": clarity, "reason": "clarity reason" },
        "accuracy": { "score": accuracy, "reason": "accuracy reason" },
        "completeness": { "score": completeness, "reason": "completeness reason" },
        "professional_tone": { "score": tone, "reason": "tone reason" }
    })
    .to_string()
}

/// Whether a request to the mock is a grading call.
pub fn is_grading(req: &OutboundRequest) -> bool {
    String::from_utf8_lossy(&req.body).contains("response_format")
}

/// A scripted OpenAI: work calls answer "Finished work." (1000 in / 500
/// out on gpt-4o), grading calls answer the next entry of `grade_script`
/// (the last one repeats) with 800 in / 100 out on gpt-4o-mini.
pub struct MockOpenAi {
    pub http: Arc<ScriptedHttp>,
    pub work_calls: Arc<AtomicUsize>,
    pub grade_calls: Arc<AtomicUsize>,
}

pub fn mock_openai(grade_script: Vec<Result<String, u16>>) -> MockOpenAi {
    let script = Arc::new(Mutex::new(grade_script));
    let work_calls = Arc::new(AtomicUsize::new(0));
    let grade_calls = Arc::new(AtomicUsize::new(0));
    let (w, g) = (work_calls.clone(), grade_calls.clone());
    let http = ScriptedHttp::new(move |req| {
        if !req.url.starts_with("http://mock.test/v1/chat/completions") {
            return Err(HttpError::NotAllowed(req.url.clone()));
        }
        if is_grading(req) {
            let n = g.fetch_add(1, Ordering::SeqCst);
            let s = script.lock().unwrap();
            let entry = s
                .get(n)
                .or(s.last())
                .cloned()
                .unwrap_or(Ok(grades(90, 90, 90, 90)));
            match entry {
                Ok(content) => Ok(completion(&content, "gpt-4o-mini", 800, 100)),
                Err(status) => Ok(OutboundResponse {
                    status,
                    headers: vec![],
                    body: b"{\"error\":{\"message\":\"scripted\"}}".to_vec(),
                }),
            }
        } else {
            w.fetch_add(1, Ordering::SeqCst);
            Ok(completion("Finished work.", "gpt-4o", 1000, 500))
        }
    });
    MockOpenAi {
        http: Arc::new(http),
        work_calls,
        grade_calls,
    }
}

/// The variables that point the AI at the mock.
pub const OPENAI_VARS: &[(&str, &str)] = &[
    ("openai_api_key", "sk-test"),
    ("openai_base_url", "http://mock.test"),
    ("qa_consistency_sample", "0"),
    ("dashboard_key", DASH_KEY),
];

/// Share an `Arc<ScriptedHttp>` as the env's client.
pub struct SharedHttp(pub Arc<ScriptedHttp>);

impl echopilot_core::ports::HttpClient for SharedHttp {
    fn send(
        &self,
        req: OutboundRequest,
    ) -> futures::future::LocalBoxFuture<'_, Result<OutboundResponse, HttpError>> {
        self.0.send(req)
    }
}

/// What the scheduler tells `job` about a first, on-time run at `now_ms`
/// (the slot from the job's period).
pub fn run_context(job: &Job, now_ms: i64, trigger: Trigger) -> RunContext {
    RunContext {
        slot: now_ms / (job.period_secs * 1000),
        slot_start_ms: now_ms,
        now_ms,
        trigger,
        attempt: 1,
        last_success_slot: None,
        missed_slots: 0,
    }
}
