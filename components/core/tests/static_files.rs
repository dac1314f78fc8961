//! The static file server against the repository's real `static/`,
//! packed as the static-files component embeds it.

use echopilot_core::error::Result;
use echopilot_core::http::{Method, Request, Response};
use echopilot_core::static_files::{cache_control, pack, serve_assets, Asset};
use std::path::PathBuf;
use std::sync::OnceLock;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../static")
}

fn assets() -> &'static [Asset] {
    static ASSETS: OnceLock<Vec<Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        pack::pack_dir(&root())
            .unwrap()
            .into_iter()
            .map(Asset::leak)
            .collect()
    })
}

fn serve_from(_root: &std::path::Path, req: &Request) -> Result<Response> {
    serve_assets(assets(), req)
}

fn get(path: &str) -> Request {
    Request::new(Method::Get, path)
}

#[test]
fn serves_files_with_their_content_types() {
    for (path, ct) in [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/css/base.css", "text/css; charset=utf-8"),
        ("/js/app.js", "text/javascript; charset=utf-8"),
        ("/icons/icon.svg", "image/svg+xml"),
        ("/icons/icon-192.png", "image/png"),
        ("/i18n/en.json", "application/json"),
        ("/sw.js", "text/javascript; charset=utf-8"),
        ("/app/", "text/html; charset=utf-8"),
        ("/manifest.webmanifest", "application/manifest+json"),
    ] {
        let resp = serve_from(&root(), &get(path)).unwrap();
        assert_eq!(resp.status, 200, "{path}");
        assert_eq!(resp.header("content-type"), Some(ct), "{path}");
        assert!(resp.header("etag").unwrap().starts_with('"'));
        assert!(!resp.body.is_empty());
    }
    let index = serve_from(&root(), &get("/")).unwrap();
    // The landing page leads to the console.
    assert!(String::from_utf8_lossy(&index.body).contains("href=\"/app/\""));
    assert_eq!(index.header("cache-control"), Some("no-cache"));
}

#[test]
fn etag_revalidation_answers_304() {
    let first = serve_from(&root(), &get("/css/base.css")).unwrap();
    let tag = first.header("etag").unwrap().to_string();
    for inm in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"other\", {tag}"),
        "*".to_string(),
    ] {
        let resp = serve_from(
            &root(),
            &get("/css/base.css").with_header("if-none-match", &inm),
        )
        .unwrap();
        assert_eq!(resp.status, 304, "{inm}");
        assert!(resp.body.is_empty());
        assert_eq!(resp.header("etag"), Some(tag.as_str()));
    }
    let resp = serve_from(
        &root(),
        &get("/css/base.css").with_header("if-none-match", "\"stale\""),
    )
    .unwrap();
    assert_eq!(resp.status, 200);
}

#[test]
fn missing_files_get_the_404_page_or_json() {
    let err = serve_from(&root(), &get("/nope.html")).unwrap_err();
    assert_eq!(err.status(), 404);
    let page = serve_from(
        &root(),
        &get("/nope").with_header("accept", "text/html,*/*"),
    )
    .unwrap();
    assert_eq!(page.status, 404);
    assert!(String::from_utf8_lossy(&page.body).contains("Page not found"));
    let api = serve_from(
        &root(),
        &get("/api/nope").with_header("accept", "text/html"),
    );
    assert_eq!(api.unwrap_err().status(), 404);
}

#[test]
fn traversal_is_refused_with_400() {
    for path in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/..%2fCargo.toml",
        "//etc/passwd",
        "/.git/config",
    ] {
        let err = serve_from(&root(), &get(path)).unwrap_err();
        assert_eq!((err.status(), err.code), (400, "invalid_path"), "{path}");
    }
}

#[test]
fn fingerprinted_assets_are_immutable() {
    assert_eq!(
        cache_control("app.3f2a1b9c.js"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        cache_control("assets/app-3f2a1b9c0d.css"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(cache_control("app.js"), "no-cache");
    assert_eq!(cache_control("index.html"), "no-cache");
    assert_eq!(cache_control("deadbeef.js"), "no-cache");
}

#[test]
fn text_goes_out_gzipped_to_clients_that_accept_it_and_plain_to_others() {
    let plain = serve_from(&root(), &get("/index.html")).unwrap();
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
    let raw = std::fs::read(root().join("index.html")).unwrap();
    assert_eq!(plain.body, raw, "the file as is for a client without gzip");
    let gz = serve_from(
        &root(),
        &get("/index.html").with_header("accept-encoding", "br, gzip;q=0.8"),
    )
    .unwrap();
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert!(gz.body.len() < raw.len());
    assert_ne!(
        gz.header("etag"),
        plain.header("etag"),
        "two representations, two tags"
    );
    let mut back = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz.body[..]), &mut back).unwrap();
    assert_eq!(back, raw);
    // q=0 refuses gzip; the gzip tag revalidates the gzip form.
    let refused = serve_from(
        &root(),
        &get("/index.html").with_header("accept-encoding", "gzip;q=0"),
    )
    .unwrap();
    assert_eq!(refused.header("content-encoding"), None);
    let again = serve_from(
        &root(),
        &get("/index.html")
            .with_header("accept-encoding", "gzip")
            .with_header("if-none-match", gz.header("etag").unwrap()),
    )
    .unwrap();
    assert_eq!(again.status, 304);
}

/// Larger text is embedded in its gzip form only (what a component embeds,
/// every request pays for): a client that refuses gzip still gets the file
/// as is, inflated, with the same tag; small files keep both forms.
#[test]
fn larger_text_is_kept_gzipped_only_and_inflated_for_clients_without_gzip() {
    let packed = pack::pack_dir(&root()).unwrap();
    let large = packed
        .iter()
        .find(|p| p.path == "js/views/workflow-editor.js")
        .expect("the workflow editor's script is packed");
    let raw = std::fs::read(root().join(&large.path)).unwrap();
    assert!(raw.len() > pack::KEEP_PLAIN_MAX);
    assert_eq!((large.plain.is_none(), large.gzip.is_some()), (true, true));
    let url = format!("/{}", large.path);
    let plain = serve_from(&root(), &get(&url)).unwrap();
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body, raw, "inflated for a client without gzip");
    let gz = serve_from(&root(), &get(&url).with_header("accept-encoding", "gzip")).unwrap();
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.body, large.gzip.clone().unwrap());
    let small = packed
        .iter()
        .find(|p| p.path == "manifest.webmanifest")
        .expect("the manifest is packed");
    assert!(small
        .plain
        .as_ref()
        .is_some_and(|b| b.len() <= pack::KEEP_PLAIN_MAX));
    // Types that do not compress are kept as they are, whatever their size.
    let png = packed
        .iter()
        .find(|p| p.path == "icons/icon-512.png")
        .unwrap();
    assert_eq!((png.plain.is_some(), png.gzip.is_none()), (true, true));
}

/// The pages and what they load are served by two components: every file
/// belongs to exactly one, but the 404 page to both.
#[test]
fn every_file_belongs_to_one_static_component_and_the_404_page_to_both() {
    use pack::Part;
    for p in pack::pack_dir(&root()).unwrap() {
        let (pages, assets) = (Part::Pages.holds(&p.path), Part::Assets.holds(&p.path));
        if p.path == pack::NOT_FOUND_PAGE {
            assert!(pages && assets);
        } else {
            assert!(pages != assets, "{}", p.path);
        }
    }
    assert!(Part::Assets.holds("js/app.js") && Part::Assets.holds("i18n/en.json"));
    assert!(Part::Pages.holds("index.html") && Part::Pages.holds("app/index.html"));
    assert!(
        Part::Pages.holds("js") && !Part::Assets.holds("js"),
        "a file named like a folder"
    );
}
