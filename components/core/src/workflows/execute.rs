//! What each node does when its step runs. Every node works on the run's
//! data (the trigger's output, earlier outputs, the run, the workflow) and
//! ends with a port to leave through and an output, or a failure that may
//! pass (retried by the queue's policy) or will not.
//!
//! In debug mode nothing leaves the process: AI answers come from the
//! simulated provider and every integration (HTTP, job creation, Notion,
//! Drive, Telegram, email) reports what it would have done.

use super::engine::Run;
use super::model::{Graph, Node, NodeType};
use super::template::{self, Escape};
use super::validate::{self, Scope};
use super::{expr, timing};
use crate::ai::provider::{self, AiError, Call, Completion, Message};
use crate::ai::settings::AiSettings;
use crate::ai::{grader, simulated};
use crate::costs::guard::Verdict;
use crate::costs::spend::{self, Usage};
use crate::google::drive;
use crate::incidents::channels::{self, Channel};
use crate::jobs::model::{Brief, JobType, NewJob, Priority, Source, Title};
use crate::ports::{redact, retryable, Env, OutboundRequest};
use crate::tenancy::TenantId;
use serde_json::{json, Value};

/// A step that finished.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    /// The port it leaves through.
    pub port: String,
    /// What it worked with (its rendered configuration).
    pub input: Value,
    /// What it produced.
    pub output: Value,
    /// A Delay's resume time, Unix ms.
    pub resume_at: Option<i64>,
    /// What it cost, micro-dollars.
    pub cost_micros: i64,
}

impl Done {
    fn next(input: Value, output: Value) -> Done {
        Done {
            port: super::model::NEXT.to_string(),
            input,
            output,
            resume_at: None,
            cost_micros: 0,
        }
    }
}

/// A step that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// What went wrong (no secret).
    pub message: String,
    /// Whether trying again later may work.
    pub retryable: bool,
    /// How long the other side asked to wait.
    pub retry_after_ms: Option<i64>,
    /// What the node worked with, when it got that far.
    pub input: Option<Value>,
    /// A wait on the cost caps, not a failure: the step goes back to the
    /// queue without spending an attempt (as a job snoozes), due again
    /// after `retry_after_ms`.
    pub waits: bool,
    /// What the calls made before it failed cost, micro-dollars.
    pub cost_micros: i64,
}

impl Failure {
    /// A failure that will not pass by retrying.
    pub fn permanent(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            retryable: false,
            retry_after_ms: None,
            input: None,
            waits: false,
            cost_micros: 0,
        }
    }

    fn transient(message: impl Into<String>, retry_after_ms: Option<i64>) -> Failure {
        Failure {
            retryable: true,
            retry_after_ms,
            ..Failure::permanent(message)
        }
    }

    /// Wait on a cost cap until `until` (Unix ms, at least a second away).
    fn wait(env: &Env, w: crate::costs::guard::Wait) -> Failure {
        let after = (w.until - env.clock.now_ms()).max(1000);
        Failure {
            waits: true,
            ..Failure::transient(w.reason, Some(after))
        }
    }

    fn with_input(mut self, input: &Value) -> Failure {
        self.input = Some(input.clone());
        self
    }
}

type Outcome = std::result::Result<Done, Failure>;

fn render(
    node: &Node,
    field: &str,
    data: &Value,
    escape: Escape,
) -> std::result::Result<String, Failure> {
    match node.text(field) {
        None => Ok(String::new()),
        Some(src) => template::render(src, data, escape)
            .map_err(|e| Failure::permanent(format!("`{field}`: {e}"))),
    }
}

/// Run `node` of `graph` for `run` on `data`.
pub async fn run(env: &Env, run: &Run, graph: &Graph, node: &Node, data: &Value) -> Outcome {
    match node.node_type {
        NodeType::Trigger => Ok(Done::next(
            json!({ "kind": node.kind() }),
            run.input.clone(),
        )),
        NodeType::Condition => condition(graph, node, data),
        NodeType::Delay => delay(env, node, data),
        NodeType::AiTask => ai_task(env, run, node, data).await,
        NodeType::Action => match node.kind() {
            "http" => http(env, run, node, data).await,
            "create_job" => create_job(env, run, node, data),
            "notion_update" => notion_update(env, run, node, data).await,
            "drive_upload" => drive_upload(env, run, node, data).await,
            other => Err(Failure::permanent(format!("unknown action `{other}`"))),
        },
        NodeType::Notification => notification(env, run, node, data).await,
    }
}

fn condition(graph: &Graph, node: &Node, data: &Value) -> Outcome {
    let source = node.text("expression").unwrap_or_default();
    let input = json!({ "expression": source });
    let compiled = expr::compile(source, &Scope::new(graph, &node.id)).map_err(|e| {
        Failure::permanent(format!("the condition no longer compiles: {e}")).with_input(&input)
    })?;
    let result = expr::eval(&compiled, data).map_err(|e| {
        Failure::permanent(format!("the condition could not be evaluated: {e}")).with_input(&input)
    })?;
    Ok(Done {
        port: if result { "true" } else { "false" }.to_string(),
        ..Done::next(input, json!({ "result": result }))
    })
}

fn delay(env: &Env, node: &Node, data: &Value) -> Outcome {
    let now = env.clock.now_ms();
    let (input, at) = match node.kind() {
        "duration" => {
            let text = node.text("duration").unwrap_or_default();
            let ms = timing::parse_duration(text).map_err(Failure::permanent)?;
            (json!({ "duration": text }), now + ms)
        }
        _ => {
            let text = render(node, "until", data, Escape::Plain)?;
            let input = json!({ "until": text });
            let at = crate::time::parse_rfc3339(text.trim()).map_err(|e| {
                Failure::permanent(format!("`until`: {}", e.message)).with_input(&input)
            })?;
            if at > now + timing::MAX_DELAY_MS {
                return Err(
                    Failure::permanent("`until` is more than 30 days ahead").with_input(&input)
                );
            }
            (input, at.max(now))
        }
    };
    Ok(Done {
        resume_at: Some(at),
        ..Done::next(input, json!({ "resume_at": crate::time::rfc3339(at) }))
    })
}

fn ai_failure(e: AiError, input: &Value) -> Failure {
    match e {
        AiError::RateLimited { retry_after_ms } => Failure::transient(
            "the AI provider is rate limiting",
            Some(retry_after_ms as i64),
        ),
        AiError::Transient(m) => Failure::transient(format!("AI: {m}"), None),
        AiError::Permanent(m) => Failure::permanent(format!("AI: {m}")),
    }
    .with_input(input)
}

/// A model call, or the simulated provider's answer in debug mode.
async fn complete(
    env: &Env,
    s: &AiSettings,
    call: &Call<'_>,
    simulate: bool,
) -> std::result::Result<crate::ai::provider::Completion, AiError> {
    if simulate {
        Ok(simulated::complete(call))
    } else {
        provider::complete(env, s, call).await
    }
}

/// Count a call in the day's spend (`llm_usage_days`), as job rounds are,
/// so the daily caps see workflow AI spend. Debug runs spend nothing.
fn record_usage(env: &Env, run: &Run, usage: &Usage<'_>, input: &Value) -> Result<(), Failure> {
    if run.debug {
        return Ok(());
    }
    spend::record(env.db.as_ref(), env.clock.now_ms(), usage)
        .map_err(|e| Failure::transient(e.message, None).with_input(input))
}

fn usage<'a>(
    c: &'a Completion,
    role: &'a str,
    cost_micros: i64,
    passed: Option<bool>,
) -> Usage<'a> {
    Usage {
        model: &c.model,
        role,
        tokens_in: c.tokens_in,
        tokens_out: c.tokens_out,
        cost_micros,
        passed,
    }
}

/// An AI Task: the work call, then (QA on) the grading call, in rounds
/// until the answer passes. Outside debug mode each call is preceded by
/// the cost guard, exactly as a job's round is: when a cap is reached the
/// step waits (back to the queue, no attempt spent) rather than spend.
/// Steps are normal priority: they never go past a cap.
async fn ai_task(env: &Env, run: &Run, node: &Node, data: &Value) -> Outcome {
    let s = AiSettings::load(env.config.as_ref()).map_err(|e| Failure::permanent(e.message))?;
    let prompt = render(node, "user_template", data, Escape::Plain)?;
    let system = match render(node, "system_prompt", data, Escape::Plain)? {
        s if s.trim().is_empty() => {
            "You are EchoPilot, a careful professional writer. Answer with the finished text only."
                .to_string()
        }
        s => s,
    };
    let requested = node
        .text("model")
        .filter(|m| !m.is_empty())
        .unwrap_or(&s.work_model)
        .to_string();
    let qa = node
        .config
        .get("qa")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let input = json!({ "prompt": prompt, "system_prompt": system, "model": requested, "qa": qa });
    let simulate = run.debug;
    let guard = if simulate {
        None
    } else {
        Some(crate::costs::Guard::load(env).map_err(|e| Failure::permanent(e.message))?)
    };
    let task = AiTask {
        s,
        prompt,
        system,
        requested,
        qa,
        input,
        guard,
    };
    let mut cost = 0;
    let outcome = rounds(env, run, &task, &mut cost).await;
    outcome.map_err(|f| Failure {
        cost_micros: cost,
        ..f
    })
}

/// An AI Task's settings and rendered configuration.
struct AiTask {
    s: AiSettings,
    prompt: String,
    system: String,
    requested: String,
    qa: bool,
    input: Value,
    /// The cost guard; none in debug mode.
    guard: Option<crate::costs::Guard>,
}

/// The rounds of an AI Task; `cost` adds up what every call cost, so a
/// failure records it too.
async fn rounds(env: &Env, run: &Run, task: &AiTask, cost: &mut i64) -> Outcome {
    let AiTask {
        s,
        prompt,
        system,
        requested,
        qa,
        input,
        guard,
    } = task;
    let (qa, simulate) = (*qa, run.debug);
    let guard_failed = |e: crate::Error| Failure::transient(e.message, None).with_input(input);
    let mut feedback = String::new();
    let rounds = if qa { s.qa_max_retries.max(0) + 1 } else { 1 };
    for round in 0..rounds {
        let model = match guard {
            None => requested.clone(),
            Some(g) => match g
                .before_work(env, Priority::Normal, requested, &s.qa_model)
                .map_err(guard_failed)?
            {
                Verdict::Go(plan) => plan.model,
                Verdict::Wait(w) => return Err(Failure::wait(env, w).with_input(input)),
            },
        };
        let mut user = prompt.clone();
        if !feedback.is_empty() {
            user.push_str(
                "\n\nA reviewer graded your previous answer below the pass mark. Improve it:\n",
            );
            user.push_str(&feedback);
        }
        let messages = [Message::system(system.clone()), Message::user(user)];
        let call = Call {
            model: &model,
            messages: &messages,
            json: false,
            timeout_ms: s.work_timeout_ms,
            temperature: 0.4,
        };
        let work = complete(env, s, &call, simulate)
            .await
            .map_err(|e| ai_failure(e, input))?;
        let work_cost = s.prices.cost(&work.model, work.tokens_in, work.tokens_out);
        *cost += work_cost;
        let mut output = json!({
            "text": work.text,
            "score": null,
            "passed": null,
            "model": work.model,
            "simulated": work.simulated || simulate,
            "rounds": round + 1,
        });
        if !qa {
            record_usage(env, run, &usage(&work, "work", work_cost, None), input)?;
            return Ok(Done {
                cost_micros: *cost,
                ..Done::next(input.clone(), output)
            });
        }
        if let Some(g) = guard {
            let unrecorded = (work.model.as_str(), work_cost);
            if let Some(w) = g
                .before_grading(env, Priority::Normal, &s.qa_model, unrecorded)
                .map_err(guard_failed)?
            {
                record_usage(env, run, &usage(&work, "work", work_cost, None), input)?;
                return Err(Failure::wait(env, w).with_input(input));
            }
        }
        let grading = grader::messages(prompt, &work.text);
        let call = Call {
            model: &s.qa_model,
            messages: &grading,
            json: true,
            timeout_ms: s.qa_timeout_ms,
            temperature: 0.0,
        };
        let answer = match complete(env, s, &call, simulate).await {
            Ok(a) => a,
            Err(e) => {
                record_usage(env, run, &usage(&work, "work", work_cost, None), input)?;
                return Err(ai_failure(e, input));
            }
        };
        let qa_cost = s
            .prices
            .cost(&answer.model, answer.tokens_in, answer.tokens_out);
        *cost += qa_cost;
        let grades = grader::parse(&answer.text);
        let overall = grades.as_ref().ok().map(|g| g.overall(&s.weights));
        let passed = overall.map(|o| o >= s.qa_threshold);
        record_usage(env, run, &usage(&work, "work", work_cost, passed), input)?;
        record_usage(env, run, &usage(&answer, "qa", qa_cost, None), input)?;
        let grades = grades.map_err(|e| {
            Failure::transient(format!("the grader's answer was malformed: {e}"), None)
                .with_input(input)
        })?;
        let overall = grades.overall(&s.weights);
        output["score"] = json!(overall);
        output["passed"] = json!(overall >= s.qa_threshold);
        if overall < s.qa_threshold {
            if round + 1 == rounds {
                return Err(Failure::permanent(format!(
                    "the answer did not pass QA in {rounds} round(s): score {overall} below {}",
                    s.qa_threshold
                ))
                .with_input(input));
            }
            feedback = grades.feedback(s.qa_threshold);
            continue;
        }
        return Ok(Done {
            cost_micros: *cost,
            ..Done::next(input.clone(), output)
        });
    }
    Err(Failure::permanent("no answer").with_input(input))
}

async fn http(env: &Env, run: &Run, node: &Node, data: &Value) -> Outcome {
    let method = node.text("method").unwrap_or("POST").to_string();
    let content_type = node
        .text("content_type")
        .unwrap_or("application/json")
        .to_string();
    let url = render(node, "url", data, Escape::Url)?;
    let escape = if content_type == "application/json" {
        Escape::Json
    } else {
        Escape::Plain
    };
    let body = render(node, "content", data, escape)?;
    let mut headers = Vec::new();
    if let Some(map) = node.config.get("headers").and_then(Value::as_object) {
        for (name, v) in map {
            let src = v.as_str().unwrap_or_default();
            let value = template::render(src, data, Escape::Header)
                .map_err(|e| Failure::permanent(format!("header `{name}`: {e}")))?;
            headers.push((name.to_ascii_lowercase(), value));
        }
    }
    let input = json!({ "method": method, "url": url, "headers": headers.iter().map(|(k, _)| k).collect::<Vec<_>>(), "body": body });
    // Checked again now: the operator may have withdrawn the origin since
    // the workflow was saved. Refused before any request.
    let allowed = validate::allowed_origins(env.config.as_ref())
        .map_err(|e| Failure::permanent(e.message))?;
    let origin = validate::origin_of(&url, true);
    if !origin.as_ref().is_some_and(|o| allowed.contains(o)) {
        return Err(Failure::permanent(format!(
            "{} is not an allowed origin (workflow_http_allowed_origins)",
            origin.unwrap_or_else(|| "the URL".into())
        ))
        .with_input(&input));
    }
    if run.debug {
        return Ok(Done::next(
            input,
            json!({ "status": 200, "ok": true, "body": null, "simulated": true }),
        ));
    }
    let timeout = node
        .config
        .get("timeout_ms")
        .and_then(Value::as_u64)
        .unwrap_or(10_000)
        .clamp(1_000, 30_000);
    let mut request = OutboundRequest::new(&method, url.clone()).timeout_ms(timeout);
    for (k, v) in &headers {
        request = request.header(k, v);
    }
    if !body.is_empty() && method != "GET" {
        request = request.header("content-type", &content_type);
        request.body = body.into_bytes();
    }
    let secrets: Vec<String> = headers.iter().map(|(_, v)| v.clone()).collect();
    match env.http.send(request).await {
        Ok(resp) => {
            let text = String::from_utf8_lossy(&resp.body);
            let body = serde_json::from_slice::<Value>(&resp.body)
                .unwrap_or_else(|_| Value::String(text.chars().take(10_000).collect()));
            let ok = (200..300).contains(&resp.status);
            if ok {
                Ok(Done::next(
                    input,
                    json!({ "status": resp.status, "ok": true, "body": body }),
                ))
            } else {
                let message = redact(
                    &format!(
                        "HTTP {} from {url}: {}",
                        resp.status,
                        text.chars().take(200).collect::<String>()
                    ),
                    &secrets,
                );
                let retry_after = resp.retry_after_secs().map(|s| (s * 1000.0) as i64);
                Err(if retryable(resp.status) {
                    Failure::transient(message, retry_after)
                } else {
                    Failure::permanent(message)
                }
                .with_input(&input))
            }
        }
        Err(e) => Err(
            Failure::transient(redact(&format!("{url}: {e}"), &secrets), None).with_input(&input),
        ),
    }
}

fn create_job(env: &Env, run: &Run, node: &Node, data: &Value) -> Outcome {
    let brief_text = render(node, "brief", data, Escape::Plain)?;
    let title_text = render(node, "title", data, Escape::Plain)?;
    let job_type = node.text("job_type").unwrap_or("ai_task");
    let priority = node.text("priority").unwrap_or("normal");
    let input = json!({ "brief": brief_text, "title": title_text, "job_type": job_type, "priority": priority });
    let bad = |e: crate::Error| Failure::permanent(e.message).with_input(&input);
    let mut job = NewJob::new(
        JobType::parse(job_type).map_err(bad)?,
        Brief::parse(&brief_text).map_err(bad)?,
    );
    job.priority = Priority::parse(priority).map_err(bad)?;
    job.source = Source::Workflow;
    if !title_text.trim().is_empty() {
        job.title = Some(Title::parse(&title_text).map_err(bad)?);
    }
    job.context =
        Some(json!({ "workflow_id": run.workflow_id, "run_id": run.id, "node_id": node.id }));
    if run.debug {
        return Ok(Done::next(
            input,
            json!({ "job_id": "job_debug", "status_url": null, "simulated": true }),
        ));
    }
    let tenant = TenantId::parse(&run.tenant_id).map_err(bad)?;
    let key = format!("wf-{}-{}", run.id, node.id);
    let created = crate::jobs::store::create(env, &tenant, &job, Some(&key))
        .map_err(|e| Failure::transient(e.message, None).with_input(&input))?;
    let id = created.job.id;
    Ok(Done::next(
        input,
        json!({ "job_id": id, "status_url": format!("/api/jobs/{id}") }),
    ))
}

async fn notion_update(env: &Env, run: &Run, node: &Node, data: &Value) -> Outcome {
    let page = render(node, "page_id", data, Escape::Plain)?
        .trim()
        .to_string();
    let status = node.text("status").unwrap_or_default().to_string();
    let content = render(node, "content", data, Escape::Plain)?;
    let input = json!({ "page_id": page, "status": status, "content": content });
    if page.is_empty()
        || page.len() > 64
        || !page.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(Failure::permanent("`page_id` is not a Notion page id").with_input(&input));
    }
    if run.debug {
        return Ok(Done::next(
            input,
            json!({ "page_id": page, "simulated": true }),
        ));
    }
    let settings = crate::notion::NotionSettings::load(env.config.as_ref())
        .map_err(|e| Failure::permanent(e.message).with_input(&input))?
        .ok_or_else(|| {
            Failure::permanent("Notion is not configured (notion_token)").with_input(&input)
        })?;
    let client = crate::notion::Notion::new(env, &settings);
    let notion_failure = |e: crate::notion::NotionError| {
        use crate::notion::NotionError as N;
        match e {
            N::RateLimited(ms) => Failure::transient("rate limited by Notion", Some(ms as i64)),
            N::Unavailable(_) => Failure::transient(format!("notion: {e}"), None),
            N::NotFound(_) | N::Rejected(..) => Failure::permanent(format!("notion: {e}")),
        }
        .with_input(&input)
    };
    if !content.trim().is_empty() {
        client
            .append(&page, crate::notion::paragraphs(&content))
            .await
            .map_err(notion_failure)?;
    }
    if !status.is_empty() {
        client
            .set_status(&page, &status)
            .await
            .map_err(notion_failure)?;
    }
    Ok(Done::next(input, json!({ "page_id": page })))
}

/// The Drive app property naming the step (`<run id>:<node id>`) that
/// uploaded a file: a retried step finds its file instead of making another.
const STEP_PROPERTY: &str = "echopilot_step";

async fn drive_upload(env: &Env, run: &Run, node: &Node, data: &Value) -> Outcome {
    let name = render(node, "name", data, Escape::Plain)?;
    let content = render(node, "content", data, Escape::Plain)?;
    let format = node.text("format").unwrap_or("markdown");
    let folder = node.text("folder_id").filter(|f| !f.is_empty());
    let input =
        json!({ "name": name, "format": format, "folder_id": folder, "bytes": content.len() });
    let bad = |e: crate::Error| Failure::permanent(e.message).with_input(&input);
    let upload = drive::Upload {
        name,
        folder: folder
            .map(drive::FolderId::parse)
            .transpose()
            .map_err(bad)?,
        format: drive::Format::parse(format).map_err(bad)?,
        content,
        // Found again by a retry whose first upload's answer was lost.
        properties: vec![(STEP_PROPERTY.to_string(), format!("{}:{}", run.id, node.id))],
    };
    upload.check().map_err(bad)?;
    if run.debug {
        return Ok(Done::next(
            input,
            json!({ "file_id": "drive_debug", "name": upload.file_name(), "link": null, "simulated": true }),
        ));
    }
    let settings = drive::settings(env.config.as_ref())
        .map_err(bad)?
        .ok_or_else(|| {
            Failure::permanent("Google Drive is not configured (drive_refresh_token)")
                .with_input(&input)
        })?;
    match drive::upload_once(env, &settings, &upload, STEP_PROPERTY).await {
        Ok(f) => Ok(Done::next(
            input,
            json!({ "file_id": f.id, "name": f.name, "link": f.link }),
        )),
        Err(drive::UploadError::Refused(m)) => Err(Failure::permanent(m).with_input(&input)),
        Err(drive::UploadError::Unavailable(m)) => {
            Err(Failure::transient(m, None).with_input(&input))
        }
    }
}

async fn notification(env: &Env, run: &Run, node: &Node, data: &Value) -> Outcome {
    let message = render(node, "message", data, Escape::Plain)?;
    let (channel, input) = match node.kind() {
        "telegram" => {
            let mut input = json!({ "text": message });
            if let Some(chat) = node.text("chat_id").filter(|c| !c.is_empty()) {
                input["chat_id"] = json!(chat);
            }
            (Channel::Telegram, input)
        }
        _ => {
            let subject = render(node, "subject", data, Escape::Plain)?;
            let mut input = json!({ "text": message, "subject": subject });
            if let Some(list) = node.config.get("to").and_then(Value::as_array) {
                let mut to = Vec::new();
                for src in list.iter().filter_map(Value::as_str) {
                    let addr = template::render(src, data, Escape::Plain)
                        .map_err(|e| Failure::permanent(format!("`to`: {e}")))?;
                    if !addr.trim().is_empty() {
                        to.push(addr.trim().to_string());
                    }
                }
                if !to.is_empty() {
                    input["to"] = json!(to);
                }
            }
            (Channel::Email, input)
        }
    };
    let name = if channel == Channel::Telegram {
        "telegram"
    } else {
        "email"
    };
    if run.debug {
        return Ok(Done::next(
            input,
            json!({ "channel": name, "sent": true, "simulated": true }),
        ));
    }
    let prepared = match channels::prepare(env.config.as_ref(), channel, &input) {
        Ok(p) => p,
        Err(channels::NotReady::NotConfigured) => {
            return Err(
                Failure::permanent(format!("the {name} channel is not configured"))
                    .with_input(&input),
            )
        }
        Err(channels::NotReady::Invalid(m)) => return Err(Failure::permanent(m).with_input(&input)),
    };
    match channels::send(env.http.as_ref(), channel, prepared).await {
        channels::Outcome::Sent { .. } => {
            Ok(Done::next(input, json!({ "channel": name, "sent": true })))
        }
        channels::Outcome::Retry {
            error,
            retry_after_ms,
            ..
        } => Err(Failure::transient(error, retry_after_ms).with_input(&input)),
        channels::Outcome::Fail { error, .. } => Err(Failure::permanent(error).with_input(&input)),
        channels::Outcome::Skip => Err(Failure::permanent(format!(
            "the {name} channel is not configured"
        ))
        .with_input(&input)),
    }
}
