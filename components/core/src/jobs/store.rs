//! Creating, reading and changing jobs. Every function takes a tenant or a
//! [`Scope`], so no query can forget whose jobs it touches.

use super::model::{JobType, NewJob, Priority, Source, Status};
use super::record::{AttemptView, Job, ATTEMPT_COLUMNS, JOB_COLUMNS};
use crate::build_info;
use crate::error::{Error, Result};
use crate::params;
use crate::ports::{ids, DbError, DbExt, Env, Value};
use crate::tenancy::{Scope, TenantId};
use sha2::{Digest, Sha256};

/// Attempts a job gets when the request does not say.
pub const DEFAULT_MAX_ATTEMPTS: i64 = 3;
/// The most attempts a request may ask for.
pub const MAX_MAX_ATTEMPTS: i64 = 10;
/// How far ahead `run_at` may be.
const MAX_SCHEDULE_AHEAD_MS: i64 = 365 * 86_400_000;

/// The result of [`create`].
#[derive(Debug, Clone)]
pub struct Created {
    /// The job (new, or the one created earlier with the same key).
    pub job: Job,
    /// True when the idempotency key matched an earlier request.
    pub replayed: bool,
}

/// Validate an idempotency key: 1 to 255 printable ASCII characters.
pub fn parse_idempotency_key(key: &str) -> Result<String> {
    let ok = !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| (0x21..0x7f).contains(&b));
    if ok {
        Ok(key.to_string())
    } else {
        Err(Error::bad_request(
            "invalid_idempotency_key",
            "an idempotency key is 1 to 255 printable ASCII characters without spaces",
        ))
    }
}

/// The digest of what was asked, to tell a replay from a different request
/// under the same idempotency key.
pub fn request_hash(new: &NewJob) -> String {
    let canonical = serde_json::to_vec(new).unwrap_or_default();
    crate::hex(&Sha256::digest(&canonical))
}

/// Create a job for `tenant`, or, when `idempotency_key` was used before by
/// this tenant, return that job (409 `idempotency_conflict` if the earlier
/// request was different).
pub fn create(
    env: &Env,
    tenant: &TenantId,
    new: &NewJob,
    idempotency_key: Option<&str>,
) -> Result<Created> {
    let key = idempotency_key.map(parse_idempotency_key).transpose()?;
    let hash = request_hash(new);
    if let Some(key) = &key {
        if let Some(found) = find_by_key(env, tenant, key, &hash)? {
            return Ok(found);
        }
    }
    let now = env.clock.now_ms();
    let run_at = match new.run_at {
        Some(t) if t > now + MAX_SCHEDULE_AHEAD_MS => {
            return Err(Error::unprocessable(
                "invalid_run_at",
                "run_at may be at most one year ahead",
            ))
        }
        Some(t) => t.max(now),
        None => now,
    };
    let max_attempts = new.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
    if !(1..=MAX_MAX_ATTEMPTS).contains(&max_attempts) {
        return Err(Error::unprocessable(
            "invalid_max_attempts",
            format!("max_attempts must be between 1 and {MAX_MAX_ATTEMPTS}"),
        ));
    }
    let id = ids::new_id("job_", now, env.ids.as_ref())?;
    let input = serde_json::json!({ "context": new.context }).to_string();
    let sql = format!(
        "INSERT INTO jobs (id, tenant_id, source, type, priority, status, attempts, max_attempts, run_at,
            title, brief, email, input, idempotency_key, request_hash, external_ref, build_sha, build_dirty,
            created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'queued', 0, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17)
         RETURNING {JOB_COLUMNS}"
    );
    let params = params![
        id.as_str(),
        tenant.as_str(),
        new.source.as_str(),
        new.job_type.as_str(),
        new.priority.rank(),
        max_attempts,
        run_at,
        new.title.as_ref().map(|t| t.as_str()),
        new.brief.as_str(),
        new.email.as_ref().map(|e| e.as_str()),
        input,
        key.as_deref(),
        hash.as_str(),
        new.external_ref.as_deref(),
        build_info::GIT_SHA,
        build_info::DIRTY,
        now
    ];
    match env.db.execute(&sql, params) {
        Ok(rows) => {
            let row = rows
                .first()
                .ok_or_else(|| Error::internal("insert returned no row"))?;
            Ok(Created {
                job: Job::from_row(row)?,
                replayed: false,
            })
        }
        // Two requests with one key raced: the other insert won.
        Err(DbError::Constraint(_)) if key.is_some() => {
            let key = key.as_deref().unwrap_or_default();
            find_by_key(env, tenant, key, &hash)?
                .ok_or_else(|| Error::internal("idempotency key conflict without a row"))
        }
        Err(e) => Err(e.into()),
    }
}

fn find_by_key(env: &Env, tenant: &TenantId, key: &str, hash: &str) -> Result<Option<Created>> {
    let row = env.db.query_opt(
        &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = ?1 AND idempotency_key = ?2"),
        params![tenant.as_str(), key],
    )?;
    let Some(row) = row else { return Ok(None) };
    let job = Job::from_row(&row)?;
    if job.request_hash.as_deref() != Some(hash) {
        return Err(Error::conflict(
            "idempotency_conflict",
            "this Idempotency-Key was already used with a different request; use a new key",
        ));
    }
    Ok(Some(Created {
        job,
        replayed: true,
    }))
}

/// A job by id, if the scope may see it (404 otherwise, so ids of other
/// tenants' jobs are not confirmed).
pub fn get(env: &Env, scope: &Scope, id: &str) -> Result<Job> {
    let (cond, tenant) = scope.condition("tenant_id", 2);
    let row = env.db.query_opt(
        &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1 AND {cond}"),
        &with_tenant(vec![Value::from(id)], tenant),
    )?;
    match row {
        Some(r) => Job::from_row(&r),
        None => Err(Error::not_found(format!("no job `{id}`"))),
    }
}

/// A job's attempts, oldest first.
pub fn attempts(env: &Env, job: &Job) -> Result<Vec<AttemptView>> {
    let rows = env.db.exec(
        &format!("SELECT {ATTEMPT_COLUMNS} FROM job_attempts WHERE job_id = ?1 AND tenant_id = ?2 ORDER BY id"),
        params![job.id.as_str(), job.tenant_id.as_str()],
    )?;
    rows.rows.iter().map(AttemptView::from_row).collect()
}

fn with_tenant(mut params: Vec<Value>, tenant: Option<String>) -> Vec<Value> {
    if let Some(t) = tenant {
        params.push(Value::Text(t));
    }
    params
}

/// Filters for [`list`]. `None` means any.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Status.
    pub status: Option<Status>,
    /// Type.
    pub job_type: Option<JobType>,
    /// Priority.
    pub priority: Option<Priority>,
    /// Source.
    pub source: Option<Source>,
    /// Requester email (lower case).
    pub email: Option<String>,
    /// Created at or after (Unix ms).
    pub created_after: Option<i64>,
    /// Created before (Unix ms).
    pub created_before: Option<i64>,
}

/// One page of jobs, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    /// The jobs.
    pub jobs: Vec<Job>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Jobs the scope may see, newest first, `limit` at a time after `cursor`
/// (the last id of the previous page: ids sort by creation time).
pub fn list(
    env: &Env,
    scope: &Scope,
    filter: &Filter,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Page> {
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    let mut push = |cond: &str, v: Value, params: &mut Vec<Value>| {
        params.push(v);
        conds.push(cond.replace('?', &format!("?{}", params.len())));
    };
    if let Some(t) = scope.tenant() {
        push("tenant_id = ?", Value::from(t.as_str()), &mut params);
    }
    if let Some(s) = filter.status {
        push("status = ?", Value::from(s.as_str()), &mut params);
    }
    if let Some(t) = filter.job_type {
        push("type = ?", Value::from(t.as_str()), &mut params);
    }
    if let Some(p) = filter.priority {
        push("priority = ?", Value::from(p.rank()), &mut params);
    }
    if let Some(s) = filter.source {
        push("source = ?", Value::from(s.as_str()), &mut params);
    }
    if let Some(e) = &filter.email {
        push("email = ?", Value::from(e.as_str()), &mut params);
    }
    if let Some(t) = filter.created_after {
        push("created_at >= ?", Value::from(t), &mut params);
    }
    if let Some(t) = filter.created_before {
        push("created_at < ?", Value::from(t), &mut params);
    }
    if let Some(c) = cursor {
        push("id < ?", Value::from(c), &mut params);
    }
    let limit = limit.clamp(1, 200);
    params.push(Value::from(limit + 1));
    let where_clause = if conds.is_empty() {
        "1 = 1".to_string()
    } else {
        conds.join(" AND ")
    };
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE {where_clause} ORDER BY id DESC LIMIT ?{}",
        params.len()
    );
    let rows = env.db.exec(&sql, &params)?;
    let mut jobs = rows
        .rows
        .iter()
        .map(Job::from_row)
        .collect::<Result<Vec<_>>>()?;
    let next_cursor = if jobs.len() > limit {
        jobs.truncate(limit);
        jobs.last().map(|j| j.id.clone())
    } else {
        None
    };
    Ok(Page { jobs, next_cursor })
}

/// Cancel a queued or processing job. A processing job's result is
/// discarded when its worker finishes (the worker only writes while it
/// holds the lease on a `processing` job).
pub fn cancel(env: &Env, scope: &Scope, id: &str, reason: &str) -> Result<Job> {
    let now = env.clock.now_ms();
    let (cond, tenant) = scope.condition("tenant_id", 4);
    let row = env.db.query_opt(
        &format!(
            "UPDATE jobs SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL,
                last_error = ?2, finished_at = ?3, updated_at = ?3,
                sync_state = CASE WHEN external_ref IS NOT NULL THEN 'pending' ELSE sync_state END
             WHERE id = ?1 AND status IN ('queued', 'processing') AND {cond}
             RETURNING {JOB_COLUMNS}"
        ),
        &with_tenant(params![id, reason, now].to_vec(), tenant),
    )?;
    match row {
        Some(r) => Job::from_row(&r),
        None => {
            let job = get(env, scope, id)?;
            Err(Error::conflict(
                "not_cancellable",
                format!(
                    "job `{id}` is {}; only queued or processing jobs can be cancelled",
                    job.status.as_str()
                ),
            ))
        }
    }
}

/// Put a failed, dead or cancelled job back in the queue with a fresh set
/// of attempts.
pub fn retry(env: &Env, scope: &Scope, id: &str) -> Result<Job> {
    let now = env.clock.now_ms();
    let (cond, tenant) = scope.condition("tenant_id", 3);
    let row = env.db.query_opt(
        &format!(
            "UPDATE jobs SET status = 'queued', attempts = 0, run_at = ?2, updated_at = ?2,
                finished_at = NULL, last_error = NULL, dead_reason = NULL, lease_owner = NULL,
                lease_expires_at = NULL, sync_state = NULL
             WHERE id = ?1 AND status IN ('failed', 'dead', 'cancelled') AND {cond}
             RETURNING {JOB_COLUMNS}"
        ),
        &with_tenant(params![id, now].to_vec(), tenant),
    )?;
    match row {
        Some(r) => Job::from_row(&r),
        None => {
            let job = get(env, scope, id)?;
            Err(Error::conflict(
                "not_retryable",
                format!(
                    "job `{id}` is {}; only failed, dead or cancelled jobs can be retried",
                    job.status.as_str()
                ),
            ))
        }
    }
}

/// Counts by status, type and priority, and the oldest queued job's age.
pub fn queue_status(env: &Env, scope: &Scope) -> Result<serde_json::Value> {
    let (cond, tenant) = scope.condition("tenant_id", 1);
    let rows = env.db.exec(
        &format!("SELECT status, type, priority, SUM(n) FROM job_counts WHERE {cond} GROUP BY status, type, priority"),
        &with_tenant(Vec::new(), tenant.clone()),
    )?;
    let mut by_status = serde_json::Map::new();
    let mut by_type = serde_json::Map::new();
    let mut by_priority = serde_json::Map::new();
    for s in Status::ALL {
        by_status.insert(s.as_str().into(), 0.into());
    }
    for t in JobType::ALL {
        by_type.insert(t.as_str().into(), 0.into());
    }
    for p in Priority::ALL {
        by_priority.insert(p.as_str().into(), 0.into());
    }
    let mut total = 0i64;
    let mut queued_by_priority = by_priority.clone();
    for r in &rows.rows {
        let (status, ty, prio, n) = (
            r.text(0)?,
            r.text(1)?,
            Priority::from_rank(r.i64(2)?),
            r.i64(3)?,
        );
        total += n;
        let add = |m: &mut serde_json::Map<String, serde_json::Value>, k: &str| {
            let v = m.get(k).and_then(|v| v.as_i64()).unwrap_or(0) + n;
            m.insert(k.to_string(), v.into());
        };
        add(&mut by_status, &status);
        add(&mut by_type, &ty);
        add(&mut by_priority, prio.as_str());
        if status == "queued" {
            add(&mut queued_by_priority, prio.as_str());
        }
    }
    let now = env.clock.now_ms();
    let (cond, tenant) = scope.condition("tenant_id", 1);
    let oldest = env
        .db
        .query_one(
            &format!("SELECT MIN(created_at) FROM jobs WHERE status = 'queued' AND {cond}"),
            &with_tenant(Vec::new(), tenant),
        )?
        .opt_i64(0)?;
    let (cond, tenant) = scope.condition("tenant_id", 2);
    let expired = env
        .db
        .query_one(
            &format!("SELECT COUNT(*) FROM jobs WHERE status = 'processing' AND lease_expires_at < ?1 AND {cond}"),
            &with_tenant(params![now].to_vec(), tenant),
        )?
        .i64(0)?;
    Ok(serde_json::json!({
        "total": total,
        "by_status": by_status,
        "by_type": by_type,
        "by_priority": by_priority,
        "queued_by_priority": queued_by_priority,
        "oldest_queued_at": oldest.map(crate::time::rfc3339),
        "oldest_queued_age_seconds": oldest.map(|t| ((now - t) / 1000).max(0)),
        "expired_leases": expired,
    }))
}
