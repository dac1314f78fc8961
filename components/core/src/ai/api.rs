//! QA and prompt routes (served by the api-jobs component).

use super::{consistency, prompts};
use crate::app::Ctx;
use crate::error::{Error, Result};
use crate::http::{Request, Response};
use crate::jobs::JobType;
use serde::Deserialize;

fn since(ctx: &Ctx, req: &Request) -> Result<i64> {
    let days = match req.query_param("days") {
        None => 30,
        Some(d) => d
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=365).contains(d))
            .ok_or_else(|| {
                Error::bad_request("invalid_days", "days must be an integer from 1 to 365")
            })?,
    };
    Ok(ctx.env.clock.now_ms() - days * 86_400_000)
}

/// `GET /api/qa/consistency?days=30`.
pub fn consistency(ctx: &Ctx, req: &Request) -> Result<Response> {
    Ok(Response::ok(&consistency::report(
        ctx.env,
        &ctx.scope,
        since(ctx, req)?,
    )?))
}

/// `GET /api/prompts`.
pub fn list_prompts(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let all = prompts::list(ctx.env)?;
    Ok(Response::ok(
        &serde_json::json!({ "templates": all.iter().map(|t| t.view()).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTemplate {
    job_type: String,
    system_prompt: String,
    user_template: String,
    notes: Option<String>,
    #[serde(default = "yes")]
    activate: bool,
}

fn yes() -> bool {
    true
}

/// `POST /api/prompts`: a new version of a job type's template.
///
/// Templates are platform-wide (every tenant's jobs use the active one), so
/// only principals of the default tenant may write them.
pub fn create_prompt(ctx: &Ctx, req: &Request) -> Result<Response> {
    if ctx.principal.tenant.as_str() != crate::tenancy::DEFAULT_TENANT {
        return Err(Error::new(
            crate::error::Kind::Forbidden,
            "platform_only",
            "prompt templates are shared by every tenant; only the platform's operators change them",
        ));
    }
    let body: NewTemplate = req.json()?;
    let t = prompts::create(
        ctx.env,
        JobType::parse(&body.job_type)?,
        &body.system_prompt,
        &body.user_template,
        body.notes.as_deref(),
        body.activate,
        &ctx.principal.actor(),
    )?;
    crate::audit::append(
        ctx.env,
        &crate::audit::Event::for_request(ctx, "prompt.create")
            .target(&t.id)
            .detail(serde_json::json!({ "active": t.active })),
    )?;
    Ok(Response::data(201, &t.view()))
}

/// `GET /api/prompts/{id}/stats?days=30`.
pub fn prompt_stats(ctx: &Ctx, req: &Request) -> Result<Response> {
    Ok(Response::ok(&prompts::stats(
        ctx.env,
        &ctx.scope,
        ctx.params.require("id")?,
        since(ctx, req)?,
    )?))
}
