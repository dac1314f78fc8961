//! The static-files component (`/...`): content types, ETags, caching,
//! the index page, 404s and path traversal.

use anyhow::Result;
use echopilot_e2e::check;
use echopilot_e2e::scenario::{Env, Scenario};

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new("static_content_types_and_index", content_types),
    Scenario::new("static_etag_revalidation", etags),
    Scenario::new("static_gzip_for_clients_that_accept_it", gzip),
    Scenario::new("static_not_found_html_and_json", not_found),
    Scenario::new("static_traversal_is_refused", traversal),
];

fn content_types(env: &Env) -> Result<()> {
    let app = env.app()?;
    for (path, ty) in [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/css/base.css", "text/css; charset=utf-8"),
        ("/js/app.js", "text/javascript; charset=utf-8"),
        ("/app/", "text/html; charset=utf-8"),
        ("/i18n/ur.json", "application/json"),
        ("/icons/icon-192.png", "image/png"),
        ("/icons/icon.svg", "image/svg+xml"),
        ("/manifest.webmanifest", "application/manifest+json"),
    ] {
        let r = app.get(path).send()?;
        check!(r.status == 200, "{path}: {}", r.status);
        check!(
            r.header("content-type") == Some(ty),
            "{path}: {:?}",
            r.header("content-type")
        );
        check!(!r.body.is_empty(), "{path}: empty body");
        check!(
            r.header("cache-control") == Some("no-cache"),
            "{path}: {:?}",
            r.header("cache-control")
        );
    }
    let index = app.get("/").send()?;
    let file = app.get("/index.html").send()?;
    check!(index.body == file.body, "/ does not serve index.html");
    let on_disk = std::fs::read(env.root().join("static/index.html"))?;
    if app.is_isolated() {
        check!(index.body == on_disk, "/ differs from static/index.html");
    }
    Ok(())
}

fn etags(env: &Env) -> Result<()> {
    let app = env.app()?;
    let first = app.get("/css/base.css").send()?;
    let tag = first.header("etag").map(str::to_string);
    let Some(tag) = tag else {
        anyhow::bail!("no ETag on /css/base.css")
    };
    check!(
        tag.starts_with('"') && tag.ends_with('"'),
        "not a strong ETag: {tag}"
    );
    let again = app
        .get("/css/base.css")
        .header("If-None-Match", &tag)
        .send()?;
    check!(again.status == 304, "If-None-Match: {}", again.status);
    check!(again.body.is_empty(), "304 with a body");
    check!(
        again.header("etag") == Some(tag.as_str()),
        "304 ETag: {:?}",
        again.header("etag")
    );
    check!(
        again.header("cache-control") == Some("no-cache"),
        "304 cache-control"
    );
    let weak = app
        .get("/css/base.css")
        .header("If-None-Match", &format!("W/{tag}"))
        .send()?;
    check!(weak.status == 304, "weak If-None-Match: {}", weak.status);
    let other = app
        .get("/css/base.css")
        .header("If-None-Match", "\"nope\"")
        .send()?;
    check!(other.status == 200, "stale tag: {}", other.status);
    Ok(())
}

/// Text is stored gzip-compressed at build time: a client that accepts gzip
/// gets those bytes (with `Vary` and a tag of their own), any other client
/// the file as it is: kept beside the gzip form for a small file, inflated
/// from it for a larger one (served by static-assets).
fn gzip(env: &Env) -> Result<()> {
    let app = env.app()?;
    for path in ["/js/app.js", "/js/views/workflow-editor.js"] {
        gzip_of(&app, path)?;
    }
    Ok(())
}

fn gzip_of(app: &echopilot_e2e::scenario::App, path: &str) -> Result<()> {
    use std::io::Read as _;
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../static{path}"));
    let plain = app.get(path).send()?;
    check!(
        plain.body == std::fs::read(&file)?,
        "{path}: the plain body is not the file"
    );
    check!(plain.status == 200, "{path} plain: {}", plain.status);
    check!(
        plain.header("content-encoding").is_none(),
        "gzip without Accept-Encoding"
    );
    let packed = app
        .get(path)
        .header("Accept-Encoding", "br, gzip;q=0.8")
        .send()?;
    check!(packed.status == 200, "gzip: {}", packed.status);
    check!(
        packed.header("content-encoding") == Some("gzip"),
        "content-encoding: {:?}",
        packed.header("content-encoding")
    );
    check!(
        packed.header("vary") == Some("Accept-Encoding"),
        "vary: {:?}",
        packed.header("vary")
    );
    check!(
        packed.body.len() < plain.body.len(),
        "gzip is not smaller: {} vs {}",
        packed.body.len(),
        plain.body.len()
    );
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(packed.body.as_slice()).read_to_end(&mut unpacked)?;
    check!(unpacked == plain.body, "gzip body differs from the file");
    let (Some(tag), Some(gz_tag)) = (plain.header("etag"), packed.header("etag")) else {
        anyhow::bail!("an ETag is missing")
    };
    check!(tag != gz_tag, "one ETag for two representations");
    let again = app
        .get(path)
        .header("Accept-Encoding", "gzip")
        .header("If-None-Match", gz_tag)
        .send()?;
    check!(again.status == 304, "gzip revalidation: {}", again.status);
    let refused = app.get(path).header("Accept-Encoding", "gzip;q=0").send()?;
    check!(
        refused.header("content-encoding").is_none() && refused.body == plain.body,
        "gzip;q=0 still got gzip"
    );
    Ok(())
}

fn not_found(env: &Env) -> Result<()> {
    let app = env.app()?;
    let page = app
        .get("/no-such-page")
        .header("Accept", "text/html,application/xhtml+xml")
        .send()?;
    check!(page.status == 404, "html 404: {}", page.status);
    check!(
        page.header("content-type") == Some("text/html; charset=utf-8"),
        "html 404 type"
    );
    check!(
        page.text().contains("Page not found"),
        "404.html not served: {}",
        page.text()
    );
    let api = app
        .get("/api/no-such-thing")
        .header("Accept", "text/html")
        .send()?;
    check!(api.status == 404, "api 404: {}", api.status);
    check!(
        api.error_code().as_deref() == Some("not_found"),
        "api 404 body: {}",
        api.text()
    );
    let plain = app.get("/no-such-page").send()?;
    check!(
        plain.status == 404 && plain.error_code().as_deref() == Some("not_found"),
        "non-browser 404: {}",
        plain.text()
    );
    Ok(())
}

fn traversal(env: &Env) -> Result<()> {
    let app = env.app()?;
    for target in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/..%2fCargo.toml",
        "//etc/passwd",
        "/static/../../Cargo.toml",
    ] {
        // Raw bytes over TCP: no client library gets to normalise the path.
        let raw = format!(
            "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            app.base_url().trim_start_matches("http://")
        );
        let r = app.client.raw(raw.as_bytes())?;
        check!(r.status == 400, "{target}: {} {}", r.status, r.text());
        check!(
            r.error_code().as_deref() == Some("invalid_path"),
            "{target}: {}",
            r.text()
        );
        check!(!r.text().contains("[workspace]"), "{target} leaked a file");
    }
    Ok(())
}
