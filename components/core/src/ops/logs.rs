//! `GET /api/logs`: the event log, and for one request id the request
//! itself (its telemetry sample, kept an hour) next to what it logged.

use crate::error::{Error, Result};
use crate::events::{self, Filter, Level};
use crate::http::Request;
use crate::params;
use crate::ports::{DbExt, Env};
use crate::time::rfc3339;

/// The filter a `GET /api/logs` query asks for; 400 on anything malformed.
pub fn filter(req: &Request) -> Result<Filter> {
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

/// The requests recorded under `request_id` (normally one). Samples are
/// kept an hour and have no request-id index (recording stays one append),
/// so this scans that hour: an operator's lookup, never a request's cost.
pub fn requests(env: &Env, request_id: &str) -> Result<Vec<serde_json::Value>> {
    let rows = env.db.exec(
        "SELECT at_ms, component, route, method, status, latency_us, tenant_id
         FROM request_samples WHERE request_id = ?1 ORDER BY id LIMIT 20",
        params![request_id],
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
        out["requests"] = serde_json::Value::Array(requests(env, r)?);
    }
    Ok(out)
}
