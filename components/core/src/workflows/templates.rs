//! The five workflow templates: starting points an editor offers, each a
//! valid graph (a test validates every one) that runs to completion
//! against the mocks of the end-to-end suite.

use serde_json::{json, Value};

/// A template.
pub struct WorkflowTemplate {
    /// Its id (`POST /api/workflows` takes it as `template`).
    pub id: &'static str,
    /// A name for the workflow made from it.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// The graph.
    pub graph: fn() -> Value,
}

/// Every template.
pub const TEMPLATES: &[WorkflowTemplate] = &[
    WorkflowTemplate {
        id: "notion_brief_to_reviewed_draft",
        name: "Notion brief to reviewed draft",
        description: "A new page in the Notion queue database becomes a QA-graded draft, written back to the page and marked Done; a draft that never passes QA pings Telegram and marks the page Failed.",
        graph: notion_brief,
    },
    WorkflowTemplate {
        id: "lead_enrichment_and_email",
        name: "Lead enrichment and email",
        description: "A signed webhook delivers a lead; AI profiles the company and drafts a personal email, which goes to the lead when they gave an address and the draft passed QA, else to the sales team on Telegram.",
        graph: lead_enrichment,
    },
    WorkflowTemplate {
        id: "daily_report",
        name: "Daily report",
        description: "Every weekday at 08:00 UTC an AI writes the day's report, files it to Google Drive as Markdown and emails the link.",
        graph: daily_report,
    },
    WorkflowTemplate {
        id: "support_ticket_triage",
        name: "Support ticket triage",
        description: "A signed webhook delivers a ticket; AI classifies its urgency; urgent tickets page on-call on Telegram, others get a drafted reply queued as a job.",
        graph: support_triage,
    },
    WorkflowTemplate {
        id: "content_repurposing",
        name: "Content repurposing",
        description: "One piece of content becomes a LinkedIn post, a tweet thread and a newsletter section in parallel, bundled into one Drive file and announced by email.",
        graph: content_repurposing,
    },
];

/// The template with `id`.
pub fn find(id: &str) -> Option<&'static WorkflowTemplate> {
    TEMPLATES.iter().find(|t| t.id == id)
}

/// The templates as `GET /api/workflow-templates` serves them.
pub fn view() -> Value {
    json!({
        "templates": TEMPLATES.iter().map(|t| json!({
            "id": t.id, "name": t.name, "description": t.description, "graph": (t.graph)(),
        })).collect::<Vec<_>>()
    })
}

fn at(x: i64, y: i64) -> Value {
    json!({"x": x, "y": y})
}

fn notion_brief() -> Value {
    json!({
        "nodes": [
            {"id": "brief", "type": "trigger", "name": "New brief in Notion",
             "config": {"kind": "notion_page"}, "position": at(40, 40)},
            {"id": "draft", "type": "ai_task", "name": "Write the draft",
             "config": {"user_template": "Write the piece this brief asks for.\n\nTitle: {{trigger.title}}\n\nBrief:\n{{trigger.properties.Brief}}", "qa": true},
             "position": at(40, 160)},
            {"id": "write_back", "type": "action", "name": "Write back to Notion",
             "config": {"kind": "notion_update", "page_id": "{{trigger.id}}", "status": "Done",
                        "content": "{{nodes.draft.text}}\n\nQA score: {{nodes.draft.score}}"},
             "position": at(40, 280)},
            {"id": "alert", "type": "notification", "name": "Tell the editors",
             "config": {"kind": "telegram", "message": "The draft for \"{{trigger.title}}\" did not pass QA: {{nodes.draft.error}}"},
             "position": at(300, 280)},
            {"id": "mark_failed", "type": "action", "name": "Mark the page failed",
             "config": {"kind": "notion_update", "page_id": "{{trigger.id}}", "status": "Failed"},
             "position": at(300, 400)}
        ],
        "edges": [
            {"from": "brief", "to": "draft"},
            {"from": "draft", "to": "write_back"},
            {"from": "draft", "to": "alert", "port": "error"},
            {"from": "alert", "to": "mark_failed"}
        ]
    })
}

fn lead_enrichment() -> Value {
    json!({
        "nodes": [
            {"id": "lead", "type": "trigger", "name": "Lead webhook",
             "config": {"kind": "webhook"}, "position": at(40, 40)},
            {"id": "profile", "type": "ai_task", "name": "Profile the company",
             "config": {"user_template": "Profile this lead's company for a sales team in five bullet points: what it does, size, likely needs, buying signals, risks.\n\nName: {{trigger.name}}\nCompany: {{trigger.company}}\nWebsite: {{trigger.website}}\nMessage: {{trigger.message}}", "qa": false},
             "position": at(40, 160)},
            {"id": "email", "type": "ai_task", "name": "Draft the email",
             "config": {"system_prompt": "You write short, warm, specific sales emails. No filler.",
                        "user_template": "Write a first reply to {{trigger.name}} from {{trigger.company}} (under 150 words), using this profile:\n{{nodes.profile.text}}", "qa": true},
             "position": at(40, 280)},
            {"id": "reachable", "type": "condition", "name": "Can we email them?",
             "config": {"expression": "trigger.email contains \"@\" and nodes.email.passed"},
             "position": at(40, 400)},
            {"id": "send", "type": "notification", "name": "Email the lead",
             "config": {"kind": "email", "to": ["{{trigger.email}}"], "subject": "Hello from EchoPilot, {{trigger.name}}", "message": "{{nodes.email.text}}"},
             "position": at(40, 520)},
            {"id": "handoff", "type": "notification", "name": "Hand over to sales",
             "config": {"kind": "telegram", "message": "New lead {{trigger.name}} ({{trigger.company}}) needs a personal touch:\n{{nodes.profile.text}}"},
             "position": at(300, 520)}
        ],
        "edges": [
            {"from": "lead", "to": "profile"},
            {"from": "profile", "to": "email"},
            {"from": "email", "to": "reachable"},
            {"from": "reachable", "to": "send", "port": "true"},
            {"from": "reachable", "to": "handoff", "port": "false"}
        ]
    })
}

fn daily_report() -> Value {
    json!({
        "nodes": [
            {"id": "morning", "type": "trigger", "name": "Weekdays 08:00 UTC",
             "config": {"kind": "schedule", "cron": "0 8 * * 1-5"}, "position": at(40, 40)},
            {"id": "report", "type": "ai_task", "name": "Write the report",
             "config": {"user_template": "Write today's operations report ({{trigger.fired_at}}) in Markdown: an executive summary, then sections for work done, quality, costs and next steps. Say plainly where figures are not available.", "qa": true},
             "position": at(40, 160)},
            {"id": "file", "type": "action", "name": "File to Drive",
             "config": {"kind": "drive_upload", "name": "Daily report {{trigger.fired_at}}", "content": "{{nodes.report.text}}", "format": "markdown"},
             "position": at(40, 280)},
            {"id": "announce", "type": "notification", "name": "Email the link",
             "config": {"kind": "email", "subject": "Daily report filed", "message": "Today's report is in Drive: {{nodes.file.link}}\n\n{{nodes.report.text}}"},
             "position": at(40, 400)}
        ],
        "edges": [
            {"from": "morning", "to": "report"},
            {"from": "report", "to": "file"},
            {"from": "file", "to": "announce"}
        ]
    })
}

fn support_triage() -> Value {
    json!({
        "nodes": [
            {"id": "ticket", "type": "trigger", "name": "Ticket webhook",
             "config": {"kind": "webhook"}, "position": at(40, 40)},
            {"id": "classify", "type": "ai_task", "name": "Classify urgency",
             "config": {"system_prompt": "You triage support tickets. Answer with exactly one word: urgent or normal.",
                        "user_template": "Subject: {{trigger.subject}}\nCustomer: {{trigger.customer}}\n\n{{trigger.body}}", "qa": false},
             "position": at(40, 160)},
            {"id": "urgent", "type": "condition", "name": "Urgent?",
             "config": {"expression": "nodes.classify.text contains \"urgent\" or trigger.priority == \"high\""},
             "position": at(40, 280)},
            {"id": "page", "type": "notification", "name": "Page on-call",
             "config": {"kind": "telegram", "message": "URGENT ticket from {{trigger.customer}}: {{trigger.subject}}"},
             "position": at(40, 400)},
            {"id": "reply", "type": "action", "name": "Queue a drafted reply",
             "config": {"kind": "create_job", "title": "Reply: {{trigger.subject}}",
                        "brief": "Draft a helpful, friendly reply to this support ticket from {{trigger.customer}}.\n\nSubject: {{trigger.subject}}\n\n{{trigger.body}}"},
             "position": at(300, 400)}
        ],
        "edges": [
            {"from": "ticket", "to": "classify"},
            {"from": "classify", "to": "urgent"},
            {"from": "urgent", "to": "page", "port": "true"},
            {"from": "urgent", "to": "reply", "port": "false"}
        ]
    })
}

fn content_repurposing() -> Value {
    json!({
        "nodes": [
            {"id": "source", "type": "trigger", "name": "Run with content",
             "config": {"kind": "manual"}, "position": at(300, 40)},
            {"id": "linkedin", "type": "ai_task", "name": "LinkedIn post",
             "config": {"user_template": "Turn this into a LinkedIn post (under 200 words, one clear takeaway):\n\n{{trigger.content}}", "qa": true},
             "position": at(40, 160)},
            {"id": "thread", "type": "ai_task", "name": "Tweet thread",
             "config": {"user_template": "Turn this into a thread of at most 6 tweets, numbered:\n\n{{trigger.content}}", "qa": true},
             "position": at(300, 160)},
            {"id": "newsletter", "type": "ai_task", "name": "Newsletter section",
             "config": {"user_template": "Turn this into a newsletter section with a headline and three short paragraphs:\n\n{{trigger.content}}", "qa": true},
             "position": at(560, 160)},
            {"id": "bundle", "type": "action", "name": "File the bundle",
             "config": {"kind": "drive_upload", "name": "Repurposed: {{trigger.title}}", "format": "markdown",
                        "content": "# {{trigger.title}}\n\n## LinkedIn\n\n{{nodes.linkedin.text}}\n\n## Thread\n\n{{nodes.thread.text}}\n\n## Newsletter\n\n{{nodes.newsletter.text}}"},
             "position": at(300, 280)},
            {"id": "done", "type": "notification", "name": "Announce",
             "config": {"kind": "email", "subject": "Repurposed: {{trigger.title}}", "message": "Three versions are ready: {{nodes.bundle.link}}"},
             "position": at(300, 400)}
        ],
        "edges": [
            {"from": "source", "to": "linkedin"},
            {"from": "source", "to": "thread"},
            {"from": "source", "to": "newsletter"},
            {"from": "linkedin", "to": "bundle"},
            {"from": "thread", "to": "bundle"},
            {"from": "newsletter", "to": "bundle"},
            {"from": "bundle", "to": "done"}
        ]
    })
}
