//! The api-dr component (admins of the default tenant: a backup holds
//! every tenant's data):
//!
//! - `POST /api/dr/restore` `{"backup_id"?, "source"?, "confirm"?}`:
//!   restore a backup (the latest by default) into a scratch database and
//!   compare it with its manifest, row counts and content hashes per table
//!   (200 with the run, `ok` or `failed`). `source: "offsite"` restores the
//!   copy in the object store instead of the local one (409
//!   `offsite_not_configured` when shipping is off). With `confirm: true` the live database is not
//!   replaced: that needs the app stopped (see [`super::procedure`]), so it
//!   answers 409 `restore_requires_downtime` with the steps and the check
//!   of that backup in `error.details`.
//! - `GET /api/dr/last` (and `GET /api/ops/dr/last`, the seeds' path): the
//!   latest backup and its verification, the last drill and restore check,
//!   a drill waiting to run, when the next weekly drill is due.

use crate::app::{App, Ctx};
use crate::audit::{self, Event};
use crate::backup;
use crate::error::{Error, Result};
use crate::http::{Method, Request, Response, Route};
use futures::future::LocalBoxFuture;
use serde::Deserialize;
use serde_json::json;

/// The api-dr component.
pub const APP: App = App {
    component: "api-dr",
    routes: &[
        Route::asynchronous(Method::Post, "/api/dr/restore", restore).body_limit(4 * 1024),
        Route::get("/api/dr/last", last),
        Route::get("/api/ops/dr/last", last),
    ],
    stateless: false,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RestoreRequest {
    #[serde(default)]
    backup_id: Option<String>,
    #[serde(default)]
    source: Source,
    #[serde(default)]
    confirm: bool,
}

/// Which copy a restore reads.
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Source {
    /// The backups stored in the database.
    #[default]
    Local,
    /// The copies in the object store.
    Offsite,
}

const MAX_ID_CHARS: usize = 80;

fn restore<'a>(ctx: &'a Ctx<'a>, req: &'a Request) -> LocalBoxFuture<'a, Result<Response>> {
    Box::pin(restore_checked(ctx, req))
}

async fn restore_checked(ctx: &Ctx<'_>, req: &Request) -> Result<Response> {
    ctx.require_platform("restores")?;
    let body: RestoreRequest = req.json()?;
    let backup_id = body.backup_id.as_deref().map(str::trim);
    if backup_id.is_some_and(|id| id.is_empty() || id.chars().count() > MAX_ID_CHARS) {
        return Err(Error::unprocessable(
            "invalid_backup_id",
            format!("backup_id is 1 to {MAX_ID_CHARS} characters (a `bak_…` id)"),
        ));
    }
    let actor = ctx.principal.actor();
    let run = match body.source {
        Source::Local => super::check_restore(ctx.env, backup_id, &actor, "api")?,
        Source::Offsite => {
            if body.confirm {
                return Err(Error::unprocessable(
                    "invalid_restore",
                    "confirm applies to local backups: restore an off-machine copy by hand (docs/OPERATIONS.md, DR runbook)",
                ));
            }
            super::check_restore_offsite(ctx.env, backup_id, &actor, "api").await?
        }
    };
    if !body.confirm {
        return Ok(Response::ok(&json!({ "dry_run": true, "run": run })));
    }
    let backup_id = run.backup_id.clone().unwrap_or_default();
    let manifest = backup::get(ctx.env, &backup_id)?;
    let steps = super::procedure(&manifest.id, &manifest.filename);
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "dr.restore_refused")
            .target(&manifest.id)
            .detail(json!({ "reason": "requires downtime", "check": run.id, "check_status": run.status })),
    )?;
    Err(Error::conflict(
        "restore_requires_downtime",
        "the live database cannot be replaced from inside the running app: every process of the app holds it open; follow the steps in error.details",
    )
    .with_details(json!({ "backup_id": manifest.id, "steps": steps, "run": run })))
}

fn last(ctx: &Ctx, _req: &Request) -> Result<Response> {
    ctx.require_platform("DR reports")?;
    Ok(Response::ok(&super::status(ctx.env)?))
}
