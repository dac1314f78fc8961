//! The static-files component: serves `static/`, embedded in the component
//! at build time, with content types, strong ETags, 304s, gzip, cache
//! policy, an index page and a real 404 page, and refuses traversal.
//!
//! Why embedded: a file read through Spin's `files` mount is several WASI
//! filesystem calls, each handed to a blocking thread by the host; measured
//! under real Spin, the mounted server cost about twice a hello world's CPU
//! per request. Embedded assets are a table lookup, their ETags and gzip
//! forms are computed once at build time (`pack`), and the component is one
//! immutable artifact. `spin build` re-embeds after a change in `static/`.
//! Larger text is embedded gzip-compressed only ([`pack::KEEP_PLAIN_MAX`]):
//! what the component embeds, every request pays for.

mod mime;
pub mod pack;
mod path;

use crate::app::{App, Ctx};
use crate::error::{Error, Result};
use crate::http::{Request, Response, Route};
use std::cell::Cell;

pub use mime::content_type;
pub use pack::etag;
pub use path::{resolve, PathError};

/// The static-files component: the pages ([`pack::Part::Pages`]).
pub const APP: App = App {
    component: "static-files",
    routes: &[Route::get("/...", serve)],
    stateless: true,
};

/// The static-assets component: what the pages load, `/css/...`, `/js/...`
/// and `/i18n/...` ([`pack::Part::Assets`]).
pub const ASSETS_APP: App = App {
    component: "static-assets",
    routes: &[Route::get("/...", serve)],
    stateless: true,
};

/// A static component: its `ASSETS` table (written by its build script with
/// [`pack::embed`]), the HTTP handler serving them with `$app`, and a test
/// that the table is `$part` of `static/` as packed.
#[macro_export]
macro_rules! static_component {
    ($app:path, $part:path) => {
        include!(concat!(env!("OUT_DIR"), "/assets.rs"));

        #[cfg(target_arch = "wasm32")]
        #[spin_sdk::http_component]
        async fn handle(
            req: spin_sdk::http::IncomingRequest,
            out: spin_sdk::http::ResponseOutparam,
        ) {
            $crate::static_files::use_assets(ASSETS);
            $crate::adapters::spin::serve_http(&$app, req, out).await
        }

        #[cfg(test)]
        mod tests {
            #[test]
            fn the_embedded_assets_are_static_as_packed() {
                let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../static");
                $crate::static_files::check_embedded(super::ASSETS, &root, $part);
            }
        }
    };
}

/// Panics unless `assets` is what [`pack::pack_part`] makes of `root` for
/// `part`: the same files, forms and tags, sorted for the lookup, each
/// plain form the file as it is (a static component's test).
#[cfg(not(target_arch = "wasm32"))]
pub fn check_embedded(assets: &[Asset], root: &std::path::Path, part: pack::Part) {
    let packed = pack::pack_part(root, part).expect("static/ is readable");
    assert_eq!(assets.len(), packed.len());
    for (a, p) in assets.iter().zip(&packed) {
        assert_eq!(a.path, p.path.as_str());
        assert_eq!(a.plain, p.plain.as_deref(), "{}", a.path);
        assert_eq!(a.gzip, p.gzip.as_deref(), "{}", a.path);
        let raw = std::fs::read(root.join(a.path)).expect("a packed file is readable");
        assert_eq!(a.etag, etag(&raw), "{}", a.path);
        assert!(a.plain.is_none_or(|b| b == raw.as_slice()), "{}", a.path);
        assert!(a.plain.is_some() || a.gzip.is_some(), "{}", a.path);
    }
    assert!(assets.windows(2).all(|w| w[0].path < w[1].path));
}

/// One embedded file (see [`pack::Packed`], which the build script turns
/// into these).
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its path under `static/`, `/`-separated, no leading `/`.
    pub path: &'static str,
    /// The file's bytes (`None`: text kept in its gzip form only).
    pub plain: Option<&'static [u8]>,
    /// Its gzip form, for text where that saves a tenth.
    pub gzip: Option<&'static [u8]>,
    /// The strong ETag of the file's content.
    pub etag: &'static str,
}

impl Asset {
    /// The asset of a packed file (native code: the bytes are leaked, for
    /// tests and tools that read `static/` from disk).
    pub fn leak(p: pack::Packed) -> Asset {
        Asset {
            path: Box::leak(p.path.into_boxed_str()),
            plain: p.plain.map(|b| &*Box::leak(b.into_boxed_slice())),
            gzip: p.gzip.map(|g| &*Box::leak(g.into_boxed_slice())),
            etag: Box::leak(p.etag.into_boxed_str()),
        }
    }
}

thread_local! {
    static ASSETS: Cell<&'static [Asset]> = const { Cell::new(&[]) };
}

/// The assets [`APP`] serves (the component sets its embedded table before
/// serving; wasm is single-threaded).
pub fn use_assets(assets: &'static [Asset]) {
    ASSETS.with(|a| a.set(assets));
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

/// Whether `If-None-Match` (a list, `*`, weak or strong tags) matches `tag`.
pub fn none_match(header: &str, tag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == tag)
}

/// Whether `Accept-Encoding` admits gzip (a `q=0` refuses it).
fn accepts_gzip(req: &Request) -> bool {
    req.header("accept-encoding").is_some_and(|h| {
        h.split(',').any(|part| {
            let mut it = part.split(';').map(str::trim);
            let coding = it.next().unwrap_or("");
            let refused = it.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f64>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
    })
}

fn serve(_ctx: &Ctx, req: &Request) -> Result<Response> {
    ASSETS.with(|a| serve_assets(a.get(), req))
}

/// `rel`'s asset, or `rel/index.html` (a folder, or the root).
fn find<'a>(assets: &'a [Asset], rel: &str) -> Option<&'a Asset> {
    let lookup = |p: &str| {
        assets
            .binary_search_by(|a| a.path.cmp(p))
            .ok()
            .map(|i| &assets[i])
    };
    let dir = rel.trim_end_matches('/');
    if !rel.is_empty() && !rel.ends_with('/') {
        if let Some(a) = lookup(rel) {
            return Some(a);
        }
    }
    if dir.is_empty() {
        lookup("index.html")
    } else {
        lookup(&format!("{dir}/index.html"))
    }
}

/// The response carrying `asset` (status 200, or 404 for the 404 page):
/// its gzip form when it has one and the client accepts it; otherwise its
/// plain form, inflated from the gzip one when only that is kept.
fn respond(asset: &Asset, req: &Request, status: u16) -> Result<Response> {
    let gzip = asset.gzip.filter(|_| accepts_gzip(req));
    // A gzip body is another representation: another strong tag.
    let tag = if gzip.is_some() {
        format!("{}-gz\"", asset.etag.trim_end_matches('"'))
    } else {
        asset.etag.to_string()
    };
    let cache = if status == 200 {
        cache_control(asset.path)
    } else {
        "no-cache"
    };
    let mut resp = Response::new(status)
        .with_header("Content-Type", content_type(asset.path))
        .with_header("ETag", &tag)
        .with_header("Cache-Control", cache);
    if asset.gzip.is_some() {
        resp = resp.with_header("Vary", "Accept-Encoding");
    }
    if status == 200
        && req
            .header("if-none-match")
            .is_some_and(|h| none_match(h, &tag))
    {
        resp.status = 304;
        resp.headers.retain(|(k, _)| k != "Content-Type");
        return Ok(resp);
    }
    let body = match (gzip, asset.plain, asset.gzip) {
        (Some(gz), _, _) => {
            resp = resp.with_header("Content-Encoding", "gzip");
            gz.to_vec()
        }
        (None, Some(plain), _) => plain.to_vec(),
        (None, None, Some(gz)) => inflate(gz)?,
        (None, None, None) => {
            return Err(Error::internal(format!("{} is packed empty", asset.path)))
        }
    };
    Ok(resp.with_body(body))
}

/// The plain form of a gzip-only asset, for a client that refuses gzip.
fn inflate(gz: &[u8]) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::with_capacity(gz.len() * 4);
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut out)
        .map_err(|e| Error::internal(format!("an embedded asset does not inflate: {e}")))?;
    Ok(out)
}

/// Serve `req` from `assets` (sorted by path, as the build script and
/// [`pack::pack_dir`] make them).
pub fn serve_assets(assets: &[Asset], req: &Request) -> Result<Response> {
    let rel = match resolve(&req.path) {
        Ok(rel) => rel,
        Err(PathError::Forbidden(why)) => return Err(Error::bad_request("invalid_path", why)),
    };
    match find(assets, &rel) {
        Some(asset) => respond(asset, req, 200),
        None => not_found(assets, req),
    }
}

/// API paths and non-browser clients get the JSON 404; browsers get 404.html.
fn not_found(assets: &[Asset], req: &Request) -> Result<Response> {
    let wants_html = req
        .header("accept")
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && !req.path.starts_with("/api/") {
        if let Some(page) = find(assets, "404.html") {
            return respond(page, req, 404);
        }
    }
    Err(Error::not_found(format!("nothing at {}", req.path)))
}
