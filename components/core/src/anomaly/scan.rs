//! Reading request samples for the anomaly guard: those newer than the
//! watermark (at most [`MAX_EXAMINED`] of the newest), the 50 before them,
//! and moving the watermark. Every read is a range of `request_samples`'
//! primary key.

use super::rolling::{outliers, Outlier};
use crate::error::Result;
use crate::params;
use crate::ports::{Db, DbExt, Env, Row};

/// Samples each value is judged against.
pub const WINDOW: usize = 50;
/// How many standard deviations above the mean is an anomaly.
pub const SIGMAS: f64 = 3.0;
/// A window flatter than this (µs) judges nothing.
pub const MIN_STD_US: f64 = 1.0;
/// The most samples one run examines: the newest ones, when more arrived.
pub const MAX_EXAMINED: i64 = 5_000;
const WATERMARK: &str = "anomaly.examined_id";

/// One request sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Its id.
    pub id: i64,
    /// When, Unix ms.
    pub at_ms: i64,
    /// The component.
    pub component: String,
    /// The route template.
    pub route: String,
    /// The method.
    pub method: String,
    /// The status.
    pub status: i64,
    /// Latency, µs.
    pub latency_us: i64,
    /// Its `X-Request-ID`.
    pub request_id: String,
}

impl Sample {
    fn from_row(r: &Row) -> Result<Sample> {
        Ok(Sample {
            id: r.i64(0)?,
            at_ms: r.i64(1)?,
            component: r.text(2)?,
            route: r.text(3)?,
            method: r.text(4)?,
            status: r.i64(5)?,
            latency_us: r.i64(6)?,
            request_id: r.text(7)?,
        })
    }
}

/// What one scan found.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Samples newer than the watermark that were judged (health checks
    /// not counted).
    pub examined: usize,
    /// Samples newer than the watermark left out by the cap.
    pub skipped: i64,
    /// The anomalies, with their samples.
    pub anomalies: Vec<(Sample, Outlier)>,
    /// The watermark after this scan.
    pub upto: i64,
}

fn excluded() -> String {
    crate::slo::EXCLUDED_ROUTES
        .iter()
        .map(|r| format!("'{r}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The last sample id examined (0 before the first run).
pub fn watermark(db: &dyn Db) -> Result<i64> {
    Ok(crate::db::meta::get_i64(db, WATERMARK)?.unwrap_or(0))
}

/// Move the watermark forward to `upto` (never back).
pub fn advance(db: &dyn Db, upto: i64) -> Result<()> {
    crate::db::meta::raise_i64(db, WATERMARK, upto)
}

fn id_bounds(db: &dyn Db) -> Result<(i64, i64)> {
    let r = db.query_one(
        "SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), 0) FROM request_samples",
        params![],
    )?;
    Ok((r.i64(0)?, r.i64(1)?))
}

fn fresh(db: &dyn Db, after: i64, upto: i64) -> Result<Vec<Sample>> {
    let rows = db.exec(
        &format!(
            "SELECT id, at_ms, component, route, method, status, latency_us, request_id
             FROM request_samples WHERE id > ?1 AND id <= ?2 AND route NOT IN ({})
             ORDER BY id",
            excluded()
        ),
        params![after, upto],
    )?;
    rows.rows.iter().map(Sample::from_row).collect()
}

/// Latencies of the `n` samples at or before id `upto`, oldest first.
fn history(db: &dyn Db, upto: i64, n: usize) -> Result<Vec<i64>> {
    let rows = db.exec(
        &format!(
            "SELECT latency_us FROM request_samples WHERE id <= ?1 AND route NOT IN ({})
             ORDER BY id DESC LIMIT ?2",
            excluded()
        ),
        params![upto, n],
    )?;
    let mut latencies = rows
        .rows
        .iter()
        .map(|r| r.i64(0))
        .collect::<Result<Vec<_>>>()?;
    latencies.reverse();
    Ok(latencies)
}

/// Judge the samples newer than the watermark (the watermark is not moved:
/// see [`advance`]).
pub fn scan(env: &Env) -> Result<Scan> {
    let db = env.db.as_ref();
    let mark = watermark(db)?;
    let (first, last) = id_bounds(db)?;
    if last <= mark {
        return Ok(Scan {
            upto: mark,
            ..Scan::default()
        });
    }
    let from = mark.max(last - MAX_EXAMINED);
    let skipped = (from - mark.max(first - 1)).max(0);
    let samples = fresh(db, from, last)?;
    let before = history(db, from, WINDOW)?;
    let mut series = before.clone();
    series.extend(samples.iter().map(|s| s.latency_us));
    let anomalies = outliers(&series, before.len(), WINDOW, SIGMAS, MIN_STD_US)
        .into_iter()
        .map(|o| (samples[o.index - before.len()].clone(), o))
        .collect();
    Ok(Scan {
        examined: samples.len(),
        skipped,
        anomalies,
        upto: last,
    })
}
