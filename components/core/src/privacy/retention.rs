//! Retention: how long each kind of personal data is kept, and the hourly
//! job (`cron-retention`, minute 40) that enforces it.
//!
//! Each [`Rule`] is one kind of data with its window (a Spin variable with
//! a documented default) and the statements that erase or delete one
//! bounded batch of expired rows. A batch is one short transaction
//! (`retention_batch_size` rows), and a run does at most
//! `retention_max_batches` batches per rule, so a backlog (a first run on
//! a large database, a lowered window) drains over several runs without
//! ever holding the write lock for long. Runs are idempotent: a second
//! replica or a retry finds nothing left to do.
//!
//! Other windows are enforced where the data lives and are listed in
//! [`FIXED`] for the docs and the dashboard.

use crate::config;
use crate::db;
use crate::error::Result;
use crate::params;
use crate::ports::{DbExt, Env};
use crate::scheduler::{self, Job, JobFn, RunContext};
use serde::Serialize;
use serde_json::json;

/// The retention job: hourly at minute 40.
pub const JOB: Job = Job {
    name: "retention",
    component: "cron-retention",
    schedule: "0 40 * * * *",
    period_secs: 3600,
    lease_secs: 600,
    max_attempts: 3,
    exclusive: true,
    body: JobFn::Sync(run),
};

scheduler::cron_http_app!("cron-retention", "/api/internal/cron/retention", JOB);

const DAY_MS: i64 = 86_400_000;

/// One kind of data and how its window is enforced. Every statement binds
/// `?1` (the cutoff, Unix ms) and `?2` (the batch size) and selects the
/// same batch (a deterministic `ORDER BY ... LIMIT ?2`); the last one's
/// `RETURNING` rows are the batch's count.
pub struct Rule {
    /// The kind, as reported.
    pub kind: &'static str,
    /// The variable holding its window in days.
    pub variable: &'static str,
    /// The window's default, in days.
    pub default_days: i64,
    /// The shortest window allowed (payment records have a legal minimum).
    pub min_days: i64,
    /// What happens when the window passes, for people.
    pub action: &'static str,
    /// The statements of one batch, run in one transaction.
    pub statements: &'static [&'static str],
}

/// Every rule this job enforces.
pub const RULES: &[Rule] = &[
    Rule {
        kind: "job_content",
        variable: "retention_job_content_days",
        default_days: 365,
        min_days: 1,
        action: "briefs, titles, inputs, outputs, errors and emails of finished jobs (and their attempts) erased; figures kept",
        statements: &[
            "UPDATE job_attempts SET output = NULL, feedback = NULL, error = NULL
             WHERE job_id IN (SELECT id FROM jobs WHERE brief <> '[erased]' AND updated_at < ?1
                                AND status IN ('completed', 'failed', 'dead', 'cancelled')
                              ORDER BY updated_at, id LIMIT ?2)",
            "UPDATE jobs SET title = NULL, brief = '[erased]', email = NULL,
                 input = '{\"context\":null}', output = NULL, last_error = NULL, dead_reason = NULL
             WHERE id IN (SELECT id FROM jobs WHERE brief <> '[erased]' AND updated_at < ?1
                            AND status IN ('completed', 'failed', 'dead', 'cancelled')
                          ORDER BY updated_at, id LIMIT ?2)
             RETURNING 1",
        ],
    },
    Rule {
        kind: "workflow_runs",
        variable: "retention_workflow_runs_days",
        default_days: 180,
        min_days: 1,
        action: "finished workflow runs and their steps (inputs, outputs) deleted",
        statements: &[
            "DELETE FROM workflow_steps WHERE run_id IN
                (SELECT id FROM workflow_runs WHERE status <> 'running' AND updated_at < ?1
                 ORDER BY updated_at, id LIMIT ?2)",
            "DELETE FROM workflow_runs WHERE id IN
                (SELECT id FROM workflow_runs WHERE status <> 'running' AND updated_at < ?1
                 ORDER BY updated_at, id LIMIT ?2)
             RETURNING 1",
        ],
    },
    Rule {
        kind: "referral_client_addresses",
        variable: "retention_client_address_days",
        default_days: 90,
        min_days: 1,
        action: "client addresses of referral signups and refused referrals cleared",
        statements: &[
            "UPDATE referral_refusals SET client_addr = NULL WHERE id IN
                (SELECT id FROM referral_refusals WHERE client_addr IS NOT NULL AND at < ?1
                 ORDER BY at LIMIT ?2)",
            "UPDATE referral_signups SET client_addr = NULL WHERE rowid IN
                (SELECT rowid FROM referral_signups WHERE client_addr IS NOT NULL AND created_at < ?1
                 ORDER BY created_at LIMIT ?2)
             RETURNING 1",
        ],
    },
    Rule {
        kind: "notification_outbox",
        variable: "retention_outbox_days",
        default_days: 30,
        min_days: 1,
        action: "delivered, failed and skipped notifications (Telegram and email payloads) deleted",
        statements: &["DELETE FROM incident_deliveries WHERE id IN
                (SELECT id FROM incident_deliveries WHERE status <> 'pending' AND created_at < ?1
                 ORDER BY created_at LIMIT ?2)
             RETURNING 1"],
    },
    Rule {
        kind: "checkout_sessions",
        variable: "retention_payment_records_days",
        default_days: 3650,
        min_days: 365,
        action: "closed checkout sessions deleted",
        statements: &["DELETE FROM checkout_sessions WHERE id IN
                (SELECT id FROM checkout_sessions WHERE status <> 'open' AND created_at < ?1
                 ORDER BY created_at LIMIT ?2)
             RETURNING 1"],
    },
    Rule {
        kind: "receipts",
        variable: "retention_payment_records_days",
        default_days: 3650,
        min_days: 365,
        action: "receipts (billed email, description, amount) deleted",
        statements: &["DELETE FROM receipts WHERE id IN
                (SELECT id FROM receipts WHERE paid_at < ?1 ORDER BY paid_at LIMIT ?2)
             RETURNING 1"],
    },
    Rule {
        kind: "payments",
        variable: "retention_payment_records_days",
        default_days: 3650,
        min_days: 365,
        action: "payment ledger rows (Stripe customer id, description, amount) and refunds deleted",
        statements: &[
            "DELETE FROM refunds WHERE id IN
                (SELECT id FROM refunds WHERE created_at < ?1 ORDER BY created_at LIMIT ?2)",
            "DELETE FROM payments WHERE id IN
                (SELECT id FROM payments WHERE created_at < ?1 ORDER BY created_at LIMIT ?2)
             RETURNING 1",
        ],
    },
];

/// A window enforced elsewhere: the kind, its window and where it lives.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Fixed {
    /// The kind of data.
    pub kind: &'static str,
    /// How long it is kept.
    pub window: &'static str,
    /// Who enforces it.
    pub enforced_by: &'static str,
}

/// Windows other jobs enforce.
pub const FIXED: &[Fixed] = &[
    Fixed { kind: "event_log (client addresses, request details)", window: "log_retention_days (14 days)", enforced_by: "cron-heartbeat" },
    Fixed { kind: "request_samples", window: "1 hour, then per-minute figures without addresses for 30 days", enforced_by: "cron-heartbeat" },
    Fixed { kind: "portal_access (email, client address)", window: "365 days", enforced_by: "cron-payments" },
    Fixed { kind: "refresh_tokens (sessions)", window: "until they expire", enforced_by: "the request guard's housekeeping" },
    Fixed { kind: "analytics_events (daily-salted visitor hashes)", window: "at most 3 days raw, 400 days as daily counts", enforced_by: "cron-analytics" },
    Fixed { kind: "backups (copies of the database)", window: "backup_keep (7 copies)", enforced_by: "cron-backup" },
    Fixed { kind: "audit_log", window: "kept: the tamper-evident record of security and privacy actions (names people by user id and email pseudonym)", enforced_by: "not deleted" },
    Fixed { kind: "privacy_consents", window: "kept as proof of consent; anonymised on erasure", enforced_by: "POST /api/privacy/delete" },
];

/// The configured windows and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Days per rule, in [`RULES`] order.
    pub days: Vec<i64>,
    /// Rows per batch (`retention_batch_size`).
    pub batch_size: i64,
    /// Batches per rule and run (`retention_max_batches`).
    pub max_batches: i64,
}

impl Settings {
    /// From the variables (a malformed value is an error naming it).
    pub fn read(env: &Env) -> Result<Settings> {
        let c = env.config.as_ref();
        Ok(Settings {
            days: RULES
                .iter()
                .map(|r| config::int(c, r.variable, r.default_days, r.min_days, 36_500))
                .collect::<Result<_>>()?,
            batch_size: config::int(c, "retention_batch_size", 500, 1, 10_000)?,
            max_batches: config::int(c, "retention_max_batches", 20, 1, 1_000)?,
        })
    }
}

/// What one rule did in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The rule's kind.
    pub kind: &'static str,
    /// Rows erased or deleted.
    pub rows: i64,
    /// Batches run.
    pub batches: i64,
    /// The run stopped at `retention_max_batches` with rows left.
    pub backlog: bool,
}

/// Enforce every rule as of `now_ms`.
pub fn enforce(env: &Env, now_ms: i64) -> Result<Vec<Outcome>> {
    let s = Settings::read(env)?;
    let mut out = Vec::with_capacity(RULES.len());
    for (rule, days) in RULES.iter().zip(&s.days) {
        let cutoff = now_ms - days * DAY_MS;
        let mut o = Outcome {
            kind: rule.kind,
            rows: 0,
            batches: 0,
            backlog: false,
        };
        loop {
            if o.batches == s.max_batches {
                o.backlog = true;
                break;
            }
            let n = db::transaction(env.db.as_ref(), |db| {
                let mut last = 0;
                for sql in rule.statements {
                    last = db.exec(sql, params![cutoff, s.batch_size])?.rows.len() as i64;
                }
                Ok(last)
            })?;
            o.batches += 1;
            o.rows += n;
            if n < s.batch_size {
                break;
            }
        }
        out.push(o);
    }
    Ok(out)
}

/// The windows as configured, for `GET /api/privacy/retention`.
pub fn describe(env: &Env) -> Result<serde_json::Value> {
    let s = Settings::read(env)?;
    let rules: Vec<_> = RULES
        .iter()
        .zip(&s.days)
        .map(|(r, d)| {
            json!({
                "kind": r.kind, "variable": r.variable, "days": d,
                "default_days": r.default_days, "action": r.action,
                "enforced_by": "cron-retention",
            })
        })
        .collect();
    let last = env.db.query_opt(
        "SELECT status, started_at, finished_at, summary, error FROM scheduler_runs
         WHERE job = 'retention' ORDER BY started_at DESC LIMIT 1",
        &[],
    )?;
    let last_run = match last {
        None => serde_json::Value::Null,
        Some(r) => json!({
            "status": r.text(0)?,
            "started_at": crate::time::rfc3339(r.i64(1)?),
            "finished_at": r.opt_i64(2)?.map(crate::time::rfc3339),
            "summary": r.opt_text(3)?,
            "error": r.opt_text(4)?,
        }),
    };
    Ok(json!({
        "rules": rules,
        "fixed": FIXED,
        "batch_size": s.batch_size,
        "max_batches": s.max_batches,
        "schedule": JOB.schedule,
        "last_run": last_run,
    }))
}

/// The job's body.
fn run(env: &Env, run: &RunContext) -> Result<String> {
    let outcomes = enforce(env, run.now_ms)?;
    let parts: Vec<String> = outcomes
        .iter()
        .map(|o| {
            format!(
                "{} {}{}",
                o.kind,
                o.rows,
                if o.backlog { " (more left)" } else { "" }
            )
        })
        .collect();
    Ok(format!("retention: {}", parts.join(", ")))
}
