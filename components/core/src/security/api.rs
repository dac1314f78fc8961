//! The api-security routes. Both describe the whole platform, so only
//! admins of the default tenant (and the dashboard key) may call them:
//!
//! - `GET /api/security/scan`: the configuration's weaknesses, each with
//!   its fix, and every secret's age (names and dates, never values);
//! - `GET /api/security/sbom`: the CycloneDX SBOM, a file to download.
//!
//! The SBOM is not a secret, but it is a map of which version of what runs
//! here: handed to anyone, it tells them which published advisories apply.
//! So it is an admin's, like the scan; the metrics token (a scraper's
//! credential, often stored in monitoring systems) does not open it.

use super::{embedded, sbom, scan};
use crate::app::Ctx;
use crate::error::Result;
use crate::http::{Request, Response, Route};

/// The routes.
pub const ROUTES: &[Route] = &[
    Route::get("/api/security/scan", get_scan),
    Route::get("/api/security/sbom", get_sbom),
];

fn get_scan(ctx: &Ctx, _req: &Request) -> Result<Response> {
    ctx.require_platform("security findings")?;
    let hosts = embedded::get().map_or(&[][..], |e| e.outbound_hosts);
    Ok(Response::ok(&scan::scan(ctx.env, hosts)?))
}

fn get_sbom(ctx: &Ctx, _req: &Request) -> Result<Response> {
    ctx.require_platform("the software bill of materials")?;
    let doc = sbom::document()?;
    let body = serde_json::to_vec(&doc)
        .map_err(|e| crate::error::Error::internal(format!("serialising the SBOM: {e}")))?;
    Ok(Response::new(200)
        .with_header("Content-Type", sbom::CONTENT_TYPE)
        .with_header(
            "Content-Disposition",
            &format!("attachment; filename=\"{}\"", sbom::filename()),
        )
        .with_body(body))
}
