//! New-Notion-page triggers: each minute (in `cron-notion-sync`, with the
//! Notion client and pacing the queue sync uses), every workflow whose
//! trigger is `notion_page` asks its database for the pages created since
//! its cursor and starts one run per new page, the page as the run's data
//! (`id`, `url`, `title`, `created_time`, `properties`: each property's
//! plain text by name).
//!
//! **New** means created after the trigger was saved: a workflow's cursor
//! for a database starts at the save the poller first sees it in, and moves
//! forward to the newest page seen. Notion rounds `created_time` to the
//! minute, so each query reaches a minute back and the pages already
//! started are recognised by id.
//!
//! **Once**: `workflow_notion_pages` holds one row per (workflow, page),
//! inserted in the transaction that creates the run
//! ([`engine::start_claimed`]), so however many replicas poll at once (and
//! the sync job is exclusive besides), a page starts exactly one run, and
//! never none once claimed.

use super::engine::{self, Start};
use super::store::{self, Workflow};
use super::validate::Policy;
use crate::error::Result;
use crate::notion::{Notion, NotionError, NotionSettings};
use crate::params;
use crate::ports::{DbExt, Env};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// How far back each query reaches before the cursor (Notion's
/// `created_time` has minute precision).
pub const OVERLAP_MS: i64 = 60_000;
/// Result pages (of 25) read per workflow per poll: at most 100 new runs
/// per workflow a minute; more wait for the next poll.
const MAX_QUERY_PAGES: usize = 4;

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PollReport {
    /// Workflows with a Notion trigger that were polled.
    pub workflows: usize,
    /// Runs started.
    pub started: usize,
    /// Pages seen again (already started).
    pub seen: usize,
    /// Workflows skipped: integrations withdrawn from their tenant, or a
    /// database Notion does not know (logged).
    pub skipped: usize,
}

/// The data a page gives its run.
pub fn page_data(page: &Value) -> Option<Value> {
    let id = page.get("id")?.as_str()?;
    let mut properties = Map::new();
    let mut title = String::new();
    for (name, prop) in page
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let text = crate::notion::property_text(Some(prop)).unwrap_or_default();
        if prop.get("type").and_then(Value::as_str) == Some("title") {
            title = text.clone();
        }
        properties.insert(name.clone(), Value::String(text));
    }
    Some(json!({
        "id": id,
        "url": page.get("url").and_then(Value::as_str).unwrap_or_default(),
        "title": title,
        "created_time": page.get("created_time").and_then(Value::as_str).unwrap_or_default(),
        "properties": properties,
    }))
}

/// The database a workflow's trigger watches (`database_id`, else the
/// Automation Queue).
fn database_of<'a>(wf: &'a Workflow, s: &'a NotionSettings) -> &'a str {
    wf.graph
        .get("nodes")
        .and_then(Value::as_array)
        .and_then(|nodes| {
            nodes
                .iter()
                .find(|n| n["type"] == "trigger" && n["config"]["kind"] == "notion_page")
        })
        .and_then(|n| n["config"]["database_id"].as_str())
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(&s.queue_db)
}

/// The cursor of (`wf`, `db`): created at the workflow's last save the
/// first time the poller sees this pair.
fn cursor(env: &Env, wf: &Workflow, db: &str) -> Result<i64> {
    env.db.exec(
        "INSERT OR IGNORE INTO workflow_notion_cursors (workflow_id, database_id, since_ms) VALUES (?1, ?2, ?3)",
        params![wf.id.as_str(), db, wf.updated_at],
    )?;
    env.db
        .query_one(
            "SELECT since_ms FROM workflow_notion_cursors WHERE workflow_id = ?1 AND database_id = ?2",
            params![wf.id.as_str(), db],
        )?
        .i64(0)
}

/// Start the runs of every new page of every workflow with a Notion
/// trigger, until `deadline` (monotonic ms). A 429 or an outage stops the
/// poll (the caller records it); a database Notion refuses skips its
/// workflow.
pub async fn poll(
    env: &Env,
    s: &NotionSettings,
    client: &Notion<'_>,
    deadline: f64,
) -> std::result::Result<PollReport, NotionError> {
    let storage = |e: crate::Error| NotionError::Unavailable(format!("database: {e}"));
    let mut report = PollReport::default();
    for wf in store::with_trigger(env, "notion_page").map_err(storage)? {
        if env.clock.monotonic_ms() > deadline {
            break;
        }
        let allowed = Policy::load(env.config.as_ref(), &wf.tenant_id)
            .map(|p| p.integrations)
            .unwrap_or(false);
        if !allowed {
            report.skipped += 1;
            continue;
        }
        report.workflows += 1;
        match poll_one(env, s, client, &wf, deadline, &mut report).await {
            Ok(()) => {}
            Err(NotionError::NotFound(m)) | Err(NotionError::Rejected(_, m)) => {
                crate::log::warn(
                    "workflows",
                    &format!("workflow {}: its Notion trigger's database: {m}", wf.id),
                );
                report.skipped += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

async fn poll_one(
    env: &Env,
    s: &NotionSettings,
    client: &Notion<'_>,
    wf: &Workflow,
    deadline: f64,
    report: &mut PollReport,
) -> std::result::Result<(), NotionError> {
    let storage = |e: crate::Error| NotionError::Unavailable(format!("database: {e}"));
    let db = database_of(wf, s);
    let since = cursor(env, wf, db).map_err(storage)?;
    let from = crate::time::rfc3339(since - OVERLAP_MS);
    let mut newest = since;
    let mut next: Option<String> = None;
    for _ in 0..MAX_QUERY_PAGES {
        if env.clock.monotonic_ms() > deadline {
            break;
        }
        let answer = client
            .query_created_since(db, &from, next.as_deref())
            .await?;
        for page in answer
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(data) = page_data(page) else {
                continue;
            };
            let Ok(created) =
                crate::time::parse_rfc3339(data["created_time"].as_str().unwrap_or(""))
            else {
                continue;
            };
            if created < since - OVERLAP_MS {
                continue;
            }
            newest = newest.max(created);
            let page_id = data["id"].as_str().unwrap_or_default().to_string();
            let how = Start {
                trigger: "notion_page",
                input: data,
                debug: false,
            };
            let now = env.clock.now_ms();
            let started = engine::start_claimed(env, wf, &how, |tx, run| {
                let claimed = tx.exec(
                    "INSERT OR IGNORE INTO workflow_notion_pages (workflow_id, page_id, run_id, created_at)
                     VALUES (?1, ?2, ?3, ?4) RETURNING page_id",
                    params![wf.id.as_str(), page_id.as_str(), run, now],
                )?;
                Ok(!claimed.rows.is_empty())
            });
            match started {
                Ok(Some(_)) => report.started += 1,
                Ok(None) => report.seen += 1,
                Err(e) => crate::log::warn(
                    "workflows",
                    &format!(
                        "workflow {}: page {page_id} could not start a run: {e}",
                        wf.id
                    ),
                ),
            }
        }
        match answer.get("next_cursor").and_then(Value::as_str) {
            Some(c) if answer.get("has_more").and_then(Value::as_bool) == Some(true) => {
                next = Some(c.to_string())
            }
            _ => break,
        }
    }
    env.db
        .exec(
            "UPDATE workflow_notion_cursors SET since_ms = MAX(since_ms, ?3), polled_at = ?4
             WHERE workflow_id = ?1 AND database_id = ?2",
            params![wf.id.as_str(), db, newest, env.clock.now_ms()],
        )
        .map_err(storage)?;
    Ok(())
}
