//! `GET /api/slo/budget`, `POST /api/slo/rebaseline`,
//! `POST /api/slo/deploy-gate/clear` (served by api-ops) and
//! `GET /healthz/strict` (served by api-health).

use super::{budget, gate};
use crate::app::Ctx;
use crate::audit::{self, Event};
use crate::error::Result;
use crate::http::{Request, Response, Route};
use serde::Deserialize;

/// The SLO routes of api-ops.
pub const ROUTES: &[Route] = &[
    Route::get("/api/slo/budget", budget_view),
    Route::post("/api/slo/rebaseline", rebaseline).body_limit(4096),
    Route::post("/api/slo/deploy-gate/clear", clear_gate).body_limit(4096),
];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WhyBody {
    reason: Option<String>,
}

fn why(req: &Request) -> Result<Option<String>> {
    let body: WhyBody = if req.body.iter().all(u8::is_ascii_whitespace) {
        WhyBody::default()
    } else {
        req.json()?
    };
    match body.reason.map(|r| r.trim().to_string()) {
        Some(r) if r.chars().count() > 500 => Err(crate::Error::unprocessable(
            "invalid_reason",
            "`reason` is at most 500 characters",
        )),
        other => Ok(other.filter(|r| !r.is_empty())),
    }
}

fn audit_event(ctx: &Ctx, action: &str, detail: serde_json::Value) -> Result<()> {
    let e = Event::new(
        ctx.principal.tenant.as_str(),
        &ctx.principal.actor(),
        action,
    )
    .request(&ctx.request_id)
    .detail(detail);
    audit::append(ctx.env, &e)?;
    Ok(())
}

/// `GET /api/slo/budget`: the report (seed fields first).
fn budget_view(ctx: &Ctx, _req: &Request) -> Result<Response> {
    ctx.require_platform("SLOs")?;
    Ok(Response::ok(&budget::report(ctx.env)?))
}

/// `POST /api/slo/rebaseline` `{"reason"?}`: from now on the budget ignores
/// everything before now (after an incident was fixed, or targets changed).
fn rebaseline(ctx: &Ctx, req: &Request) -> Result<Response> {
    ctx.require_platform("SLOs")?;
    let reason = why(req)?;
    let now = ctx.env.clock.now_ms();
    budget::rebaseline(ctx.env, now)?;
    audit_event(
        ctx,
        "slo.rebaseline",
        serde_json::json!({ "baseline_at": crate::time::rfc3339(now), "reason": reason }),
    )?;
    Ok(Response::ok(&budget::report(ctx.env)?))
}

/// `POST /api/slo/deploy-gate/clear` `{"reason"?}`: an operator lowers the
/// gate (it takes another two hours of CRITICAL burn to raise it again).
fn clear_gate(ctx: &Ctx, req: &Request) -> Result<Response> {
    ctx.require_platform("SLOs")?;
    let reason = why(req)?;
    let before = gate::clear(ctx.env, &ctx.principal.actor(), ctx.env.clock.now_ms())?;
    audit_event(
        ctx,
        "slo.deploy_gate_clear",
        serde_json::json!({ "was_up": before.up, "raised_reason": before.reason, "reason": reason }),
    )?;
    Ok(Response::ok(&gate::state(ctx.env.db.as_ref())?))
}

/// `GET /healthz/strict`: 200 when every SLO holds and the deploy gate is
/// down, 503 with the reasons otherwise. Public, like `/health`.
pub fn strict(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let r = budget::report(ctx.env)?;
    let body = serde_json::json!({
        "status": if r.breaches.is_empty() { "ok" } else { "breached" },
        "reasons": r.breaches,
        "burn_alert": r.burn_alert,
        "quality_alert": r.quality.level,
        "jobs_alert": r.jobs.level,
        "deploy_gate": r.deploy_gate.up,
        "ts": r.ts,
    });
    let code = if r.breaches.is_empty() { 200 } else { 503 };
    Ok(Response::data(code, &body).with_header("Cache-Control", "no-store"))
}
