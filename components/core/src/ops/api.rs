//! The api-ops component: `GET /metrics` (Prometheus), `GET /api/logs`,
//! the SLO routes of [`crate::slo::api`], the incident routes of
//! [`crate::incidents::api`] and the cost routes of [`crate::costs::api`].

use crate::app::{App, Ctx};
use crate::error::Result;
use crate::http::router::concat;
use crate::http::{Request, Response, Route};
use crate::telemetry::{metrics, prometheus};
use crate::{costs, incidents};

/// Telemetry and logs.
const OPS_ROUTES: &[Route] = &[
    Route::get("/metrics", metrics_text),
    Route::get("/api/logs", logs),
    Route::get("/api/ops/commands", super::console::list),
    Route::post("/api/ops/command", super::console::run).body_limit(16 * 1024),
];

/// SLOs, incidents and costs: the platform-wide operations routes.
const SLO_AND_INCIDENTS: [Route; crate::slo::api::ROUTES.len() + incidents::api::ROUTES.len()] =
    concat(crate::slo::api::ROUTES, incidents::api::ROUTES);

const PLATFORM_ROUTES: [Route; SLO_AND_INCIDENTS.len() + costs::api::ROUTES.len()] =
    concat(&SLO_AND_INCIDENTS, costs::api::ROUTES);

const ROUTES: [Route; OPS_ROUTES.len() + PLATFORM_ROUTES.len()] =
    concat(OPS_ROUTES, &PLATFORM_ROUTES);

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
/// time, newest first, with cursor pagination.
fn logs(ctx: &Ctx, req: &Request) -> Result<Response> {
    let filter = super::logs::filter(req)?;
    Ok(Response::ok(&super::logs::page(ctx.env, &filter)?))
}
