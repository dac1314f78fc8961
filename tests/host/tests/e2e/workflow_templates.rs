//! The five workflow templates run for real: each created through the API
//! from `GET /api/workflow-templates`, its integrations pointed at the
//! loopback mocks (OpenAI with QA grading, Notion, Google Drive, Telegram,
//! email), started by its own trigger (the Notion poller, the schedule,
//! the signed webhook) or by hand, and driven by the worker to the end;
//! each node's status and what every mock received are checked.

use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::mock::{self, MockServer, OpenAi};
use echopilot_e2e::scenario::{wait_for, App, Env, Scenario};
use echopilot_e2e::HostBuilder;
use serde_json::{json, Value};
use std::time::Duration;

use crate::support::{self, work};
use crate::workflows::{brief_page, finish, notion_vars, notion_with, op, step, NOTION_QUEUE};

pub const SCENARIOS: &[Scenario] = &[Scenario::configured(
    "the_five_workflow_templates_run_to_completion_against_the_mocks",
    templates,
)];

const BOT_TOKEN: &str = "123456:e2e-template-bot";
/// The Drive folder files go to when a node names none.
const FOLDER: &str = "e2e-templates-folder";
/// Work containing this fails QA every round.
const HOPELESS: &str = "HOPELESS";

/// The mocks every template reaches.
struct Mocks {
    ai: OpenAi,
    notion: mock::Notion,
    drive: mock::Drive,
    telegram: MockServer,
    email: MockServer,
}

impl Mocks {
    fn start() -> Result<Mocks> {
        let ai = mock::openai()?;
        // Work echoes its prompt (so each answer names its brief); grading
        // fails the hopeless and passes the rest.
        ai.set_responder(|body| {
            let prompt = body["messages"]
                .as_array()
                .and_then(|m| m.last())
                .and_then(|m| m["content"].as_str())
                .unwrap_or("")
                .to_string();
            if !support::is_grading(body) {
                format!(
                    "Draft: {}",
                    prompt.lines().take(12).collect::<Vec<_>>().join(" | ")
                )
            } else if prompt.contains(HOPELESS) {
                support::grades(20, 20, 20, 20)
            } else {
                support::grades(92, 90, 91, 93)
            }
        });
        Ok(Mocks {
            ai,
            notion: notion_with(vec![])?,
            drive: mock::drive()?,
            telegram: mock::telegram()?,
            email: mock::email()?,
        })
    }

    fn vars(&self, b: HostBuilder) -> HostBuilder {
        notion_vars(support::ai_vars(b, &self.ai), &self.notion)
            .variable("qa_max_retries", "1")
            .variable("drive_client_id", mock::DRIVE_CLIENT_ID)
            .variable("drive_client_secret", mock::DRIVE_CLIENT_SECRET)
            .variable("drive_refresh_token", mock::DRIVE_REFRESH_TOKEN)
            .variable("drive_oauth_base_url", self.drive.server.url())
            .variable("drive_api_base_url", self.drive.server.url())
            .variable("drive_folder_id", FOLDER)
            .variable("telegram_bot_token", BOT_TOKEN)
            .variable("telegram_chat_id", "4242")
            .variable("telegram_base_url", self.telegram.url())
            .variable("email_api_base_url", self.email.url())
            .variable("email_api_path", "/send")
            .variable("email_api_key", "e2e-mail-key")
            .variable("alert_email_from", "reports@echopilot.test")
            .variable("alert_email_to", "team@echopilot.test")
    }

    /// The Telegram messages sent so far.
    fn telegrams(&self) -> Vec<String> {
        self.telegram
            .requests()
            .iter()
            .map(|r| r.json()["text"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// The emails sent so far (the send bodies).
    fn emails(&self) -> Vec<Value> {
        self.email
            .requests_to("/send")
            .iter()
            .map(|r| r.json())
            .collect()
    }
}

/// Create a workflow from template `id` (as listed by the API); its id
/// and webhook secret.
fn from_template(app: &App, id: &str) -> Result<(String, String)> {
    let (s, created) = op(
        app,
        "POST",
        "/api/workflows",
        Some(&json!({"template": id})),
    )?;
    check!(s == 201, "{id}: {created}");
    let wf = created["data"]["id"].as_str().context("id")?.to_string();
    let secret = created["data"]["webhook_secret"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Ok((wf, secret))
}

/// The runs of workflow `id`, newest first.
fn runs(app: &App, id: &str) -> Result<Vec<Value>> {
    let (s, got) = op(app, "GET", &format!("/api/workflows/{id}/runs"), None)?;
    check!(s == 200, "{got}");
    Ok(got["data"]["runs"].as_array().cloned().unwrap_or_default())
}

/// Every step of `run` listed in `expected` has that status.
fn check_steps(run: &Value, expected: &[(&str, &str)]) -> Result<()> {
    for (node, status) in expected {
        let got = step(run, node).map(|s| s["status"].clone());
        check!(
            got.as_ref().and_then(Value::as_str) == Some(*status)
                || (*status == "skipped" && got.is_none()),
            "node `{node}`: expected {status}, got {got:?} in {run}"
        );
    }
    Ok(())
}

/// POST a signed webhook delivery of `body` to workflow `id`; the run id.
fn deliver(app: &App, id: &str, secret: &str, body: &Value) -> Result<String> {
    let body = body.to_string();
    let t = echopilot_e2e::scenario::unix_now() as i64;
    let sig = echopilot_core::workflows::webhook::sign(secret, t, body.as_bytes());
    let resp = app
        .post(&format!("/api/workflows/{id}/trigger"))
        .header("Content-Type", "application/json")
        .header("X-EchoPilot-Signature", &sig)
        .body(body.into_bytes())
        .send()?;
    check!(
        resp.status == 202,
        "webhook: {} {}",
        resp.status,
        resp.text()
    );
    let v = resp.json()?;
    Ok(v["data"]["run_id"].as_str().context("run id")?.to_string())
}

fn templates(env: &Env) -> Result<()> {
    let m = Mocks::start()?;
    let app = env.app_with(|b| m.vars(b))?;
    let (s, listed) = op(&app, "GET", "/api/workflow-templates", None)?;
    check!(s == 200, "{listed}");
    let ids: Vec<&str> = listed["data"]["templates"]
        .as_array()
        .context("templates")?
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    check!(ids.len() == 5, "{ids:?}");

    // The daily report first: its schedule fires at the next whole
    // minute, while the others run.
    let (daily, _) = from_template(&app, "daily_report")?;
    let (_, got) = op(&app, "GET", &format!("/api/workflows/{daily}"), None)?;
    let mut graph = got["data"]["graph"].clone();
    let trigger = graph["nodes"]
        .as_array_mut()
        .and_then(|n| n.iter_mut().find(|n| n["type"] == "trigger"))
        .context("trigger")?;
    trigger["config"]["cron"] = json!("* * * * *");
    let (s, saved) = op(
        &app,
        "PUT",
        &format!("/api/workflows/{daily}"),
        Some(&json!({"name": "Daily report (every minute)", "graph": graph})),
    )?;
    check!(s == 200, "{saved}");

    notion_brief(&app, &m)?;
    lead_enrichment(&app, &m)?;
    support_triage(&app, &m)?;
    content_repurposing(&app, &m)?;
    daily_report(&app, &m, &daily)
}

/// A new page in the Automation Queue starts a run (the Notion poller);
/// a passing draft is written back and the page marked Done; a draft that
/// never passes QA pings Telegram and marks its page Failed.
fn notion_brief(app: &App, m: &Mocks) -> Result<()> {
    let (id, _) = from_template(app, "notion_brief_to_reviewed_draft")?;
    let now = echopilot_core::time::rfc3339(echopilot_e2e::scenario::unix_now() as i64 * 1000);
    let page = |pid: &str, brief: &str| {
        let mut p = brief_page(pid, &now, brief);
        p["parent"] = json!({"database_id": NOTION_QUEUE});
        p
    };
    m.notion.set_database(
        NOTION_QUEUE,
        vec![
            page("brief-good", "A launch post for the new API"),
            page("brief-bad", &format!("{HOPELESS} nonsense")),
        ],
    );
    app.run_job("notion-sync")?;
    let started = runs(app, &id)?;
    check!(
        started.len() == 2 && started.iter().all(|r| r["trigger"] == "notion_page"),
        "one run per new page: {started:?}"
    );
    let mut done = Vec::new();
    for r in &started {
        done.push(finish(app, r["id"].as_str().context("run id")?)?);
    }
    let by_page = |pid: &str| {
        done.iter()
            .find(|r| r.to_string().contains(pid))
            .cloned()
            .with_context(|| format!("the run of {pid}"))
    };
    let good = by_page("brief-good")?;
    check!(good["status"] == "succeeded", "{good}");
    check_steps(
        &good,
        &[
            ("brief", "succeeded"),
            ("draft", "succeeded"),
            ("write_back", "succeeded"),
            ("alert", "skipped"),
            ("mark_failed", "skipped"),
        ],
    )?;
    let bad = by_page("brief-bad")?;
    check!(
        bad["status"] == "succeeded",
        "the error branch finished the run: {bad}"
    );
    check_steps(
        &bad,
        &[
            ("draft", "failed"),
            ("write_back", "skipped"),
            ("alert", "succeeded"),
            ("mark_failed", "succeeded"),
        ],
    )?;
    let pages = m.notion.pages(NOTION_QUEUE);
    let get = |pid: &str| {
        pages
            .iter()
            .find(|p| p["id"] == pid)
            .cloned()
            .unwrap_or_default()
    };
    let (g, b) = (get("brief-good"), get("brief-bad"));
    let status = |p: &Value| {
        p.pointer("/properties/Status/status/name")
            .or_else(|| p.pointer("/properties/Status/select/name"))
            .cloned()
    };
    check!(
        status(&g) == Some(json!("Done"))
            && g["children"]
                .to_string()
                .contains("A launch post for the new API")
            && g["children"].to_string().contains("QA score: "),
        "the passing draft was written back: {g}"
    );
    check!(
        status(&b) == Some(json!("Failed")),
        "the hopeless page was marked Failed: {b}"
    );
    check!(
        m.telegrams()
            .iter()
            .any(|t| t.contains("Brief brief-bad") && t.contains("did not pass QA")),
        "the editors were told: {:?}",
        m.telegrams()
    );
    Ok(())
}

/// A signed lead with an address gets the drafted email; one without goes
/// to sales on Telegram.
fn lead_enrichment(app: &App, m: &Mocks) -> Result<()> {
    let (id, secret) = from_template(app, "lead_enrichment_and_email")?;
    let with_email = deliver(
        app,
        &id,
        &secret,
        &json!({"name": "Ada", "company": "Analytical Engines", "website": "https://ae.example",
                "message": "We need reports", "email": "ada@ae.example"}),
    )?;
    let run = finish(app, &with_email)?;
    check!(run["status"] == "succeeded", "{run}");
    check_steps(
        &run,
        &[
            ("profile", "succeeded"),
            ("email", "succeeded"),
            ("reachable", "succeeded"),
            ("send", "succeeded"),
            ("handoff", "skipped"),
        ],
    )?;
    let sent = m.emails();
    check!(
        sent.iter().any(|e| e["to"] == json!(["ada@ae.example"])
            && e["subject"] == "Hello from EchoPilot, Ada"
            && e["text"]
                .as_str()
                .is_some_and(|t| t.contains("Draft: Write a first reply to Ada"))),
        "the lead got the draft: {sent:?}"
    );

    let before = m.telegrams().len();
    let without = deliver(
        app,
        &id,
        &secret,
        &json!({"name": "Bo", "company": "Nameless Ltd", "website": "", "message": "call me", "email": ""}),
    )?;
    let run = finish(app, &without)?;
    check!(run["status"] == "succeeded", "{run}");
    check_steps(&run, &[("send", "skipped"), ("handoff", "succeeded")])?;
    let told = m.telegrams();
    check!(
        told.len() == before + 1 && told[before].contains("New lead Bo (Nameless Ltd)"),
        "sales were told: {told:?}"
    );
    Ok(())
}

/// A signed urgent ticket pages on-call; a normal one queues a drafted
/// reply as a job.
fn support_triage(app: &App, m: &Mocks) -> Result<()> {
    let (id, secret) = from_template(app, "support_ticket_triage")?;
    let before = m.telegrams().len();
    let urgent = deliver(
        app,
        &id,
        &secret,
        &json!({"subject": "Site down", "customer": "Cy", "body": "every page is a 500", "priority": "high"}),
    )?;
    let run = finish(app, &urgent)?;
    check!(run["status"] == "succeeded", "{run}");
    check_steps(
        &run,
        &[
            ("classify", "succeeded"),
            ("urgent", "succeeded"),
            ("page", "succeeded"),
            ("reply", "skipped"),
        ],
    )?;
    check!(
        m.telegrams()
            .get(before)
            .is_some_and(|t| t == "URGENT ticket from Cy: Site down"),
        "on-call paged: {:?}",
        m.telegrams()
    );

    let normal = deliver(
        app,
        &id,
        &secret,
        &json!({"subject": "Invoice copy", "customer": "Di", "body": "may I have a copy?", "priority": "low"}),
    )?;
    let run = finish(app, &normal)?;
    check!(run["status"] == "succeeded", "{run}");
    check_steps(&run, &[("page", "skipped"), ("reply", "succeeded")])?;
    let job_id = step(&run, "reply")
        .and_then(|s| s["output"]["job_id"].as_str())
        .context("the reply's job")?;
    let job = support::job(app, job_id)?;
    check!(
        job["title"] == "Reply: Invoice copy"
            && job["brief"]
                .as_str()
                .is_some_and(|b| b.contains("may I have a copy?")),
        "{job}"
    );
    Ok(())
}

/// One piece of content becomes three drafts in parallel, bundled into one
/// Drive file (default folder, Markdown) and announced by email with its
/// link.
fn content_repurposing(app: &App, m: &Mocks) -> Result<()> {
    let (id, _) = from_template(app, "content_repurposing")?;
    let (s, started) = op(
        app,
        "POST",
        &format!("/api/workflows/{id}/run"),
        Some(
            &json!({"context": {"title": "Spin at the edge", "content": "WebAssembly apps start in a millisecond."}}),
        ),
    )?;
    check!(s == 202, "{started}");
    let run = finish(app, started["data"]["id"].as_str().context("run id")?)?;
    check!(run["status"] == "succeeded", "{run}");
    check_steps(
        &run,
        &[
            ("linkedin", "succeeded"),
            ("thread", "succeeded"),
            ("newsletter", "succeeded"),
            ("bundle", "succeeded"),
            ("done", "succeeded"),
        ],
    )?;
    let files = m.drive.files();
    let file = files
        .iter()
        .find(|f| f.name == "Repurposed: Spin at the edge.md")
        .with_context(|| format!("the bundle in Drive: {files:?}"))?;
    check!(
        file.parents == [FOLDER]
            && file.mime_type == "text/markdown"
            && file.content.starts_with("# Spin at the edge")
            && [
                "## LinkedIn",
                "## Thread",
                "## Newsletter",
                "Draft: Turn this into a LinkedIn post"
            ]
            .iter()
            .all(|s| file.content.contains(s)),
        "{file:?}"
    );
    let link = format!("https://drive.google.com/file/d/{}/view", file.id);
    check!(
        m.emails()
            .iter()
            .any(|e| e["subject"] == "Repurposed: Spin at the edge"
                && e["to"] == json!(["team@echopilot.test"])
                && e["text"].as_str().is_some_and(|t| t.contains(&link))),
        "announced with the link: {:?}",
        m.emails()
    );
    Ok(())
}

/// The schedule (made every minute) starts the daily report once; the
/// report is filed to Drive as Markdown and the link emailed.
fn daily_report(app: &App, m: &Mocks, id: &str) -> Result<()> {
    let run_id = wait_for(Duration::from_secs(90), || {
        std::thread::sleep(Duration::from_millis(500));
        work(app).ok()?;
        let started = runs(app, id).ok()?;
        let first = started.first()?;
        first["id"].as_str().map(str::to_string)
    })
    .context("the schedule started a run")?;
    let run = finish(app, &run_id)?;
    check!(
        run["status"] == "succeeded" && run["trigger"] == "schedule",
        "{run}"
    );
    check_steps(
        &run,
        &[
            ("morning", "succeeded"),
            ("report", "succeeded"),
            ("file", "succeeded"),
            ("announce", "succeeded"),
        ],
    )?;
    let fired = run["input"]["fired_at"]
        .as_str()
        .or_else(|| step(&run, "morning").and_then(|s| s["output"]["fired_at"].as_str()))
        .context("fired_at")?
        .to_string();
    let name = format!("Daily report {fired}.md");
    let files = m.drive.files();
    let file = files
        .iter()
        .find(|f| f.name == name)
        .with_context(|| format!("{name} in Drive: {files:?}"))?;
    check!(
        file.parents == [FOLDER]
            && file.mime_type == "text/markdown"
            && file
                .content
                .contains("Draft: Write today's operations report"),
        "{file:?}"
    );
    let link = format!("https://drive.google.com/file/d/{}/view", file.id);
    check!(
        m.emails()
            .iter()
            .any(|e| e["subject"] == "Daily report filed"
                && e["text"].as_str().is_some_and(|t| t.contains(&link))),
        "the link was emailed: {:?}",
        m.emails()
    );
    check!(runs(app, id)?.len() == 1, "the slot ran once");
    Ok(())
}
