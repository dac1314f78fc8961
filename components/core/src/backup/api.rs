//! The backup routes of api-ops (admins of the default tenant: a backup
//! holds every tenant's data):
//!
//! - `GET /api/backups[?limit=N]`: the stored backups, newest first, with
//!   the retention and the tables left out (and why);
//! - `GET /api/backups/{id}`: one manifest (tables and rows, size,
//!   SHA-256, the last verification);
//! - `GET /api/backups/{id}/download`: the `.sql.gz` file, with its SHA-256
//!   in `X-Backup-SHA256`; every download is in the audit chain.
//!
//! Backups are taken by `cron-backup` nightly and by the console's
//! `run_backup`; `verify_backup` re-checks one.

use crate::app::Ctx;
use crate::audit::{self, Event};
use crate::error::Result;
use crate::http::{Request, Response, Route};
use serde_json::json;

/// The backup routes.
pub const ROUTES: &[Route] = &[
    Route::get("/api/backups", list),
    Route::get("/api/backups/{id}", get),
    Route::get("/api/backups/{id}/download", download),
];

fn list(ctx: &Ctx, req: &Request) -> Result<Response> {
    ctx.require_platform("backups")?;
    let limit = req.limit_param(20, super::MAX_LIST)?;
    Ok(Response::ok(&json!({
        "backups": super::list(ctx.env, limit)?,
        "keep": super::configured_keep(ctx.env)?,
        "excluded": super::excluded_tables(),
    })))
}

fn get(ctx: &Ctx, _req: &Request) -> Result<Response> {
    ctx.require_platform("backups")?;
    Ok(Response::ok(&super::get(
        ctx.env,
        ctx.params.require("id")?,
    )?))
}

fn download(ctx: &Ctx, _req: &Request) -> Result<Response> {
    ctx.require_platform("backups")?;
    let (manifest, file) = super::download(ctx.env, ctx.params.require("id")?)?;
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "backup.downloaded")
            .target(&manifest.id)
            .detail(json!({ "bytes": file.len(), "sha256": manifest.sha256 })),
    )?;
    Ok(Response::new(200)
        .with_header("Content-Type", super::CONTENT_TYPE)
        .with_header(
            "Content-Disposition",
            &format!("attachment; filename=\"{}\"", manifest.filename),
        )
        .with_header("X-Backup-SHA256", &manifest.sha256)
        .with_header("Cache-Control", "no-store")
        .with_body(file))
}
