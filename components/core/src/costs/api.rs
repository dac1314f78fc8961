//! The cost routes, served by `api-ops`. Costs are platform-wide, so
//! both handlers also refuse principals of other tenants. Neither is ever
//! throttled: the caps only hold back the worker's AI calls, never a
//! request, so an operator can always read the status and raise a cap.

use super::caps::{self, SetCap};
use super::status;
use crate::app::Ctx;
use crate::error::Result;
use crate::http::{Request, Response, Route};
use crate::incidents::Actor;

/// `set-cap` bodies are tiny.
pub const BODY_LIMIT: usize = 4 * 1024;

/// The routes: pattern, method and handler of each.
pub const ROUTES: &[Route] = &[
    Route::get("/api/costs/status", get_status),
    Route::post("/api/costs/set-cap", set_cap).body_limit(BODY_LIMIT),
];

fn require_platform(ctx: &Ctx) -> Result<()> {
    ctx.require_platform("costs")
}

/// `GET /api/costs/status`: today's spend against the caps (see
/// [`status::Status`]).
pub fn get_status(ctx: &Ctx, _req: &Request) -> Result<Response> {
    require_platform(ctx)?;
    Ok(Response::ok(&status::compute(ctx.env)?))
}

/// `POST /api/costs/set-cap` `{"scope": "global" | "model", "model"?,
/// "cap_usd": number | null}`: store (or with `null` remove) a cap
/// override, audited; answers with the new status. 400 for unknown fields,
/// 422 for a bad scope, model or cap (and then nothing changes).
pub fn set_cap(ctx: &Ctx, req: &Request) -> Result<Response> {
    require_platform(ctx)?;
    let body: SetCap = req.json()?;
    let change = body.validated()?;
    caps::set(ctx.env, &change, &Actor::from_ctx(ctx))?;
    Ok(Response::ok(&status::compute(ctx.env)?))
}
