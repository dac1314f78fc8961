//! The api-jobs component: intake (public and operator), job status and
//! history, the queue, job operations, and the QA/prompt routes of
//! [`crate::ai::api`].

use super::model::{Brief, Email, JobType, NewJob, Priority, Source, Status, Title};
use super::store::{self, Filter};
use super::{filing, history, intake, Job};
use crate::app::{App, Ctx};
use crate::audit::{self, Change, Event, Who};
use crate::error::{Error, Result};
use crate::guard;
use crate::http::router::Edge;
use crate::http::{Request, Response, Route};
use crate::identity::{Credential, Role};
use crate::tenancy::{Scope, TenantId};
use serde::Deserialize;

/// Job bodies are small: a 10,000-character brief and some context.
pub const JOB_BODY_LIMIT: usize = 64 * 1024;
/// The largest `context` object accepted, serialized.
pub const MAX_CONTEXT_BYTES: usize = 16 * 1024;

/// The api-jobs component.
pub const APP: App = App {
    component: "api-jobs",
    routes: &[
        Route::post("/api/public/create-job", create_public).body_limit(JOB_BODY_LIMIT),
        // Clients poll it: a second-old answer comes from the edge cache.
        Route::get("/api/public/job-status/{id}", status_public).edge(Edge::Cached(1_000)),
        Route::get("/api/public/job-history/{email}", history_public),
        Route::post("/api/queue/enqueue", enqueue).body_limit(JOB_BODY_LIMIT),
        Route::get("/api/queue/status", queue_status),
        Route::get("/api/queue/drive-filings", drive_filings),
        Route::get("/api/jobs", list),
        Route::get("/api/jobs/{id}", get),
        Route::post("/api/jobs/{id}/retry", retry),
        Route::post("/api/jobs/{id}/cancel", cancel),
        Route::post("/api/jobs/{id}/drive-filing", retry_drive_filing),
        Route::get("/api/qa/consistency", crate::ai::api::consistency),
        Route::get("/api/prompts", crate::ai::api::list_prompts),
        Route::post("/api/prompts", crate::ai::api::create_prompt),
        Route::get("/api/prompts/{id}/stats", crate::ai::api::prompt_stats),
        Route::post("/api/partner/jobs", create_partner).body_limit(JOB_BODY_LIMIT),
        Route::get("/api/partner/jobs/{id}", get_partner),
    ],
    stateless: false,
};

/// A job request, as sent to `create-job` (public) or `enqueue` (operators).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobRequest {
    brief: Option<String>,
    #[serde(rename = "type")]
    job_type: Option<String>,
    priority: Option<String>,
    title: Option<String>,
    email: Option<String>,
    run_at: Option<String>,
    idempotency_key: Option<String>,
    context: Option<serde_json::Value>,
    // Operators only:
    max_attempts: Option<i64>,
    tenant_id: Option<String>,
    source: Option<String>,
}

/// Who submits, which decides what a request may set.
#[derive(Clone, Copy, PartialEq)]
enum Caller {
    /// `create-job`: anyone; priority up to normal (operators: any).
    Public,
    /// `enqueue`: operators; any priority, tenant, source, attempts.
    Operator,
    /// `partner/jobs`: partner keys; priority up to high, their tenant.
    Partner,
}

/// The tenant a request acts in: the one its scope names, else the
/// caller's home tenant.
fn scope_tenant(ctx: &Ctx) -> TenantId {
    match &ctx.scope {
        Scope::Tenant(t) => t.clone(),
        Scope::All => ctx.principal.tenant.clone(),
    }
}

struct Parsed {
    job: NewJob,
    tenant: TenantId,
    key: Option<String>,
}

fn parse_request(ctx: &Ctx, req: &Request, caller: Caller) -> Result<Parsed> {
    let body: JobRequest = req.json()?;
    if caller != Caller::Operator {
        for (field, given) in [
            ("max_attempts", body.max_attempts.is_some()),
            ("tenant_id", body.tenant_id.is_some()),
            ("source", body.source.is_some()),
        ] {
            if given {
                return Err(Error::unprocessable(
                    "field_not_allowed",
                    format!("`{field}` is for operators; remove it or use POST /api/queue/enqueue"),
                ));
            }
        }
    }
    let brief = Brief::parse(body.brief.as_deref().ok_or_else(|| {
        Error::unprocessable(
            "invalid_brief",
            "`brief` is required: describe the work to do",
        )
    })?)?;
    let job_type = body
        .job_type
        .as_deref()
        .map(JobType::parse)
        .transpose()?
        .unwrap_or(JobType::AiTask);
    let mut job = NewJob::new(job_type, brief);
    job.priority = body
        .priority
        .as_deref()
        .map(Priority::parse)
        .transpose()?
        .unwrap_or(Priority::Normal);
    let highest = match caller {
        Caller::Operator => Priority::Critical,
        _ if ctx.principal.role >= Some(Role::Operator) => Priority::Critical,
        Caller::Partner => Priority::High,
        Caller::Public => Priority::Normal,
    };
    if job.priority.rank() < highest.rank() {
        return Err(Error::unprocessable(
            "priority_not_allowed",
            format!(
                "this caller may use priority {} or lower; higher priorities are for operators",
                highest.as_str()
            ),
        ));
    }
    job.title = body.title.as_deref().map(Title::parse).transpose()?;
    job.email = body.email.as_deref().map(Email::parse).transpose()?;
    job.run_at = body
        .run_at
        .as_deref()
        .map(crate::time::parse_rfc3339)
        .transpose()
        .map_err(|e| Error::unprocessable("invalid_run_at", format!("run_at: {}", e.message)))?;
    job.max_attempts = body.max_attempts;
    job.source = match (caller, body.source.as_deref()) {
        (Caller::Public, _) => Source::Api,
        (Caller::Partner, _) => Source::Partner,
        (Caller::Operator, None) => Source::Operator,
        (Caller::Operator, Some(s)) => Source::parse(s)?,
    };
    if let Some(context) = body.context {
        if !context.is_object() {
            return Err(Error::unprocessable(
                "invalid_context",
                "`context` must be a JSON object",
            ));
        }
        if context.to_string().len() > MAX_CONTEXT_BYTES {
            return Err(Error::unprocessable(
                "invalid_context",
                format!("`context` is larger than {MAX_CONTEXT_BYTES} bytes"),
            ));
        }
        job.context = Some(context);
    }
    let tenant = match body.tenant_id.as_deref() {
        Some(t) => {
            let t = TenantId::parse(t)?;
            guard::may_act_for(ctx.env, &ctx.principal, &t, &ctx.request_id)?;
            t
        }
        None => scope_tenant(ctx),
    };
    let key = match (
        req.header("idempotency-key"),
        body.idempotency_key.as_deref(),
    ) {
        (Some(h), Some(b)) if h != b => {
            return Err(Error::bad_request(
                "idempotency_key_mismatch",
                "the Idempotency-Key header and the idempotency_key field differ",
            ))
        }
        (Some(k), _) | (None, Some(k)) => Some(k.to_string()),
        (None, None) => None,
    };
    Ok(Parsed { job, tenant, key })
}

/// Create the job of a parsed request, within the caller's intake budgets
/// (see [`intake`]).
fn created(ctx: &Ctx, req: &Request, parsed: &Parsed, caller: Caller) -> Result<Response> {
    let client = guard::client_ip(ctx.env, req)?;
    let budgets = intake::budgets(ctx.env, &ctx.principal, &parsed.tenant, &client)?;
    let created = intake::admit(ctx.env, &budgets, || {
        store::create(ctx.env, &parsed.tenant, &parsed.job, parsed.key.as_deref())
    })?;
    let job = &created.job;
    let status_url = format!("/api/public/job-status/{}", job.id);
    let mut data = serde_json::json!({
        "job": if caller == Caller::Public { job.public_view() } else { job.view() },
        "status_url": status_url,
        "replayed": created.replayed,
    });
    // The requester's history goes to their mailbox, never into an answer:
    // whoever calls this route may name any email.
    if let (Caller::Public, Some(email)) = (caller, &job.email) {
        if history::enabled(ctx.env)? {
            if !created.replayed {
                history::email_link(ctx.env, &parsed.tenant, email.as_str())?;
            }
            data["history_link"] = "emailed".into();
        }
    }
    let status = if created.replayed { 200 } else { 201 };
    let mut resp = Response::data(status, &data).with_header("Location", &status_url);
    if created.replayed {
        resp = resp.with_header("Idempotent-Replayed", "true");
    }
    Ok(resp)
}

/// `POST /api/public/create-job`: anyone may submit a brief (with a
/// credential, into the credential's tenant).
fn create_public(ctx: &Ctx, req: &Request) -> Result<Response> {
    let parsed = parse_request(ctx, req, Caller::Public)?;
    created(ctx, req, &parsed, Caller::Public)
}

/// `POST /api/queue/enqueue`: operators enqueue with any priority, tenant,
/// source and attempt budget.
fn enqueue(ctx: &Ctx, req: &Request) -> Result<Response> {
    let parsed = parse_request(ctx, req, Caller::Operator)?;
    let resp = created(ctx, req, &parsed, Caller::Operator)?;
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "job.enqueue").target(parsed.tenant.as_str()).detail(serde_json::json!({
            "type": parsed.job.job_type, "priority": parsed.job.priority, "source": parsed.job.source
        })),
    )?;
    Ok(resp)
}

/// `POST /api/partner/jobs`: a partner submits into its own tenant.
fn create_partner(ctx: &Ctx, req: &Request) -> Result<Response> {
    let parsed = parse_request(ctx, req, Caller::Partner)?;
    created(ctx, req, &parsed, Caller::Partner)
}

/// `GET /api/partner/jobs/{id}`: a partner reads its own tenant's job.
fn get_partner(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let job = store::get(ctx.env, &ctx.scope, ctx.params.require("id")?)?;
    Ok(Response::ok(&job.view()))
}

/// `GET /api/public/job-status/{id}`: the id is an unguessable capability.
fn status_public(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let id = ctx.params.require("id")?;
    let job = store::get(ctx.env, &Scope::All, id)?;
    Ok(Response::ok(&job.public_view()))
}

/// `GET /api/public/job-history/{email}`: with the history token emailed to
/// that address (`?token=`), or a user's or partner key's credential (read
/// within its tenant scope; the guard refuses machine tokens and keys
/// without `jobs:read`).
fn history_public(ctx: &Ctx, req: &Request) -> Result<Response> {
    let email = Email::parse(ctx.params.require("email")?)?;
    let scope = match &ctx.principal.credential {
        Credential::Anonymous => {
            let token = req.query_param("token").ok_or_else(|| {
                Error::unauthorized(
                    "job history needs the link emailed to that address (?token=...)",
                )
            })?;
            let secret = history::secret(ctx.env)?.ok_or_else(|| {
                Error::unavailable(
                    "not_configured",
                    "history links are disabled: set the `portal_signing_secret` variable",
                )
            })?;
            Scope::Tenant(history::verify(
                &secret,
                &token,
                email.as_str(),
                ctx.env.clock.now_ms(),
            )?)
        }
        Credential::User { .. } | Credential::DashboardKey | Credential::ApiKey { .. } => {
            ctx.scope.clone()
        }
        Credential::Scheduler | Credential::Monitor => {
            return Err(Error::unauthorized(
                "machine tokens do not open job history",
            ))
        }
    };
    let filter = Filter {
        email: Some(email.as_str().to_string()),
        ..Default::default()
    };
    let (cursor, limit) = paging(req)?;
    let page = store::list(ctx.env, &scope, &filter, cursor.as_deref(), limit)?;
    Ok(Response::ok(&serde_json::json!({
        "email": email,
        "jobs": page.jobs.iter().map(|j| j.public_view()).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
    })))
}

fn paging(req: &Request) -> Result<(Option<String>, usize)> {
    Ok((req.cursor_param()?, req.limit_param(50, 200)?))
}

/// `GET /api/queue/status`.
fn queue_status(ctx: &Ctx, _req: &Request) -> Result<Response> {
    Ok(Response::ok(&store::queue_status(ctx.env, &ctx.scope)?))
}

/// `GET /api/jobs`: filters and cursor pagination, newest first.
fn list(ctx: &Ctx, req: &Request) -> Result<Response> {
    let filter = Filter {
        status: req
            .query_param("status")
            .map(|s| Status::parse(&s))
            .transpose()?,
        job_type: req
            .query_param("type")
            .map(|s| JobType::parse(&s))
            .transpose()?,
        priority: req
            .query_param("priority")
            .map(|s| Priority::parse(&s))
            .transpose()?,
        source: req
            .query_param("source")
            .map(|s| Source::parse(&s))
            .transpose()?,
        email: req
            .query_param("email")
            .map(|e| Email::parse(&e))
            .transpose()?
            .map(|e| e.as_str().to_string()),
        created_after: req.time_param("created_after")?,
        created_before: req.time_param("created_before")?,
    };
    let (cursor, limit) = paging(req)?;
    let page = store::list(ctx.env, &ctx.scope, &filter, cursor.as_deref(), limit)?;
    Ok(Response::ok(&serde_json::json!({
        "jobs": page.jobs.iter().map(|j| j.view()).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
    })))
}

/// `GET /api/jobs/{id}`: the job and every attempt.
fn get(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let job = store::get(ctx.env, &ctx.scope, ctx.params.require("id")?)?;
    let attempts = store::attempts(ctx.env, &job)?;
    let mut view = job.view();
    view["attempt_records"] = serde_json::to_value(attempts)?;
    view["drive_filing"] = filing::of_job(ctx.env, &job.id)?
        .map(|f| f.view())
        .unwrap_or_default();
    Ok(Response::ok(&view))
}

/// `GET /api/queue/drive-filings?status=&limit=`: the Drive filings of
/// finished jobs in the caller's scope (newest first) and their counts by
/// status; `status=failed` is the operator's list of what needs a look.
fn drive_filings(ctx: &Ctx, req: &Request) -> Result<Response> {
    let status = req.query_param("status");
    let limit = req.limit_param(50, 200)? as i64;
    let (list, counts) = filing::list(ctx.env, &ctx.scope, status.as_deref(), limit)?;
    Ok(Response::ok(&serde_json::json!({
        "filings": list.iter().map(|f| f.view()).collect::<Vec<_>>(),
        "counts": counts,
        "max_attempts": filing::MAX_ATTEMPTS,
    })))
}

/// `POST /api/jobs/{id}/drive-filing`: file a job whose Drive filing
/// failed again (its attempts start over; the next worker tick tries).
fn retry_drive_filing(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let id = ctx.params.require("id")?;
    let before = filing::of_job(ctx.env, id)?;
    let after = filing::retry(ctx.env, &ctx.scope, id)?;
    let state = |f: &filing::Filing| serde_json::json!({ "status": f.status, "attempts": f.attempts, "last_error": f.last_error });
    audit::record_business(
        ctx.env,
        &Who::of(ctx).in_tenant(&after.tenant_id),
        "job.drive_filing_retry",
        Change::on(&after.job_id)
            .before(before.as_ref().map(state).unwrap_or_default())
            .after(state(&after)),
    )?;
    Ok(Response::ok(&after.view()))
}

/// `POST /api/jobs/{id}/retry`.
fn retry(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let id = ctx.params.require("id")?;
    let before = store::get(ctx.env, &ctx.scope, id)?;
    let job = store::retry(ctx.env, &ctx.scope, id)?;
    audit_transition(ctx, "job.retry", &before, &job, serde_json::json!({}))?;
    Ok(Response::ok(&job.view()))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CancelRequest {
    reason: Option<String>,
}

/// `POST /api/jobs/{id}/cancel` (optional body `{"reason": "..."}`).
fn cancel(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body: CancelRequest = if req.body.is_empty() {
        CancelRequest::default()
    } else {
        req.json()?
    };
    let reason = body
        .reason
        .unwrap_or_else(|| "cancelled by an operator".to_string());
    if reason.chars().count() > 500 {
        return Err(Error::unprocessable(
            "invalid_reason",
            "the reason is longer than 500 characters",
        ));
    }
    let id = ctx.params.require("id")?;
    let before = store::get(ctx.env, &ctx.scope, id)?;
    let job = store::cancel(ctx.env, &ctx.scope, id, &reason)?;
    audit_transition(
        ctx,
        "job.cancel",
        &before,
        &job,
        serde_json::json!({ "reason": reason }),
    )?;
    Ok(Response::ok(&job.view()))
}

/// A person moved a job from one state to another: a business event in the
/// job's tenant, with the status and attempts before and after.
fn audit_transition(
    ctx: &Ctx,
    action: &str,
    before: &Job,
    after: &Job,
    detail: serde_json::Value,
) -> Result<()> {
    let state =
        |j: &Job| serde_json::json!({ "status": j.status.as_str(), "attempts": j.attempts });
    audit::record_business(
        ctx.env,
        &Who::of(ctx).in_tenant(&after.tenant_id),
        action,
        Change::on(&after.id)
            .before(state(before))
            .after(state(after))
            .detail(detail),
    )?;
    Ok(())
}
