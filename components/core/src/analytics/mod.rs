//! Product analytics: what people do in the dashboard, counted without
//! cookies and without personal data.
//!
//! - [`intake`]: `POST /api/analytics/event`, batches of catalogued events
//!   ([`vocabulary`]) from the dashboard's telemetry module, with flood
//!   limits;
//! - [`visitor`]: the visitor id, a hash of address and user agent with a
//!   random salt that lives only as long as its day can receive events;
//! - [`usage`]: `GET /api/analytics/usage`, DAU, WAU, MAU, stickiness, top
//!   events and the daily curve of one tenant;
//! - [`rollup`]: the daily job (03:15 UTC, `cron-analytics`) that folds
//!   final days into per-day figures, so raw events stay bounded.
//!
//! Anonymous callers (the landing page) count under the default tenant; a
//! signed-in caller's events count under its own tenant.

pub mod intake;
pub mod rollup;
pub mod settings;
pub mod usage;
pub mod visitor;
pub mod vocabulary;

use crate::app::App;
use crate::http::Route;

/// The api-analytics component.
pub const APP: App = App {
    component: "api-analytics",
    routes: &[
        Route::post("/api/analytics/event", intake::post).body_limit(intake::BODY_LIMIT),
        Route::get("/api/analytics/usage", usage::get),
    ],
    stateless: false,
};
