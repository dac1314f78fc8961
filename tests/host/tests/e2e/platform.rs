//! What every response carries, and request limits.

use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::scenario::{Env, Scenario};

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new(
        "every_response_has_request_id_and_security_headers",
        headers,
    ),
    Scenario::new("body_over_one_mib_is_413", too_large),
];

fn headers(env: &Env) -> Result<()> {
    let app = env.app()?;
    let token = app.cron_token.clone().unwrap_or_default();
    let responses = vec![
        ("GET /health", app.get("/health").send()?),
        ("GET /api/version", app.get("/api/version").send()?),
        ("GET /", app.get("/").send()?),
        ("GET /app.js", app.get("/app.js").send()?),
        ("GET /missing", app.get("/missing").send()?),
        (
            "POST /api/internal/cron/heartbeat (no auth)",
            app.post("/api/internal/cron/heartbeat").send()?,
        ),
        (
            "POST /api/internal/cron/nope",
            app.post("/api/internal/cron/nope").bearer(&token).send()?,
        ),
        ("DELETE /health", app.request("DELETE", "/health").send()?),
    ];
    for (what, r) in &responses {
        let id = r
            .header("x-request-id")
            .with_context(|| format!("{what}: no X-Request-ID"))?;
        check!(
            id.starts_with("req_") && id.len() > 8,
            "{what}: request id {id:?}"
        );
        check!(
            r.headers_named("x-request-id").len() == 1,
            "{what}: several request ids"
        );
        for (name, expect) in [
            ("x-content-type-options", Some("nosniff")),
            ("referrer-policy", Some("strict-origin-when-cross-origin")),
            ("x-frame-options", Some("DENY")),
            ("strict-transport-security", None),
            ("content-security-policy", None),
        ] {
            let v = r
                .header(name)
                .with_context(|| format!("{what}: no {name}"))?;
            if let Some(e) = expect {
                check!(v == e, "{what}: {name} = {v:?}");
            }
        }
        let csp = r.header("content-security-policy").unwrap_or_default();
        check!(
            csp.contains("frame-ancestors 'none'"),
            "{what}: CSP {csp:?}"
        );
    }
    let echoed = app
        .get("/health")
        .header("X-Request-ID", "abc-123_x.y:z")
        .send()?;
    check!(
        echoed.header("x-request-id") == Some("abc-123_x.y:z"),
        "echo: {:?}",
        echoed.header("x-request-id")
    );
    let replaced = app
        .get("/health")
        .header("X-Request-ID", "<script>")
        .send()?;
    check!(
        replaced
            .header("x-request-id")
            .is_some_and(|v| v.starts_with("req_")),
        "unsafe id kept"
    );
    Ok(())
}

fn too_large(env: &Env) -> Result<()> {
    let app = env.app()?;
    let token = app.cron_token.clone().context("no cron token")?;
    let big = vec![b'x'; 1024 * 1024 + 1];
    let r = app
        .post("/api/internal/cron/heartbeat")
        .bearer(&token)
        .body(big.clone())
        .send()?;
    check!(
        r.status == 413,
        "declared length: {} {}",
        r.status,
        r.text()
    );
    check!(
        r.error_code().as_deref() == Some("payload_too_large"),
        "{}",
        r.text()
    );
    // The same body chunked (no Content-Length): the guest counts as it reads.
    let mut raw = format!(
        "POST /api/internal/cron/heartbeat HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.base_url().trim_start_matches("http://")
    )
    .into_bytes();
    for chunk in big.chunks(64 * 1024) {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let r = app.client.raw(&raw)?;
    check!(r.status == 413, "chunked: {} {}", r.status, r.text());
    let small = app.get("/index.html").body(vec![b'y'; 1024]).send()?;
    check!(
        small.status == 200,
        "a small body is fine: {}",
        small.status
    );
    Ok(())
}
