//! `GET /api/payments/reconciliations[?limit=N]`: the latest applied
//! reconciliations (scheduled and from the console), newest first, with
//! what each found. Platform-wide: other tenants are refused.

use crate::app::Ctx;
use crate::error::Result;
use crate::http::{Request, Response, Route};
use serde_json::json;

/// The payments routes of api-ops.
pub const ROUTES: &[Route] = &[Route::get("/api/payments/reconciliations", reconciliations)];

fn reconciliations(ctx: &Ctx, req: &Request) -> Result<Response> {
    ctx.require_platform("payment reconciliations")?;
    let limit = req.limit_param(20, 100)?;
    let configured = super::stripe::settings(ctx.env.config.as_ref())?.is_some();
    Ok(Response::ok(&json!({
        "configured": configured,
        "reconciliations": super::reconcile::recent(ctx.env, limit)?,
    })))
}
