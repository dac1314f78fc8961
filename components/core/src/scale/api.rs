//! `GET /api/scale/status` and `POST /api/scale/apply` (served by api-ops).
//! Scaling is platform-wide: principals of other tenants are refused.

use super::apply::{self, ApplyRequest};
use super::status;
use crate::app::Ctx;
use crate::audit::Who;
use crate::error::Result;
use crate::http::{Request, Response, Route};

/// The scaling routes of api-ops.
pub const ROUTES: &[Route] = &[
    Route::get("/api/scale/status", status_view),
    Route::post("/api/scale/apply", apply_route).body_limit(4096),
];

const WHAT: &str = "scaling settings";

/// `GET /api/scale/status`: the automatic decision now; changes nothing.
fn status_view(ctx: &Ctx, _req: &Request) -> Result<Response> {
    ctx.require_platform(WHAT)?;
    Ok(Response::ok(&status::status(ctx.env)?))
}

/// The body, which may be empty (every field is optional).
fn body(req: &Request) -> Result<ApplyRequest> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        Ok(ApplyRequest::default())
    } else {
        req.json()
    }
}

/// `POST /api/scale/apply` `{"dry_run"?: bool, "workers"?: int}`: a dry
/// run unless `dry_run` is false (or `scale_dry_run` is false and the body
/// does not ask for one); `workers` sets an explicit count.
fn apply_route(ctx: &Ctx, req: &Request) -> Result<Response> {
    ctx.require_platform(WHAT)?;
    let body = body(req)?;
    Ok(Response::ok(&apply::apply(ctx.env, &body, &Who::of(ctx))?))
}
