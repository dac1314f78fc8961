//! One sync run: intake of Queued pages, write-back of finished jobs, then
//! the workflows' new-page triggers ([`notion_trigger`]).

use super::client::{Notion, NotionError};
use super::page::{heading, paragraphs, QueuedPage};
use super::settings::NotionSettings;
use crate::error::Result;
use crate::integrations;
use crate::jobs::model::{Brief, Email, JobType, NewJob, Priority, Source, Status, Title};
use crate::jobs::record::{Job, JOB_COLUMNS};
use crate::jobs::store;
use crate::params;
use crate::ports::{DbExt, Env};
use crate::tenancy::TenantId;
use crate::workflows::notion_trigger;
use serde::Serialize;

/// Stop starting Notion requests after this long (the run is every minute).
const BUDGET_MS: f64 = 45_000.0;
/// Queue pages read per run (25 per request).
const MAX_QUERY_PAGES: usize = 8;
/// Finished jobs written back per run.
const MAX_WRITE_BACKS: i64 = 25;

/// What a sync run did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SyncReport {
    /// `not_configured`, `ok`, `rate_limited` or `error`.
    pub state: &'static str,
    /// Jobs created from pages.
    pub created: usize,
    /// Pages whose job already existed (a re-poll).
    pub replayed: usize,
    /// Pages refused (empty brief).
    pub refused: usize,
    /// Finished jobs written back.
    pub written_back: usize,
    /// Write-backs Notion refused for good (page gone).
    pub write_back_failed: usize,
    /// Workflow runs started by new pages (new-Notion-page triggers).
    pub runs_started: usize,
    /// Requests sent.
    pub requests: usize,
    /// The error that stopped the run early, if any.
    pub error: Option<String>,
}

impl SyncReport {
    /// One line for the scheduler's run record.
    pub fn summary(&self) -> String {
        match self.state {
            "not_configured" => "notion not configured (set notion_token and notion_queue_db)".to_string(),
            _ => format!(
                "{}: created {}, re-polled {}, refused {}, written back {}, write-back failed {}, workflow runs started {}, {} requests{}",
                self.state,
                self.created,
                self.replayed,
                self.refused,
                self.written_back,
                self.write_back_failed,
                self.runs_started,
                self.requests,
                self.error.as_deref().map(|e| format!("; {e}")).unwrap_or_default()
            ),
        }
    }
}

/// Run one sync.
pub async fn run_sync(env: &Env) -> Result<SyncReport> {
    let Some(s) = NotionSettings::load(env.config.as_ref())? else {
        integrations::record(
            env,
            "notion",
            "not_configured",
            "set notion_token and notion_queue_db",
        )?;
        return Ok(SyncReport {
            state: "not_configured",
            ..Default::default()
        });
    };
    let client = Notion::new(env, &s);
    let deadline = env.clock.monotonic_ms() + BUDGET_MS;
    let mut report = SyncReport {
        state: "ok",
        ..Default::default()
    };
    let outcome = async {
        intake(env, &s, &client, deadline, &mut report).await?;
        write_back(env, &s, &client, deadline, &mut report).await?;
        let triggers = notion_trigger::poll(env, &s, &client, deadline).await?;
        report.runs_started = triggers.started;
        Ok::<(), NotionError>(())
    }
    .await;
    report.requests = client.requests.get();
    if let Err(e) = outcome {
        report.state = if matches!(e, NotionError::RateLimited(_)) {
            "rate_limited"
        } else {
            "error"
        };
        report.error = Some(e.to_string());
    }
    integrations::record(env, "notion", report.state, &report.summary())?;
    Ok(report)
}

/// A select's label as a job type or priority: `AI Task` → `ai_task`.
fn normalise(label: &str) -> String {
    label.trim().to_ascii_lowercase().replace([' ', '-'], "_")
}

async fn intake(
    env: &Env,
    s: &NotionSettings,
    client: &Notion<'_>,
    deadline: f64,
    report: &mut SyncReport,
) -> std::result::Result<(), NotionError> {
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_QUERY_PAGES {
        if env.clock.monotonic_ms() > deadline {
            break;
        }
        let answer = client.query_queued(cursor.as_deref()).await?;
        let pages = answer
            .get("results")
            .and_then(|r| r.as_array())
            .cloned()
            .unwrap_or_default();
        for raw in &pages {
            let Some(page) = QueuedPage::parse(raw, s) else {
                continue;
            };
            match job_for(&page, s) {
                Ok(new) => {
                    let key = format!("notion:{}:{}", page.id, page.last_edited);
                    match store::create(env, &TenantId::default_tenant(), &new, Some(&key)) {
                        Ok(c) if c.replayed => report.replayed += 1,
                        Ok(_) => report.created += 1,
                        Err(e) => {
                            crate::log::error(
                                "notion",
                                &format!("page {}: could not create the job: {e}", page.id),
                            );
                            continue;
                        }
                    }
                    client.set_status(&page.id, &s.in_progress).await?;
                }
                Err(why) => {
                    report.refused += 1;
                    client.set_status(&page.id, &s.failed).await?;
                    let mut blocks = vec![heading("EchoPilot could not start this task")];
                    blocks.extend(paragraphs(&why));
                    client.append(&page.id, blocks).await?;
                }
            }
        }
        match answer.get("next_cursor").and_then(|c| c.as_str()) {
            Some(next) if answer.get("has_more").and_then(|h| h.as_bool()) == Some(true) => {
                cursor = Some(next.to_string())
            }
            _ => break,
        }
    }
    Ok(())
}

fn job_for(page: &QueuedPage, s: &NotionSettings) -> std::result::Result<NewJob, String> {
    let brief = Brief::parse(&page.brief)
        .map_err(|e| format!("The `{}` property: {}", s.brief_prop, e.message))?;
    let job_type = page
        .job_type
        .as_deref()
        .map(normalise)
        .and_then(|t| JobType::parse(&t).ok())
        .unwrap_or(JobType::AiTask);
    let mut job = NewJob::new(job_type, brief);
    job.source = Source::Notion;
    job.priority = page
        .priority
        .as_deref()
        .map(normalise)
        .and_then(|p| Priority::parse(&p).ok())
        .unwrap_or(Priority::Normal);
    job.title = Title::parse(&page.title).ok();
    job.email = page.email.as_deref().and_then(|e| Email::parse(e).ok());
    job.external_ref = Some(page.id.clone());
    Ok(job)
}

fn metrics_line(j: &Job) -> String {
    format!(
        "Job {} · {} · QA {} · model {} · tokens {} in / {} out (grading {} / {}) · cost ${:.6} · latency {} ms{}",
        j.id,
        j.status.as_str(),
        j.qa_score.map(|s| format!("{s:.1}/100{}", if j.qa_passed == Some(true) { " passed" } else { " not passed" })).unwrap_or_else(|| "n/a".into()),
        j.model.as_deref().unwrap_or("n/a"),
        j.tokens_in,
        j.tokens_out,
        j.qa_tokens_in,
        j.qa_tokens_out,
        j.cost_micros as f64 / 1e6,
        j.latency_ms.map(|l| l.to_string()).unwrap_or_else(|| "n/a".into()),
        if j.simulated { " · simulated" } else { "" }
    )
}

async fn write_back(
    env: &Env,
    s: &NotionSettings,
    client: &Notion<'_>,
    deadline: f64,
    report: &mut SyncReport,
) -> std::result::Result<(), NotionError> {
    let rows = env
        .db
        .exec(
            &format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE sync_state = 'pending' AND source = 'notion'
                 ORDER BY finished_at LIMIT ?1"
            ),
            params![MAX_WRITE_BACKS],
        )
        .map_err(|e| NotionError::Unavailable(format!("database: {e}")))?;
    for row in &rows.rows {
        if env.clock.monotonic_ms() > deadline {
            break;
        }
        let Ok(job) = Job::from_row(row) else {
            continue;
        };
        let Some(page) = job.external_ref.clone() else {
            continue;
        };
        let done = job.status == Status::Completed;
        let mut blocks = vec![heading(if done {
            "EchoPilot result"
        } else {
            "EchoPilot could not finish this task"
        })];
        match (&job.output, done) {
            (Some(out), true) => blocks.extend(paragraphs(out)),
            _ => blocks.extend(paragraphs(
                job.dead_reason
                    .as_deref()
                    .or(job.last_error.as_deref())
                    .unwrap_or("The job did not complete."),
            )),
        }
        blocks.extend(paragraphs(&metrics_line(&job)));
        let result = async {
            client
                .set_status(&page, if done { &s.done } else { &s.failed })
                .await?;
            client.append(&page, blocks.clone()).await?;
            if let Some(db) = &s.log_db {
                let title = job.title.clone().unwrap_or_else(|| job.id.clone());
                client.log_entry(db, &title, blocks.clone()).await?;
            }
            Ok::<(), NotionError>(())
        }
        .await;
        let state = match result {
            Ok(()) => {
                report.written_back += 1;
                "done"
            }
            Err(NotionError::NotFound(m)) | Err(NotionError::Rejected(_, m)) => {
                crate::log::error(
                    "notion",
                    &format!("job {}: write-back refused: {m}", job.id),
                );
                report.write_back_failed += 1;
                "failed"
            }
            Err(e) => return Err(e),
        };
        env.db
            .exec(
                "UPDATE jobs SET sync_state = ?2 WHERE id = ?1 AND sync_state = 'pending'",
                params![job.id.as_str(), state],
            )
            .map_err(|e| NotionError::Unavailable(format!("database: {e}")))?;
    }
    Ok(())
}
