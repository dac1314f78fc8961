//! Configuration problems the scheduled jobs met. A job whose latest
//! finished run failed with `invalid_configuration` cannot work until a
//! variable is fixed: `/health` names the job, the variable and the fix, so
//! the problem is seen where operators look, not only in a component's log.
//! It is derived from `scheduler_runs` (nothing extra is written), and it
//! clears itself on the job's next successful run.

use super::JOB_NAMES;
use crate::config::Problem;
use crate::error::Result;
use crate::ports::{Db, DbExt, Value};
use serde::Serialize;

/// A job that cannot run as configured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobProblem {
    /// The job.
    pub job: String,
    /// The variable and what it must be.
    #[serde(flatten)]
    pub problem: Problem,
    /// When its latest run failed for it.
    pub seen_at: String,
}

/// Every job whose latest finished run failed with a configuration error.
/// One statement: a seek per job on `scheduler_runs`' primary key.
pub fn configuration_problems(db: &dyn Db) -> Result<Vec<JobProblem>> {
    let jobs = (1..=JOB_NAMES.len())
        .map(|i| format!("(?{i})"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT r.job, r.error, r.finished_at FROM scheduler_runs r
         WHERE r.status = 'failed' AND r.rowid IN (
             SELECT (SELECT rowid FROM scheduler_runs
                     WHERE job = j.column1 AND status <> 'running'
                     ORDER BY slot DESC LIMIT 1)
             FROM (VALUES {jobs}) j)
         ORDER BY r.job"
    );
    let params: Vec<Value> = JOB_NAMES.iter().map(|j| Value::from(*j)).collect();
    let rows = db.exec(&sql, &params)?;
    let mut out = Vec::new();
    for r in &rows.rows {
        let Some(problem) = r.opt_text(1)?.as_deref().and_then(Problem::of) else {
            continue;
        };
        out.push(JobProblem {
            job: r.text(0)?,
            problem,
            seen_at: crate::time::rfc3339(r.opt_i64(2)?.unwrap_or(0)),
        });
    }
    Ok(out)
}
