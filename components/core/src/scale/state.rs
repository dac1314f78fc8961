//! The workers in force: the latest row of `scale_changes` (one row per
//! applied change), read within `scale_min..=scale_max`; `scale_min`
//! before the first change.

use super::settings::Settings;
use crate::error::Result;
use crate::params;
use crate::ports::{Db, DbExt, Env};
use crate::time::rfc3339;
use serde::Serialize;

/// Applied changes are kept this long (the latest always stays; the audit
/// chain keeps every one for good).
pub const KEEP_MS: i64 = 30 * 86_400_000;

/// An applied change.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// When, Unix ms.
    pub at: i64,
    /// Workers from then on.
    pub workers: i64,
    /// Workers before.
    pub previous: i64,
    /// The rule (or `operator`).
    pub reason: String,
    /// Who applied it.
    pub actor: String,
    /// The request that applied it, if one did.
    pub request_id: Option<String>,
}

/// A change as served.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeView {
    /// When, RFC 3339.
    pub at: String,
    /// Workers from then on.
    pub workers: i64,
    /// Workers before.
    pub previous: i64,
    /// Why.
    pub reason: String,
    /// Who.
    pub by: String,
}

impl Change {
    /// As served.
    pub fn view(&self) -> ChangeView {
        ChangeView {
            at: rfc3339(self.at),
            workers: self.workers,
            previous: self.previous,
            reason: self.reason.clone(),
            by: self.actor.clone(),
        }
    }
}

/// The latest applied change, if any.
pub fn latest(db: &dyn Db) -> Result<Option<Change>> {
    db.query_opt(
        "SELECT at, workers, previous, reason, actor, request_id
         FROM scale_changes ORDER BY id DESC LIMIT 1",
        params![],
    )?
    .map(|r| {
        Ok(Change {
            at: r.i64(0)?,
            workers: r.i64(1)?,
            previous: r.i64(2)?,
            reason: r.text(3)?,
            actor: r.text(4)?,
            request_id: r.opt_text(5)?,
        })
    })
    .transpose()
}

/// The workers in force, given the latest change.
pub fn workers_of(s: &Settings, latest: Option<&Change>) -> i64 {
    s.clamp(latest.map(|c| c.workers).unwrap_or(s.min))
}

/// The workers in force now.
pub fn current_workers(env: &Env) -> Result<i64> {
    let s = Settings::load(env.config.as_ref())?;
    Ok(workers_of(&s, latest(env.db.as_ref())?.as_ref()))
}

/// The concurrency of one worker tick: the workers in force times
/// `per_worker` (`worker_concurrency`). One statement; the worker calls it
/// once per tick.
pub fn effective_concurrency(env: &Env, per_worker: usize) -> Result<usize> {
    Ok(per_worker.saturating_mul(current_workers(env)? as usize))
}

/// Append a change (inside the caller's transaction).
pub fn record(db: &dyn Db, c: &Change) -> Result<()> {
    db.exec(
        "INSERT INTO scale_changes (at, workers, previous, reason, actor, request_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            c.at,
            c.workers,
            c.previous,
            c.reason.as_str(),
            c.actor.as_str(),
            c.request_id.as_deref()
        ],
    )?;
    Ok(())
}

/// Drop changes older than [`KEEP_MS`], never the latest. Returns how many.
pub fn prune(env: &Env, now_ms: i64) -> Result<i64> {
    let rows = env.db.exec(
        "DELETE FROM scale_changes
         WHERE at < ?1 AND id < (SELECT MAX(id) FROM scale_changes)
         RETURNING id",
        params![now_ms - KEEP_MS],
    )?;
    Ok(rows.rows.len() as i64)
}
