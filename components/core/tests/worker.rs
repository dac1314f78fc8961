//! The worker and the queue on real SQLite with a scripted OpenAI: costs
//! and tokens, QA retries with feedback, rate limits, dead letters, lease
//! recovery, fairness, priority, concurrency and replicas.

mod support;

use echopilot_core::adapters::native::SqliteDb;
use echopilot_core::ai::worker::{drain, TickReport};
use echopilot_core::jobs::model::{Brief, JobType, NewJob, Priority};
use echopilot_core::jobs::queue::{self, ClaimPolicy};
use echopilot_core::jobs::store;
use echopilot_core::ports::{DbExt, Env, HttpError, OutboundResponse};
use echopilot_core::tenancy::{Scope, TenantId};
use futures::executor::block_on;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::*;

fn submit(env: &Env, tenant: &str, brief: &str, priority: Priority) -> String {
    let mut job = NewJob::new(JobType::AiTask, Brief::parse(brief).unwrap());
    job.priority = priority;
    store::create(env, &TenantId::parse(tenant).unwrap(), &job, None)
        .unwrap()
        .job
        .id
}

fn job(env: &Env, id: &str) -> echopilot_core::jobs::Job {
    store::get(env, &Scope::All, id).unwrap()
}

fn openai_env(
    mock: &MockOpenAi,
    extra: &[(&str, &str)],
) -> (Env, echopilot_core::adapters::native::ManualClock) {
    let mut vars = OPENAI_VARS.to_vec();
    vars.extend_from_slice(extra);
    let (mut env, clock) = env(&vars);
    env.http = Box::new(SharedHttp(mock.http.clone()));
    (env, clock)
}

fn tick(env: &Env) -> TickReport {
    block_on(drain(env)).unwrap()
}

#[test]
fn a_brief_becomes_a_graded_job_with_exact_tokens_and_cost() {
    let mock = mock_openai(vec![Ok(grades(90, 85, 88, 95))]);
    let (env, _) = openai_env(&mock, &[]);
    let id = submit(&env, "default", "Write a launch email", Priority::Normal);
    let report = tick(&env);
    assert_eq!((report.claimed, report.completed), (1, 1), "{report:?}");
    let j = job(&env, &id);
    assert_eq!(j.status.as_str(), "completed");
    assert_eq!(j.output.as_deref(), Some("Finished work."));
    assert_eq!(
        (j.tokens_in, j.tokens_out, j.qa_tokens_in, j.qa_tokens_out),
        (1000, 500, 800, 100)
    );
    // gpt-4o: 1000 x 2.50 + 500 x 10.00 = 7,500 µ$; gpt-4o-mini: 800 x 0.15 + 100 x 0.60 = 180 µ$.
    assert_eq!((j.cost_micros, j.qa_cost_micros), (7_680, 180));
    assert_eq!(j.qa_score, Some(89.5));
    assert_eq!(j.qa_passed, Some(true));
    assert_eq!(
        (
            j.model.as_deref(),
            j.qa_model.as_deref(),
            j.provider.as_deref()
        ),
        (Some("gpt-4o"), Some("gpt-4o-mini"), Some("openai"))
    );
    assert_eq!(j.prompt_template_id.as_deref(), Some("pt_ai_task_v1"));
    assert!(!j.simulated);
    let attempts = store::attempts(&env, &j).unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status, "passed");
    assert_eq!(attempts[0].price_version.as_deref(), Some("openai-2025-08"));
    assert_eq!(attempts[0].cost["micros"], 7_500);
    assert_eq!(attempts[0].qa_cost["micros"], 180);
    // The request carried the key, the model and the brief.
    let sent = mock.http.sent();
    assert!(sent[0]
        .headers
        .iter()
        .any(|(k, v)| k == "authorization" && v == "Bearer sk-test"));
    assert!(String::from_utf8_lossy(&sent[0].body).contains("Write a launch email"));
}

#[test]
fn a_failed_grade_reruns_with_feedback_on_the_failed_criteria_only() {
    let mock = mock_openai(vec![Ok(grades(95, 20, 90, 95)), Ok(grades(92, 88, 90, 95))]);
    let (env, _) = openai_env(&mock, &[]);
    let id = submit(&env, "default", "Explain tides", Priority::Normal);
    let report = tick(&env);
    assert_eq!(report.completed, 1);
    let j = job(&env, &id);
    assert_eq!(j.status.as_str(), "completed");
    assert_eq!((j.tokens_in, j.tokens_out), (2000, 1000), "two work rounds");
    let attempts = store::attempts(&env, &j).unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|a| a.status.as_str())
            .collect::<Vec<_>>(),
        ["qa_failed", "passed"]
    );
    let feedback = attempts[1].feedback.as_deref().unwrap();
    assert!(feedback.contains("accuracy (20/100)"), "{feedback}");
    assert!(
        !feedback.contains("clarity"),
        "only failed criteria: {feedback}"
    );
    let second_work = mock
        .http
        .sent()
        .into_iter()
        .filter(|r| !is_grading(r))
        .nth(1)
        .unwrap();
    assert!(String::from_utf8_lossy(&second_work.body).contains("accuracy (20/100)"));
}

#[test]
fn qa_that_never_passes_fails_the_job_after_the_retries() {
    let mock = mock_openai(vec![Ok(grades(50, 50, 50, 50))]);
    let (env, _) = openai_env(&mock, &[("qa_max_retries", "2")]);
    let id = submit(&env, "default", "x", Priority::Normal);
    let report = tick(&env);
    assert_eq!(report.qa_failed, 1);
    let j = job(&env, &id);
    assert_eq!(j.status.as_str(), "failed");
    assert_eq!(j.qa_passed, Some(false));
    assert_eq!(mock.work_calls.load(Ordering::SeqCst), 3);
    assert_eq!(store::attempts(&env, &j).unwrap().len(), 3);
}

#[test]
fn malformed_grades_are_asked_again_once_then_fail_the_attempt() {
    let mock = mock_openai(vec![
        Ok("I think it is good".into()),
        Ok(grades(90, 90, 90, 90)),
    ]);
    let (env, _) = openai_env(&mock, &[]);
    let id = submit(&env, "default", "x", Priority::Normal);
    tick(&env);
    assert_eq!(job(&env, &id).status.as_str(), "completed");
    assert_eq!(mock.grade_calls.load(Ordering::SeqCst), 2);

    let mock = mock_openai(vec![Ok("nope".into())]);
    let (env, _) = openai_env(&mock, &[]);
    let id = submit(&env, "default", "x", Priority::Normal);
    let report = tick(&env);
    assert_eq!(report.retried, 1);
    let j = job(&env, &id);
    assert_eq!(j.status.as_str(), "queued");
    assert!(j.last_error.unwrap().contains("qa_malformed"));
    assert!(j.run_at > T0, "backoff before the next attempt");
}

#[test]
fn rate_limits_are_waited_out_when_short_and_snoozed_when_long() {
    // Short Retry-After: retried inside the call, the job completes.
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let http = echopilot_core::adapters::native::ScriptedHttp::new(move |req| {
        if c.fetch_add(1, Ordering::SeqCst) == 0 {
            return Ok(OutboundResponse {
                status: 429,
                headers: vec![("retry-after".into(), "2".into())],
                body: vec![],
            });
        }
        Ok(if is_grading(req) {
            completion(&grades(90, 90, 90, 90), "gpt-4o-mini", 10, 10)
        } else {
            completion("ok", "gpt-4o", 10, 10)
        })
    });
    let (mut env, clock) = env(OPENAI_VARS);
    env.http = Box::new(http);
    let id = submit(&env, "default", "x", Priority::Normal);
    tick(&env);
    assert_eq!(job(&env, &id).status.as_str(), "completed");
    assert!(clock_ms(&clock) >= T0 + 2000, "waited the Retry-After");

    // Long Retry-After: snoozed, no attempt spent.
    let http = echopilot_core::adapters::native::ScriptedHttp::new(|_| {
        Ok(OutboundResponse {
            status: 429,
            headers: vec![("retry-after".into(), "120".into())],
            body: vec![],
        })
    });
    let (mut env, _) = support::env(OPENAI_VARS);
    env.http = Box::new(http);
    let id = submit(&env, "default", "x", Priority::Normal);
    let report = tick(&env);
    assert_eq!(report.snoozed, 1);
    let j = job(&env, &id);
    assert_eq!((j.status.as_str(), j.attempts), ("queued", 0));
    assert_eq!(j.run_at, T0 + 120_000);
    assert_eq!(store::attempts(&env, &j).unwrap()[0].status, "snoozed");
}

fn clock_ms(c: &echopilot_core::adapters::native::ManualClock) -> i64 {
    use echopilot_core::ports::Clock;
    c.now_ms()
}

#[test]
fn server_errors_retry_with_backoff_until_the_job_is_dead() {
    let http = echopilot_core::adapters::native::ScriptedHttp::new(|_| {
        Ok(OutboundResponse {
            status: 503,
            headers: vec![],
            body: vec![],
        })
    });
    let (mut env, clock) = env(&[
        OPENAI_VARS,
        &[("retry_base_ms", "1000"), ("retry_cap_ms", "8000")],
    ]
    .concat());
    env.http = Box::new(http);
    let mut new = NewJob::new(JobType::AiTask, Brief::parse("x").unwrap());
    new.max_attempts = Some(3);
    let id = store::create(&env, &TenantId::default_tenant(), &new, None)
        .unwrap()
        .job
        .id;
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        clock.advance(60_000);
        let r = tick(&env);
        outcomes.push((r.retried, r.dead));
    }
    assert_eq!(outcomes, [(1, 0), (1, 0), (0, 1)]);
    let j = job(&env, &id);
    assert_eq!(j.status.as_str(), "dead");
    assert!(j.dead_reason.as_deref().unwrap().contains("HTTP 503"));
    assert_eq!(j.source.as_str(), "api", "keeps where it came from");
    assert_eq!(store::attempts(&env, &j).unwrap().len(), 3);
    // The death raised a WARNING linking the job.
    let incident = env
        .db
        .query_one(
            "SELECT severity, source, links, repeat_count FROM incidents",
            &[],
        )
        .unwrap();
    assert_eq!(incident.text(0).unwrap(), "WARNING");
    assert_eq!(incident.text(1).unwrap(), "queue");
    let links: serde_json::Value = serde_json::from_str(&incident.text(2).unwrap()).unwrap();
    assert_eq!(links["job_ids"], serde_json::json!([id]));
}

#[test]
fn permanent_errors_fail_at_once() {
    let http = echopilot_core::adapters::native::ScriptedHttp::new(|_| {
        Ok(OutboundResponse {
            status: 401,
            headers: vec![],
            body: br#"{"error":{"message":"Incorrect API key"}}"#.to_vec(),
        })
    });
    let (mut env, _) = env(OPENAI_VARS);
    env.http = Box::new(http);
    let id = submit(&env, "default", "x", Priority::Normal);
    assert_eq!(tick(&env).failed, 1);
    let j = job(&env, &id);
    assert_eq!(j.status.as_str(), "failed");
    assert!(j.last_error.unwrap().contains("Incorrect API key"));
}

#[test]
fn a_dead_worker_s_job_is_recovered_after_its_lease_with_an_abandoned_attempt() {
    let mock = mock_openai(vec![Ok(grades(90, 90, 90, 90))]);
    let (env, clock) = openai_env(&mock, &[]);
    let id = submit(&env, "default", "x", Priority::Normal);
    // A worker claims the job and dies.
    let claimed = queue::claim(
        &env,
        "wrk_dead",
        ClaimPolicy {
            lease_ms: 60_000,
            aging_ms: 600_000,
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(claimed.id, id);
    assert_eq!(tick(&env).claimed, 0, "still leased");
    clock.advance(61_000);
    let report = tick(&env);
    assert_eq!((report.reaped, report.completed), (1, 1));
    let j = job(&env, &id);
    assert_eq!((j.status.as_str(), j.attempts), ("completed", 2));
    let statuses: Vec<String> = store::attempts(&env, &j)
        .unwrap()
        .into_iter()
        .map(|a| a.status)
        .collect();
    assert_eq!(statuses, ["abandoned", "passed"]);
}

#[test]
fn a_job_cancelled_while_processing_keeps_its_cancellation() {
    let (env, _) = env(&[("dashboard_key", DASH_KEY)]);
    let id = submit(&env, "default", "x", Priority::Normal);
    let claimed = queue::claim(
        &env,
        "w1",
        ClaimPolicy {
            lease_ms: 60_000,
            aging_ms: 600_000,
        },
    )
    .unwrap()
    .unwrap();
    store::cancel(&env, &Scope::All, &id, "changed my mind").unwrap();
    let done = queue::Finish::Done(queue::Completion {
        output: "late".into(),
        qa_passed: true,
        ..Default::default()
    });
    assert!(
        !queue::finish(&env, &claimed, "w1", &done).unwrap(),
        "the claim is lost"
    );
    let j = job(&env, &id);
    assert_eq!((j.status.as_str(), j.output), ("cancelled", None));
}

#[test]
fn one_tenants_backlog_does_not_starve_another_and_priority_comes_first() {
    let (env, _) = env(&[]);
    for i in 0..1000 {
        submit(&env, "big", &format!("bulk {i}"), Priority::Normal);
    }
    let small = submit(&env, "small", "just one", Priority::Normal);
    let policy = ClaimPolicy {
        lease_ms: 60_000,
        aging_ms: 3_600_000,
    };
    let first_two: Vec<String> = (0..2)
        .map(|_| queue::claim(&env, "w", policy).unwrap().unwrap().id)
        .collect();
    assert!(
        first_two.contains(&small),
        "the small tenant is served within two claims: {first_two:?}"
    );

    let low = submit(&env, "small", "low", Priority::Low);
    let critical = submit(&env, "big", "urgent", Priority::Critical);
    assert_eq!(
        queue::claim(&env, "w", policy).unwrap().unwrap().id,
        critical
    );
    let next = queue::claim(&env, "w", policy).unwrap().unwrap();
    assert_ne!(next.id, low, "normal work before low");
}

#[test]
fn waiting_jobs_age_up_a_priority_level() {
    let (env, clock) = env(&[]);
    let low = submit(&env, "a", "old low", Priority::Low);
    clock.advance(30 * 60_000);
    submit(&env, "b", "new normal", Priority::Normal);
    let policy = ClaimPolicy {
        lease_ms: 60_000,
        aging_ms: 10 * 60_000,
    };
    assert_eq!(
        queue::claim(&env, "w", policy).unwrap().unwrap().id,
        low,
        "30 min of waiting lifts low above normal"
    );
}

#[test]
fn jobs_scheduled_later_are_not_claimed_early() {
    let (env, clock) = env(&[]);
    let mut later = NewJob::new(JobType::AiTask, Brief::parse("later").unwrap());
    later.run_at = Some(T0 + 3_600_000);
    store::create(&env, &TenantId::default_tenant(), &later, None).unwrap();
    let policy = ClaimPolicy {
        lease_ms: 60_000,
        aging_ms: 600_000,
    };
    assert!(queue::claim(&env, "w", policy).unwrap().is_none());
    clock.advance(3_600_000);
    assert!(queue::claim(&env, "w", policy).unwrap().is_some());
}

#[test]
fn a_tick_keeps_many_jobs_in_flight() {
    let mock = mock_openai(vec![Ok(grades(90, 90, 90, 90))]);
    let (env, _) = openai_env(&mock, &[("worker_concurrency", "8")]);
    for i in 0..20 {
        submit(&env, "default", &format!("job {i}"), Priority::Normal);
    }
    let report = tick(&env);
    assert_eq!((report.claimed, report.completed), (20, 20));
    assert_eq!(report.peak_in_flight, 8);
}

#[test]
fn the_simulated_provider_completes_work_offline_and_says_so() {
    let (env, _) = env(&[]);
    let id = submit(&env, "default", "Draft a welcome note", Priority::Normal);
    assert_eq!(tick(&env).completed, 1);
    let j = job(&env, &id);
    assert!(j.simulated);
    assert_eq!(
        (j.provider.as_deref(), j.model.as_deref(), j.cost_micros),
        (Some("simulated"), Some("simulated"), 0)
    );
    assert!(j.output.unwrap().contains("Simulated"));
}

#[test]
fn two_workers_on_one_database_run_every_job_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("db.sqlite"));
    {
        let (env, _) = env_with(SqliteDb::open(path.as_ref()).unwrap(), &[]);
        for i in 0..60 {
            submit(
                &env,
                if i % 2 == 0 { "a" } else { "b" },
                &format!("job {i}"),
                Priority::Normal,
            );
        }
    }
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mock = mock_openai(vec![Ok(grades(90, 90, 90, 90))]);
                let (mut env, _) = env_with(
                    SqliteDb::open(path.as_ref()).unwrap(),
                    &[OPENAI_VARS, &[("worker_concurrency", "4")]].concat(),
                );
                env.http = Box::new(SharedHttp(mock.http.clone()));
                barrier.wait();
                let mut claimed = 0;
                for _ in 0..50 {
                    let r = tick(&env);
                    claimed += r.claimed;
                    if r.claimed == 0 {
                        break;
                    }
                }
                (claimed, mock.work_calls.load(Ordering::SeqCst))
            })
        })
        .collect();
    let results: Vec<(usize, usize)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().map(|r| r.0).sum::<usize>(),
        60,
        "{results:?}"
    );
    assert_eq!(
        results.iter().map(|r| r.1).sum::<usize>(),
        60,
        "each job's work ran once"
    );
    let (env, _) = env_with(SqliteDb::open(path.as_ref()).unwrap(), &[]);
    let completed = env
        .db
        .query_one(
            "SELECT COUNT(*) FROM jobs WHERE status = 'completed' AND attempts = 1",
            &[],
        )
        .unwrap()
        .i64(0)
        .unwrap();
    assert_eq!(completed, 60);
}

#[test]
fn the_queue_refuses_hosts_the_component_may_not_reach() {
    let http = echopilot_core::adapters::native::ScriptedHttp::new(|r| {
        Err(HttpError::NotAllowed(r.url.clone()))
    });
    let (mut env, _) = env(OPENAI_VARS);
    env.http = Box::new(http);
    let id = submit(&env, "default", "x", Priority::Normal);
    assert_eq!(tick(&env).failed, 1);
    assert!(job(&env, &id)
        .last_error
        .unwrap()
        .contains("allowed_outbound_hosts"));
}
