//! The node-type catalogue: for each of the six types (and each kind of a
//! type), its configuration fields, its output ports and the fields of its
//! output. One table serves three readers: the validator checks every
//! configuration against it, the condition checker types `nodes.<id>.…`
//! paths with it, and `GET /api/workflow-node-types` serves it (with a JSON
//! Schema per kind) so an editor can draw a configuration panel.

use super::expr::Type;
use super::model::NodeType;
use serde_json::{json, Value};

/// What a configuration field holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldKind {
    /// Plain text (no placeholders), at most this many characters.
    Text(usize),
    /// Text with `{{path}}` placeholders, at most this many characters.
    Template(usize),
    /// A condition in the expression language.
    Expression,
    /// A five-field cron expression (UTC).
    Cron,
    /// A duration: `90s`, `15m`, `2h`, `1d`, `1h30m`.
    Duration,
    /// An RFC 3339 time, or a template giving one.
    Timestamp,
    /// One of these values; the first is the default.
    Choice(&'static [&'static str]),
    /// True or false, with this default.
    Bool(bool),
    /// A whole number in `min..=max`, with a default.
    Int {
        /// Smallest.
        min: i64,
        /// Largest.
        max: i64,
        /// When absent.
        default: i64,
    },
    /// A list of templates (email recipients), at most this many.
    TemplateList(usize),
    /// HTTP headers: an object of names to templates.
    Headers,
    /// A URL template whose origin (scheme, host, port) is written out.
    Url,
}

/// One configuration field.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Its key in `config`.
    pub name: &'static str,
    /// A label for the panel.
    pub label: &'static str,
    /// What it holds.
    pub kind: FieldKind,
    /// Whether a configuration must set it.
    pub required: bool,
    /// One line of help.
    pub help: &'static str,
}

const fn field(
    name: &'static str,
    label: &'static str,
    kind: FieldKind,
    required: bool,
    help: &'static str,
) -> Field {
    Field {
        name,
        label,
        kind,
        required,
        help,
    }
}

/// One kind of a node type (types without kinds have one, named `""`).
#[derive(Debug, Clone, Copy)]
pub struct KindSpec {
    /// The `kind` value (`""` for types without kinds).
    pub kind: &'static str,
    /// A label.
    pub label: &'static str,
    /// What it does.
    pub help: &'static str,
    /// Its fields (besides `kind`).
    pub fields: &'static [Field],
    /// Its output ports.
    pub ports: &'static [&'static str],
    /// The fields of its output, for `nodes.<id>.<field>`; `None`: any
    /// (a trigger's data).
    pub output: Option<&'static [(&'static str, Type)]>,
    /// It acts with the platform's own credentials or allow-lists (Notion,
    /// Drive, HTTP, the alert channels): only tenants the operator lets
    /// use integrations may configure it.
    pub integration: bool,
    /// How many times a failing step of this kind is tried (the default of
    /// `max_attempts`, or the fixed count when it has no such field).
    pub attempts: i64,
}

/// A node type.
#[derive(Debug, Clone, Copy)]
pub struct NodeSpec {
    /// The type.
    pub node_type: NodeType,
    /// A label.
    pub label: &'static str,
    /// What it does.
    pub help: &'static str,
    /// Whether the configuration names a `kind`.
    pub kinded: bool,
    /// Its kinds.
    pub kinds: &'static [KindSpec],
}

impl NodeSpec {
    /// The kind named `kind` (`""` for types without kinds).
    pub fn kind(&self, kind: &str) -> Option<&'static KindSpec> {
        self.kinds.iter().find(|k| k.kind == kind)
    }
}

const ATTEMPTS: Field = field(
    "max_attempts",
    "Attempts",
    FieldKind::Int {
        min: 1,
        max: 10,
        default: 3,
    },
    false,
    "How many times the step is tried when it fails for a reason that may pass (5xx, timeouts); then the error branch runs",
);

const ERROR: (&str, Type) = ("error", Type::String);

const ANY_OUTPUT: Option<&[(&str, Type)]> = None;

/// The catalogue.
pub const CATALOGUE: &[NodeSpec] = &[
    NodeSpec {
        node_type: NodeType::Trigger,
        label: "Trigger",
        help: "Where a run starts. Every workflow has exactly one; any workflow can also be run by hand.",
        kinded: true,
        kinds: &[
            KindSpec {
                kind: "manual",
                label: "Manual",
                help: "Runs when someone presses Run (POST /api/workflows/{id}/run); the request's `context` is the trigger's data.",
                fields: &[],
                ports: &["next"],
                output: ANY_OUTPUT,
                integration: false,
                attempts: 1,
            },
            KindSpec {
                kind: "schedule",
                label: "Schedule",
                help: "Runs on a cron schedule (UTC), checked every minute; a time missed while the app was down runs once when it is back (within the hour).",
                fields: &[field("cron", "Schedule", FieldKind::Cron, true, "Five fields, UTC: minute hour day-of-month month day-of-week, e.g. `0 9 * * 1-5`")],
                ports: &["next"],
                output: Some(&[("fired_at", Type::String), ("schedule", Type::String)]),
                integration: false,
                attempts: 1,
            },
            KindSpec {
                kind: "webhook",
                label: "Signed webhook",
                help: "Runs when a signed POST arrives at /api/workflows/{id}/trigger; the JSON body is the trigger's data. The signing secret is shown once.",
                fields: &[],
                ports: &["next"],
                output: ANY_OUTPUT,
                integration: false,
                attempts: 1,
            },
            KindSpec {
                kind: "notion_page",
                label: "New Notion page",
                help: "Runs once for each page created in a Notion database after the workflow is saved (checked every minute).",
                fields: &[field("database_id", "Database", FieldKind::Text(64), false, "The Notion database id; empty: the Automation Queue (`notion_queue_db`)")],
                ports: &["next"],
                output: Some(&[
                    ("id", Type::String),
                    ("url", Type::String),
                    ("title", Type::String),
                    ("created_time", Type::String),
                    ("properties", Type::Object),
                ]),
                integration: true,
                attempts: 1,
            },
        ],
    },
    NodeSpec {
        node_type: NodeType::AiTask,
        label: "AI task",
        help: "A prompt to a model, through the job queue's cost guardrails; with QA on, a second model grades the answer and a failed grade is retried with feedback.",
        kinded: false,
        kinds: &[KindSpec {
            kind: "",
            label: "AI task",
            help: "Prompt, model, QA.",
            fields: &[
                field("user_template", "Prompt", FieldKind::Template(20_000), true, "What to ask; {{trigger.field}} and {{nodes.<id>.text}} insert earlier data"),
                field("system_prompt", "System prompt", FieldKind::Template(8_000), false, "How the model should behave; empty: EchoPilot's default"),
                field("model", "Model", FieldKind::Text(64), false, "Empty: the configured work model (`openai_model`)"),
                field("qa", "Quality check", FieldKind::Bool(true), false, "Grade the answer (clarity, accuracy, completeness, tone) and retry with feedback below the pass mark"),
                ATTEMPTS,
            ],
            ports: &["next", "error"],
            output: Some(&[
                ("text", Type::String),
                ("score", Type::Number),
                ("passed", Type::Bool),
                ("model", Type::String),
                ("simulated", Type::Bool),
                ERROR,
            ]),
            integration: false,
            attempts: 3,
        }],
    },
    NodeSpec {
        node_type: NodeType::Condition,
        label: "Condition",
        help: "A yes-or-no question about earlier data; the run continues on `true` or `false`.",
        kinded: false,
        kinds: &[KindSpec {
            kind: "",
            label: "Condition",
            help: "An expression: comparisons, and/or/not, contains, numbers and strings.",
            fields: &[field(
                "expression",
                "Condition",
                FieldKind::Expression,
                true,
                "e.g. nodes.draft.score >= 80 and trigger.plan != \"free\"",
            )],
            ports: &["true", "false", "error"],
            output: Some(&[("result", Type::Bool), ERROR]),
            integration: false,
            attempts: 1,
        }],
    },
    NodeSpec {
        node_type: NodeType::Action,
        label: "Action",
        help: "Do something: call an allowed HTTP endpoint, create a job, update a Notion page, upload a file to Google Drive.",
        kinded: true,
        kinds: &[
            KindSpec {
                kind: "http",
                label: "HTTP request",
                help: "A request to an origin the operator allowed (`workflow_http_allowed_origins`).",
                fields: &[
                    field("method", "Method", FieldKind::Choice(&["POST", "GET", "PUT", "PATCH", "DELETE"]), false, "The HTTP method"),
                    field("url", "URL", FieldKind::Url, true, "Origin written out, e.g. https://hooks.example.com/leads?email={{trigger.email}}"),
                    field("headers", "Headers", FieldKind::Headers, false, "Header names to values (templates)"),
                    field("content", "Body", FieldKind::Template(65_536), false, "The request body (template); JSON bodies get JSON-escaped values"),
                    field("content_type", "Body type", FieldKind::Choice(&["application/json", "text/plain", "application/x-www-form-urlencoded"]), false, "The body's media type"),
                    field("timeout_ms", "Timeout (ms)", FieldKind::Int { min: 1_000, max: 30_000, default: 10_000 }, false, "Give up after this long"),
                    ATTEMPTS,
                ],
                ports: &["next", "error"],
                output: Some(&[("status", Type::Number), ("ok", Type::Bool), ("body", Type::Any), ERROR]),
                integration: true,
                attempts: 3,
            },
            KindSpec {
                kind: "create_job",
                label: "Create a job",
                help: "Queue a job (AI work with QA) in this tenant; the run does not wait for it.",
                fields: &[
                    field("brief", "Brief", FieldKind::Template(10_000), true, "The work to do (template)"),
                    field("title", "Title", FieldKind::Template(200), false, "A short name (template)"),
                    field("job_type", "Job type", FieldKind::Choice(&["ai_task", "report_gen", "data_sync"]), false, "Which prompt template the worker uses"),
                    field("priority", "Priority", FieldKind::Choice(&["normal", "high", "low"]), false, "Queue priority"),
                ],
                ports: &["next", "error"],
                output: Some(&[("job_id", Type::String), ("status_url", Type::String), ERROR]),
                integration: false,
                attempts: 3,
            },
            KindSpec {
                kind: "notion_update",
                label: "Update a Notion page",
                help: "Set a page's status and append text to it, with the platform's Notion integration.",
                fields: &[
                    field("page_id", "Page", FieldKind::Template(200), true, "The page id, e.g. {{trigger.id}}"),
                    field("status", "Status", FieldKind::Text(100), false, "A status option to set (e.g. Done); empty: unchanged"),
                    field("content", "Text to append", FieldKind::Template(65_536), false, "Appended as paragraphs (template)"),
                    ATTEMPTS,
                ],
                ports: &["next", "error"],
                output: Some(&[("page_id", Type::String), ERROR]),
                integration: true,
                attempts: 3,
            },
            KindSpec {
                kind: "drive_upload",
                label: "Upload to Google Drive",
                help: "Upload text, Markdown or HTML to a Drive folder (multipart upload).",
                fields: &[
                    field("name", "File name", FieldKind::Template(255), true, "The file's name (template); the format's extension is added"),
                    field("content", "Content", FieldKind::Template(200_000), true, "What the file holds (template), e.g. {{nodes.draft.text}}"),
                    field("format", "Format", FieldKind::Choice(&["markdown", "text", "html"]), false, "The file's type"),
                    field("folder_id", "Folder", FieldKind::Text(128), false, "A Drive folder id; empty: `drive_folder_id`"),
                    ATTEMPTS,
                ],
                ports: &["next", "error"],
                output: Some(&[("file_id", Type::String), ("name", Type::String), ("link", Type::String), ERROR]),
                integration: true,
                attempts: 3,
            },
        ],
    },
    NodeSpec {
        node_type: NodeType::Notification,
        label: "Notification",
        help: "Send a Telegram message or an email through the platform's alert channels.",
        kinded: true,
        kinds: &[
            KindSpec {
                kind: "telegram",
                label: "Telegram",
                help: "A message through the configured bot.",
                fields: &[
                    field("message", "Message", FieldKind::Template(4_096), true, "The text (template)"),
                    field("chat_id", "Chat", FieldKind::Text(64), false, "Empty: `telegram_chat_id`"),
                    ATTEMPTS,
                ],
                ports: &["next", "error"],
                output: Some(&[("channel", Type::String), ("sent", Type::Bool), ERROR]),
                integration: true,
                attempts: 3,
            },
            KindSpec {
                kind: "email",
                label: "Email",
                help: "An email through the configured email provider (HTTPS API or Gmail).",
                fields: &[
                    field("subject", "Subject", FieldKind::Template(300), true, "The subject (template)"),
                    field("message", "Message", FieldKind::Template(65_536), true, "The text (template)"),
                    field("to", "To", FieldKind::TemplateList(10), false, "Recipients (templates, e.g. {{trigger.email}}); empty: `alert_email_to`"),
                    ATTEMPTS,
                ],
                ports: &["next", "error"],
                output: Some(&[("channel", Type::String), ("sent", Type::Bool), ERROR]),
                integration: true,
                attempts: 3,
            },
        ],
    },
    NodeSpec {
        node_type: NodeType::Delay,
        label: "Delay",
        help: "Wait, then continue: the next steps are queued to run at the time.",
        kinded: true,
        kinds: &[
            KindSpec {
                kind: "duration",
                label: "For a while",
                help: "Wait a duration (1 second to 30 days).",
                fields: &[field("duration", "Duration", FieldKind::Duration, true, "e.g. 90s, 15m, 2h, 1d, 1h30m")],
                ports: &["next"],
                output: Some(&[("resume_at", Type::String)]),
                integration: false,
                attempts: 1,
            },
            KindSpec {
                kind: "until",
                label: "Until a time",
                help: "Wait until a time (at most 30 days ahead); a time already past continues at once.",
                fields: &[field("until", "Time", FieldKind::Timestamp, true, "RFC 3339 (2026-05-01T09:00:00Z) or a template giving one")],
                ports: &["next"],
                output: Some(&[("resume_at", Type::String)]),
                integration: false,
                attempts: 1,
            },
        ],
    },
];

/// The spec of `t`.
pub fn spec(t: NodeType) -> &'static NodeSpec {
    CATALOGUE
        .iter()
        .find(|s| s.node_type == t)
        .unwrap_or(&CATALOGUE[0])
}

fn type_name(t: Type) -> &'static str {
    match t {
        Type::Bool => "boolean",
        Type::Number => "number",
        Type::String => "string",
        Type::Null => "null",
        Type::List => "array",
        Type::Object => "object",
        Type::Any => "any",
    }
}

/// One field as a JSON Schema property, with `x-widget` naming the editor
/// control that fits (`text`, `template`, `expression`, `cron`, `duration`,
/// `timestamp`, `select`, `switch`, `number`, `list`, `headers`, `url`).
fn property(f: &Field) -> Value {
    let (mut p, widget) = match f.kind {
        FieldKind::Text(max) => (json!({"type": "string", "maxLength": max}), "text"),
        FieldKind::Template(max) => (json!({"type": "string", "maxLength": max}), "template"),
        FieldKind::Expression => (
            json!({"type": "string", "maxLength": super::expr::MAX_SOURCE_BYTES}),
            "expression",
        ),
        FieldKind::Cron => (json!({"type": "string", "maxLength": 100}), "cron"),
        FieldKind::Duration => (
            json!({"type": "string", "pattern": "^([0-9]+[smhd])+$"}),
            "duration",
        ),
        FieldKind::Timestamp => (json!({"type": "string", "maxLength": 200}), "timestamp"),
        FieldKind::Choice(options) => (
            json!({"type": "string", "enum": options, "default": options[0]}),
            "select",
        ),
        FieldKind::Bool(default) => (json!({"type": "boolean", "default": default}), "switch"),
        FieldKind::Int { min, max, default } => (
            json!({"type": "integer", "minimum": min, "maximum": max, "default": default}),
            "number",
        ),
        FieldKind::TemplateList(max) => (
            json!({"type": "array", "items": {"type": "string", "maxLength": 320}, "maxItems": max}),
            "list",
        ),
        FieldKind::Headers => (
            json!({"type": "object", "additionalProperties": {"type": "string", "maxLength": 2000}, "maxProperties": 20}),
            "headers",
        ),
        FieldKind::Url => (json!({"type": "string", "maxLength": 2000}), "url"),
    };
    p["title"] = json!(f.label);
    p["description"] = json!(f.help);
    p["x-widget"] = json!(widget);
    p
}

/// A kind's configuration as a JSON Schema object.
pub fn config_schema(node: &NodeSpec, k: &KindSpec) -> Value {
    let mut properties = serde_json::Map::new();
    let mut required: Vec<&str> = Vec::new();
    if node.kinded {
        properties.insert("kind".into(), json!({"const": k.kind, "title": "Kind"}));
        required.push("kind");
    }
    for f in k.fields {
        properties.insert(f.name.into(), property(f));
        if f.required {
            required.push(f.name);
        }
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// The catalogue as `GET /api/workflow-node-types` serves it.
pub fn catalogue_view() -> Value {
    let types: Vec<Value> = CATALOGUE
        .iter()
        .map(|n| {
            let kinds: Vec<Value> = n
                .kinds
                .iter()
                .map(|k| {
                    let output = match k.output {
                        None => json!({"*": "any"}),
                        Some(fields) => Value::Object(
                            fields
                                .iter()
                                .map(|(name, t)| (name.to_string(), json!(type_name(*t))))
                                .collect(),
                        ),
                    };
                    json!({
                        "kind": k.kind,
                        "label": k.label,
                        "description": k.help,
                        "ports": k.ports,
                        "config_schema": config_schema(n, k),
                        "output": output,
                        "integration": k.integration,
                    })
                })
                .collect();
            json!({
                "type": n.node_type,
                "label": n.label,
                "description": n.help,
                "kinded": n.kinded,
                "inputs": if n.node_type == NodeType::Trigger { 0 } else { 1 },
                "kinds": kinds,
            })
        })
        .collect();
    json!({
        "node_types": types,
        "ports": {
            "next": "the step succeeded",
            "true": "the condition held",
            "false": "the condition did not hold",
            "error": "the step failed after its attempts: the run continues here instead of failing",
        },
        "data": {
            "trigger": "the trigger's data (manual: the run's context; webhook: the body; schedule: fired_at; Notion: the page)",
            "nodes.<id>.<field>": "an earlier node's output (fields per kind above; `error` when it failed)",
            "run": "id, started_at, debug",
            "workflow": "id, name, version",
        },
        "limits": {
            "nodes": super::model::MAX_NODES,
            "edges": super::model::MAX_EDGES,
            "graph_bytes": super::model::MAX_GRAPH_BYTES,
            "expression_bytes": super::expr::MAX_SOURCE_BYTES,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_a_spec_and_every_kind_ports_and_fields_named_once() {
        for t in NodeType::ALL {
            let s = spec(t);
            assert_eq!(s.node_type, t);
            assert!(!s.kinds.is_empty());
            assert_eq!(s.kinded, s.kinds.iter().all(|k| !k.kind.is_empty()));
            for k in s.kinds {
                assert!(!k.ports.is_empty());
                let mut names: Vec<&str> = k.fields.iter().map(|f| f.name).collect();
                names.sort();
                names.dedup();
                assert_eq!(names.len(), k.fields.len(), "{}/{}", t.as_str(), k.kind);
                assert!(!names.contains(&"kind"));
            }
        }
    }

    #[test]
    fn the_served_catalogue_has_a_schema_per_kind() {
        let v = catalogue_view();
        let types = v["node_types"].as_array().unwrap();
        assert_eq!(types.len(), 6);
        let http = types[3]["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kind"] == "http")
            .unwrap();
        assert_eq!(http["config_schema"]["required"], json!(["kind", "url"]));
        assert_eq!(
            http["config_schema"]["properties"]["method"]["enum"][0],
            "POST"
        );
        assert_eq!(http["config_schema"]["additionalProperties"], false);
        assert_eq!(types[0]["inputs"], 0);
    }
}
