//! Notion intake and write-back (cron-notion-sync) against the mock Notion.

use crate::support::{dash, work};
use anyhow::Result;
use echopilot_e2e::check;
use echopilot_e2e::mock::{self, Reply};
use echopilot_e2e::scenario::{expect_status, Env, Scenario};
use serde_json::{json, Value};

pub const SCENARIOS: &[Scenario] = &[
    Scenario::configured("notion_pages_become_jobs_and_results_go_back", round_trip),
    Scenario::new(
        "notion_without_a_token_reports_not_configured",
        unconfigured,
    ),
];

const QUEUE: &str = "0123456789abcdef0123456789abcdef";
const LOG: &str = "fedcba9876543210fedcba9876543210";

fn page(id: &str, brief: &str) -> Value {
    mock::notion_page(
        id,
        QUEUE,
        json!({
            "Name": { "type": "title", "title": [{ "plain_text": format!("Task {id}") }] },
            "Brief": { "type": "rich_text", "rich_text": if brief.is_empty() { json!([]) } else { json!([{ "plain_text": brief }]) } },
            "Status": { "type": "status", "status": { "name": "Queued" } },
            "Type": { "type": "select", "select": { "name": "Report Gen" } },
            "Email": { "type": "email", "email": "ann@example.com" }
        }),
    )
}

fn status_of(p: &Value) -> String {
    p.pointer("/properties/Status/status/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn round_trip(env: &Env) -> Result<()> {
    let notion = mock::notion()?;
    let mut pages: Vec<Value> = (1..=30)
        .map(|i| page(&format!("page-{i:02}"), &format!("Brief number {i}")))
        .collect();
    pages.push(page("page-empty", ""));
    notion.set_database(QUEUE, pages);
    notion.set_database(LOG, vec![]);
    // One 429 with a short Retry-After on the way: waited out.
    notion.server.enqueue(Reply::rate_limited(1));
    let app = env.app_with(|b| {
        b.variable("notion_token", "secret_e2e")
            .variable("notion_queue_db", QUEUE)
            .variable("notion_log_db", LOG)
            .variable("notion_base_url", notion.server.url())
            .variable("worker_concurrency", "32")
    })?;
    app.run_job("notion-sync")?;
    let after = notion.pages(QUEUE);
    let in_progress = after
        .iter()
        .filter(|p| status_of(p) == "In Progress")
        .count();
    check!(
        in_progress == 30,
        "30 pages (two query pages of 25 and 5) are in progress: {in_progress}"
    );
    let empty = after
        .iter()
        .find(|p| p["id"] == "page-empty")
        .cloned()
        .unwrap_or_default();
    check!(
        status_of(&empty) == "Failed",
        "an empty brief is refused on the page"
    );
    let key = dash(&app);
    let q = expect_status(
        &app.get("/api/jobs?source=notion&limit=100")
            .header("X-Dash-Key", &key)
            .send()?,
        200,
    )?;
    let jobs = q["data"]["jobs"].as_array().cloned().unwrap_or_default();
    check!(jobs.len() == 30, "one job per page: {}", jobs.len());
    check!(
        jobs.iter()
            .all(|j| j["type"] == "report_gen" && j["email"] == "ann@example.com"),
        "properties mapped"
    );
    work(&app)?;
    let done = expect_status(
        &app.get("/api/queue/status")
            .header("X-Dash-Key", &key)
            .send()?,
        200,
    )?;
    check!(done["data"]["by_status"]["completed"] == 30, "{done}");
    // The next run (a slot of its own) re-polls, which creates nothing new
    // (the pages are no longer Queued), and writes back: Done, the output
    // and metrics appended, a Job Log entry.
    app.run_job_in_own_slot("notion-sync")?;
    let again = expect_status(
        &app.get("/api/jobs?source=notion&limit=100")
            .header("X-Dash-Key", &key)
            .send()?,
        200,
    )?;
    let count = again["data"]["jobs"].as_array().map_or(0, Vec::len);
    check!(count == 30, "a re-poll created jobs: {count}");
    let written = notion.pages(QUEUE);
    let done_pages = written.iter().filter(|p| status_of(p) == "Done").count();
    check!(
        done_pages >= 25,
        "finished pages are set Done (25 per run): {done_pages}"
    );
    let p1 = written
        .iter()
        .find(|p| p["id"] == "page-01")
        .cloned()
        .unwrap_or_default();
    let children = p1["children"].to_string();
    check!(
        children.contains("EchoPilot result") && children.contains("QA "),
        "output and metrics appended: {children:.300}"
    );
    check!(!notion.pages(LOG).is_empty(), "Job Log entries");
    let health = expect_status(&app.get("/health").send()?, 200)?;
    check!(
        health["data"]["integrations"]["notion"]["state"] == "ok",
        "{}",
        health["data"]["integrations"]
    );
    let versions: Vec<String> = notion
        .server
        .requests()
        .iter()
        .filter_map(|r| r.header("notion-version").map(str::to_string))
        .collect();
    check!(
        !versions.is_empty() && versions.iter().all(|v| v == "2022-06-28"),
        "Notion-Version on every request"
    );
    Ok(())
}

fn unconfigured(env: &Env) -> Result<()> {
    let app = env.app()?;
    // Its internal route (what a CronJob calls) runs it: nothing to sync.
    let resp = app
        .post("/api/internal/cron/notion-sync")
        .bearer(app.cron_token.as_deref().unwrap_or_default())
        .send()?;
    let report = expect_status(&resp, 200)?;
    if app.is_isolated() {
        check!(report["data"]["outcome"] == "ran", "{report}");
    }
    let health = expect_status(&app.get("/health").send()?, 200)?;
    check!(
        health["data"]["integrations"]["notion"]["state"] == "not_configured",
        "{}",
        health["data"]["integrations"]
    );
    Ok(())
}
