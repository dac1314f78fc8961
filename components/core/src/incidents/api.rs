//! The incidents routes, for the component that serves them. [`ROUTES`]
//! lists them; the component's `App`, the access policy and spin.toml
//! decide who may call them. Incidents are platform-wide, so every handler
//! also refuses principals whose home tenant is not the default tenant.

use super::channels::Channel;
use super::model::{Actor, NewIncident, Severity, Status};
use super::outbox::{self, DeliveryStatus};
use super::silences::{self, NewSilence};
use super::store::{self, Filter};
use crate::app::Ctx;
use crate::error::{Error, Result};
use crate::http::{Method, Request, Response, Route};
use futures::future::LocalBoxFuture;
use serde::Deserialize;
use serde_json::{json, Value};

/// A raise carries a message of up to 2,000 characters and 8 KiB of links.
pub const RAISE_BODY_LIMIT: usize = 32 * 1024;
/// Every other body is small.
pub const SMALL_BODY_LIMIT: usize = 16 * 1024;

/// The routes: pattern, method and handler of each.
pub const ROUTES: &[Route] = &[
    Route::asynchronous(Method::Post, "/api/incidents/raise", raise).body_limit(RAISE_BODY_LIMIT),
    Route::post("/api/incidents/summary", summary).body_limit(SMALL_BODY_LIMIT),
    Route::get("/api/incidents", list),
    Route::get("/api/incidents/silences", list_silences),
    Route::post("/api/incidents/silences", create_silence).body_limit(SMALL_BODY_LIMIT),
    Route::delete("/api/incidents/silences/{id}", remove_silence),
    Route::get("/api/incidents/deliveries", list_deliveries),
    Route::get("/api/incidents/{id}", get),
    Route::post("/api/incidents/{id}/acknowledge", acknowledge).body_limit(SMALL_BODY_LIMIT),
    Route::post("/api/incidents/{id}/resolve", resolve).body_limit(SMALL_BODY_LIMIT),
];

/// Incidents are the platform's: only principals of the default tenant
/// (and schedulers) see or change them.
fn require_platform(ctx: &Ctx) -> Result<()> {
    crate::tenancy::require_platform(
        &ctx.principal,
        "incidents are platform-wide: only operators of the default tenant may use them",
    )
}

/// Parse the body as `T`, or `T::default()` when there is none.
fn optional_body<T: serde::de::DeserializeOwned + Default>(req: &Request) -> Result<T> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        req.json()
    }
}

fn paging(req: &Request) -> Result<(Option<String>, usize)> {
    Ok((req.cursor_param()?, req.limit_param(50, 200)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RaiseRequest {
    severity: Option<String>,
    source: Option<String>,
    /// `msg` is the field's name in the original pager's API.
    #[serde(alias = "msg")]
    message: Option<String>,
    links: Option<Value>,
}

/// `POST /api/incidents/raise` `{"severity", "source", "message", "links"?}`:
/// 201 with the new incident and its deliveries, or 200 with the existing
/// incident when this raise repeats it (`"repeat": true`). A CRITICAL page
/// is sent before the answer (the outbox retries what fails), so the
/// deliveries in the answer show their first results.
pub fn raise<'a>(ctx: &'a Ctx<'a>, req: &'a Request) -> LocalBoxFuture<'a, Result<Response>> {
    Box::pin(async move {
        let mut raised = raise_incident(ctx, req)?;
        if !raised.deliveries.is_empty() {
            if let Err(e) = outbox::deliver_due(ctx.env).await {
                crate::log::warn("incidents", &format!("immediate delivery failed: {e}"));
            }
            raised.deliveries = outbox::for_incident(ctx.env, &raised.incident.id)?;
        }
        let status = if raised.repeat { 200 } else { 201 };
        Ok(Response::data(status, &raised.view()).with_header(
            "Location",
            &format!("/api/incidents/{}", raised.incident.id),
        ))
    })
}

fn raise_incident(ctx: &Ctx, req: &Request) -> Result<store::Raised> {
    require_platform(ctx)?;
    let body: RaiseRequest = req.json()?;
    let severity = Severity::parse(body.severity.as_deref().ok_or_else(|| {
        Error::unprocessable(
            "invalid_severity",
            "`severity` is required: CRITICAL, WARNING or INFO",
        )
    })?)?;
    let new = NewIncident {
        severity,
        source: body.source.unwrap_or_default(),
        message: body.message.unwrap_or_default(),
        links: body.links.unwrap_or(Value::Null),
    };
    store::raise(ctx.env, new)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SummaryRequest {
    hours: Option<i64>,
}

/// `POST /api/incidents/summary` (optional body `{"hours": 24}`).
pub fn summary(ctx: &Ctx, req: &Request) -> Result<Response> {
    require_platform(ctx)?;
    let body: SummaryRequest = optional_body(req)?;
    Ok(Response::ok(&store::summary(
        ctx.env,
        body.hours.unwrap_or(24),
    )?))
}

/// `GET /api/incidents?status=&severity=&source=&since=&cursor=&limit=`,
/// newest first.
pub fn list(ctx: &Ctx, req: &Request) -> Result<Response> {
    require_platform(ctx)?;
    let filter = Filter {
        status: req
            .query_param("status")
            .map(|s| Status::parse(&s))
            .transpose()?,
        severity: req
            .query_param("severity")
            .map(|s| Severity::parse(&s))
            .transpose()?,
        source: req.query_param("source").filter(|s| !s.is_empty()),
        since: req
            .query_param("since")
            .map(|s| {
                crate::time::parse_rfc3339(&s).map_err(|e| {
                    Error::bad_request("invalid_timestamp", format!("since: {}", e.message))
                })
            })
            .transpose()?,
    };
    let (cursor, limit) = paging(req)?;
    let page = store::list(ctx.env, &filter, cursor.as_deref(), limit)?;
    Ok(Response::ok(&json!({
        "incidents": page.incidents.iter().map(|i| i.view()).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
    })))
}

/// `GET /api/incidents/{id}`: the incident and its deliveries.
pub fn get(ctx: &Ctx, _req: &Request) -> Result<Response> {
    require_platform(ctx)?;
    let incident = store::get(ctx.env, ctx.params.require("id")?)?;
    let deliveries = outbox::for_incident(ctx.env, &incident.id)?;
    let mut view = incident.view();
    view["deliveries"] = deliveries.iter().map(|d| d.view()).collect();
    Ok(Response::ok(&view))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AcknowledgeRequest {}

/// `POST /api/incidents/{id}/acknowledge` (no body, or `{}`).
pub fn acknowledge(ctx: &Ctx, req: &Request) -> Result<Response> {
    require_platform(ctx)?;
    let _: AcknowledgeRequest = optional_body(req)?;
    let incident = store::acknowledge(ctx.env, ctx.params.require("id")?, &Actor::from_ctx(ctx))?;
    Ok(Response::ok(&incident.view()))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResolveRequest {
    note: Option<String>,
}

/// `POST /api/incidents/{id}/resolve` (optional body `{"note": "..."}`).
pub fn resolve(ctx: &Ctx, req: &Request) -> Result<Response> {
    require_platform(ctx)?;
    let body: ResolveRequest = optional_body(req)?;
    let incident = store::resolve(
        ctx.env,
        ctx.params.require("id")?,
        body.note.as_deref(),
        &Actor::from_ctx(ctx),
    )?;
    Ok(Response::ok(&incident.view()))
}

/// `GET /api/incidents/silences`: the active silences.
pub fn list_silences(ctx: &Ctx, _req: &Request) -> Result<Response> {
    require_platform(ctx)?;
    let now = ctx.env.clock.now_ms();
    let active = silences::list_active(ctx.env)?;
    Ok(Response::ok(&json!({
        "silences": active.iter().map(|s| s.view(now)).collect::<Vec<_>>(),
    })))
}

/// `POST /api/incidents/silences` `{"source" | "fingerprint", "comment",
/// "author", "duration_minutes"}`: 201 with the silence.
pub fn create_silence(ctx: &Ctx, req: &Request) -> Result<Response> {
    require_platform(ctx)?;
    let body: NewSilence = req.json()?;
    let silence = silences::create(ctx.env, &body, &Actor::from_ctx(ctx))?;
    Ok(Response::data(201, &silence.view(ctx.env.clock.now_ms())))
}

/// `DELETE /api/incidents/silences/{id}`: end a silence now.
pub fn remove_silence(ctx: &Ctx, _req: &Request) -> Result<Response> {
    require_platform(ctx)?;
    let silence = silences::remove(ctx.env, ctx.params.require("id")?, &Actor::from_ctx(ctx))?;
    Ok(Response::ok(&silence.view(ctx.env.clock.now_ms())))
}

/// `GET /api/incidents/deliveries?status=&channel=&incident_id=&cursor=&limit=`:
/// the outbox, newest first.
pub fn list_deliveries(ctx: &Ctx, req: &Request) -> Result<Response> {
    require_platform(ctx)?;
    let filter = outbox::Filter {
        status: req
            .query_param("status")
            .map(|s| DeliveryStatus::parse(&s))
            .transpose()?,
        channel: req
            .query_param("channel")
            .map(|s| Channel::parse(&s))
            .transpose()?,
        incident_id: req.query_param("incident_id").filter(|s| !s.is_empty()),
    };
    let (cursor, limit) = paging(req)?;
    let page = outbox::list(ctx.env, &filter, cursor.as_deref(), limit)?;
    Ok(Response::ok(&json!({
        "deliveries": page.deliveries.iter().map(|d| d.view()).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
    })))
}
