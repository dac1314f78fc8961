//! The api-ops component: `GET /metrics` (Prometheus), `GET /api/logs`,
//! the SLO routes of [`crate::slo::api`], the incident routes of
//! [`crate::incidents::api`] and the scaling routes of [`crate::scale::api`].

use crate::app::{App, Ctx};
use crate::error::Result;
use crate::http::router::concat;
use crate::http::{Request, Response, Route};
use crate::incidents;
use crate::telemetry::{metrics, prometheus};

/// Telemetry and logs.
const OPS_ROUTES: &[Route] = &[
    Route::get("/metrics", metrics_text),
    Route::get("/api/logs", logs),
];

const OPS_AND_SLO: [Route; OPS_ROUTES.len() + crate::slo::api::ROUTES.len()] =
    concat(OPS_ROUTES, crate::slo::api::ROUTES);

const OPS_SLO_INCIDENTS: [Route; OPS_AND_SLO.len() + incidents::api::ROUTES.len()] =
    concat(&OPS_AND_SLO, incidents::api::ROUTES);

const ROUTES: [Route; OPS_SLO_INCIDENTS.len() + crate::scale::api::ROUTES.len()] =
    concat(&OPS_SLO_INCIDENTS, crate::scale::api::ROUTES);

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
