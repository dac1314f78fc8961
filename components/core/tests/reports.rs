//! The daily report: exact figures for a day and the change from the day
//! before, stored once per day with its summary job, the summary written
//! by the worker (QA'd like any work), emailed once through the outbox.

mod support;

use echopilot_core::ai::worker::drain;
use echopilot_core::incidents::{self, NewIncident, Severity};
use echopilot_core::jobs::model::{Brief, JobType, NewJob};
use echopilot_core::jobs::store;
use echopilot_core::ports::DbExt;
use echopilot_core::reports;
use echopilot_core::tenancy::TenantId;
use echopilot_core::time::DAY_MS;
use futures::executor::block_on;
use support::*;

const OPS: &echopilot_core::app::App = &echopilot_core::ops::api::APP;

#[test]
fn a_day_is_reported_against_the_day_before_summarized_and_emailed_once() {
    let mock = mock_openai(vec![Ok(grades(95, 95, 95, 95))]);
    let mut vars = OPENAI_VARS.to_vec();
    vars.extend([
        ("alert_email_from", "reports@echopilot.test"),
        ("alert_email_to", "ops@echopilot.test"),
    ]);
    let (mut env, clock) = env(&vars);
    env.http = Box::new(SharedHttp(mock.http.clone()));
    let day0 = T0.div_euclid(DAY_MS);
    // Day before: one job; the day: two jobs and a warning.
    clock.set(day0 * DAY_MS + 3_600_000);
    let submit = |env: &echopilot_core::ports::Env| {
        let job = NewJob::new(JobType::AiTask, Brief::parse("Write a note").unwrap());
        store::create(env, &TenantId::default_tenant(), &job, None).unwrap();
    };
    submit(&env);
    block_on(drain(&env)).unwrap();
    clock.set((day0 + 1) * DAY_MS + 3_600_000);
    submit(&env);
    submit(&env);
    block_on(drain(&env)).unwrap();
    incidents::raise(
        &env,
        NewIncident {
            severity: Severity::Warning,
            source: "queue".into(),
            message: "slow".into(),
            links: serde_json::Value::Null,
        },
    )
    .unwrap();

    // The next morning the report for day0 + 1 is generated.
    clock.set((day0 + 2) * DAY_MS + 9 * 3_600_000);
    let r = reports::generate(&env, day0 + 1).unwrap();
    assert_eq!(r["figures"]["jobs_created"], 2);
    assert_eq!(r["figures"]["jobs_by_status"]["completed"], 2);
    assert_eq!(r["figures"]["qa_passed"], 2);
    assert_eq!(r["figures"]["qa_pass_rate_pct"], 100.0);
    assert_eq!(r["figures"]["incidents_by_severity"]["WARNING"], 1);
    assert_eq!(r["day_before"]["jobs_created"], 1);
    assert_eq!(r["change"]["jobs_created"], 1);
    let spend = r["figures"]["spend_total_micros"].as_i64().unwrap();
    assert_eq!(
        r["change"]["spend_total_micros"].as_i64().unwrap(),
        spend / 2,
        "two jobs against one"
    );
    assert_eq!(r["revenue"]["available"], false);
    assert_eq!(r["state"], "summarizing");
    let job_id = r["summary"]["job_id"].as_str().unwrap().to_string();
    // Generating again returns the stored report, no second job.
    let again = reports::generate(&env, day0 + 1).unwrap();
    assert_eq!(again["summary"]["job_id"], job_id.as_str());

    // Nothing is emailed before the summary is written.
    assert_eq!(reports::deliver_ready(&env).unwrap(), 0);
    block_on(drain(&env)).unwrap();
    let job = store::get(&env, &echopilot_core::tenancy::Scope::All, &job_id).unwrap();
    assert_eq!(job.job_type.as_str(), "report_gen");
    assert_eq!(job.status.as_str(), "completed");
    assert_eq!(reports::deliver_ready(&env).unwrap(), 1);
    assert_eq!(reports::deliver_ready(&env).unwrap(), 0, "once");
    let payload = env
        .db
        .query_one("SELECT channel, payload FROM incident_deliveries", &[])
        .unwrap();
    assert_eq!(payload.text(0).unwrap(), "email");
    let p: serde_json::Value = serde_json::from_str(&payload.text(1).unwrap()).unwrap();
    assert!(p["subject"].as_str().unwrap().contains("daily report"));
    assert!(
        p["text"].as_str().unwrap().starts_with("Finished work."),
        "the summary leads: {p}"
    );

    // The API serves it with the summary.
    let date = r["date"].as_str().unwrap().to_string();
    let (resp, body) = call(
        OPS,
        &env,
        op_get(&format!("/api/reports/daily?date={date}")),
    );
    assert_eq!(resp.status, 200, "{body}");
    assert_eq!(body["data"]["summary"]["text"], "Finished work.");
    assert_eq!(body["data"]["state"], "sent");
    let (resp, body) = call(OPS, &env, op_get("/api/reports/daily?date=yesterday"));
    assert_eq!(
        (resp.status, body["error"]["code"].as_str()),
        (400, Some("invalid_date"))
    );
}

#[test]
fn a_day_without_a_stored_report_is_computed_on_the_fly() {
    let (env, _) = env(&[("dashboard_key", DASH_KEY)]);
    let (resp, body) = call(OPS, &env, op_get("/api/reports/daily"));
    assert_eq!(resp.status, 200, "{body}");
    assert_eq!(body["data"]["state"], "not_generated");
    assert_eq!(body["data"]["figures"]["jobs_created"], 0);
}
