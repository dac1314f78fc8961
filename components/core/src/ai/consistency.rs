//! Judge consistency: a sample of graded outputs is graded twice, and the
//! agreement per criterion shows an operator when a criterion is noise.

use super::grader::{Grades, CRITERIA};
use crate::error::Result;
use crate::params;
use crate::ports::{DbExt, Env};
use crate::tenancy::Scope;
use crate::time::rfc3339;

/// Record a double grading of one attempt.
pub fn record(
    env: &Env,
    job_id: &str,
    tenant: &str,
    attempt_id: i64,
    a: &Grades,
    b: &Grades,
    threshold: f64,
) -> Result<()> {
    let now = env.clock.now_ms();
    for (i, name) in CRITERIA.iter().enumerate() {
        env.db.exec(
            "INSERT INTO qa_consistency (job_id, attempt_id, tenant_id, criterion, score_a, score_b, threshold, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![job_id, attempt_id, tenant, *name, a.0[i].score, b.0[i].score, threshold.round() as i64, now],
        )?;
    }
    Ok(())
}

/// Agreement per criterion since `since_ms`, over the samples of jobs
/// `scope` may see: samples, mean absolute
/// difference, the share within 10 points, the share where both grades fall
/// on the same side of the threshold, and a verdict (`noisy` when the mean
/// difference is over 15 points or pass/fail agreement under 80 %).
pub fn report(env: &Env, scope: &Scope, since_ms: i64) -> Result<serde_json::Value> {
    let (cond, tenant) = scope.condition("tenant_id", 2);
    let mut p = params![since_ms].to_vec();
    p.extend(tenant.map(crate::ports::Value::from));
    let rows = env.db.exec(
        &format!(
            "SELECT criterion, COUNT(*), AVG(ABS(score_a - score_b)),
                AVG(ABS(score_a - score_b) <= 10), AVG((score_a >= threshold) = (score_b >= threshold))
             FROM qa_consistency WHERE created_at >= ?1 AND {cond} GROUP BY criterion"
        ),
        &p,
    )?;
    let mut out = serde_json::Map::new();
    for name in CRITERIA {
        out.insert(
            name.to_string(),
            serde_json::json!({ "samples": 0, "verdict": "no_data" }),
        );
    }
    let round = |v: f64| (v * 10_000.0).round() / 10_000.0;
    for r in &rows.rows {
        let (name, n, mad, within, agree) =
            (r.text(0)?, r.i64(1)?, r.f64(2)?, r.f64(3)?, r.f64(4)?);
        let verdict = if mad > 15.0 || agree < 0.8 {
            "noisy"
        } else {
            "consistent"
        };
        out.insert(
            name,
            serde_json::json!({
                "samples": n,
                "mean_abs_diff": round(mad),
                "within_10_points": round(within),
                "pass_fail_agreement": round(agree),
                "verdict": verdict,
            }),
        );
    }
    Ok(serde_json::json!({ "since": rfc3339(since_ms), "criteria": out }))
}
