//! The api-finance component: FinOps, P&L, forecast, exchange rates,
//! tenant billing and the referral program ([`crate::referrals::api`]).
//! It reaches no outside host: sending an invoice through Stripe is
//! api-billing's.
//!
//! | route | minimum role | what |
//! |---|---|---|
//! | `GET /api/finops/summary?days=&tenant_id=` | analyst | [`super::finops::summary`] |
//! | `GET /api/finops/tenants?days=` | analyst | [`super::finops::tenants`] |
//! | `GET /api/finance/pnl?granularity=&from=&to=` | analyst | [`super::pnl`] |
//! | `GET /api/forecast?days=` | analyst | [`super::forecast::report`] |
//! | `GET`, `POST /api/finance/rates` | viewer, admin of the platform | [`super::rates`] |
//! | `GET /api/billing/usage?period=` | analyst | [`super::billing::usage`] per tenant in scope |
//! | `GET`, `POST /api/billing/invoices` | analyst, operator | drafts ([`super::billing::draft`]) |
//! | `GET`, `PATCH /api/billing/settings` | analyst, admin | the tenant's unpaid-jobs policy and billing email |

use super::billing::{self, Period, SettingsChange};
use super::{finops, forecast, pnl, rates};
use crate::app::{App, Ctx};
use crate::error::{Error, Result};
use crate::http::router::concat;
use crate::http::{Request, Response, Route};
use crate::referrals;
use serde::Deserialize;
use serde_json::json;

const FINANCE_ROUTES: &[Route] = &[
    Route::get("/api/finops/summary", summary),
    Route::get("/api/finops/tenants", tenants),
    Route::get("/api/finance/pnl", profit_and_loss),
    Route::get("/api/forecast", forecast_route),
    Route::get("/api/finance/rates", rates_view),
    Route::post("/api/finance/rates", rates_set).body_limit(4 * 1024),
    Route::get("/api/billing/usage", usage),
    Route::get("/api/billing/invoices", invoices),
    Route::post("/api/billing/invoices", draft_invoice).body_limit(4 * 1024),
    Route::get("/api/billing/settings", settings_view),
    Route::patch("/api/billing/settings", settings_change).body_limit(4 * 1024),
];

const ROUTES: [Route; FINANCE_ROUTES.len() + referrals::api::ROUTES.len()] =
    concat(&[FINANCE_ROUTES, referrals::api::ROUTES]);

/// The api-finance component.
pub const APP: App = App {
    component: "api-finance",
    routes: &ROUTES,
    stateless: false,
};

/// `?days=` (an integer; `default` when absent).
fn days_param(req: &Request, default: i64) -> Result<i64> {
    match req.query_param("days") {
        None => Ok(default),
        Some(d) => d
            .parse()
            .map_err(|_| Error::bad_request("invalid_days", "`days` is a whole number of days")),
    }
}

fn summary(ctx: &Ctx, req: &Request) -> Result<Response> {
    Ok(Response::ok(&finops::summary(
        ctx.env,
        &ctx.scope,
        days_param(req, 7)?,
    )?))
}

fn tenants(ctx: &Ctx, req: &Request) -> Result<Response> {
    Ok(Response::ok(&finops::tenants(
        ctx.env,
        &ctx.scope,
        days_param(req, 30)?,
    )?))
}

fn profit_and_loss(ctx: &Ctx, req: &Request) -> Result<Response> {
    let g = pnl::Granularity::parse(req.query_param("granularity").as_deref().unwrap_or("daily"))?;
    let range = pnl::Range::parse(
        ctx.env,
        g,
        req.query_param("from").as_deref(),
        req.query_param("to").as_deref(),
    )?;
    Ok(Response::ok(&pnl::pnl(ctx.env, &ctx.scope, g, &range)?))
}

fn forecast_route(ctx: &Ctx, req: &Request) -> Result<Response> {
    Ok(Response::ok(&forecast::report(
        ctx.env,
        &ctx.scope,
        days_param(req, 30)?,
    )?))
}

fn rates_view(ctx: &Ctx, _req: &Request) -> Result<Response> {
    Ok(Response::ok(&rates::view(ctx.env)?))
}

fn rates_set(ctx: &Ctx, req: &Request) -> Result<Response> {
    ctx.require_platform("exchange rates")?;
    let body: rates::SetRates = req.json()?;
    let actor = ctx.principal.actor();
    Ok(Response::ok(&rates::set(
        ctx.env,
        &actor,
        ctx.principal.tenant.as_str(),
        &ctx.request_id,
        &body,
    )?))
}

fn period_param(ctx: &Ctx, req: &Request) -> Result<Period> {
    match req.query_param("period") {
        Some(p) => Period::parse(&p),
        None => Ok(Period::containing(ctx.env.clock.now_ms())),
    }
}

fn usage(ctx: &Ctx, req: &Request) -> Result<Response> {
    let period = period_param(ctx, req)?;
    let list = billing::tenants_in(ctx.env, &ctx.scope)?
        .iter()
        .map(|t| billing::usage(ctx.env, t, &period))
        .collect::<Result<Vec<_>>>()?;
    Ok(Response::ok(
        &json!({ "period": period.label, "tenants": list }),
    ))
}

fn invoices(ctx: &Ctx, req: &Request) -> Result<Response> {
    let period = req
        .query_param("period")
        .map(|p| Period::parse(&p))
        .transpose()?;
    let list: Vec<serde_json::Value> = billing::invoices(ctx.env, &ctx.scope, period.as_ref())?
        .iter()
        .map(billing::Invoice::view)
        .collect();
    Ok(Response::ok(&json!({ "invoices": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DraftRequest {
    period: String,
}

fn draft_invoice(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body: DraftRequest = req.json()?;
    let period = Period::parse(&body.period)?;
    let tenant = ctx.acting_tenant();
    let invoice = billing::draft(
        ctx.env,
        &tenant,
        &period,
        &ctx.principal.actor(),
        &ctx.request_id,
    )?;
    Ok(Response::data(201, &invoice.view()))
}

fn settings_view(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let tenant = ctx.acting_tenant();
    Ok(Response::ok(
        &billing::settings(ctx.env, tenant.as_str())?.view(),
    ))
}

fn settings_change(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body: SettingsChange = req.json()?;
    let tenant = ctx.acting_tenant();
    let s = billing::change(
        ctx.env,
        &tenant,
        &ctx.principal.actor(),
        &ctx.request_id,
        &body,
    )?;
    Ok(Response::ok(&s.view()))
}
