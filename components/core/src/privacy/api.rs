//! The api-privacy routes.
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /api/privacy/export?email=` | admin; a user for their own email | everything about a data subject, as JSON |
//! | `POST /api/privacy/delete` | admin | erase a data subject's personal data |
//! | `GET /api/privacy/consents?email=` | admin; a user for their own email | consent history and what holds now |
//! | `POST /api/privacy/consents` | admin; a user for their own email | record a consent given or withdrawn |
//! | `GET /api/privacy/retention` | admin | the retention windows and the job's last run |
//!
//! Tenant admins act within their tenant (the guard's scope); admins of
//! the default tenant across tenants, or in one with `tenant_id`. Every
//! export, erasure and consent change is appended to the audit chain with
//! the email's pseudonym.

use super::subject::{authorize, Action, Subject};
use super::{consent, erase, export, retention};
use crate::app::Ctx;
use crate::audit::{self, Change, Who};
use crate::error::{Error, Result};
use crate::http::{Request, Response, Route};
use serde::Deserialize;
use serde_json::json;

/// The routes.
pub const ROUTES: &[Route] = &[
    Route::get("/api/privacy/export", export_route),
    Route::post("/api/privacy/delete", delete_route).body_limit(2 * 1024),
    Route::get("/api/privacy/consents", consents_route),
    Route::post("/api/privacy/consents", consent_route).body_limit(2 * 1024),
    Route::get("/api/privacy/retention", retention_route),
];

fn subject_param(req: &Request) -> Result<Subject> {
    let email = req
        .query_param("email")
        .ok_or_else(|| Error::bad_request("missing_email", "`email` is required"))?;
    Subject::parse(&email)
}

/// Record privacy action `action` on `subject` (by its pseudonym, never
/// the address) as a business event: who, from where, in which tenant.
fn audit_action(
    ctx: &Ctx,
    action: &str,
    subject: &Subject,
    detail: serde_json::Value,
) -> Result<i64> {
    audit::record_business(
        ctx.env,
        &Who::of(ctx).in_tenant(ctx.acting_tenant().as_str()),
        action,
        Change::on(&subject.pseudonym()).detail(detail),
    )
}

fn scope_name(ctx: &Ctx) -> serde_json::Value {
    json!(ctx.scope.tenant().map(|t| t.as_str()).unwrap_or("*"))
}

fn export_route(ctx: &Ctx, req: &Request) -> Result<Response> {
    let subject = subject_param(req)?;
    authorize(ctx, &subject, Action::Read)?;
    let data = export::export(ctx.env, &ctx.scope, &subject)?;
    // Audited before the data leaves: no record, no export.
    audit_action(
        ctx,
        "privacy.export",
        &subject,
        json!({ "scope": scope_name(ctx), "rows": data["rows"] }),
    )?;
    Ok(Response::ok(&data))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteRequest {
    email: String,
    /// Why (a ticket number, "subject request by email"); kept in the audit
    /// chain, so no personal data here.
    reason: Option<String>,
}

fn delete_route(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body: DeleteRequest = req.json()?;
    let subject = Subject::parse(&body.email)?;
    authorize(ctx, &subject, Action::Erase)?;
    let reason = body.reason.unwrap_or_default();
    if reason.chars().count() > 200 {
        return Err(Error::bad_request(
            "invalid_reason",
            "`reason` is at most 200 characters",
        ));
    }
    let erased = erase::erase(ctx.env, &ctx.scope, &subject)?;
    let seq = audit_action(
        ctx,
        "privacy.erase",
        &subject,
        json!({ "scope": scope_name(ctx), "reason": reason, "erased": erased }),
    )?;
    Ok(Response::ok(&json!({
        "pseudonym": subject.pseudonym(),
        "tenant": ctx.scope.tenant().map(|t| t.as_str()),
        "erased": erased,
        "audit_seq": seq,
    })))
}

fn consents_route(ctx: &Ctx, req: &Request) -> Result<Response> {
    let subject = subject_param(req)?;
    authorize(ctx, &subject, Action::Read)?;
    Ok(Response::ok(&consent::history(
        ctx.env, &ctx.scope, &subject,
    )?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentRequest {
    email: String,
    purpose: String,
    version: String,
    source: String,
    granted: bool,
}

fn consent_route(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body: ConsentRequest = req.json()?;
    let subject = Subject::parse(&body.email)?;
    authorize(ctx, &subject, Action::Consent)?;
    let tenant = ctx.acting_tenant();
    let record = consent::record(
        ctx.env,
        &tenant,
        &subject,
        &consent::NewConsent {
            purpose: &body.purpose,
            version: &body.version,
            source: &body.source,
            granted: body.granted,
        },
        &ctx.principal.actor(),
        &ctx.request_id,
    )?;
    audit_action(
        ctx,
        "privacy.consent",
        &subject,
        json!({
            "purpose": record.purpose, "state": record.state,
            "version": record.version, "source": record.source,
        }),
    )?;
    Ok(Response::data(201, &record))
}

fn retention_route(ctx: &Ctx, _req: &Request) -> Result<Response> {
    Ok(Response::ok(&retention::describe(ctx.env)?))
}
