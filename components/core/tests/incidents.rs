//! Incidents on native adapters (real SQLite): fingerprints, one-hour
//! dedup, routing by severity, digests, silences, the outbox against a
//! scripted HTTP client, concurrency, the lifecycle and the handlers.

mod support;

use echopilot_core::adapters::native::{ManualClock, ScriptedHttp, SqliteDb};
use echopilot_core::app::Ctx;
use echopilot_core::http::router::{self, Handler};
use echopilot_core::http::{Method, Request, Response};
use echopilot_core::identity::{Principal, Role};
use echopilot_core::incidents::api::ROUTES;
use echopilot_core::incidents::outbox::{self, Filter};
use echopilot_core::incidents::{
    self, Actor, Channel, Delivery, DeliveryStatus, NewIncident, Routing, Severity,
};
use echopilot_core::ports::{Clock, DbExt, Env, HttpError, OutboundRequest, OutboundResponse};
use echopilot_core::tenancy::{Scope, TenantId};
use futures::executor::block_on;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use support::{SharedHttp, T0};

const TOKEN: &str = "123456:ABCSECRETTOKEN";
const EMAIL_KEY: &str = "ek_live_secret";

/// Both channels configured, pointing at test hosts.
const ALERT_VARS: &[(&str, &str)] = &[
    ("telegram_bot_token", TOKEN),
    ("telegram_chat_id", "-100200"),
    ("telegram_base_url", "http://tg.test"),
    ("email_api_base_url", "http://mail.test"),
    ("email_api_path", "/send"),
    ("email_api_key", EMAIL_KEY),
    ("alert_email_to", "ops@example.com, cto@example.com"),
    ("alert_email_from", "alerts@echopilot.test"),
];

const TELEGRAM_ONLY: &[(&str, &str)] = &[
    ("telegram_bot_token", TOKEN),
    ("telegram_chat_id", "-100200"),
    ("telegram_base_url", "http://tg.test"),
];

type Answer = Result<OutboundResponse, HttpError>;

fn answer(status: u16, headers: &[(&str, &str)], body: Value) -> Answer {
    Ok(OutboundResponse {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_string().into_bytes(),
    })
}

/// The channels' happy answers: Telegram 200, email 202 (like the e2e mock).
fn happy(req: &OutboundRequest) -> Answer {
    if req.url.starts_with("http://tg.test/") {
        answer(200, &[], json!({"ok": true, "result": {"message_id": 1}}))
    } else if req.url == "http://mail.test/send" {
        answer(202, &[], json!({"id": "msg_1", "status": "queued"}))
    } else {
        Err(HttpError::NotAllowed(req.url.clone()))
    }
}

/// A scripted client answering call `n` (0-based) with `f(req, n)`.
fn scripted(
    f: impl Fn(&OutboundRequest, usize) -> Answer + Send + Sync + 'static,
) -> Arc<ScriptedHttp> {
    let n = AtomicUsize::new(0);
    Arc::new(ScriptedHttp::new(move |req| {
        f(req, n.fetch_add(1, Ordering::SeqCst))
    }))
}

fn env_with_http(vars: &[(&str, &str)], http: &Arc<ScriptedHttp>) -> (Env, ManualClock) {
    let (mut env, clock) = support::env(vars);
    env.http = Box::new(SharedHttp(http.clone()));
    (env, clock)
}

fn new(severity: Severity, source: &str, message: &str) -> NewIncident {
    NewIncident {
        severity,
        source: source.into(),
        message: message.into(),
        links: Value::Null,
    }
}

fn count(env: &Env, sql: &str) -> i64 {
    env.db.query_one(sql, &[]).unwrap().i64(0).unwrap()
}

fn all_deliveries(env: &Env) -> Vec<Delivery> {
    let mut d = outbox::list(env, &Filter::default(), None, 200)
        .unwrap()
        .deliveries;
    d.reverse();
    d
}

fn delivery(env: &Env, id: &str) -> Delivery {
    all_deliveries(env)
        .into_iter()
        .find(|d| d.id == id)
        .unwrap()
}

fn audit_count(env: &Env, action: &str) -> i64 {
    env.db
        .query_one(
            "SELECT COUNT(*) FROM audit_log WHERE action = ?1",
            &[action.into()],
        )
        .unwrap()
        .i64(0)
        .unwrap()
}

/// Call a route of [`ROUTES`] as `principal`; returns status and JSON body.
fn call_as(
    env: &Env,
    principal: Principal,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = Request::new(method, path);
    let (route, params) = router::find(ROUTES, method, &req.path).unwrap();
    let ctx = Ctx {
        env,
        request_id: "req_test".into(),
        params,
        principal,
        scope: Scope::All,
        client: "127.0.0.1".into(),
        component: "api-ops",
        route: route.pattern,
    };
    if let Some(b) = body {
        req = req
            .with_header("content-type", "application/json")
            .with_body(b.to_string().into_bytes());
    }
    let result = match route.handler {
        Handler::Sync(f) => f(&ctx, &req),
        Handler::Async(f) => block_on(f(&ctx, &req)),
    };
    let resp = result.unwrap_or_else(|e| Response::error(&e));
    let json = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    (resp.status, json)
}

fn call(env: &Env, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    call_as(env, Principal::dashboard(), method, path, body)
}

fn expected_fingerprint(input: &str) -> String {
    let digest = Sha256::digest(input.as_bytes());
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..12]
        .to_string()
}

// ---------------------------------------------------------------- fingerprints

#[test]
fn the_fingerprint_is_the_first_12_hex_chars_of_sha256_of_severity_source_and_message_head() {
    let (env, _) = support::env(&[]);
    let raised = incidents::raise(
        &env,
        new(
            Severity::Critical,
            "healthcheck",
            "Database connection lost",
        ),
    )
    .unwrap();
    let want = expected_fingerprint("CRITICAL:healthcheck:Database connection lost");
    assert_eq!(raised.incident.fingerprint, want);
    assert_eq!(
        incidents::fingerprint(
            Severity::Critical,
            "healthcheck",
            "Database connection lost"
        ),
        want
    );

    // Only the first 50 characters (not bytes) of the message count.
    let head: String = "Ü".repeat(30) + &"x".repeat(20);
    let long = format!("{head} and a tail that differs");
    let raised = incidents::raise(&env, new(Severity::Warning, "worker", &long)).unwrap();
    assert_eq!(
        raised.incident.fingerprint,
        expected_fingerprint(&format!("WARNING:worker:{head}"))
    );
    let other_tail = format!("{head} with another ending");
    let again = incidents::raise(&env, new(Severity::Warning, "worker", &other_tail)).unwrap();
    assert!(again.repeat, "same first 50 characters: same fingerprint");
    assert_eq!(again.incident.id, raised.incident.id);
}

// ---------------------------------------------------------------- dedup

#[test]
fn a_raise_within_the_hour_is_counted_on_the_open_incident_and_never_pages_again() {
    let http = scripted(|r, _| happy(r));
    let (env, clock) = env_with_http(ALERT_VARS, &http);
    let first = incidents::raise(
        &env,
        new(
            Severity::Critical,
            "healthcheck",
            "Database connection lost",
        ),
    )
    .unwrap();
    assert!(!first.repeat);
    assert_eq!(first.routing, Routing::Page);
    assert_eq!(first.deliveries.len(), 2);
    assert_eq!(first.incident.repeat_count, 0);

    clock.advance(30 * 60_000);
    let second = incidents::raise(
        &env,
        new(
            Severity::Critical,
            "healthcheck",
            "Database connection lost",
        ),
    )
    .unwrap();
    assert!(second.repeat);
    assert_eq!(second.routing, Routing::Repeat);
    assert!(second.deliveries.is_empty());
    assert_eq!(second.incident.id, first.incident.id);
    assert_eq!(second.incident.repeat_count, 1);
    assert_eq!(second.incident.last_seen_at, T0 + 30 * 60_000);
    assert_eq!(second.incident.created_at, T0);

    // The window slides with the last repeat: 50 minutes later is still
    // within an hour of the last sighting.
    clock.advance(50 * 60_000);
    let third = incidents::raise(
        &env,
        new(
            Severity::Critical,
            "healthcheck",
            "Database connection lost",
        ),
    )
    .unwrap();
    assert!(third.repeat);
    assert_eq!(third.incident.repeat_count, 2);

    assert_eq!(count(&env, "SELECT COUNT(*) FROM incidents"), 1);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM incident_deliveries"), 2);
    // Delivering sends the one page on each channel, once.
    let report = block_on(incidents::deliver_due(&env)).unwrap();
    assert_eq!(report.sent, 2);
    assert_eq!(http.sent().len(), 2);
}

#[test]
fn after_an_hour_of_silence_the_same_fingerprint_opens_a_new_incident_and_pages() {
    let (env, clock) = support::env(ALERT_VARS);
    let first =
        incidents::raise(&env, new(Severity::Critical, "stripe", "Webhook failures")).unwrap();
    clock.advance(60 * 60_000 + 1);
    let second =
        incidents::raise(&env, new(Severity::Critical, "stripe", "Webhook failures")).unwrap();
    assert!(!second.repeat);
    assert_ne!(second.incident.id, first.incident.id);
    assert_eq!(second.incident.fingerprint, first.incident.fingerprint);
    assert_eq!(second.deliveries.len(), 2);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM incidents"), 2);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM incident_deliveries"), 4);
}

#[test]
fn a_resolved_incident_is_not_repeated_a_new_one_opens() {
    let (env, clock) = support::env(&[]);
    let by = Actor::system("test");
    let first =
        incidents::raise(&env, new(Severity::Info, "scale", "Scaled to 3 workers")).unwrap();
    incidents::resolve(&env, &first.incident.id, None, &by).unwrap();
    clock.advance(60_000);
    let second =
        incidents::raise(&env, new(Severity::Info, "scale", "Scaled to 3 workers")).unwrap();
    assert!(!second.repeat);
    assert_ne!(second.incident.id, first.incident.id);
    // An acknowledged incident is still unresolved: it collects repeats.
    incidents::acknowledge(&env, &second.incident.id, &by).unwrap();
    let third =
        incidents::raise(&env, new(Severity::Info, "scale", "Scaled to 3 workers")).unwrap();
    assert!(third.repeat);
    assert_eq!(third.incident.id, second.incident.id);
}

#[test]
fn concurrent_raisers_in_two_processes_make_one_incident_and_one_page() {
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = Arc::new(dir.path().join("db.sqlite"));
        drop(SqliteDb::open(path.as_ref()).unwrap());
        let barrier = Arc::new(Barrier::new(2));
        let message = format!("Queue stuck, round {round}");
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (path, barrier, message) = (path.clone(), barrier.clone(), message.clone());
                std::thread::spawn(move || {
                    let db = SqliteDb::open(path.as_ref()).unwrap();
                    let (env, _) = support::env_with(db, ALERT_VARS);
                    barrier.wait();
                    let r = incidents::raise(&env, new(Severity::Critical, "worker", &message))
                        .unwrap();
                    (r.repeat, r.incident.id, r.deliveries.len())
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(
            results.iter().filter(|r| !r.0).count(),
            1,
            "round {round}: exactly one raise creates: {results:?}"
        );
        assert_eq!(results[0].1, results[1].1, "round {round}: same incident");
        assert_eq!(results.iter().map(|r| r.2).sum::<usize>(), 2);
        let (env, _) = support::env_with(SqliteDb::open(path.as_ref()).unwrap(), &[]);
        assert_eq!(count(&env, "SELECT COUNT(*) FROM incidents"), 1);
        assert_eq!(count(&env, "SELECT repeat_count FROM incidents"), 1);
        assert_eq!(count(&env, "SELECT COUNT(*) FROM incident_deliveries"), 2);
    }
}

// ---------------------------------------------------------------- routing

#[test]
fn critical_enqueues_a_telegram_and_an_email_delivery_in_the_seed_format() {
    let (env, _) = support::env(ALERT_VARS);
    let raised = incidents::raise(
        &env,
        NewIncident {
            severity: Severity::Critical,
            source: "cost-guardrails".into(),
            message: "Daily AI spend reached 100% of the cap".into(),
            links: json!({"spent_micros": 25_000_000, "cap_micros": 25_000_000}),
        },
    )
    .unwrap();
    let fp = &raised.incident.fingerprint;
    let channels: Vec<Channel> = raised.deliveries.iter().map(|d| d.channel).collect();
    assert_eq!(channels, vec![Channel::Telegram, Channel::Email]);
    for d in &raised.deliveries {
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert_eq!(d.incident_id.as_deref(), Some(raised.incident.id.as_str()));
        assert_eq!(d.attempts, 0);
        assert_eq!(d.next_attempt_at, Some(T0));
        let text = d.payload["text"].as_str().unwrap();
        assert!(text.contains("CRITICAL INCIDENT"), "{text}");
        assert!(text.contains("Daily AI spend reached 100% of the cap"));
        assert!(text.contains("Source: cost-guardrails"));
        assert!(text.contains(&format!("Fingerprint: {fp}")));
        assert!(text.contains("Repeats: 0"));
        assert!(text.contains("spent_micros"));
    }
    let subject = raised.deliveries[1].payload["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("[EchoPilot] CRITICAL: cost-guardrails: "),
        "{subject}"
    );
    assert_eq!(raised.incident.links["cap_micros"], 25_000_000);
}

#[test]
fn unconfigured_channels_are_recorded_as_skipped_and_nothing_is_sent() {
    let http = scripted(|r, _| happy(r));
    let (env, _) = env_with_http(&[], &http);
    let raised = incidents::raise(&env, new(Severity::Critical, "db", "Disk full")).unwrap();
    assert_eq!(raised.deliveries.len(), 2);
    for d in &raised.deliveries {
        assert_eq!(d.status, DeliveryStatus::Skipped);
        assert_eq!(d.last_error.as_deref(), Some("not configured"));
        assert_eq!(d.next_attempt_at, None);
    }
    let report = block_on(incidents::deliver_due(&env)).unwrap();
    assert_eq!(report.claimed, 0);
    assert!(http.sent().is_empty());

    // Only Telegram configured: email alone is skipped.
    let (env, _) = support::env(TELEGRAM_ONLY);
    let raised = incidents::raise(&env, new(Severity::Critical, "db", "Disk full")).unwrap();
    let states: Vec<_> = raised
        .deliveries
        .iter()
        .map(|d| (d.channel, d.status))
        .collect();
    assert_eq!(
        states,
        vec![
            (Channel::Telegram, DeliveryStatus::Pending),
            (Channel::Email, DeliveryStatus::Skipped)
        ]
    );
}

#[test]
fn warnings_go_out_only_in_one_digest_message_per_channel_and_info_is_only_recorded() {
    let (env, clock) = support::env(ALERT_VARS);
    let w1 = incidents::raise(&env, new(Severity::Warning, "slo", "p95 latency 950 ms")).unwrap();
    let w2 =
        incidents::raise(&env, new(Severity::Warning, "costs", "Spend at 91% of cap")).unwrap();
    let w3 = incidents::raise(&env, new(Severity::Warning, "queue", "Queue depth 240")).unwrap();
    let info = incidents::raise(&env, new(Severity::Info, "scale", "Scaled to 2 workers")).unwrap();
    for w in [&w1, &w2, &w3] {
        assert_eq!(w.routing, Routing::Digest);
        assert!(w.deliveries.is_empty());
        assert_eq!(w.incident.digest_state.as_deref(), Some("pending"));
    }
    assert_eq!(info.routing, Routing::Record);
    assert!(info.deliveries.is_empty());
    assert_eq!(info.incident.digest_state, None);
    // A repeat of a pending warning is folded in, not digested twice.
    let w1_again =
        incidents::raise(&env, new(Severity::Warning, "slo", "p95 latency 950 ms")).unwrap();
    assert!(w1_again.repeat);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM incident_deliveries"), 0);

    clock.advance(5 * 60_000);
    let report = incidents::digest(&env).unwrap();
    assert_eq!(report.incidents, 3);
    assert_eq!(report.deliveries.len(), 2);
    let channels: Vec<Channel> = report.deliveries.iter().map(|d| d.channel).collect();
    assert_eq!(channels, vec![Channel::Telegram, Channel::Email]);
    for d in &report.deliveries {
        assert_eq!(d.incident_id, None);
        assert_eq!(d.status, DeliveryStatus::Pending);
        let text = d.payload["text"].as_str().unwrap();
        assert!(text.contains("WARNING digest: 3 incidents"), "{text}");
        for w in [&w1, &w2, &w3] {
            assert!(text.contains(&w.incident.fingerprint), "{text}");
        }
        assert!(!text.contains("Scaled to 2 workers"));
        assert_eq!(d.payload["incident_ids"].as_array().unwrap().len(), 3);
    }
    assert!(report.deliveries[1].payload["subject"]
        .as_str()
        .unwrap()
        .contains("3 warnings"));
    for w in [&w1, &w2, &w3] {
        let i = incidents::get(&env, &w.incident.id).unwrap();
        assert_eq!(i.digest_state.as_deref(), Some("digested"));
        assert_eq!(i.digested_at, Some(T0 + 5 * 60_000));
    }
    // Nothing left: the next run sends nothing, and a repeat of a digested
    // warning does not come back.
    incidents::raise(&env, new(Severity::Warning, "costs", "Spend at 91% of cap")).unwrap();
    let again = incidents::digest(&env).unwrap();
    assert_eq!((again.incidents, again.deliveries.len()), (0, 0));
    assert_eq!(count(&env, "SELECT COUNT(*) FROM incident_deliveries"), 2);
}

// ---------------------------------------------------------------- silences

fn silence_body(matcher: (&str, &str), minutes: i64) -> Value {
    json!({
        matcher.0: matcher.1,
        "comment": "provider maintenance window",
        "author": "ann",
        "duration_minutes": minutes,
    })
}

#[test]
fn an_active_silence_records_the_incident_but_sends_and_digests_nothing() {
    let (env, clock) = support::env(ALERT_VARS);
    let (status, body) = call(
        &env,
        Method::Post,
        "/api/incidents/silences",
        Some(silence_body(("source", "openai"), 60)),
    );
    assert_eq!(status, 201, "{body}");
    let silence_id = body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(body["data"]["active"], true);

    let critical =
        incidents::raise(&env, new(Severity::Critical, "openai", "5xx from provider")).unwrap();
    assert_eq!(critical.routing, Routing::Silenced);
    assert!(critical.deliveries.is_empty());
    assert_eq!(
        critical.incident.silence_id.as_deref(),
        Some(silence_id.as_str())
    );
    let warning = incidents::raise(&env, new(Severity::Warning, "openai", "Slow answers")).unwrap();
    assert_eq!(warning.routing, Routing::Silenced);
    assert_eq!(warning.incident.digest_state, None);
    assert_eq!(incidents::digest(&env).unwrap().incidents, 0);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM incident_deliveries"), 0);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM incidents"), 2);

    // Another source still pages.
    let other =
        incidents::raise(&env, new(Severity::Critical, "stripe", "Webhook failures")).unwrap();
    assert_eq!(other.routing, Routing::Page);

    // A fingerprint silence matches only that fingerprint.
    let fp = incidents::fingerprint(Severity::Critical, "notion", "Sync failed");
    let (status, _) = call(
        &env,
        Method::Post,
        "/api/incidents/silences",
        Some(silence_body(("fingerprint", &fp.to_uppercase()), 30)),
    );
    assert_eq!(status, 201);
    let matched = incidents::raise(&env, new(Severity::Critical, "notion", "Sync failed")).unwrap();
    assert_eq!(matched.routing, Routing::Silenced);
    let unmatched =
        incidents::raise(&env, new(Severity::Critical, "notion", "Token revoked")).unwrap();
    assert_eq!(unmatched.routing, Routing::Page);

    // After it expires, the source pages again.
    clock.advance(61 * 60_000);
    let after = incidents::raise(&env, new(Severity::Critical, "openai", "Provider down")).unwrap();
    assert_eq!(after.routing, Routing::Page);
    assert_eq!(after.deliveries.len(), 2);
    let (_, listed) = call(&env, Method::Get, "/api/incidents/silences", None);
    assert_eq!(listed["data"]["silences"].as_array().unwrap().len(), 0);
}

#[test]
fn invalid_silences_are_refused_with_422_and_change_nothing() {
    let (env, _) = support::env(&[("silence_max_minutes", "120")]);
    let fp = incidents::fingerprint(Severity::Info, "a", "b");
    let cases = vec![
        (
            json!({"source": "openai", "author": "ann", "duration_minutes": 30}),
            "invalid_comment",
        ),
        (
            json!({"source": "openai", "comment": "  ", "author": "ann", "duration_minutes": 30}),
            "invalid_comment",
        ),
        (
            json!({"source": "openai", "comment": "x".repeat(501), "author": "ann", "duration_minutes": 30}),
            "invalid_comment",
        ),
        (
            json!({"source": "openai", "comment": "why", "duration_minutes": 30}),
            "invalid_author",
        ),
        (
            json!({"source": "openai", "comment": "why", "author": "", "duration_minutes": 30}),
            "invalid_author",
        ),
        (
            json!({"source": "openai", "comment": "why", "author": "ann"}),
            "invalid_duration",
        ),
        (
            json!({"source": "openai", "comment": "why", "author": "ann", "duration_minutes": 0}),
            "invalid_duration",
        ),
        (
            json!({"source": "openai", "comment": "why", "author": "ann", "duration_minutes": 121}),
            "invalid_duration",
        ),
        (
            json!({"source": "openai", "comment": "why", "author": "ann", "duration_minutes": -5}),
            "invalid_duration",
        ),
        (
            json!({"source": "openai", "fingerprint": fp, "comment": "why", "author": "ann", "duration_minutes": 30}),
            "invalid_matcher",
        ),
        (
            json!({"comment": "why", "author": "ann", "duration_minutes": 30}),
            "invalid_matcher",
        ),
        (
            json!({"fingerprint": "not-a-fp", "comment": "why", "author": "ann", "duration_minutes": 30}),
            "invalid_matcher",
        ),
        (
            json!({"source": " ", "comment": "why", "author": "ann", "duration_minutes": 30}),
            "invalid_matcher",
        ),
    ];
    for (body, code) in cases {
        let (status, resp) = call(
            &env,
            Method::Post,
            "/api/incidents/silences",
            Some(body.clone()),
        );
        assert_eq!(status, 422, "{body} -> {resp}");
        assert_eq!(resp["error"]["code"], code, "{body}");
    }
    // Unknown fields are a typo, not a silence.
    let (status, resp) = call(
        &env,
        Method::Post,
        "/api/incidents/silences",
        Some(
            json!({"source": "openai", "comment": "why", "author": "ann", "duration_minutes": 30, "duration": 5}),
        ),
    );
    assert_eq!(
        (status, resp["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );
    assert_eq!(count(&env, "SELECT COUNT(*) FROM incident_silences"), 0);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM audit_log"), 0);
    // The configured maximum itself is accepted.
    let (status, _) = call(
        &env,
        Method::Post,
        "/api/incidents/silences",
        Some(silence_body(("source", "openai"), 120)),
    );
    assert_eq!(status, 201);
}

#[test]
fn creating_and_removing_a_silence_appends_to_the_audit_chain() {
    let (env, clock) = support::env(&[]);
    let (status, body) = call(
        &env,
        Method::Post,
        "/api/incidents/silences",
        Some(silence_body(("source", "openai"), 90)),
    );
    assert_eq!(status, 201);
    let id = body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(body["data"]["created_by"], "dashboard");
    assert_eq!(body["data"]["source"], "openai");
    assert_eq!(
        body["data"]["expires_at"],
        echopilot_core::time::rfc3339(T0 + 90 * 60_000)
    );
    let (_, listed) = call(&env, Method::Get, "/api/incidents/silences", None);
    assert_eq!(listed["data"]["silences"][0]["id"], id.as_str());

    clock.advance(10 * 60_000);
    let (status, removed) = call(
        &env,
        Method::Delete,
        &format!("/api/incidents/silences/{id}"),
        None,
    );
    assert_eq!(status, 200, "{removed}");
    assert_eq!(removed["data"]["active"], false);
    assert_eq!(removed["data"]["removed_by"], "dashboard");
    let (_, listed) = call(&env, Method::Get, "/api/incidents/silences", None);
    assert!(listed["data"]["silences"].as_array().unwrap().is_empty());
    // Removing twice conflicts; an unknown id is 404.
    let (status, again) = call(
        &env,
        Method::Delete,
        &format!("/api/incidents/silences/{id}"),
        None,
    );
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("silence_inactive"))
    );
    let (status, _) = call(
        &env,
        Method::Delete,
        "/api/incidents/silences/sil_nope",
        None,
    );
    assert_eq!(status, 404);

    let rows = env
        .db
        .exec(
            "SELECT action, actor, target, detail, request_id FROM audit_log ORDER BY seq",
            &[],
        )
        .unwrap();
    let entries: Vec<(String, String, String, Value, String)> = rows
        .rows
        .iter()
        .map(|r| {
            (
                r.text(0).unwrap(),
                r.text(1).unwrap(),
                r.text(2).unwrap(),
                serde_json::from_str(&r.text(3).unwrap()).unwrap(),
                r.text(4).unwrap(),
            )
        })
        .collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].0, "incident.silence_create");
    assert_eq!(entries[1].0, "incident.silence_remove");
    for e in &entries {
        assert_eq!(
            (e.1.as_str(), e.2.as_str(), e.4.as_str()),
            ("dashboard", id.as_str(), "req_test")
        );
    }
    assert_eq!(entries[0].3["comment"], "provider maintenance window");
    assert_eq!(entries[0].3["author"], "ann");
    assert_eq!(entries[0].3["duration_minutes"], 90);
    assert!(echopilot_core::audit::verify(&env).unwrap().valid);
}

// ---------------------------------------------------------------- outbox

#[test]
fn deliver_due_sends_both_channels_and_marks_them_sent() {
    let http = scripted(|r, _| happy(r));
    let (env, clock) = env_with_http(ALERT_VARS, &http);
    let raised =
        incidents::raise(&env, new(Severity::Critical, "healthcheck", "API down")).unwrap();
    clock.advance(1000);
    let report = block_on(incidents::deliver_due(&env)).unwrap();
    assert_eq!(
        (report.claimed, report.sent, report.retrying, report.failed),
        (2, 2, 0, 0)
    );

    let sent = http.sent();
    assert_eq!(sent.len(), 2);
    let tg = sent
        .iter()
        .find(|r| r.url.starts_with("http://tg.test"))
        .unwrap();
    assert_eq!(tg.method, "POST");
    assert_eq!(tg.url, format!("http://tg.test/bot{TOKEN}/sendMessage"));
    let body: Value = serde_json::from_slice(&tg.body).unwrap();
    assert_eq!(body["chat_id"], "-100200");
    assert!(body["text"]
        .as_str()
        .unwrap()
        .contains(&format!("Fingerprint: {}", raised.incident.fingerprint)));
    let mail = sent
        .iter()
        .find(|r| r.url == "http://mail.test/send")
        .unwrap();
    assert!(mail
        .headers
        .contains(&("authorization".to_string(), format!("Bearer {EMAIL_KEY}"))));
    let body: Value = serde_json::from_slice(&mail.body).unwrap();
    assert_eq!(body["to"], json!(["ops@example.com", "cto@example.com"]));
    assert_eq!(body["from"], "alerts@echopilot.test");
    assert!(body["subject"].as_str().unwrap().contains("API down"));
    assert!(body["text"]
        .as_str()
        .unwrap()
        .contains("Source: healthcheck"));

    for d in all_deliveries(&env) {
        assert_eq!(d.status, DeliveryStatus::Sent);
        assert_eq!(d.attempts, 1);
        assert_eq!(d.sent_at, Some(T0 + 1000));
        assert_eq!(d.next_attempt_at, None);
        assert_eq!(d.last_error, None);
        let code = if d.channel == Channel::Telegram {
            200
        } else {
            202
        };
        assert_eq!(d.last_status_code, Some(code));
    }
    // The incident shows its deliveries; nothing served carries a secret.
    let (status, body) = call(
        &env,
        Method::Get,
        &format!("/api/incidents/{}", raised.incident.id),
        None,
    );
    assert_eq!(status, 200);
    let deliveries = body["data"]["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries
        .iter()
        .all(|d| d["status"] == "sent" && d["attempts"] == 1));
    let (_, listed) = call(&env, Method::Get, "/api/incidents/deliveries", None);
    for served in [body.to_string(), listed.to_string()] {
        assert!(!served.contains(TOKEN) && !served.contains(EMAIL_KEY));
    }
    // Nothing is due any more.
    let again = block_on(incidents::deliver_due(&env)).unwrap();
    assert_eq!(again.claimed, 0);
    assert_eq!(http.sent().len(), 2);
}

#[test]
fn a_500_is_retried_with_growing_backoff_until_it_is_sent() {
    // Telegram fails three times with 500 (echoing the token), then accepts.
    let http = scripted(|_, n| {
        if n < 3 {
            answer(
                500,
                &[],
                json!({"description": format!("internal error for {TOKEN}")}),
            )
        } else {
            answer(200, &[], json!({"ok": true}))
        }
    });
    let (env, clock) = env_with_http(TELEGRAM_ONLY, &http);
    let raised =
        incidents::raise(&env, new(Severity::Critical, "worker", "All workers down")).unwrap();
    let id = raised.deliveries[0].id.clone();

    let mut waits = Vec::new();
    for attempt in 1..=3 {
        let report = block_on(incidents::deliver_due(&env)).unwrap();
        assert_eq!(
            (report.claimed, report.retrying),
            (1, 1),
            "attempt {attempt}"
        );
        let d = delivery(&env, &id);
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert_eq!(d.attempts, attempt);
        assert_eq!(d.last_status_code, Some(500));
        let error = d.last_error.clone().unwrap();
        assert!(error.contains("HTTP 500"), "{error}");
        assert!(
            !error.contains(TOKEN),
            "the token never reaches the record: {error}"
        );
        let next = d.next_attempt_at.unwrap();
        waits.push(next - clock.now_ms());
        // Not due before its time.
        clock.set(next - 1);
        assert_eq!(block_on(incidents::deliver_due(&env)).unwrap().claimed, 0);
        clock.set(next);
    }
    assert_eq!(waits, vec![30_000, 60_000, 120_000]);
    let report = block_on(incidents::deliver_due(&env)).unwrap();
    assert_eq!(report.sent, 1);
    let d = delivery(&env, &id);
    assert_eq!(
        (d.status, d.attempts, d.last_status_code),
        (DeliveryStatus::Sent, 4, Some(200))
    );
    assert_eq!(d.last_error, None);
    assert_eq!(http.sent().len(), 4);
}

#[test]
fn a_429_waits_for_retry_after_when_it_is_longer_than_the_backoff() {
    let http = scripted(|_, n| match n {
        0 => answer(
            429,
            &[("retry-after", "600")],
            json!({"error": "slow down"}),
        ),
        1 => answer(429, &[("retry-after", "5")], json!({"error": "slow down"})),
        _ => answer(202, &[], json!({"id": "msg_2"})),
    });
    let vars = &[
        ("email_api_base_url", "http://mail.test"),
        ("email_api_path", "/send"),
        ("alert_email_to", "ops@example.com"),
        ("alert_email_from", "alerts@echopilot.test"),
    ];
    let (env, clock) = env_with_http(vars, &http);
    let d = incidents::enqueue(
        &env,
        Channel::Email,
        &json!({"subject": "Daily report", "text": "All good."}),
        None,
    )
    .unwrap();
    assert_eq!(d.status, DeliveryStatus::Pending);
    block_on(incidents::deliver_due(&env)).unwrap();
    let after_first = delivery(&env, &d.id);
    assert_eq!(after_first.last_status_code, Some(429));
    assert_eq!(
        after_first.next_attempt_at,
        Some(T0 + 600_000),
        "Retry-After: 600 honoured"
    );

    clock.set(T0 + 600_000);
    block_on(incidents::deliver_due(&env)).unwrap();
    let after_second = delivery(&env, &d.id);
    // Retry-After 5 s is shorter than the second backoff (60 s): backoff wins.
    assert_eq!(after_second.next_attempt_at, Some(T0 + 600_000 + 60_000));
    clock.set(T0 + 660_000);
    let report = block_on(incidents::deliver_due(&env)).unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(delivery(&env, &d.id).status, DeliveryStatus::Sent);
    // Without an authorization key configured, none is sent.
    assert!(http
        .sent()
        .iter()
        .all(|r| r.headers.iter().all(|(k, _)| k != "authorization")));
}

#[test]
fn five_failures_give_the_delivery_up_as_failed() {
    let http = scripted(|_, _| Err(HttpError::Connect("connection refused".into())));
    let (env, clock) = env_with_http(TELEGRAM_ONLY, &http);
    let raised =
        incidents::raise(&env, new(Severity::Critical, "db", "Primary unreachable")).unwrap();
    let id = raised.deliveries[0].id.clone();
    for attempt in 1..=5 {
        let report = block_on(incidents::deliver_due(&env)).unwrap();
        assert_eq!(report.claimed, 1, "attempt {attempt}");
        let d = delivery(&env, &id);
        assert_eq!(d.attempts, attempt);
        assert_eq!(d.last_status_code, None);
        assert!(d
            .last_error
            .as_deref()
            .unwrap()
            .contains("connection refused"));
        if attempt < 5 {
            assert_eq!(report.retrying, 1);
            clock.set(d.next_attempt_at.unwrap());
        } else {
            assert_eq!(report.failed, 1);
            assert_eq!(d.status, DeliveryStatus::Failed);
            assert_eq!(d.next_attempt_at, None);
        }
    }
    clock.advance(24 * 3_600_000);
    assert_eq!(block_on(incidents::deliver_due(&env)).unwrap().claimed, 0);
    assert_eq!(http.sent().len(), 5);
    let (status, body) = call(
        &env,
        Method::Get,
        "/api/incidents/deliveries?status=failed",
        None,
    );
    assert_eq!(status, 200);
    let failed = body["data"]["deliveries"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["attempts"], 5);
    assert_eq!(failed[0]["max_attempts"], 5);
    let (_, pending) = call(
        &env,
        Method::Get,
        "/api/incidents/deliveries?status=pending",
        None,
    );
    assert!(pending["data"]["deliveries"].as_array().unwrap().is_empty());
}

#[test]
fn a_rejected_request_fails_at_once_and_a_refused_destination_names_the_variable() {
    let http = scripted(|r, _| {
        if r.url.starts_with("http://tg.test/") {
            answer(
                400,
                &[],
                json!({"ok": false, "description": "Bad Request: chat not found"}),
            )
        } else {
            Err(HttpError::NotAllowed(r.url.clone()))
        }
    });
    let (env, _) = env_with_http(ALERT_VARS, &http);
    incidents::raise(&env, new(Severity::Critical, "db", "Replica lag 10 min")).unwrap();
    let report = block_on(incidents::deliver_due(&env)).unwrap();
    assert_eq!(report.failed, 2);
    let ds = all_deliveries(&env);
    let tg = ds.iter().find(|d| d.channel == Channel::Telegram).unwrap();
    assert_eq!(
        (tg.status, tg.attempts, tg.last_status_code),
        (DeliveryStatus::Failed, 1, Some(400))
    );
    assert!(tg.last_error.as_deref().unwrap().contains("chat not found"));
    let mail = ds.iter().find(|d| d.channel == Channel::Email).unwrap();
    assert_eq!(mail.status, DeliveryStatus::Failed);
    assert!(mail
        .last_error
        .as_deref()
        .unwrap()
        .contains("email_api_base_url"));
}

#[test]
fn a_delivery_whose_sender_died_is_claimed_again_after_its_lease() {
    let http = scripted(|r, _| happy(r));
    let (env, clock) = env_with_http(TELEGRAM_ONLY, &http);
    incidents::raise(&env, new(Severity::Critical, "db", "Disk full")).unwrap();
    // A sender claims and dies before recording anything.
    let claimed = outbox::claim(&env, "dead-sender", 10).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        block_on(incidents::deliver_due(&env)).unwrap().claimed,
        0,
        "leased"
    );
    clock.advance(outbox::LEASE_MS);
    let report = block_on(incidents::deliver_due(&env)).unwrap();
    assert_eq!((report.claimed, report.sent), (1, 1));
    let d = delivery(&env, &claimed[0].id);
    assert_eq!(
        (d.channel, d.status, d.attempts),
        (Channel::Telegram, DeliveryStatus::Sent, 2)
    );
}

#[test]
fn two_claimers_on_one_database_never_take_the_same_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("db.sqlite"));
    {
        let (env, _) = support::env_with(SqliteDb::open(path.as_ref()).unwrap(), TELEGRAM_ONLY);
        for i in 0..40 {
            incidents::enqueue(
                &env,
                Channel::Telegram,
                &json!({"text": format!("report {i}")}),
                None,
            )
            .unwrap();
        }
    }
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|n| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                let (env, _) = support::env_with(SqliteDb::open(path.as_ref()).unwrap(), &[]);
                barrier.wait();
                let mut mine = Vec::new();
                loop {
                    let got = outbox::claim(&env, &format!("claimer-{n}"), 3).unwrap();
                    if got.is_empty() {
                        break;
                    }
                    mine.extend(got.into_iter().map(|d| d.id));
                }
                mine
            })
        })
        .collect();
    let mut all: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(
        (total, all.len()),
        (40, 40),
        "every delivery claimed exactly once"
    );
}

#[test]
fn enqueue_checks_its_payload_and_incident() {
    let (env, _) = support::env(ALERT_VARS);
    let e =
        incidents::enqueue(&env, Channel::Email, &json!({"text": "no subject"}), None).unwrap_err();
    assert_eq!((e.status(), e.code), (422, "invalid_payload"));
    let e = incidents::enqueue(
        &env,
        Channel::Telegram,
        &json!({"text": "x"}),
        Some("inc_nope"),
    )
    .unwrap_err();
    assert_eq!(e.status(), 404);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM incident_deliveries"), 0);
    let d = incidents::enqueue(
        &env,
        Channel::Email,
        &json!({"subject": "Daily report", "text": "Totals", "to": ["ceo@example.com"]}),
        None,
    )
    .unwrap();
    assert_eq!((d.status, d.incident_id), (DeliveryStatus::Pending, None));
}

// ---------------------------------------------------------------- lifecycle and handlers

#[test]
fn acknowledge_and_resolve_move_forward_only_and_are_audited() {
    let (env, clock) = support::env(&[]);
    let (status, body) = call(
        &env,
        Method::Post,
        "/api/incidents/raise",
        Some(json!({"severity": "critical", "source": "healthcheck", "message": "API down"})),
    );
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["incident"]["id"].as_str().unwrap().to_string();
    assert_eq!(body["data"]["incident"]["status"], "open");
    assert_eq!(body["data"]["incident"]["severity"], "CRITICAL");

    clock.advance(60_000);
    let ack = format!("/api/incidents/{id}/acknowledge");
    let (status, body) = call(&env, Method::Post, &ack, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "acknowledged");
    assert_eq!(body["data"]["acknowledged_by"], "dashboard");
    assert_eq!(
        body["data"]["acknowledged_at"],
        echopilot_core::time::rfc3339(T0 + 60_000)
    );
    let (status, body) = call(&env, Method::Post, &ack, Some(json!({})));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("already_acknowledged"))
    );

    let resolve = format!("/api/incidents/{id}/resolve");
    let (status, body) = call(
        &env,
        Method::Post,
        &resolve,
        Some(json!({"note": "restarted the pool"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "resolved");
    assert_eq!(body["data"]["resolved_by"], "dashboard");
    assert_eq!(body["data"]["resolution_note"], "restarted the pool");
    let (status, body) = call(&env, Method::Post, &resolve, None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("already_resolved"))
    );
    let (status, body) = call(&env, Method::Post, &ack, None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("already_resolved"))
    );

    for path in [
        "/api/incidents/inc_unknown/acknowledge",
        "/api/incidents/inc_unknown/resolve",
    ] {
        let (status, _) = call(&env, Method::Post, path, None);
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = call(&env, Method::Get, "/api/incidents/inc_unknown", None);
    assert_eq!(status, 404);
    let (status, body) = call(
        &env,
        Method::Post,
        &resolve,
        Some(json!({"note": "x".repeat(1001)})),
    );
    // The note is checked before the state.
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_note"))
    );

    assert_eq!(audit_count(&env, "incident.acknowledge"), 1);
    assert_eq!(audit_count(&env, "incident.resolve"), 1);
    let actor = env
        .db
        .query_one(
            "SELECT actor, target FROM audit_log WHERE action = 'incident.resolve'",
            &[],
        )
        .unwrap();
    assert_eq!(actor.text(0).unwrap(), "dashboard");
    assert_eq!(actor.text(1).unwrap(), id);
}

#[test]
fn raise_bodies_are_parsed_strictly() {
    let (env, _) = support::env(&[]);
    let cases = vec![
        (
            json!({"severity": "FATAL", "source": "a", "message": "b"}),
            422,
            "invalid_severity",
        ),
        (
            json!({"source": "a", "message": "b"}),
            422,
            "invalid_severity",
        ),
        (
            json!({"severity": "INFO", "message": "b"}),
            422,
            "invalid_source",
        ),
        (
            json!({"severity": "INFO", "source": "a"}),
            422,
            "invalid_message",
        ),
        (
            json!({"severity": "INFO", "source": "a", "message": "b", "links": [1, 2]}),
            422,
            "invalid_links",
        ),
        (
            json!({"severity": "INFO", "source": "a", "message": "b", "sevrity": "x"}),
            400,
            "invalid_json",
        ),
    ];
    for (body, status, code) in cases {
        let (got, resp) = call(
            &env,
            Method::Post,
            "/api/incidents/raise",
            Some(body.clone()),
        );
        assert_eq!(
            (got, resp["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    assert_eq!(count(&env, "SELECT COUNT(*) FROM incidents"), 0);

    // The original pager's `msg` field is accepted; a repeat answers 200.
    let body = json!({"severity": "Warning", "msg": "Disk 85% full", "source": "healthcheck",
                      "links": {"metric": "disk_used_pct", "value": 85}});
    let (status, first) = call(
        &env,
        Method::Post,
        "/api/incidents/raise",
        Some(body.clone()),
    );
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["data"]["incident"]["message"], "Disk 85% full");
    assert_eq!(first["data"]["incident"]["links"]["value"], 85);
    assert_eq!(first["data"]["routing"], "digest");
    let (status, second) = call(&env, Method::Post, "/api/incidents/raise", Some(body));
    assert_eq!(status, 200);
    assert_eq!(second["data"]["repeat"], true);
    assert_eq!(second["data"]["incident"]["repeat_count"], 1);
}

#[test]
fn lists_filter_and_page_with_a_cursor() {
    let (env, clock) = support::env(&[]);
    let mut ids = Vec::new();
    for (i, (sev, source)) in [
        (Severity::Critical, "db"),
        (Severity::Warning, "db"),
        (Severity::Info, "scale"),
        (Severity::Warning, "costs"),
        (Severity::Critical, "worker"),
    ]
    .into_iter()
    .enumerate()
    {
        clock.advance(60_000);
        ids.push(
            incidents::raise(&env, new(sev, source, &format!("event {i}")))
                .unwrap()
                .incident
                .id,
        );
    }
    incidents::acknowledge(&env, &ids[0], &Actor::system("test")).unwrap();

    let list = |q: &str| -> Vec<String> {
        let (status, body) = call(&env, Method::Get, &format!("/api/incidents{q}"), None);
        assert_eq!(status, 200, "{q}: {body}");
        body["data"]["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(list(""), ids.iter().rev().cloned().collect::<Vec<_>>());
    assert_eq!(
        list("?severity=critical"),
        vec![ids[4].clone(), ids[0].clone()]
    );
    assert_eq!(list("?source=db"), vec![ids[1].clone(), ids[0].clone()]);
    assert_eq!(list("?status=acknowledged"), vec![ids[0].clone()]);
    assert_eq!(
        list("?status=open&severity=WARNING"),
        vec![ids[3].clone(), ids[1].clone()]
    );
    let since = echopilot_core::time::rfc3339(T0 + 4 * 60_000);
    assert_eq!(
        list(&format!("?since={since}")),
        vec![ids[4].clone(), ids[3].clone()]
    );

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("/api/incidents?limit=2&cursor={c}"),
            None => "/api/incidents?limit=2".to_string(),
        };
        let (_, body) = call(&env, Method::Get, &q, None);
        pages += 1;
        for i in body["data"]["incidents"].as_array().unwrap() {
            seen.push(i["id"].as_str().unwrap().to_string());
        }
        match body["data"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids.iter().rev().cloned().collect::<Vec<_>>());

    for (q, code) in [
        ("?severity=fatal", "invalid_severity"),
        ("?status=closed", "invalid_status"),
        ("?limit=0", "invalid_limit"),
        ("?cursor=a;b", "invalid_cursor"),
        ("?since=yesterday", "invalid_timestamp"),
    ] {
        let (status, body) = call(&env, Method::Get, &format!("/api/incidents{q}"), None);
        assert!(status == 400 || status == 422, "{q}: {status}");
        assert_eq!(body["error"]["code"], code, "{q}");
    }
}

#[test]
fn the_summary_counts_the_window_by_severity_status_and_source() {
    let (env, clock) = support::env(&[]);
    // Empty: the seed's shape.
    let (status, body) = call(&env, Method::Post, "/api/incidents/summary", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["summary"]["total_incidents"], 0);
    assert_eq!(body["data"]["summary"]["unique_fingerprints"], 0);

    // One incident two days ago, outside a 24 h window but still open.
    incidents::raise(&env, new(Severity::Critical, "old", "Long ago")).unwrap();
    clock.advance(48 * 3_600_000);
    let a = incidents::raise(&env, new(Severity::Critical, "db", "Primary down")).unwrap();
    incidents::raise(&env, new(Severity::Critical, "db", "Primary down")).unwrap();
    incidents::raise(&env, new(Severity::Warning, "db", "Replica lag")).unwrap();
    incidents::raise(&env, new(Severity::Warning, "costs", "Spend at 91%")).unwrap();
    let i = incidents::raise(&env, new(Severity::Info, "scale", "Scaled up")).unwrap();
    incidents::resolve(&env, &i.incident.id, None, &Actor::system("t")).unwrap();
    incidents::acknowledge(&env, &a.incident.id, &Actor::system("t")).unwrap();

    let (status, body) = call(
        &env,
        Method::Post,
        "/api/incidents/summary",
        Some(json!({"hours": 24})),
    );
    assert_eq!(status, 200);
    let s = &body["data"]["summary"];
    assert_eq!(s["window_hours"], 24);
    assert_eq!(s["total_incidents"], 4);
    assert_eq!(s["total_raises"], 5);
    assert_eq!(s["unique_fingerprints"], 4);
    assert_eq!(
        s["by_severity"],
        json!({"CRITICAL": 1, "WARNING": 2, "INFO": 1})
    );
    assert_eq!(
        s["by_status"],
        json!({"open": 2, "acknowledged": 1, "resolved": 1})
    );
    assert_eq!(
        s["top_sources"][0],
        json!({"source": "db", "incidents": 2, "repeats": 1})
    );
    assert_eq!(s["top_sources"].as_array().unwrap().len(), 3);
    assert_eq!(s["open_count"], 4, "unresolved now, the old one included");
    assert_eq!(s["silenced"], 0);

    let (_, wide) = call(
        &env,
        Method::Post,
        "/api/incidents/summary",
        Some(json!({"hours": 72})),
    );
    assert_eq!(wide["data"]["summary"]["total_incidents"], 5);
    for bad in [json!({"hours": 0}), json!({"hours": 721})] {
        let (status, body) = call(&env, Method::Post, "/api/incidents/summary", Some(bad));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("invalid_hours"))
        );
    }
}

#[test]
fn other_tenants_cannot_see_or_change_platform_incidents() {
    let (env, _) = support::env(&[]);
    let raised = incidents::raise(&env, new(Severity::Critical, "db", "Down")).unwrap();
    let outsider = Principal {
        credential: echopilot_core::identity::Credential::DashboardKey,
        role: Some(Role::Admin),
        tenant: TenantId::parse("acme").unwrap(),
    };
    for (method, path) in [
        (Method::Get, "/api/incidents".to_string()),
        (
            Method::Get,
            format!("/api/incidents/{}", raised.incident.id),
        ),
        (
            Method::Post,
            format!("/api/incidents/{}/resolve", raised.incident.id),
        ),
        (Method::Get, "/api/incidents/deliveries".to_string()),
    ] {
        let (status, body) = call_as(&env, outsider.clone(), method, &path, None);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("platform_only")),
            "{path}"
        );
    }
    assert_eq!(
        incidents::get(&env, &raised.incident.id).unwrap().status,
        incidents::Status::Open
    );
}

#[test]
fn every_route_is_listed_with_its_method() {
    let table: Vec<(Method, &str)> = ROUTES.iter().map(|r| (r.method, r.pattern)).collect();
    assert_eq!(
        table,
        vec![
            (Method::Post, "/api/incidents/raise"),
            (Method::Post, "/api/incidents/summary"),
            (Method::Get, "/api/incidents"),
            (Method::Get, "/api/incidents/silences"),
            (Method::Post, "/api/incidents/silences"),
            (Method::Delete, "/api/incidents/silences/{id}"),
            (Method::Get, "/api/incidents/deliveries"),
            (Method::Get, "/api/incidents/{id}"),
            (Method::Post, "/api/incidents/{id}/acknowledge"),
            (Method::Post, "/api/incidents/{id}/resolve"),
        ]
    );
    // Literal routes win over `{id}`.
    let (route, _) = router::find(ROUTES, Method::Get, "/api/incidents/deliveries").unwrap();
    assert_eq!(route.pattern, "/api/incidents/deliveries");
}

#[test]
fn the_scheduled_job_delivers_at_once_and_digests_warnings_after_five_minutes() {
    use echopilot_core::scheduler::{JobFn, Trigger};
    let http = scripted(|r, _| happy(r));
    let (env, clock) = env_with_http(ALERT_VARS, &http);
    incidents::raise(&env, new(Severity::Warning, "slo", "Burn rate 160%")).unwrap();
    let run_at = |now_ms: i64| support::run_context(&incidents::JOB, now_ms, Trigger::Http);
    let JobFn::Async(body) = incidents::JOB.body else {
        panic!("the incidents job sends, so it is async")
    };
    // A fresh warning waits for its digest: nothing is sent yet.
    let summary = block_on(body(&env, &run_at(T0 + 30_000))).unwrap();
    assert!(summary.starts_with("claimed 0"), "{summary}");
    assert!(http.sent().is_empty());
    // Five minutes on, one digest per channel goes out in the same run.
    clock.advance(incidents::DIGEST_EVERY_MS);
    let summary = block_on(body(&env, &run_at(T0 + incidents::DIGEST_EVERY_MS))).unwrap();
    assert!(
        summary.starts_with("1 warning(s) digested into 2 deliveries; claimed 2, sent 2"),
        "{summary}"
    );
    assert_eq!(http.sent().len(), 2);
}
