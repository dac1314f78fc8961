//! The referral routes, served by api-finance.
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /api/growth/referral/create` | operator | a code for a referrer and campaign (idempotent) |
//! | `POST /api/growth/referral/click` | public | count a click on a code |
//! | `POST /api/growth/referral/signup` | public | a customer signs up through a code |
//! | `GET /api/growth/referrals?days=&campaign=` | analyst | the leaderboard and per-campaign figures |
//! | `GET /api/growth/payouts/export` | admin | the payout CSV |
//! | `POST /api/growth/payouts` | admin | record a payout of what a referrer is owed |

use super::{codes, payouts};
use crate::app::Ctx;
use crate::audit::{self, Event};
use crate::error::{Error, Result};
use crate::guard;
use crate::http::{Request, Response, Route};
use serde::Deserialize;
use serde_json::json;

/// The referral routes.
pub const ROUTES: &[Route] = &[
    Route::post("/api/growth/referral/create", create).body_limit(4 * 1024),
    Route::post("/api/growth/referral/click", click).body_limit(1024),
    Route::post("/api/growth/referral/signup", signup).body_limit(2 * 1024),
    Route::get("/api/growth/referrals", leaderboard),
    Route::get("/api/growth/payouts/export", export),
    Route::post("/api/growth/payouts", payout).body_limit(1024),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    referrer_id: String,
    referrer_email: String,
    campaign: Option<String>,
    commission_pct: Option<f64>,
}

fn create(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body: CreateRequest = req.json()?;
    let tenant = ctx.acting_tenant();
    let actor = ctx.principal.actor();
    let (code, created) = codes::create(
        ctx.env,
        &codes::NewCode {
            tenant_id: tenant.as_str(),
            referrer_id: &body.referrer_id,
            referrer_email: &body.referrer_email,
            campaign: body.campaign.as_deref(),
            commission_pct: body.commission_pct,
        },
        &actor,
    )?;
    let f = payouts::figures(ctx.env, &code.code, 0)?;
    if created {
        audit::record(
            ctx.env,
            &Event::for_request(ctx, "growth.referral_created")
                .target(&code.code)
                .detail(json!({ "referrer_id": code.referrer_id, "campaign": code.campaign, "commission_bps": code.commission_bps })),
        );
    }
    let mut v = code.view(f.clicks, f.signups, f.conversions);
    v["created"] = json!(created);
    Ok(Response::data(if created { 201 } else { 200 }, &v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClickRequest {
    code: String,
}

fn click(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body: ClickRequest = req.json()?;
    let code = codes::click(ctx.env, &body.code)?;
    Ok(Response::ok(
        &json!({ "referral_code": code.code, "campaign": code.campaign, "counted": true }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignupRequest {
    code: String,
    email: String,
}

/// A customer signs up through a code: the signed-in customer for their
/// own email (an anonymous caller could otherwise claim anyone's future
/// payments for their code), or an operator recording one.
fn signup(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body: SignupRequest = req.json()?;
    ctx.require_customer(&body.email)?;
    let code = codes::signup(
        ctx.env,
        &body.code,
        &body.email,
        &guard::client_ip(ctx.env, req)?,
    )?;
    Ok(Response::data(
        201,
        &json!({ "referral_code": code.code, "campaign": code.campaign, "signed_up": true }),
    ))
}

fn leaderboard(ctx: &Ctx, req: &Request) -> Result<Response> {
    let days = match req.query_param("days") {
        None => 30,
        Some(d) => d
            .parse()
            .ok()
            .filter(|d| (1..=3650).contains(d))
            .ok_or_else(|| Error::bad_request("invalid_days", "`days` is 1 to 3650"))?,
    };
    let campaign = req.query_param("campaign");
    Ok(Response::ok(&payouts::leaderboard(
        ctx.env,
        &ctx.scope,
        days,
        campaign.as_deref(),
    )?))
}

fn export(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let csv = payouts::export_csv(ctx.env, &ctx.scope)?;
    let day = crate::time::date(ctx.env.clock.now_ms());
    audit::record(
        ctx.env,
        &Event::for_request(ctx, "growth.payouts_exported").target(&day),
    );
    Ok(Response::new(200)
        .with_header("Content-Type", "text/csv; charset=utf-8")
        .with_header(
            "Content-Disposition",
            &format!("attachment; filename=\"echopilot-payouts-{day}.csv\""),
        )
        .with_body(csv.into_bytes()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayoutRequest {
    referrer_id: String,
}

fn payout(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body: PayoutRequest = req.json()?;
    let actor = ctx.principal.actor();
    let p = payouts::record(
        ctx.env,
        &ctx.scope,
        &body.referrer_id,
        &actor,
        &ctx.request_id,
    )?;
    Ok(Response::data(201, &p))
}
