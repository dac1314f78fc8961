//! The daily rollup (03:15 UTC, `cron-analytics`): fold every final day of
//! raw events into the per-day tables, delete those raw events, forget the
//! salts no event can use any more, and drop what is past retention.
//!
//! A day is final once no event can be dated in it: events are accepted up
//! to a day old, so at any time during day `T` they are dated `T - 1` or
//! later, and days before `T - 1` are final. Raw events therefore never
//! hold more than three days (today, yesterday, and the day before until
//! the rollup runs), whatever the traffic. Each day is folded and deleted
//! in one transaction, so a run that dies half way, a second replica or a
//! retry never counts a day twice; a missed run is caught up by the next.

use crate::db;
use crate::error::Result;
use crate::params;
use crate::ports::{Db, DbExt, Env};
use crate::scheduler::{self, Job, JobFn, RunContext};
use crate::time::day_of;

/// The rollup job: daily at 03:15 UTC.
pub const JOB: Job = Job {
    name: "analytics",
    component: "cron-analytics",
    schedule: "0 15 3 * * *",
    period_secs: 86_400,
    lease_secs: 600,
    max_attempts: 3,
    exclusive: true,
    body: JobFn::Sync(run),
};

scheduler::cron_http_app!("cron-analytics", "/api/internal/cron/analytics", JOB);

/// Days of rolled-up figures kept (the usage report reads at most 90).
pub const RETENTION_DAYS: i64 = 400;

/// What a rollup did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folded {
    /// Days folded.
    pub days: usize,
    /// Raw events folded (and deleted).
    pub events: i64,
    /// Raw events left (the days not final yet).
    pub raw_left: i64,
    /// Salts forgotten.
    pub salts_forgotten: usize,
}

fn fold_day(db: &dyn Db, day: i64) -> Result<i64> {
    db::transaction(db, |db| {
        db.exec(
            "INSERT INTO analytics_days (tenant_id, day, visitors, events)
             SELECT tenant_id, day, COUNT(DISTINCT visitor), COUNT(*)
               FROM analytics_events WHERE day = ?1 GROUP BY tenant_id
             ON CONFLICT (tenant_id, day) DO UPDATE SET
               visitors = visitors + excluded.visitors, events = events + excluded.events",
            params![day],
        )?;
        db.exec(
            "INSERT INTO analytics_day_events (tenant_id, day, name, count)
             SELECT tenant_id, day, name, COUNT(*)
               FROM analytics_events WHERE day = ?1 GROUP BY tenant_id, name
             ON CONFLICT (tenant_id, day, name) DO UPDATE SET count = count + excluded.count",
            params![day],
        )?;
        Ok(db
            .exec(
                "DELETE FROM analytics_events WHERE day = ?1 RETURNING id",
                params![day],
            )?
            .rows
            .len() as i64)
    })
}

/// Fold every final day as of `now_ms`.
pub fn fold(env: &Env, now_ms: i64) -> Result<Folded> {
    let first_open = super::visitor::first_needed(now_ms);
    let days: Vec<i64> = env
        .db
        .exec(
            "SELECT DISTINCT day FROM analytics_events WHERE day < ?1 ORDER BY day",
            params![first_open],
        )?
        .rows
        .iter()
        .map(|r| r.i64(0))
        .collect::<Result<_>>()?;
    let mut out = Folded::default();
    for day in &days {
        out.events += fold_day(env.db.as_ref(), *day)?;
        out.days += 1;
    }
    out.salts_forgotten = super::visitor::forget_before(env, first_open)?;
    env.db.exec(
        "DELETE FROM analytics_intake WHERE day < ?1",
        params![first_open],
    )?;
    let expired = day_of(now_ms) - RETENTION_DAYS;
    env.db.exec(
        "DELETE FROM analytics_days WHERE day < ?1",
        params![expired],
    )?;
    env.db.exec(
        "DELETE FROM analytics_day_events WHERE day < ?1",
        params![expired],
    )?;
    out.raw_left = env
        .db
        .query_one("SELECT COUNT(*) FROM analytics_events", &[])?
        .i64(0)?;
    Ok(out)
}

/// The job's body.
fn run(env: &Env, run: &RunContext) -> Result<String> {
    let f = fold(env, run.now_ms)?;
    Ok(format!(
        "folded {} day(s) ({} raw events); {} raw events left; {} salt(s) forgotten",
        f.days, f.events, f.raw_left, f.salts_forgotten
    ))
}
