//! The compliance routes, served by `api-compliance`:
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /api/compliance/webhook` | a sender holding a secret (signed) | store, audit, forward high and critical ([`super::receive`]) |
//! | `GET /api/compliance/events` | admins of the default tenant | the newest events, `severity` and `limit` filters |

use super::{Delivery, Severity, BODY_LIMIT};
use crate::app::{App, Ctx};
use crate::error::{Error, Result};
use crate::http::{Request, Response, Route};

/// The component.
pub const APP: App = App {
    component: "api-compliance",
    routes: &[
        Route::post("/api/compliance/webhook", receive).body_limit(BODY_LIMIT),
        Route::get("/api/compliance/events", events),
    ],
    stateless: false,
};

fn receive(ctx: &Ctx, req: &Request) -> Result<Response> {
    let event = super::receive(
        ctx.env,
        &Delivery {
            signature: req.header("x-echopilot-signature"),
            body: &req.body,
            client: &ctx.client,
            request_id: &ctx.request_id,
        },
    )?;
    Ok(Response::ok(&event))
}

fn events(ctx: &Ctx, req: &Request) -> Result<Response> {
    ctx.require_platform("compliance events")?;
    let severity = req
        .query_param("severity")
        .map(|s| Severity::parse(&s))
        .transpose()?;
    let limit: i64 = match req.query_param("limit") {
        None => 50,
        Some(l) => l
            .parse()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| {
                Error::bad_request("invalid_limit", "limit must be an integer from 1 to 200")
            })?,
    };
    Ok(Response::ok(&serde_json::json!({
        "events": super::list(ctx.env, severity, limit)?,
    })))
}
