//! `GET /api/reports/daily[?date=YYYY-MM-DD]`: the stored report of that
//! day (yesterday by default), or its figures computed now when none is
//! stored yet (`state: not_generated`).

use crate::app::Ctx;
use crate::error::{Error, Result};
use crate::http::{Request, Response, Route};
use crate::time::{day_of, parse_day};

/// The report routes of api-ops.
pub const ROUTES: &[Route] = &[Route::get("/api/reports/daily", daily)];

fn day_param(ctx: &Ctx, req: &Request) -> Result<i64> {
    match req.query_param("date") {
        None => Ok(day_of(ctx.env.clock.now_ms()) - 1),
        Some(d) => parse_day(&d)
            .ok_or_else(|| Error::bad_request("invalid_date", "`date` is a day: YYYY-MM-DD")),
    }
}

fn daily(ctx: &Ctx, req: &Request) -> Result<Response> {
    ctx.require_platform("reports")?;
    let day = day_param(ctx, req)?;
    let report = match super::stored(ctx.env, day)? {
        Some(r) => r,
        None => {
            let mut r = super::build(ctx.env, day)?;
            r["state"] = serde_json::json!("not_generated");
            r
        }
    };
    Ok(Response::ok(&report))
}
