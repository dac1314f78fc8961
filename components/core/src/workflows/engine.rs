//! Durable runs. A run is a row in `workflow_runs`; each node it reaches
//! is a step in `workflow_steps`, a queued unit of work with the job
//! queue's discipline: claimed atomically with a lease (so two replicas
//! never run one step), requeued with the queue's backoff when it fails
//! for a reason that may pass, recovered when its worker dies. The worker
//! tick ([`crate::ai::worker`]) drains due steps next to jobs. All state is
//! in SQLite, so a run survives restarts.
//!
//! Flow: a finished step leaves through one port (`next`, `true`,
//! `false`, `error`); an edge is *taken* when its source left through its
//! port. A node is decided once every edge into it has a finished (or
//! skipped) source: it is queued if any edge into it was taken, else
//! skipped (and its own edges are not taken), so branches join. Each node
//! runs at most once per run (`UNIQUE (run_id, node_id)`). A Delay sets
//! `resume_at`; its successors are queued with `run_at` then.

use super::execute::{self, Done, Failure};
use super::model::{Graph, NodeType};
use super::store::{self, Workflow};
use crate::error::{Error, Result};
use crate::jobs::queue::backoff_ms;
use crate::params;
use crate::ports::{DbExt, Env, Row};
use crate::tenancy::Scope;
use serde_json::{json, Map, Value};

/// How long a claimed step may run before another worker may take it.
pub const STEP_LEASE_MS: i64 = 120_000;
/// Backoff of a failed step's retries: base and cap.
const BACKOFF_BASE_MS: i64 = 5_000;
const BACKOFF_CAP_MS: i64 = 300_000;
/// The largest run input (trigger data) accepted.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;
/// The largest output a step records; longer text is cut.
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024;

const STEP_COLUMNS: &str = "id, run_id, tenant_id, node_id, status, port, attempts, max_attempts, run_at, resume_at, input, output, error, cost_micros, copied, started_at, finished_at, created_at";

/// A step as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Its row id.
    pub id: i64,
    /// Its run.
    pub run_id: String,
    /// The run's tenant.
    pub tenant_id: String,
    /// The node it runs.
    pub node_id: String,
    /// queued, processing, succeeded, failed, skipped, cancelled.
    pub status: String,
    /// The port it left through, once finished.
    pub port: Option<String>,
    /// Claims so far.
    pub attempts: i64,
    /// Claims allowed.
    pub max_attempts: i64,
    /// Due, Unix ms.
    pub run_at: i64,
    /// A Delay's resume time, Unix ms.
    pub resume_at: Option<i64>,
    /// What the node worked with (rendered configuration).
    pub input: Option<Value>,
    /// What it produced.
    pub output: Option<Value>,
    /// Why it failed (last attempt).
    pub error: Option<String>,
    /// What it cost, micro-dollars.
    pub cost_micros: i64,
    /// Copied from the run a restart began from.
    pub copied: bool,
    /// First claimed, Unix ms.
    pub started_at: Option<i64>,
    /// Finished, Unix ms.
    pub finished_at: Option<i64>,
    /// Created, Unix ms.
    pub created_at: i64,
}

fn json_col(r: &Row, i: usize) -> Result<Option<Value>> {
    Ok(r.opt_text(i)?.and_then(|t| serde_json::from_str(&t).ok()))
}

impl Step {
    fn from_row(r: &Row) -> Result<Step> {
        Ok(Step {
            id: r.i64(0)?,
            run_id: r.text(1)?,
            tenant_id: r.text(2)?,
            node_id: r.text(3)?,
            status: r.text(4)?,
            port: r.opt_text(5)?,
            attempts: r.i64(6)?,
            max_attempts: r.i64(7)?,
            run_at: r.i64(8)?,
            resume_at: r.opt_i64(9)?,
            input: json_col(r, 10)?,
            output: json_col(r, 11)?,
            error: r.opt_text(12)?,
            cost_micros: r.i64(13)?,
            copied: r.bool(14)?,
            started_at: r.opt_i64(15)?,
            finished_at: r.opt_i64(16)?,
            created_at: r.i64(17)?,
        })
    }

    /// As the API serves it (the live log's rows).
    pub fn view(&self) -> Value {
        let t = |v: Option<i64>| v.map(crate::time::rfc3339);
        json!({
            "node_id": self.node_id,
            "status": self.status,
            "port": self.port,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "run_at": crate::time::rfc3339(self.run_at),
            "resume_at": t(self.resume_at),
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "cost_micros": self.cost_micros,
            "copied": self.copied,
            "started_at": t(self.started_at),
            "finished_at": t(self.finished_at),
            "duration_ms": match (self.started_at, self.finished_at) {
                (Some(s), Some(f)) => Some(f - s),
                _ => None,
            },
        })
    }
}

const RUN_COLUMNS: &str = "id, tenant_id, workflow_id, version, status, debug, trigger, input, restarted_from, restart_node, error, cost_micros, created_at, finished_at";

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// `run_…`.
    pub id: String,
    /// The tenant.
    pub tenant_id: String,
    /// The workflow.
    pub workflow_id: String,
    /// The version of the graph it executes.
    pub version: i64,
    /// running, succeeded, failed, cancelled.
    pub status: String,
    /// Debug mode: simulated AI and integrations, no outbound call.
    pub debug: bool,
    /// What started it: manual, schedule, webhook, notion_page, restart.
    pub trigger: String,
    /// The trigger's data.
    pub input: Value,
    /// The run a restart began from.
    pub restarted_from: Option<String>,
    /// The node a restart began at.
    pub restart_node: Option<String>,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// What its steps cost, micro-dollars.
    pub cost_micros: i64,
    /// Started, Unix ms.
    pub created_at: i64,
    /// Finished, Unix ms.
    pub finished_at: Option<i64>,
}

impl Run {
    fn from_row(r: &Row) -> Result<Run> {
        Ok(Run {
            id: r.text(0)?,
            tenant_id: r.text(1)?,
            workflow_id: r.text(2)?,
            version: r.i64(3)?,
            status: r.text(4)?,
            debug: r.bool(5)?,
            trigger: r.text(6)?,
            input: json_col(r, 7)?.unwrap_or(Value::Null),
            restarted_from: r.opt_text(8)?,
            restart_node: r.opt_text(9)?,
            error: r.opt_text(10)?,
            cost_micros: r.i64(11)?,
            created_at: r.i64(12)?,
            finished_at: r.opt_i64(13)?,
        })
    }

    /// Whether it has finished.
    pub fn finished(&self) -> bool {
        self.status != "running"
    }

    /// As the API serves it, with its steps.
    pub fn view(&self, steps: &[Step]) -> Value {
        json!({
            "id": self.id,
            "workflow_id": self.workflow_id,
            "version": self.version,
            "status": self.status,
            "debug": self.debug,
            "trigger": self.trigger,
            "input": self.input,
            "restarted_from": self.restarted_from,
            "restart_node": self.restart_node,
            "error": self.error,
            "cost_micros": self.cost_micros,
            "started_at": crate::time::rfc3339(self.created_at),
            "finished_at": self.finished_at.map(crate::time::rfc3339),
            "steps": steps.iter().map(Step::view).collect::<Vec<_>>(),
        })
    }

    /// The summary a list serves.
    pub fn summary(&self) -> Value {
        json!({
            "id": self.id,
            "workflow_id": self.workflow_id,
            "version": self.version,
            "status": self.status,
            "debug": self.debug,
            "trigger": self.trigger,
            "error": self.error,
            "cost_micros": self.cost_micros,
            "started_at": crate::time::rfc3339(self.created_at),
            "finished_at": self.finished_at.map(crate::time::rfc3339),
        })
    }
}

/// How a run starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    /// manual, schedule, webhook or notion_page.
    pub trigger: &'static str,
    /// The trigger's data.
    pub input: Value,
    /// Debug mode.
    pub debug: bool,
}

/// Claims a step may take: its `max_attempts`, or its kind's count. Nodes
/// without side effects (trigger, condition, delay) never fail for a
/// reason that passes, but their worker may die: they get three claims.
fn max_attempts(graph: &Graph, node: &str) -> i64 {
    let Some(n) = graph.node(node) else { return 1 };
    if matches!(
        n.node_type,
        NodeType::Trigger | NodeType::Condition | NodeType::Delay
    ) {
        return 3;
    }
    let fixed = super::nodes::spec(n.node_type)
        .kind(n.kind())
        .map(|k| k.attempts)
        .unwrap_or(1);
    n.config
        .get("max_attempts")
        .and_then(Value::as_i64)
        .unwrap_or(fixed)
        .clamp(1, 10)
}

fn insert_step(
    db: &dyn crate::ports::Db,
    run: &str,
    tenant: &str,
    node: &str,
    attempts: i64,
    run_at: i64,
    now: i64,
) -> Result<()> {
    db.exec(
        "INSERT OR IGNORE INTO workflow_steps (run_id, tenant_id, node_id, status, max_attempts, run_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?6)",
        params![run, tenant, node, attempts, run_at, now],
    )?;
    Ok(())
}

/// Start a run of `wf`'s current version: its trigger step is queued now.
pub fn start(env: &Env, wf: &Workflow, how: &Start) -> Result<Run> {
    start_claimed(env, wf, how, |_, _| Ok(true))?
        .ok_or_else(|| Error::internal("an unconditional start was not claimed"))
}

/// Start a run as [`start`] does, if `claim` (given the transaction and the
/// new run's id) says so: the claim and the run are written in one
/// transaction, so a trigger that claims its event by inserting a row
/// starts exactly one run per event, however many replicas try at once,
/// and never claims an event without starting its run. `None`: the event
/// was claimed already.
pub fn start_claimed(
    env: &Env,
    wf: &Workflow,
    how: &Start,
    mut claim: impl FnMut(&dyn crate::ports::Db, &str) -> Result<bool>,
) -> Result<Option<Run>> {
    let input = how.input.to_string();
    if input.len() > MAX_INPUT_BYTES {
        return Err(Error::new(
            crate::error::Kind::PayloadTooLarge,
            "input_too_large",
            format!("a run's input is at most {MAX_INPUT_BYTES} bytes of JSON"),
        ));
    }
    let graph = store::graph_at(env, &wf.tenant_id, &wf.id, wf.version)?;
    let trigger = graph
        .trigger()
        .ok_or_else(|| Error::internal("a stored workflow has no trigger"))?
        .id
        .clone();
    let now = env.clock.now_ms();
    let id = crate::ports::ids::new_id("run_", now, env.ids.as_ref())?;
    let started = crate::db::transaction(env.db.as_ref(), |db| {
        if !claim(db, &id)? {
            return Ok(false);
        }
        db.exec(
            "INSERT INTO workflow_runs (id, tenant_id, workflow_id, version, status, debug, trigger, input, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7, ?8, ?8)",
            params![
                id.as_str(),
                wf.tenant_id.as_str(),
                wf.id.as_str(),
                wf.version,
                how.debug,
                how.trigger,
                input.as_str(),
                now
            ],
        )?;
        insert_step(
            db,
            &id,
            &wf.tenant_id,
            &trigger,
            max_attempts(&graph, &trigger),
            now,
            now,
        )?;
        Ok(true)
    })?;
    if !started {
        return Ok(None);
    }
    get_run(env, &Scope::All, &id).map(Some)
}

/// The run `id` within `scope` (404 otherwise).
pub fn get_run(env: &Env, scope: &Scope, id: &str) -> Result<Run> {
    let row = match scope {
        Scope::All => env.db.query_opt(
            &format!("SELECT {RUN_COLUMNS} FROM workflow_runs WHERE id = ?1"),
            params![id],
        )?,
        Scope::Tenant(t) => env.db.query_opt(
            &format!("SELECT {RUN_COLUMNS} FROM workflow_runs WHERE id = ?1 AND tenant_id = ?2"),
            params![id, t.as_str()],
        )?,
    };
    row.map(|r| Run::from_row(&r))
        .transpose()?
        .ok_or_else(|| Error::not_found("no such run"))
}

/// The steps of run `id`, in the order they were reached.
pub fn steps(env: &Env, run: &str) -> Result<Vec<Step>> {
    env.db
        .exec(
            &format!("SELECT {STEP_COLUMNS} FROM workflow_steps WHERE run_id = ?1 ORDER BY id"),
            params![run],
        )?
        .rows
        .iter()
        .map(Step::from_row)
        .collect()
}

/// The latest runs of workflow `id`, newest first (at most `limit`).
pub fn runs_of(env: &Env, workflow: &str, limit: i64) -> Result<Vec<Run>> {
    env.db
        .exec(
            &format!(
                "SELECT {RUN_COLUMNS} FROM workflow_runs WHERE workflow_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2"
            ),
            params![workflow, limit.clamp(1, 100)],
        )?
        .rows
        .iter()
        .map(Run::from_row)
        .collect()
}

/// Cancel run `id`: its waiting steps are cancelled; a step in flight
/// finishes but its result is not followed. 409 when already finished.
pub fn cancel(env: &Env, scope: &Scope, id: &str) -> Result<Run> {
    let run = get_run(env, scope, id)?;
    if run.finished() {
        return Err(Error::conflict(
            "run_finished",
            format!("the run has already {}", run.status),
        ));
    }
    finish_run(env, &run.id, "cancelled", Some("cancelled by a user"))?;
    get_run(env, scope, id)
}

fn finish_run(env: &Env, run: &str, status: &str, error: Option<&str>) -> Result<bool> {
    let now = env.clock.now_ms();
    let why = error.unwrap_or("");
    crate::db::transaction(env.db.as_ref(), |db| {
        let changed = db.exec(
            "UPDATE workflow_runs SET status = ?2, error = NULLIF(?3, ''), finished_at = ?4, updated_at = ?4,
                cost_micros = (SELECT COALESCE(SUM(cost_micros), 0) FROM workflow_steps WHERE run_id = ?1 AND copied = 0)
             WHERE id = ?1 AND status = 'running' RETURNING id",
            params![run, status, why, now],
        )?;
        if !changed.rows.is_empty() && status != "succeeded" {
            db.exec(
                "UPDATE workflow_steps SET status = 'cancelled', error = COALESCE(error, ?2), lease_owner = NULL,
                    finished_at = ?3, updated_at = ?3
                 WHERE run_id = ?1 AND status = 'queued'",
                params![run, format!("the run {status}"), now],
            )?;
        }
        Ok(!changed.rows.is_empty())
    })
}

/// Restart `run` from node `node`: a new run of the same version in which
/// every node that does not follow `node` keeps its recorded result, and
/// `node` runs again on them.
pub fn restart(
    env: &Env,
    scope: &Scope,
    run_id: &str,
    node: &str,
    debug: Option<bool>,
) -> Result<Run> {
    let old = get_run(env, scope, run_id)?;
    let graph = store::graph_at(env, &old.tenant_id, &old.workflow_id, old.version)?;
    if graph.node(node).is_none() {
        return Err(Error::unprocessable(
            "unknown_node",
            format!(
                "the run's workflow (version {}) has no node `{}`",
                old.version,
                node.chars().take(64).collect::<String>()
            ),
        ));
    }
    let recorded = steps(env, &old.id)?;
    let redo = graph.descendants(node);
    let needed = graph.ancestors(node);
    let done = |s: &Step| matches!(s.status.as_str(), "succeeded" | "failed" | "skipped");
    if let Some(missing) = needed
        .iter()
        .find(|n| !recorded.iter().any(|s| &s.node_id == *n && done(s)))
    {
        return Err(Error::conflict(
            "node_not_reached",
            format!(
                "node `{missing}` did not finish in run {}: restart from an earlier node",
                old.id
            ),
        ));
    }
    let now = env.clock.now_ms();
    let id = crate::ports::ids::new_id("run_", now, env.ids.as_ref())?;
    let attempts = max_attempts(&graph, node);
    crate::db::transaction(env.db.as_ref(), |db| {
        db.exec(
            "INSERT INTO workflow_runs (id, tenant_id, workflow_id, version, status, debug, trigger, input, restarted_from, restart_node, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'running', ?5, 'restart', ?6, ?7, ?8, ?9, ?9)",
            params![
                id.as_str(),
                old.tenant_id.as_str(),
                old.workflow_id.as_str(),
                old.version,
                debug.unwrap_or(old.debug),
                old.input.to_string(),
                old.id.as_str(),
                node,
                now
            ],
        )?;
        for s in recorded
            .iter()
            .filter(|s| done(s) && !redo.contains(&s.node_id))
        {
            db.exec(
                "INSERT INTO workflow_steps (run_id, tenant_id, node_id, status, port, attempts, max_attempts, run_at, resume_at,
                    input, output, error, cost_micros, copied, started_at, finished_at, created_at, updated_at)
                 SELECT ?1, tenant_id, node_id, status, port, attempts, max_attempts, run_at, NULL,
                    input, output, error, cost_micros, 1, started_at, finished_at, ?2, ?2
                 FROM workflow_steps WHERE id = ?3",
                params![id.as_str(), now, s.id],
            )?;
        }
        insert_step(db, &id, &old.tenant_id, node, attempts, now, now)
    })?;
    get_run(env, scope, &id)
}

// ------------------------------------------------------------ the queue --

/// Claim the next due step for `owner`, or `None`.
pub fn claim(env: &Env, owner: &str) -> Result<Option<Step>> {
    let now = env.clock.now_ms();
    let row = env.db.query_opt(
        &format!(
            "UPDATE workflow_steps SET status = 'processing', lease_owner = ?1, lease_expires_at = ?2,
                attempts = attempts + 1, started_at = COALESCE(started_at, ?3), updated_at = ?3
             WHERE id = (SELECT id FROM workflow_steps WHERE status = 'queued' AND run_at <= ?3 ORDER BY run_at, id LIMIT 1)
               AND status = 'queued'
             RETURNING {STEP_COLUMNS}"
        ),
        params![owner, now + STEP_LEASE_MS, now],
    )?;
    row.map(|r| Step::from_row(&r)).transpose()
}

/// Requeue steps whose worker died (lease expired); a step out of
/// attempts fails and the run follows its error branch or fails. Returns
/// how many were recovered.
pub fn reap_expired(env: &Env) -> Result<usize> {
    let now = env.clock.now_ms();
    let requeued = env.db.exec(
        "UPDATE workflow_steps SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, run_at = ?1,
            error = 'lease expired: the worker stopped before finishing', updated_at = ?1
         WHERE status = 'processing' AND lease_expires_at < ?1 AND attempts < max_attempts RETURNING id",
        params![now],
    )?;
    let dead = env.db.exec(
        &format!(
            "UPDATE workflow_steps SET lease_owner = 'reaper', lease_expires_at = ?2
             WHERE status = 'processing' AND lease_expires_at < ?1 RETURNING {STEP_COLUMNS}"
        ),
        params![now, now + STEP_LEASE_MS],
    )?;
    for r in &dead.rows {
        let step = Step::from_row(r)?;
        let failure = Failure::permanent(
            "lease expired on the last attempt: the worker stopped before finishing",
        );
        failed(env, &step, "reaper", failure)?;
    }
    Ok(requeued.rows.len() + dead.rows.len())
}

/// What processing a step came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Finished; the run moved on.
    Succeeded,
    /// Failed and took the error branch.
    ErrorBranch,
    /// Failed for a reason that may pass: requeued with backoff.
    Retried,
    /// Waits on a cost cap: requeued without spending an attempt.
    Waiting,
    /// Failed with no error branch: the run failed.
    Failed,
    /// The run had finished (cancelled): nothing ran.
    Dropped,
    /// The lease was lost before the end.
    Lost,
}

/// The data a node may read: the trigger's output, earlier nodes'
/// outputs, the run and the workflow.
fn data_of(run: &Run, graph: &Graph, steps: &[Step], name: &str) -> Value {
    let mut nodes = Map::new();
    let mut trigger = Value::Null;
    for s in steps
        .iter()
        .filter(|s| s.status == "succeeded" || s.status == "failed")
    {
        let out = s.output.clone().unwrap_or(Value::Null);
        if graph.node(&s.node_id).map(|n| n.node_type) == Some(NodeType::Trigger) {
            trigger = out.clone();
        }
        nodes.insert(s.node_id.clone(), out);
    }
    json!({
        "trigger": trigger,
        "nodes": nodes,
        "run": {
            "id": run.id,
            "started_at": crate::time::rfc3339(run.created_at),
            "debug": run.debug,
        },
        "workflow": { "id": run.workflow_id, "name": name, "version": run.version },
    })
}

/// Process one claimed step.
pub async fn process(env: &Env, step: &Step, owner: &str) -> Result<Outcome> {
    let run = get_run(env, &Scope::All, &step.run_id)?;
    if run.finished() {
        env.db.exec(
            "UPDATE workflow_steps SET status = 'cancelled', lease_owner = NULL, finished_at = ?2, updated_at = ?2,
                error = COALESCE(error, 'the run had finished')
             WHERE id = ?1 AND status = 'processing'",
            params![step.id, env.clock.now_ms()],
        )?;
        return Ok(Outcome::Dropped);
    }
    let graph = match store::graph_at(env, &run.tenant_id, &run.workflow_id, run.version) {
        Ok(g) => g,
        Err(e) => {
            return failed(
                env,
                step,
                owner,
                Failure::permanent(format!("the workflow cannot run: {}", e.message)),
            )
        }
    };
    let name = env
        .db
        .query_opt(
            "SELECT name FROM workflows WHERE id = ?1",
            params![run.workflow_id.as_str()],
        )?
        .map(|r| r.text(0))
        .transpose()?
        .unwrap_or_default();
    let Some(node) = graph.node(&step.node_id) else {
        return failed(
            env,
            step,
            owner,
            Failure::permanent("the node is not in the run's graph"),
        );
    };
    let data = data_of(&run, &graph, &steps(env, &run.id)?, &name);
    let started = env.clock.monotonic_ms();
    let result = execute::run(env, &run, &graph, node, &data).await;
    let elapsed = (env.clock.monotonic_ms() - started).max(0.0).round();
    crate::log::info(
        "workflows",
        &format!("run {} node {} finished in {elapsed} ms", run.id, node.id),
    );
    match result {
        Ok(done) => succeeded(env, &graph, step, owner, done),
        Err(f) => failed(env, step, owner, f),
    }
}

fn cut(v: Value) -> Value {
    let text = v.to_string();
    if text.len() <= MAX_OUTPUT_BYTES {
        return v;
    }
    let mut end = MAX_OUTPUT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    json!({ "truncated": true, "preview": &text[..end] })
}

fn succeeded(env: &Env, graph: &Graph, step: &Step, owner: &str, done: Done) -> Result<Outcome> {
    let now = env.clock.now_ms();
    let resume = done
        .resume_at
        .map(crate::ports::Value::from)
        .unwrap_or(crate::ports::Value::Null);
    let changed = env.db.exec(
        "UPDATE workflow_steps SET status = 'succeeded', port = ?3, input = ?4, output = ?5, resume_at = ?6,
            cost_micros = cost_micros + ?7, error = NULL, lease_owner = NULL, lease_expires_at = NULL,
            finished_at = ?8, updated_at = ?8
         WHERE id = ?1 AND lease_owner = ?2 AND status = 'processing' RETURNING id",
        params![
            step.id,
            owner,
            done.port.as_str(),
            done.input.to_string(),
            cut(done.output).to_string(),
            resume,
            done.cost_micros,
            now
        ],
    )?;
    if changed.rows.is_empty() {
        return Ok(Outcome::Lost);
    }
    advance(env, graph, &step.run_id, &step.tenant_id, &step.node_id)?;
    Ok(Outcome::Succeeded)
}

fn failed(env: &Env, step: &Step, owner: &str, f: Failure) -> Result<Outcome> {
    let now = env.clock.now_ms();
    if f.waits {
        // A cost cap: back to the queue with the claim given back, as a
        // job snoozes; what was spent before the wait stays counted.
        let changed = env.db.exec(
            "UPDATE workflow_steps SET status = 'queued', error = ?3, run_at = ?4, attempts = MAX(attempts - 1, 0),
                cost_micros = cost_micros + ?6, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?5
             WHERE id = ?1 AND lease_owner = ?2 AND status = 'processing' RETURNING id",
            params![
                step.id,
                owner,
                f.message.as_str(),
                now + f.retry_after_ms.unwrap_or(crate::costs::guard::RECHECK_MS),
                now,
                f.cost_micros
            ],
        )?;
        return Ok(if changed.rows.is_empty() {
            Outcome::Lost
        } else {
            Outcome::Waiting
        });
    }
    if f.retryable && step.attempts < step.max_attempts {
        let unit = crate::ports::ids::random_unit(env.ids.as_ref());
        let delay = f
            .retry_after_ms
            .unwrap_or_else(|| backoff_ms(step.attempts, BACKOFF_BASE_MS, BACKOFF_CAP_MS, unit));
        let changed = env.db.exec(
            "UPDATE workflow_steps SET status = 'queued', error = ?3, run_at = ?4, lease_owner = NULL,
                cost_micros = cost_micros + ?6, lease_expires_at = NULL, updated_at = ?5
             WHERE id = ?1 AND lease_owner = ?2 AND status = 'processing' RETURNING id",
            params![step.id, owner, f.message.as_str(), now + delay, now, f.cost_micros],
        )?;
        return Ok(if changed.rows.is_empty() {
            Outcome::Lost
        } else {
            Outcome::Retried
        });
    }
    let run = get_run(env, &Scope::All, &step.run_id)?;
    let graph = store::graph_at(env, &run.tenant_id, &run.workflow_id, run.version).ok();
    let has_error_branch = graph
        .as_ref()
        .is_some_and(|g| g.outgoing(&step.node_id).any(|e| e.port == "error"));
    let port = if has_error_branch { "error" } else { "" };
    let changed = env.db.exec(
        "UPDATE workflow_steps SET status = 'failed', port = NULLIF(?3, ''), input = COALESCE(?4, input), output = ?5,
            error = ?6, cost_micros = cost_micros + ?8, lease_owner = NULL, lease_expires_at = NULL,
            finished_at = ?7, updated_at = ?7
         WHERE id = ?1 AND lease_owner = ?2 AND status = 'processing' RETURNING id",
        params![
            step.id,
            owner,
            port,
            f.input.map(|v| crate::ports::Value::from(v.to_string())).unwrap_or(crate::ports::Value::Null),
            json!({ "error": f.message }).to_string(),
            f.message.as_str(),
            now,
            f.cost_micros
        ],
    )?;
    if changed.rows.is_empty() {
        return Ok(Outcome::Lost);
    }
    match graph {
        Some(g) if has_error_branch => {
            advance(env, &g, &step.run_id, &step.tenant_id, &step.node_id)?;
            Ok(Outcome::ErrorBranch)
        }
        _ => {
            let why = format!("node `{}` failed: {}", step.node_id, f.message);
            finish_run(env, &step.run_id, "failed", Some(&why))?;
            Ok(Outcome::Failed)
        }
    }
}

/// After `node` finished (or was skipped): decide each successor, then
/// finish the run when nothing is left to do.
fn advance(env: &Env, graph: &Graph, run: &str, tenant: &str, node: &str) -> Result<()> {
    let mut pending = vec![node.to_string()];
    let mut guard = 0;
    while let Some(from) = pending.pop() {
        guard += 1;
        if guard > 4 * super::model::MAX_NODES {
            return Err(Error::internal("advance did not converge"));
        }
        let targets: Vec<String> = graph.outgoing(&from).map(|e| e.to.clone()).collect();
        let recorded = steps(env, run)?;
        let state = |id: &str| recorded.iter().find(|s| s.node_id == id);
        for target in targets {
            if state(&target).is_some() {
                continue;
            }
            let mut decided = true;
            let mut taken = false;
            let mut run_at = env.clock.now_ms();
            for e in graph.incoming(&target) {
                match state(&e.from) {
                    Some(s) if matches!(s.status.as_str(), "succeeded" | "failed" | "skipped") => {
                        if s.port.as_deref() == Some(e.port.as_str()) {
                            taken = true;
                            run_at = run_at.max(s.resume_at.unwrap_or(0));
                        }
                    }
                    _ => decided = false,
                }
            }
            if !decided {
                continue;
            }
            let now = env.clock.now_ms();
            if taken {
                insert_step(
                    env.db.as_ref(),
                    run,
                    tenant,
                    &target,
                    max_attempts(graph, &target),
                    run_at,
                    now,
                )?;
            } else {
                env.db.exec(
                    "INSERT OR IGNORE INTO workflow_steps (run_id, tenant_id, node_id, status, max_attempts, run_at, finished_at, created_at, updated_at)
                     VALUES (?1, ?2, ?3, 'skipped', 0, ?4, ?4, ?4, ?4)",
                    params![run, tenant, target.as_str(), now],
                )?;
                pending.push(target);
            }
        }
    }
    let open = env
        .db
        .query_one(
            "SELECT COUNT(*) FROM workflow_steps WHERE run_id = ?1 AND status IN ('queued', 'processing')",
            params![run],
        )?
        .i64(0)?;
    if open == 0 {
        finish_run(env, run, "succeeded", None)?;
    }
    Ok(())
}

/// What one drain of the step queue did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DrainReport {
    /// Steps recovered from dead workers.
    pub reaped: usize,
    /// Steps claimed.
    pub claimed: usize,
    /// Finished and moved on.
    pub succeeded: usize,
    /// Took their error branch.
    pub error_branch: usize,
    /// Requeued with backoff.
    pub retried: usize,
    /// Waiting on a cost cap (no attempt spent).
    pub waiting: usize,
    /// Failed their run.
    pub failed: usize,
    /// Dropped (their run had finished) or lost their lease.
    pub dropped: usize,
    /// Hit a storage error (their lease will expire and they run again).
    pub errors: usize,
    /// Runs started by schedule triggers.
    pub scheduled: usize,
}

/// Claim and process due steps one after another until none is due, at
/// most `max_steps`, or the monotonic clock passes `deadline`.
pub async fn drain(env: &Env, owner: &str, max_steps: usize, deadline: f64) -> Result<DrainReport> {
    let mut report = DrainReport {
        reaped: reap_expired(env)?,
        scheduled: super::schedule::fire_due(env)?,
        ..Default::default()
    };
    while report.claimed < max_steps && env.clock.monotonic_ms() < deadline {
        let Some(step) = claim(env, owner)? else {
            break;
        };
        report.claimed += 1;
        match process(env, &step, owner).await {
            Ok(Outcome::Succeeded) => report.succeeded += 1,
            Ok(Outcome::ErrorBranch) => report.error_branch += 1,
            Ok(Outcome::Retried) => report.retried += 1,
            Ok(Outcome::Waiting) => report.waiting += 1,
            Ok(Outcome::Failed) => report.failed += 1,
            Ok(Outcome::Dropped | Outcome::Lost) => report.dropped += 1,
            Err(e) => {
                crate::log::error(
                    "workflows",
                    &format!("step {} failed to process: {e}", step.id),
                );
                report.errors += 1;
            }
        }
    }
    Ok(report)
}
