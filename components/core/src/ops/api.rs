//! The api-ops component: `GET /metrics` (Prometheus), `GET /api/logs`,
//! the operator console, and the platform-wide operations routes of
//! [`crate::slo::api`], [`crate::incidents::api`], [`crate::costs::api`]
//! [`crate::scale::api`], [`crate::reports::api`], [`crate::payments::api`]
//! and [`crate::backup::api`].

use crate::app::{App, Ctx};
use crate::error::Result;
use crate::http::router::concat;
use crate::http::{Method, Request, Response, Route};
use crate::telemetry::{metrics, prometheus};
use crate::{backup, costs, incidents, payments, reports, scale, slo};

/// Telemetry, logs and the operator console.
const OPS_ROUTES: &[Route] = &[
    Route::get("/metrics", metrics_text),
    Route::get("/api/logs", logs),
    Route::get("/api/ops/commands", super::console::list),
    Route::asynchronous(Method::Post, "/api/ops/command", super::console::run)
        .body_limit(16 * 1024),
];

const ROUTES: [Route;
    OPS_ROUTES.len()
        + slo::api::ROUTES.len()
        + incidents::api::ROUTES.len()
        + costs::api::ROUTES.len()
        + scale::api::ROUTES.len()
        + reports::api::ROUTES.len()
        + payments::api::ROUTES.len()
        + backup::api::ROUTES.len()] = concat(&[
    OPS_ROUTES,
    slo::api::ROUTES,
    incidents::api::ROUTES,
    costs::api::ROUTES,
    scale::api::ROUTES,
    reports::api::ROUTES,
    payments::api::ROUTES,
    backup::api::ROUTES,
]);

/// The api-ops component.
pub const APP: App = App {
    component: "api-ops",
    routes: &ROUTES,
    stateless: false,
};

/// `GET /metrics`: the Prometheus text exposition.
fn metrics_text(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let text = metrics::render(ctx.env)?;
    Ok(Response::new(200)
        .with_header("Content-Type", prometheus::CONTENT_TYPE)
        .with_header("Cache-Control", "no-store")
        .with_body(text.into_bytes()))
}

/// `GET /api/logs`: events filtered by request id, component, level and
/// time, newest first, with cursor pagination; a tenant's principals see
/// only their tenant's.
fn logs(ctx: &Ctx, req: &Request) -> Result<Response> {
    let visible = crate::tenancy::record_scope(&ctx.principal, &ctx.scope);
    let filter = super::logs::filter(req, &visible)?;
    Ok(Response::ok(&super::logs::page(ctx.env, &filter)?))
}
