//! The deploy gate: raised when the availability burn stays CRITICAL for
//! two hours, cleared by an operator or by recovery (an evaluation at OK).
//! One row in `deploy_gate`; every change happens in one write transaction,
//! so replicas evaluating at once agree.

use super::alerts::Level;
use crate::db::transaction;
use crate::error::Result;
use crate::params;
use crate::ports::{Db, DbExt, Env};
use crate::time::rfc3339;
use serde::Serialize;

/// How long the burn must stay CRITICAL before the gate goes up.
pub const RAISE_AFTER_MS: i64 = 2 * 3_600_000;

/// The gate as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Gate {
    /// Deploys should wait.
    pub up: bool,
    /// Why it went up.
    pub reason: Option<String>,
    /// When it went up, RFC 3339.
    pub raised_at: Option<String>,
    /// When it was last cleared.
    pub cleared_at: Option<String>,
    /// Who cleared it (`recovery` or an operator).
    pub cleared_by: Option<String>,
    /// Since when the burn has been CRITICAL without a break.
    pub critical_since: Option<String>,
}

/// What an observation changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing.
    None,
    /// The gate went up.
    Raised,
    /// The burn recovered and the gate came down.
    Recovered,
}

fn read(db: &dyn Db) -> Result<(Gate, Option<i64>)> {
    let Some(r) = db.query_opt(
        "SELECT up, reason, raised_at, cleared_at, cleared_by, critical_since FROM deploy_gate WHERE id = 1",
        params![],
    )?
    else {
        return Ok((Gate::default(), None));
    };
    let since = r.opt_i64(5)?;
    Ok((
        Gate {
            up: r.i64(0)? != 0,
            reason: r.opt_text(1)?,
            raised_at: r.opt_i64(2)?.map(rfc3339),
            cleared_at: r.opt_i64(3)?.map(rfc3339),
            cleared_by: r.opt_text(4)?,
            critical_since: since.map(rfc3339),
        },
        since,
    ))
}

/// The gate now.
pub fn state(db: &dyn Db) -> Result<Gate> {
    Ok(read(db)?.0)
}

const ENSURE: &str = "INSERT OR IGNORE INTO deploy_gate (id, up) VALUES (1, 0)";

/// Record an evaluation of the availability burn at `now`.
pub fn observe(env: &Env, level: Level, now: i64) -> Result<Change> {
    transaction(env.db.as_ref(), |db| {
        db.exec(ENSURE, params![])?;
        let (gate, since) = read(db)?;
        if level == Level::Critical {
            let since = since.unwrap_or(now);
            db.exec(
                "UPDATE deploy_gate SET critical_since = ?1 WHERE id = 1",
                params![since],
            )?;
            if !gate.up && now - since >= RAISE_AFTER_MS {
                let reason = format!(
                    "the availability burn has been CRITICAL since {}",
                    rfc3339(since)
                );
                db.exec(
                    "UPDATE deploy_gate SET up = 1, reason = ?1, raised_at = ?2 WHERE id = 1",
                    params![reason, now],
                )?;
                return Ok(Change::Raised);
            }
            return Ok(Change::None);
        }
        db.exec(
            "UPDATE deploy_gate SET critical_since = NULL WHERE id = 1",
            params![],
        )?;
        if gate.up && level == Level::Ok {
            db.exec(
                "UPDATE deploy_gate SET up = 0, cleared_at = ?1, cleared_by = 'recovery' WHERE id = 1",
                params![now],
            )?;
            return Ok(Change::Recovered);
        }
        Ok(Change::None)
    })
}

/// An operator clears the gate (and the CRITICAL streak, so it takes
/// another two hours to go up again). Returns the gate before the change.
pub fn clear(env: &Env, by: &str, now: i64) -> Result<Gate> {
    transaction(env.db.as_ref(), |db| {
        db.exec(ENSURE, params![])?;
        let before = read(db)?.0;
        db.exec(
            "UPDATE deploy_gate SET up = 0, cleared_at = ?1, cleared_by = ?2, critical_since = NULL WHERE id = 1",
            params![now, by],
        )?;
        Ok(before)
    })
}
