//! The daily operator report: yesterday's figures (jobs by status, QA pass
//! rate, spend by model, revenue, incidents, SLO state) compared with the day
//! before, an executive summary written by the LLM from those figures (a
//! `report_gen` job, so it gets QA like any other work; the simulated
//! provider offline), served at `GET /api/reports/daily` and emailed
//! through the alert outbox once the summary is done.
//!
//! Revenue comes from the payments ledger that Stripe reconciliation keeps
//! (charges created that day, refunds as of the last reconciliation, per
//! currency in minor units); without Stripe configured the report says
//! revenue is unavailable rather than showing a zero.
//!
//! - `cron-reports` runs [`JOB`] daily at 09:00 UTC (and the operator
//!   console's `run_daily_report` on demand): [`generate`] stores the
//!   figures in `daily_reports` and submits the summary job, idempotently
//!   per day.
//! - `cron-incidents` calls [`deliver_ready`] every 30 seconds: a report
//!   whose summary job has finished (or given up) is emailed once.

pub mod api;
pub mod figures;

use crate::error::{Error, Result};
use crate::incidents::{self, Channel};
use crate::jobs::model::{Brief, JobType, NewJob, Source, Status, Title};
use crate::jobs::store;
use crate::params;
use crate::ports::{DbExt, Env};
use crate::scheduler::{self, Job, JobFn, RunContext};
use crate::tenancy::{Scope, TenantId};
use figures::{compare, for_day};
use serde_json::{json, Value};

/// The report job: daily at 09:00 UTC, for the day before.
pub const JOB: Job = Job {
    name: "reports",
    component: "cron-reports",
    schedule: "0 0 9 * * *",
    period_secs: 86_400,
    lease_secs: 600,
    max_attempts: 3,
    exclusive: true,
    body: JobFn::Sync(daily),
};

scheduler::cron_http_app!("cron-reports", "/api/internal/cron/reports", JOB);

fn daily(env: &Env, run: &RunContext) -> Result<String> {
    let day = crate::time::day_of(run.now_ms) - 1;
    let r = generate(env, day)?;
    Ok(format!(
        "report for {} stored; summary job {}",
        r["date"].as_str().unwrap_or_default(),
        r["summary_job_id"].as_str().unwrap_or("-")
    ))
}

/// The whole report of UTC day `day` as stored (figures, comparison, SLO
/// state, summary state), without storing anything.
pub(crate) fn build(env: &Env, day: i64) -> Result<Value> {
    let now = for_day(env, day)?;
    let before = for_day(env, day - 1)?;
    let slo = crate::slo::report(env)?;
    Ok(json!({
        "date": now.date,
        "figures": now,
        "day_before": before,
        "change": compare(&now, &before),
        "revenue": crate::payments::revenue_figures(env, day)?,
        "slo": {
            "burn_alert": slo.burn_alert,
            "jobs_alert": slo.jobs.level,
            "quality_alert": slo.quality.level,
            "remaining_budget_pct": slo.remaining_budget_pct,
            "deploy_gate": slo.deploy_gate.up,
            "breaches": slo.breaches,
        },
    }))
}

fn summary_brief(report: &Value) -> Result<Brief> {
    Brief::parse(&format!(
        "Write the executive summary of EchoPilot's daily operations report for {}: four to six \
         sentences for the operators, plain prose, naming what changed from the day before and \
         anything that needs attention. Use only these figures (spend in micro-dollars):\n{}",
        report["date"].as_str().unwrap_or_default(),
        serde_json::to_string_pretty(&json!({
            "figures": report["figures"], "change": report["change"], "slo": report["slo"],
            "revenue": report["revenue"],
        }))?
    ))
}

/// Store the report of UTC day `day` and submit its summary job (both once
/// per day: a second call returns the stored report). Returns the stored
/// report.
pub fn generate(env: &Env, day: i64) -> Result<Value> {
    if let Some(stored) = stored(env, day)? {
        return Ok(stored);
    }
    let report = build(env, day)?;
    let mut job = NewJob::new(JobType::ReportGen, summary_brief(&report)?);
    job.source = Source::Operator;
    job.title = Some(Title::parse(&format!(
        "Daily report {}",
        report["date"].as_str().unwrap_or_default()
    ))?);
    let key = format!("daily-report-{day}");
    let created = store::create(env, &TenantId::default_tenant(), &job, Some(&key))?;
    env.db.exec(
        "INSERT OR IGNORE INTO daily_reports (day, report, summary_job_id, state, created_at)
         VALUES (?1, ?2, ?3, 'summarizing', ?4)",
        params![
            day,
            report.to_string(),
            created.job.id.as_str(),
            env.clock.now_ms()
        ],
    )?;
    stored(env, day)?.ok_or_else(|| Error::internal("the report was not stored"))
}

/// The stored report of `day`, with its summary (the job's output once it
/// has finished) and delivery state.
pub fn stored(env: &Env, day: i64) -> Result<Option<Value>> {
    let Some(r) = env.db.query_opt(
        "SELECT report, summary_job_id, state, emailed_at, delivery_id FROM daily_reports WHERE day = ?1",
        params![day],
    )?
    else {
        return Ok(None);
    };
    let mut report: Value = serde_json::from_str(&r.text(0)?)?;
    let job_id = r.opt_text(1)?;
    let job = match &job_id {
        Some(id) => Some(store::get(env, &Scope::All, id)?),
        None => None,
    };
    report["summary"] = json!({
        "job_id": job_id,
        "status": job.as_ref().map(|j| j.status.as_str()),
        "text": job.as_ref().filter(|j| j.status == Status::Completed).and_then(|j| j.output.clone()),
    });
    report["state"] = json!(r.text(2)?);
    report["emailed_at"] = json!(r.opt_i64(3)?.map(crate::time::rfc3339));
    report["delivery_id"] = json!(r.opt_text(4)?);
    Ok(Some(report))
}

fn email_text(report: &Value) -> String {
    let summary = report["summary"]["text"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "(No executive summary: the summary job ended {}.)",
                report["summary"]["status"]
                    .as_str()
                    .unwrap_or("without output")
            )
        });
    format!(
        "{summary}\n\nFigures for {}:\n{}\n\nChange from the day before:\n{}\n\nSLOs: {}\n",
        report["date"].as_str().unwrap_or_default(),
        serde_json::to_string_pretty(&report["figures"]).unwrap_or_default(),
        serde_json::to_string_pretty(&report["change"]).unwrap_or_default(),
        report["slo"]
    )
}

/// Email every report whose summary job has finished, once each (through
/// the alert outbox, so it is retried like an alert). Returns how many.
pub fn deliver_ready(env: &Env) -> Result<usize> {
    let rows = env.db.exec(
        "SELECT r.day FROM daily_reports r JOIN jobs j ON j.id = r.summary_job_id
         WHERE r.state = 'summarizing' AND j.status IN ('completed', 'failed', 'dead', 'cancelled')",
        params![],
    )?;
    let mut sent = 0;
    for row in &rows.rows {
        let day = row.i64(0)?;
        let Some(report) = stored(env, day)? else {
            continue;
        };
        let payload = json!({
            "subject": format!("EchoPilot daily report {}", report["date"].as_str().unwrap_or_default()),
            "text": email_text(&report),
        });
        // Claim the report first so two callers never email it twice.
        let claimed = env.db.query_opt(
            "UPDATE daily_reports SET state = 'sent', emailed_at = ?2 WHERE day = ?1 AND state = 'summarizing' RETURNING day",
            params![day, env.clock.now_ms()],
        )?;
        if claimed.is_none() {
            continue;
        }
        let delivery = incidents::enqueue(env, Channel::Email, &payload, None)?;
        env.db.exec(
            "UPDATE daily_reports SET delivery_id = ?2 WHERE day = ?1",
            params![day, delivery.id.as_str()],
        )?;
        sent += 1;
    }
    Ok(sent)
}
