//! The heartbeat: a row a minute proving the scheduler runs. `/health`
//! reports its age; uptime is computed from the rows. The same minute does
//! the housekeeping: folding request samples into the rollups (so rollups
//! are never more than a minute behind even when nothing scrapes
//! `/metrics`), pruning the event log, and dropping expired security state
//! (rate-limit buckets, sign-in failures, intake counts, refresh tokens).

use crate::build_info;
use crate::error::Result;
use crate::params;
use crate::ports::{Db, DbExt, Env};
use crate::scheduler::{self, Job, JobFn, RunContext};
use serde::Serialize;

/// Heartbeats are kept this long (uptime looks back 30 days).
const KEEP_MS: i64 = 35 * 86_400_000;

/// Older than this, the heartbeat is stale: three missed minutes.
pub const STALE_AFTER_SECS: i64 = 180;

/// The heartbeat job: every minute, at second 0.
pub const JOB: Job = Job {
    name: "heartbeat",
    component: "cron-heartbeat",
    schedule: "0 * * * * *",
    period_secs: 60,
    lease_secs: 50,
    max_attempts: 3,
    exclusive: true,
    body: JobFn::Sync(beat),
};

scheduler::cron_http_app!("cron-heartbeat", "/api/internal/cron/heartbeat", JOB);

fn beat(env: &Env, run: &RunContext) -> Result<String> {
    env.db.exec(
        "INSERT INTO heartbeats (at, slot, trigger, git_sha, dirty, missed_slots) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![run.now_ms, run.slot, run.trigger.as_str(), build_info::GIT_SHA, build_info::DIRTY, run.missed_slots],
    )?;
    env.db.exec(
        "DELETE FROM heartbeats WHERE at < ?1",
        params![run.now_ms - KEEP_MS],
    )?;
    let folded = crate::telemetry::compact(env)?;
    let pruned = crate::events::prune(env)?;
    let expired = crate::guard::prune(env)?;
    let cached = crate::cache::prune(env, 60_000)?;
    Ok(format!(
        "beat at slot {} ({} missed before it); {} request samples folded, {} pruned; {} events pruned; \
         {} expired security rows dropped; {} cached answers expired",
        run.slot, run.missed_slots, folded.folded, folded.pruned, pruned, expired, cached
    ))
}

/// The uptime window: 30 days of minutes.
pub const UPTIME_MINUTES: i64 = 30 * 1440;

/// Uptime over the last 30 days, from the heartbeats: the share of whole
/// minutes with a heartbeat, since the first heartbeat or 30 days ago,
/// whichever is later. The minute in progress is left out (its beat may
/// not be due yet).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Uptime {
    /// Minutes with a heartbeat over minutes expected, percent (3
    /// decimals); `null` before a whole minute has passed.
    pub pct: Option<f64>,
    /// The same as a ratio (0..1).
    pub ratio: Option<f64>,
    /// Whole minutes in the window.
    pub minutes_expected: i64,
    /// Of which had a heartbeat.
    pub minutes_up: i64,
    /// Of which had none.
    pub missed_minutes: i64,
    /// Where the window starts, RFC 3339 (`null`: no heartbeat yet).
    pub since: Option<String>,
}

/// Uptime at `now_ms`: two reads of the `heartbeats_by_time` index (the
/// first beat, and the distinct minutes of at most 43,200 entries).
pub fn uptime(db: &dyn Db, now_ms: i64) -> Result<Uptime> {
    let now_min = now_ms.div_euclid(60_000);
    let first = db
        .query_one("SELECT MIN(at) FROM heartbeats", &[])?
        .opt_i64(0)?;
    let Some(first) = first else {
        return Ok(Uptime {
            pct: None,
            ratio: None,
            minutes_expected: 0,
            minutes_up: 0,
            missed_minutes: 0,
            since: None,
        });
    };
    let from_min = first.div_euclid(60_000).max(now_min - UPTIME_MINUTES);
    let expected = (now_min - from_min).max(0);
    let up = db
        .query_one(
            "SELECT COUNT(DISTINCT at / 60000) FROM heartbeats WHERE at >= ?1 AND at < ?2",
            params![from_min * 60_000, now_min * 60_000],
        )?
        .i64(0)?
        .min(expected);
    let ratio = (expected > 0).then(|| up as f64 / expected as f64);
    Ok(Uptime {
        pct: ratio.map(|r| (r * 100_000.0).round() / 1000.0),
        ratio,
        minutes_expected: expected,
        minutes_up: up,
        missed_minutes: expected - up,
        since: Some(crate::time::rfc3339(from_min * 60_000)),
    })
}

/// The latest heartbeat, as `/health` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Status {
    /// `ok`, `stale` (older than three minutes) or `never`.
    pub status: &'static str,
    /// When it beat, RFC 3339.
    pub last_at: Option<String>,
    /// Seconds since.
    pub age_seconds: Option<i64>,
}

/// The heartbeat's status at `now_ms`.
pub fn status(db: &dyn Db, now_ms: i64) -> Result<Status> {
    let last = db
        .query_opt("SELECT at FROM heartbeats ORDER BY at DESC LIMIT 1", &[])?
        .map(|r| r.i64(0))
        .transpose()?;
    Ok(match last {
        None => Status {
            status: "never",
            last_at: None,
            age_seconds: None,
        },
        Some(at) => {
            let age = ((now_ms - at) / 1000).max(0);
            Status {
                status: if age > STALE_AFTER_SECS {
                    "stale"
                } else {
                    "ok"
                },
                last_at: Some(crate::time::rfc3339(at)),
                age_seconds: Some(age),
            }
        }
    })
}
