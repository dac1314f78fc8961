//! Folding raw request samples into the rollups.

use super::histogram::{bucket_case, BUCKETS};
use crate::db::transaction;
use crate::error::Result;
use crate::params;
use crate::ports::{Db, DbExt, Env};

/// Raw samples are kept this long after they are folded (the event log and
/// `GET /api/logs?request_id=` read them).
pub const SAMPLES_KEPT_MS: i64 = 3_600_000;
/// Minute rollups are kept this many days.
pub const MINUTES_KEPT_DAYS: i64 = 30;
/// Samples folded per transaction, so one call never holds the write lock
/// for long.
const BATCH: i64 = 20_000;
/// Batches per call; the next call continues where this one stopped.
const MAX_BATCHES: usize = 50;
const WATERMARK: &str = "telemetry.compacted_id";

/// What one [`compact`] call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compacted {
    /// Samples folded into the rollups.
    pub folded: i64,
    /// Raw samples deleted.
    pub pruned: i64,
}

fn bucket_list(prefix: &str) -> String {
    (0..BUCKETS)
        .map(|i| format!("{prefix}b{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn bucket_sums() -> String {
    (0..BUCKETS).map(bucket_case).collect::<Vec<_>>().join(", ")
}

fn bucket_updates() -> String {
    (0..BUCKETS)
        .map(|i| format!("b{i} = b{i} + excluded.b{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn fold(db: &dyn Db, after: i64, upto: i64) -> Result<()> {
    let buckets = bucket_list("");
    let sums = bucket_sums();
    let updates = bucket_updates();
    db.exec(
        &format!(
            "INSERT INTO request_minutes (minute, component, route, method, status, tenant_id, n, sum_us, max_us, {buckets})
             SELECT at_ms / 60000, component, route, method, status, tenant_id, COUNT(*), SUM(latency_us), MAX(latency_us), {sums}
             FROM request_samples WHERE id > ?1 AND id <= ?2
             GROUP BY 1, 2, 3, 4, 5, 6
             ON CONFLICT (minute, component, route, method, status, tenant_id) DO UPDATE SET
               n = n + excluded.n, sum_us = sum_us + excluded.sum_us,
               max_us = MAX(max_us, excluded.max_us), {updates}"
        ),
        params![after, upto],
    )?;
    let exclude = crate::slo::EXCLUDED_ROUTES
        .iter()
        .map(|r| format!("'{r}'"))
        .collect::<Vec<_>>()
        .join(", ");
    db.exec(
        &format!(
            "INSERT INTO slo_minutes (minute, requests, errors, {buckets})
             SELECT at_ms / 60000, COUNT(*), SUM(status >= 500), {sums}
             FROM request_samples WHERE id > ?1 AND id <= ?2 AND route NOT IN ({exclude})
             GROUP BY 1
             ON CONFLICT (minute) DO UPDATE SET
               requests = requests + excluded.requests, errors = errors + excluded.errors, {updates}"
        ),
        params![after, upto],
    )?;
    db.exec(
        &format!(
            "INSERT INTO request_totals (component, route, method, status, n, sum_us, {buckets})
             SELECT component, route, method, status, COUNT(*), SUM(latency_us), {sums}
             FROM request_samples WHERE id > ?1 AND id <= ?2
             GROUP BY 1, 2, 3, 4
             ON CONFLICT (component, route, method, status) DO UPDATE SET
               n = n + excluded.n, sum_us = sum_us + excluded.sum_us, {updates}"
        ),
        params![after, upto],
    )?;
    Ok(())
}

fn watermark(db: &dyn Db) -> Result<i64> {
    Ok(crate::db::meta::get_i64(db, WATERMARK)?.unwrap_or(0))
}

/// Fold every sample recorded since the last call into the rollups, prune
/// what is past its retention, and report what was done.
pub fn compact(env: &Env) -> Result<Compacted> {
    let now = env.clock.now_ms();
    let mut done = Compacted::default();
    for _ in 0..MAX_BATCHES {
        let step = transaction(env.db.as_ref(), |db| {
            let after = watermark(db)?;
            let last = db
                .query_one("SELECT COALESCE(MAX(id), 0) FROM request_samples", &[])?
                .i64(0)?;
            if last <= after {
                return Ok(None);
            }
            let upto = last.min(after + BATCH);
            fold(db, after, upto)?;
            crate::db::meta::set(db, WATERMARK, &upto.to_string())?;
            Ok(Some(upto - after))
        })?;
        match step {
            Some(n) => done.folded += n,
            None => break,
        }
    }
    done.pruned = prune(env, now)?;
    Ok(done)
}

fn prune(env: &Env, now: i64) -> Result<i64> {
    transaction(env.db.as_ref(), |db| {
        let folded = watermark(db)?;
        // Samples are appended in time order, so the first one still inside
        // the retention bounds the ids to delete (found by a short scan from
        // the oldest, not a scan of the table).
        let keep_from = db
            .query_opt(
                "SELECT id FROM request_samples WHERE at_ms >= ?1 ORDER BY id LIMIT 1",
                params![now - SAMPLES_KEPT_MS],
            )?
            .map(|r| r.i64(0))
            .transpose()?
            .unwrap_or(i64::MAX);
        let cut = folded.min(keep_from.saturating_sub(1));
        let pruned = db
            .query_one(
                "SELECT COUNT(*) FROM request_samples WHERE id <= ?1",
                params![cut],
            )?
            .i64(0)?;
        if pruned > 0 {
            db.exec("DELETE FROM request_samples WHERE id <= ?1", params![cut])?;
        }
        let old = now / 60_000 - MINUTES_KEPT_DAYS * 24 * 60;
        db.exec(
            "DELETE FROM request_minutes WHERE minute < ?1",
            params![old],
        )?;
        db.exec("DELETE FROM slo_minutes WHERE minute < ?1", params![old])?;
        Ok(pruned)
    })
}
