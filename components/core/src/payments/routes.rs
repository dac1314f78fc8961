//! The api-billing component: money moving through the product.
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /api/public/checkout/{job_id}` | anyone with the job id | a Stripe Checkout Session for the job ([`super::checkout`]) |
//! | `GET /api/public/checkout/{job_id}` | anyone with the job id | the job's payment state |
//! | `POST /api/stripe/webhook` | Stripe (signed) | events applied once ([`super::webhook`]) |
//! | `GET /api/payments?status=&currency=` | operator | the ledger, newest first, with each charge's job |
//! | `POST /api/payments/refund` | admin | a refund under the guardrail ([`super::refunds`]) |
//! | `GET /api/portal/receipts?email=` | the customer, or an operator | receipts with signed links ([`super::portal`]) |
//! | `GET /api/portal/download?email&id&expires&token` | a valid link | the receipt as a printable page |
//! | `POST /api/billing/invoices/{id}/send` | operator | a usage invoice sent through Stripe ([`super::invoicing`]) |

use super::{checkout, invoicing, ledger, portal, refunds, stripe, webhook};
use crate::app::{App, Ctx};
use crate::error::{Error, Kind, Result};
use crate::guard;
use crate::http::{Method, Request, Response, Route};
use crate::money::{Currency, Money};
use crate::tenancy::Scope;
use futures::future::LocalBoxFuture;
use serde_json::json;

/// The api-billing component.
pub const APP: App = App {
    component: "api-billing",
    routes: &[
        Route::asynchronous(
            Method::Post,
            "/api/public/checkout/{job_id}",
            create_checkout,
        )
        .body_limit(1024),
        Route::get("/api/public/checkout/{job_id}", checkout_status),
        Route::post("/api/stripe/webhook", receive_webhook)
            .body_limit(webhook::BODY_LIMIT)
            .signed_body(),
        Route::get("/api/payments", list_payments),
        Route::asynchronous(Method::Post, "/api/payments/refund", refund).body_limit(16 * 1024),
        Route::get("/api/portal/receipts", receipts),
        Route::get("/api/portal/download", download),
        Route::asynchronous(
            Method::Post,
            "/api/billing/invoices/{id}/send",
            send_invoice,
        )
        .body_limit(1024),
    ],
    stateless: false,
};

/// Stripe's settings, or 503 `payments_not_configured`.
fn stripe_settings(ctx: &Ctx) -> Result<stripe::Stripe> {
    stripe::settings(ctx.env.config.as_ref())?.ok_or_else(super::not_configured)
}

fn create_checkout<'a>(
    ctx: &'a Ctx<'a>,
    _req: &'a Request,
) -> LocalBoxFuture<'a, Result<Response>> {
    Box::pin(async move {
        let job_id = ctx.params.require("job_id")?;
        let created = checkout::create(ctx.env, job_id).await?;
        let mut body = created.session.public_view();
        body["reused"] = json!(created.reused);
        body["price_conversion"] = json!(created.conversion);
        body["not_held"] = json!(created.not_held);
        Ok(Response::data(
            if created.reused { 200 } else { 201 },
            &body,
        ))
    })
}

fn checkout_status(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let job_id = ctx.params.require("job_id")?;
    // 404 for an unknown job, like job status.
    crate::jobs::store::get(ctx.env, &Scope::All, job_id)?;
    match checkout::latest_for_job(ctx.env.db.as_ref(), job_id)?.0 {
        Some(s) => Ok(Response::ok(&s.public_view())),
        None => Err(Error::new(
            Kind::NotFound,
            "no_checkout",
            format!("job `{job_id}` has no checkout"),
        )),
    }
}

fn receive_webhook(ctx: &Ctx, req: &Request) -> Result<Response> {
    let data = webhook::receive(
        ctx.env,
        req.header("stripe-signature"),
        &req.body,
        &ctx.request_id,
        &guard::client_ip(ctx.env, req)?,
    )?;
    Ok(Response::ok(&data))
}

fn list_payments(ctx: &Ctx, req: &Request) -> Result<Response> {
    let limit = req.limit_param(50, 200)?;
    let cursor = req.cursor_param()?;
    let filter = ledger::Filter::parse(
        req.query_param("status").as_deref(),
        req.query_param("currency").as_deref(),
    )?;
    let (charges, more) = ledger::page(
        ctx.env.db.as_ref(),
        &ctx.scope,
        &filter,
        cursor.as_deref(),
        limit,
    )?;
    let list: Vec<serde_json::Value> = charges
        .iter()
        .map(|ledger::Listed { charge: c, job_id }| {
            let mut v = serde_json::to_value(c).unwrap_or_default();
            v["job_id"] = json!(job_id);
            if let Ok(cur) = Currency::parse(&c.currency) {
                v["amount"] = json!(Money::new(c.amount, cur));
                v["amount_refunded"] = json!(Money::new(c.amount_refunded, cur));
                v["net"] = json!(Money::new(c.amount - c.amount_refunded, cur));
            }
            v["created_at"] = json!(crate::time::rfc3339(c.created_at));
            v
        })
        .collect();
    Ok(Response::ok(&json!({
        "payments": list,
        "next_cursor": if more { charges.last().map(|l| l.charge.id.clone()) } else { None },
        "configured": stripe::settings(ctx.env.config.as_ref())?.is_some(),
    })))
}

fn refund<'a>(ctx: &'a Ctx<'a>, req: &'a Request) -> LocalBoxFuture<'a, Result<Response>> {
    Box::pin(async move {
        let body: refunds::Request = req.json()?;
        let actor = ctx.principal.actor();
        let who = refunds::Caller {
            scope: &ctx.scope,
            actor: &actor,
            tenant: ctx.principal.tenant.as_str(),
            request_id: &ctx.request_id,
            client: &ctx.client,
            idempotency_key: req.header("idempotency-key"),
        };
        Ok(Response::ok(
            &refunds::refund(ctx.env, || stripe_settings(ctx), &who, &body).await?,
        ))
    })
}

fn receipts(ctx: &Ctx, req: &Request) -> Result<Response> {
    let client = guard::client_ip(ctx.env, req)?;
    let actor = ctx.principal.actor();
    let asked = req.query_param("email");
    let log = |email: Option<&str>, outcome: &str| {
        portal::log_access(
            ctx.env,
            &portal::Access {
                kind: "list",
                email,
                receipt_id: None,
                outcome,
                client_addr: &client,
                actor: &actor,
                request_id: &ctx.request_id,
            },
        )
    };
    let email = match asked.as_deref().map(crate::jobs::model::Email::parse) {
        Some(Ok(e)) => e.as_str().to_string(),
        Some(Err(e)) => {
            log(asked.as_deref(), e.code);
            return Err(e);
        }
        None => {
            log(None, "missing_email");
            return Err(Error::bad_request("missing_email", "`email` is required"));
        }
    };
    if let Err(e) = ctx.require_customer(&email) {
        log(Some(&email), e.code);
        return Err(e);
    }
    let listing = portal::listing(ctx.env, ctx.acting_tenant().as_str(), &email);
    log(
        Some(&email),
        listing.as_ref().map_or_else(|e| e.code, |_| "ok"),
    );
    Ok(Response::ok(&listing?))
}

fn download(ctx: &Ctx, req: &Request) -> Result<Response> {
    let client = guard::client_ip(ctx.env, req)?;
    let link = portal::Link::parse(&req.query);
    let opened = link
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|l| portal::open(ctx.env, l));
    portal::log_access(
        ctx.env,
        &portal::Access {
            kind: "download",
            email: link.as_ref().ok().map(|l| l.email.as_str()),
            receipt_id: link.as_ref().ok().map(|l| l.id.as_str()),
            outcome: opened.as_ref().map_or_else(|e| e.code, |_| "ok"),
            client_addr: &client,
            actor: &ctx.principal.actor(),
            request_id: &ctx.request_id,
        },
    );
    let receipt = opened?;
    let (page, csp) = super::receipts::html(&receipt);
    Ok(Response::new(200)
        .with_header("Content-Type", "text/html; charset=utf-8")
        .with_header("Content-Security-Policy", &csp)
        .with_header("Cache-Control", "private, no-store")
        .with_header("Referrer-Policy", "no-referrer")
        .with_body(page.into_bytes()))
}

fn send_invoice<'a>(ctx: &'a Ctx<'a>, _req: &'a Request) -> LocalBoxFuture<'a, Result<Response>> {
    Box::pin(async move {
        let id = ctx.params.require("id")?;
        let invoice = invoicing::send(
            ctx.env,
            &ctx.scope,
            id,
            &ctx.principal.actor(),
            &ctx.request_id,
        )
        .await?;
        Ok(Response::ok(&invoice.view()))
    })
}
