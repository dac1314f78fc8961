//! A job row as read from SQLite, and the views served of it.

use super::model::{JobType, Priority, Source, Status};
use crate::error::Result;
use crate::ports::Row;
use crate::time::rfc3339;
use serde::Serialize;

/// The columns [`Job::from_row`] reads, in order. Use in every `SELECT` or
/// `RETURNING` that builds a [`Job`].
pub const JOB_COLUMNS: &str = "id, tenant_id, source, type, priority, status, attempts, max_attempts, run_at, \
lease_owner, lease_expires_at, title, brief, email, input, idempotency_key, request_hash, external_ref, output, \
provider, model, qa_model, prompt_template_id, prompt_version, tokens_in, tokens_out, qa_tokens_in, qa_tokens_out, \
cost_micros, qa_cost_micros, latency_ms, qa_score, qa_passed, qa_scores, simulated, build_sha, build_dirty, \
last_error, dead_reason, sync_state, created_at, updated_at, started_at, finished_at";

/// A job.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct Job {
    pub id: String,
    pub tenant_id: String,
    pub source: Source,
    pub job_type: JobType,
    pub priority: Priority,
    pub status: Status,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub title: Option<String>,
    pub brief: String,
    pub email: Option<String>,
    pub input: String,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
    pub external_ref: Option<String>,
    pub output: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub qa_model: Option<String>,
    pub prompt_template_id: Option<String>,
    pub prompt_version: Option<i64>,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub qa_tokens_in: i64,
    pub qa_tokens_out: i64,
    pub cost_micros: i64,
    pub qa_cost_micros: i64,
    pub latency_ms: Option<i64>,
    pub qa_score: Option<f64>,
    pub qa_passed: Option<bool>,
    pub qa_scores: Option<String>,
    pub simulated: bool,
    pub build_sha: String,
    pub build_dirty: bool,
    pub last_error: Option<String>,
    pub dead_reason: Option<String>,
    pub sync_state: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

fn opt_f64(row: &Row, i: usize) -> Result<Option<f64>> {
    match row.values.get(i) {
        Some(crate::ports::Value::Null) | None => Ok(None),
        _ => row.f64(i).map(Some),
    }
}

impl Job {
    /// Build from a row selected with [`JOB_COLUMNS`].
    pub fn from_row(r: &Row) -> Result<Self> {
        Ok(Job {
            id: r.text(0)?,
            tenant_id: r.text(1)?,
            source: Source::parse(&r.text(2)?)?,
            job_type: JobType::parse(&r.text(3)?)?,
            priority: Priority::from_rank(r.i64(4)?),
            status: Status::parse(&r.text(5)?)?,
            attempts: r.i64(6)?,
            max_attempts: r.i64(7)?,
            run_at: r.i64(8)?,
            lease_owner: r.opt_text(9)?,
            lease_expires_at: r.opt_i64(10)?,
            title: r.opt_text(11)?,
            brief: r.text(12)?,
            email: r.opt_text(13)?,
            input: r.text(14)?,
            idempotency_key: r.opt_text(15)?,
            request_hash: r.opt_text(16)?,
            external_ref: r.opt_text(17)?,
            output: r.opt_text(18)?,
            provider: r.opt_text(19)?,
            model: r.opt_text(20)?,
            qa_model: r.opt_text(21)?,
            prompt_template_id: r.opt_text(22)?,
            prompt_version: r.opt_i64(23)?,
            tokens_in: r.i64(24)?,
            tokens_out: r.i64(25)?,
            qa_tokens_in: r.i64(26)?,
            qa_tokens_out: r.i64(27)?,
            cost_micros: r.i64(28)?,
            qa_cost_micros: r.i64(29)?,
            latency_ms: r.opt_i64(30)?,
            qa_score: opt_f64(r, 31)?,
            qa_passed: r.opt_i64(32)?.map(|v| v != 0),
            qa_scores: r.opt_text(33)?,
            simulated: r.bool(34)?,
            build_sha: r.text(35)?,
            build_dirty: r.bool(36)?,
            last_error: r.opt_text(37)?,
            dead_reason: r.opt_text(38)?,
            sync_state: r.opt_text(39)?,
            created_at: r.i64(40)?,
            updated_at: r.i64(41)?,
            started_at: r.opt_i64(42)?,
            finished_at: r.opt_i64(43)?,
        })
    }

    /// The full view, for operators and the job's tenant.
    pub fn view(&self) -> serde_json::Value {
        let qa_scores: Option<serde_json::Value> = self
            .qa_scores
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok());
        let input: serde_json::Value =
            serde_json::from_str(&self.input).unwrap_or(serde_json::Value::Null);
        serde_json::json!({
            "id": self.id,
            "tenant_id": self.tenant_id,
            "source": self.source,
            "type": self.job_type,
            "priority": self.priority,
            "status": self.status,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "run_at": rfc3339(self.run_at),
            "lease": self.lease_owner.as_ref().map(|o| serde_json::json!({
                "owner": o, "expires_at": self.lease_expires_at.map(rfc3339)
            })),
            "title": self.title,
            "brief": self.brief,
            "email": self.email,
            "context": input.get("context").cloned().unwrap_or(serde_json::Value::Null),
            "idempotency_key": self.idempotency_key,
            "external_ref": self.external_ref,
            "output": self.output,
            "provider": self.provider,
            "model": self.model,
            "qa_model": self.qa_model,
            "prompt_template_id": self.prompt_template_id,
            "prompt_version": self.prompt_version,
            "tokens": { "input": self.tokens_in, "output": self.tokens_out,
                        "qa_input": self.qa_tokens_in, "qa_output": self.qa_tokens_out },
            "cost": money(self.cost_micros),
            "qa_cost": money(self.qa_cost_micros),
            "latency_ms": self.latency_ms,
            "qa": { "score": self.qa_score, "passed": self.qa_passed, "scores": qa_scores },
            "simulated": self.simulated,
            "build": { "git_sha": self.build_sha, "dirty": self.build_dirty },
            "last_error": self.last_error,
            "dead_reason": self.dead_reason,
            "sync_state": self.sync_state,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "started_at": self.started_at.map(rfc3339),
            "finished_at": self.finished_at.map(rfc3339),
        })
    }

    /// What anyone holding the (unguessable) job id may see.
    pub fn public_view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "type": self.job_type,
            "priority": self.priority,
            "status": self.status,
            "title": self.title,
            "output": if self.status == Status::Completed { self.output.clone() } else { None },
            "qa": { "score": self.qa_score, "passed": self.qa_passed },
            "simulated": self.simulated,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "finished_at": self.finished_at.map(rfc3339),
        })
    }
}

/// Money as served: integer micro-dollars plus the currency and a display
/// amount.
pub fn money(micros: i64) -> serde_json::Value {
    serde_json::json!({ "micros": micros, "currency": "USD", "display": format!("${:.6}", micros as f64 / 1e6) })
}

/// An attempt row (one work call and its grading).
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)]
pub struct AttemptView {
    pub id: i64,
    pub claim: i64,
    pub round: i64,
    pub worker: String,
    pub status: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub qa_model: Option<String>,
    pub simulated: bool,
    pub prompt_template_id: Option<String>,
    pub prompt_version: Option<i64>,
    pub grader_version: Option<String>,
    pub price_version: Option<String>,
    pub tokens: serde_json::Value,
    pub cost: serde_json::Value,
    pub qa_cost: serde_json::Value,
    pub latency_ms: Option<i64>,
    pub qa_latency_ms: Option<i64>,
    pub qa: serde_json::Value,
    pub feedback: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub build_sha: String,
    pub started_at: String,
    pub finished_at: Option<String>,
}

/// The columns [`AttemptView::from_row`] reads, in order.
pub const ATTEMPT_COLUMNS: &str = "id, claim, round, worker, status, provider, model, qa_model, simulated, \
prompt_template_id, prompt_version, grader_version, price_version, tokens_in, tokens_out, qa_tokens_in, \
qa_tokens_out, cost_micros, qa_cost_micros, latency_ms, qa_latency_ms, qa_score, qa_passed, qa_scores, feedback, \
output, error, build_sha, started_at, finished_at";

impl AttemptView {
    /// Build from a row selected with [`ATTEMPT_COLUMNS`].
    pub fn from_row(r: &Row) -> Result<Self> {
        let scores: Option<serde_json::Value> =
            r.opt_text(23)?.and_then(|s| serde_json::from_str(&s).ok());
        Ok(AttemptView {
            id: r.i64(0)?,
            claim: r.i64(1)?,
            round: r.i64(2)?,
            worker: r.text(3)?,
            status: r.text(4)?,
            provider: r.opt_text(5)?,
            model: r.opt_text(6)?,
            qa_model: r.opt_text(7)?,
            simulated: r.bool(8)?,
            prompt_template_id: r.opt_text(9)?,
            prompt_version: r.opt_i64(10)?,
            grader_version: r.opt_text(11)?,
            price_version: r.opt_text(12)?,
            tokens: serde_json::json!({ "input": r.i64(13)?, "output": r.i64(14)?,
                                        "qa_input": r.i64(15)?, "qa_output": r.i64(16)? }),
            cost: money(r.i64(17)?),
            qa_cost: money(r.i64(18)?),
            latency_ms: r.opt_i64(19)?,
            qa_latency_ms: r.opt_i64(20)?,
            qa: serde_json::json!({ "score": opt_f64(r, 21)?, "passed": r.opt_i64(22)?.map(|v| v != 0), "scores": scores }),
            feedback: r.opt_text(24)?,
            output: r.opt_text(25)?,
            error: r.opt_text(26)?,
            build_sha: r.text(27)?,
            started_at: rfc3339(r.i64(28)?),
            finished_at: r.opt_i64(29)?.map(rfc3339),
        })
    }
}
