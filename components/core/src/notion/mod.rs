//! Notion: the Automation Queue database as a source of work, and the page
//! (plus, optionally, the Job Log database) as the place results go back.
//!
//! `cron-notion-sync` runs every minute. Intake queries pages whose status
//! is Queued (with pagination), creates one job per page and edit (the key
//! is the page id plus its last-edited time, so an edited brief is new work
//! and a re-poll is not), and marks the page In Progress. Write-back takes
//! finished Notion jobs (`sync_state = 'pending'`), writes the output and
//! its metrics to the page (and a Job Log entry) and sets Done or Failed.
//! Then the workflows' new-page triggers are polled with the same client
//! (see [`crate::workflows::notion_trigger`]).
//! Requests are paced to Notion's 3 per second and honour Retry-After. With
//! no token configured it does nothing and says "not configured" in health.

mod client;
mod page;
mod settings;
mod sync;

pub use client::{Notion, NotionError};
pub use page::{paragraphs, text as property_text, QueuedPage};
pub use settings::NotionSettings;
pub use sync::{run_sync, SyncReport};

use crate::error::Result;
use crate::ports::Env;
use crate::scheduler::{self, Job, JobFn, RunContext};
use futures::future::LocalBoxFuture;

/// The Notion sync job: every minute, at second 30 (away from the heartbeat).
pub const JOB: Job = Job {
    name: "notion-sync",
    component: "cron-notion-sync",
    schedule: "30 * * * * *",
    period_secs: 60,
    lease_secs: 55,
    max_attempts: 2,
    exclusive: true,
    body: JobFn::Async(tick),
};

scheduler::cron_http_app!("cron-notion-sync", "/api/internal/cron/notion-sync", JOB);

fn tick<'a>(env: &'a Env, _run: &'a RunContext) -> LocalBoxFuture<'a, Result<String>> {
    Box::pin(async move { Ok(run_sync(env).await?.summary()) })
}
