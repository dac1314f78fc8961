//! `GET /api/logs`: the event log, and for one request id the request
//! itself (its telemetry sample, kept an hour) next to what it logged.
//!
//! The log is the platform's: causes of 500s, scheduled-job reports and
//! security events of every tenant. Principals of the default tenant read
//! all of it (a global admin may narrow it with `tenant_id`); anyone else
//! reads only the events and requests of their own tenant (see
//! [`crate::tenancy::record_scope`]).

use crate::error::{Error, Result};
use crate::events::{self, Filter, Level};
use crate::http::Request;
use crate::params;
use crate::ports::{DbExt, Env};
use crate::tenancy::Scope;
use crate::time::rfc3339;

/// The filter a `GET /api/logs` query asks for, within `visible` (the
/// caller's record scope); 400 on anything malformed.
pub fn filter(req: &Request, visible: &Scope) -> Result<Filter> {
    let request_id = req.query_param("request_id").filter(|r| !r.is_empty());
    if let Some(r) = &request_id {
        if r.len() > 128 {
            return Err(Error::bad_request(
                "invalid_request_id",
                "request_id is at most 128 characters",
            ));
        }
    }
    let before_id = req
        .query_param("cursor")
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                Error::bad_request("invalid_cursor", "the cursor is not one this API issued")
            })
        })
        .transpose()?;
    let (since_ms, until_ms) = (req.time_param("since")?, req.time_param("until")?);
    if let (Some(s), Some(u)) = (since_ms, until_ms) {
        if s >= u {
            return Err(Error::bad_request(
                "invalid_time_range",
                "`since` must be before `until`",
            ));
        }
    }
    Ok(Filter {
        tenant: visible.tenant().map(|t| t.as_str().to_string()),
        request_id,
        component: req.query_param("component").filter(|c| !c.is_empty()),
        min_level: req
            .query_param("level")
            .map(|l| Level::parse(&l))
            .transpose()?,
        since_ms,
        until_ms,
        before_id,
        limit: req.limit_param(100, 500)?,
    })
}

/// The requests recorded under `request_id` (normally one) in `tenant`
/// (`None`: any). Samples are kept an hour and have no request-id index
/// (recording stays one append), so this scans that hour: an operator's
/// lookup, never a request's cost.
pub fn requests(
    env: &Env,
    request_id: &str,
    tenant: Option<&str>,
) -> Result<Vec<serde_json::Value>> {
    let rows = env.db.exec(
        "SELECT at_ms, component, route, method, status, latency_us, tenant_id
         FROM request_samples WHERE request_id = ?1 AND (?2 IS NULL OR tenant_id = ?2)
         ORDER BY id LIMIT 20",
        params![request_id, tenant],
    )?;
    rows.rows
        .iter()
        .map(|r| {
            Ok(serde_json::json!({
                "ts": rfc3339(r.i64(0)?),
                "component": r.text(1)?,
                "route": r.text(2)?,
                "method": r.text(3)?,
                "status": r.i64(4)?,
                "latency_ms": r.i64(5)? as f64 / 1000.0,
                "tenant_id": r.text(6)?,
            }))
        })
        .collect()
}

/// The page of events (and, for a request id, its requests) as JSON.
pub fn page(env: &Env, f: &Filter) -> Result<serde_json::Value> {
    let (list, next) = events::query(env, f)?;
    let mut out = serde_json::json!({
        "events": list,
        "next_cursor": next.map(|n| n.to_string()),
    });
    if let Some(r) = &f.request_id {
        out["requests"] = serde_json::Value::Array(requests(env, r, f.tenant.as_deref())?);
    }
    Ok(out)
}
