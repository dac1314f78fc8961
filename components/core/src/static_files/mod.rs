//! The static-files component: serves `static/` (mounted by Spin's `files`
//! at `/`) with content types, strong ETags, 304s, cache policy, an index
//! page and a real 404 page, and refuses traversal.

mod mime;
mod path;

use crate::app::{App, Ctx};
use crate::error::{Error, Result};
use crate::http::{Request, Response, Route};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub use path::{resolve, PathError};

/// The static-files component.
pub const APP: App = App {
    component: "static-files",
    routes: &[Route::get("/...", serve)],
    stateless: true,
};

/// Where the files are: Spin mounts `static/` at `/`; native runs read
/// `ECHOPILOT_STATIC_ROOT` (default `static`).
pub fn root() -> PathBuf {
    if cfg!(target_arch = "wasm32") {
        PathBuf::from("/")
    } else {
        PathBuf::from(std::env::var("ECHOPILOT_STATIC_ROOT").unwrap_or_else(|_| "static".into()))
    }
}

/// Fingerprinted assets (a name segment of 8+ hex digits, like
/// `app.3f2a1b9c.js`) never change: cache them for a year. Everything else
/// is revalidated on every use (`no-cache`), which the ETag makes cheap.
pub fn cache_control(file: &str) -> &'static str {
    let name = file.rsplit('/').next().unwrap_or(file);
    let mut parts = name.split(['.', '-']);
    parts.next();
    let fingerprinted = parts.any(|p| p.len() >= 8 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    if fingerprinted {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

/// The strong ETag of `content`.
pub fn etag(content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    format!("\"{}\"", crate::hex(&digest[..12]))
}

/// Whether `If-None-Match` (a list, `*`, weak or strong tags) matches `tag`.
pub fn none_match(header: &str, tag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == tag)
}

fn serve(_ctx: &Ctx, req: &Request) -> Result<Response> {
    serve_from(&root(), req)
}

/// Serve `req` from the directory `root`.
pub fn serve_from(root: &Path, req: &Request) -> Result<Response> {
    let rel = match resolve(&req.path) {
        Ok(rel) => rel,
        Err(PathError::Forbidden(why)) => return Err(Error::bad_request("invalid_path", why)),
    };
    match read(root, &rel) {
        Some((file, content)) => {
            let tag = etag(&content);
            let cache = cache_control(&file);
            if req
                .header("if-none-match")
                .is_some_and(|h| none_match(h, &tag))
            {
                return Ok(Response::new(304)
                    .with_header("ETag", &tag)
                    .with_header("Cache-Control", cache));
            }
            Ok(Response::new(200)
                .with_header("Content-Type", mime::content_type(&file))
                .with_header("ETag", &tag)
                .with_header("Cache-Control", cache)
                .with_body(content))
        }
        None => not_found(root, req),
    }
}

/// `rel`, or `rel/index.html` for directories.
fn read(root: &Path, rel: &str) -> Option<(String, Vec<u8>)> {
    let mut file = rel.to_string();
    if file.is_empty() || file.ends_with('/') {
        file.push_str("index.html");
    }
    let full = root.join(&file);
    if full.is_dir() {
        file = format!("{}/index.html", file.trim_end_matches('/'));
    }
    std::fs::read(root.join(&file)).ok().map(|c| (file, c))
}

/// API paths and non-browser clients get the JSON 404; browsers get 404.html.
fn not_found(root: &Path, req: &Request) -> Result<Response> {
    let wants_html = req
        .header("accept")
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && !req.path.starts_with("/api/") {
        if let Ok(page) = std::fs::read(root.join("404.html")) {
            return Ok(Response::new(404)
                .with_header("Content-Type", "text/html; charset=utf-8")
                .with_header("Cache-Control", "no-cache")
                .with_body(page));
        }
    }
    Err(Error::not_found(format!("nothing at {}", req.path)))
}
