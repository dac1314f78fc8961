//! Intake budgets: how many jobs a caller may submit, so that nobody
//! spends another's share of the LLM budget.
//!
//! Every job is work the platform pays for, and the daily cost cap is
//! shared: when it is reached, every tenant's jobs wait. So submissions
//! through the API are counted against budgets of their own:
//!
//! - **anonymous callers** (`POST /api/public/create-job` without a
//!   credential): `intake_anonymous_per_address_hourly` jobs per client
//!   address and hour (default 10), and `intake_anonymous_daily` jobs per
//!   UTC day over all anonymous callers together (default 200). Anonymous
//!   jobs never count against a tenant's budget, and no tenant's jobs
//!   count against the anonymous one.
//! - **each tenant**: its `jobs_per_day` limit (tenant settings), when
//!   set, over every job submitted into it through the API (public route
//!   with a credential, partner keys, operators' enqueue).
//!
//! A spent budget is 429 `intake_budget_exceeded` with Retry-After (the
//! end of the hour or day) and changes nothing. Counts are rows in SQLite,
//! bumped in one transaction (all budgets or none), exact across
//! instances, in the transaction that creates the job; an idempotent
//! replay or a refused job counts nothing.

use crate::config;
use crate::db::transaction;
use crate::error::{Error, Result};
use crate::identity::{tenants, Credential, Principal};
use crate::jobs::store::Created;
use crate::params;
use crate::ports::{DbExt, Env};
use crate::tenancy::TenantId;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// One budget a submission counts against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    key: String,
    period_ms: i64,
    limit: i64,
    what: String,
}

/// The budgets a submission by `principal` into `tenant` from `client`
/// counts against.
pub fn budgets(
    env: &Env,
    principal: &Principal,
    tenant: &TenantId,
    client: &str,
) -> Result<Vec<Budget>> {
    let c = env.config.as_ref();
    if matches!(principal.credential, Credential::Anonymous) {
        let per_address = config::int(c, "intake_anonymous_per_address_hourly", 10, 0, 1_000_000)?;
        let daily = config::int(c, "intake_anonymous_daily", 200, 0, 100_000_000)?;
        return Ok(vec![
            Budget {
                key: format!("anon:{client}"),
                period_ms: HOUR_MS,
                limit: per_address,
                what: format!(
                    "anonymous submissions from one address are limited to {per_address} an hour; sign in, or wait"
                ),
            },
            Budget {
                key: "anon".into(),
                period_ms: DAY_MS,
                limit: daily,
                what: format!(
                    "anonymous submissions are limited to {daily} a day over all callers; sign in, or wait"
                ),
            },
        ]);
    }
    let limit = tenants::get(env, tenant)?
        .limits
        .get("jobs_per_day")
        .and_then(serde_json::Value::as_i64);
    Ok(limit
        .map(|limit| Budget {
            key: format!("tenant:{}", tenant.as_str()),
            period_ms: DAY_MS,
            limit,
            what: format!(
                "tenant `{}` may submit {limit} jobs a day (its jobs_per_day limit)",
                tenant.as_str()
            ),
        })
        .into_iter()
        .collect())
}

/// Create a submission within its budgets: the submission is counted
/// against every budget of `list` and `create` runs, in one transaction, so
/// a job exists exactly when it was counted. A spent budget is 429
/// `intake_budget_exceeded` before `create` runs (a refusal stays cheap);
/// a failed `create` rolls the counts back; a replay (`create` returned
/// the earlier job) gives them back.
pub fn admit(
    env: &Env,
    list: &[Budget],
    mut create: impl FnMut() -> Result<Created>,
) -> Result<Created> {
    let now = env.clock.now_ms();
    transaction(env.db.as_ref(), |db| {
        for b in list {
            let start = now.div_euclid(b.period_ms) * b.period_ms;
            let row = db.query_opt(
                "INSERT INTO intake_counts (key, period_start_ms, count) VALUES (?1, ?2, 1)
                 ON CONFLICT (key, period_start_ms) DO UPDATE SET count = count + 1 WHERE count < ?3
                 RETURNING count",
                params![b.key.as_str(), start, b.limit],
            )?;
            if row.is_none() || b.limit == 0 {
                let retry = ((start + b.period_ms - now) / 1000).max(1) as u64;
                let mut e = Error::rate_limited(retry, b.what.clone());
                e.code = "intake_budget_exceeded";
                // Rolls the transaction back: nothing is counted.
                return Err(e);
            }
        }
        let created = create()?;
        if created.replayed {
            for b in list {
                db.exec(
                    "UPDATE intake_counts SET count = MAX(count - 1, 0) WHERE key = ?1 AND period_start_ms = ?2",
                    params![b.key.as_str(), now.div_euclid(b.period_ms) * b.period_ms],
                )?;
            }
        }
        Ok(created)
    })
}

/// Drop counts of periods that ended more than a day ago.
pub fn prune(env: &Env) -> Result<i64> {
    Ok(env
        .db
        .exec(
            "DELETE FROM intake_counts WHERE period_start_ms < ?1 RETURNING key",
            params![env.clock.now_ms() - 2 * DAY_MS],
        )?
        .rows
        .len() as i64)
}
