//! What every response carries: the request id and the security headers.

use super::{Request, Response};
use crate::ports::{ids, Clock, Ids};

/// The Content-Security-Policy of every response: same-origin everything,
/// no inline script, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Security headers added to every response (unless a handler set its own).
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("Content-Security-Policy", CSP),
    (
        "Strict-Transport-Security",
        "max-age=63072000; includeSubDomains",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    (
        "Permissions-Policy",
        "camera=(), microphone=(), geolocation=(), payment=()",
    ),
];

/// The request's id: the client's `X-Request-ID` when it is a sane token
/// (1 to 128 characters of letters, digits, `-`, `_`, `.`, `:`), otherwise a
/// new id, so logs can never be polluted through this header.
pub fn request_id(req: &Request, clock: &dyn Clock, rng: &dyn Ids) -> String {
    if let Some(given) = req.header("x-request-id") {
        let sane = !given.is_empty()
            && given.len() <= 128
            && given
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if sane {
            return given.to_string();
        }
    }
    ids::new_id("req_", clock.now_ms(), rng).unwrap_or_else(|_| format!("req_{}", clock.now_ms()))
}

/// Add the request id, the security headers and a default `Cache-Control`
/// (`no-store`: API answers are never cached unless a handler says so).
pub fn decorate(resp: &mut Response, request_id: &str) {
    resp.headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("x-request-id"));
    resp.headers
        .push(("X-Request-ID".to_string(), request_id.to_string()));
    for (name, value) in SECURITY_HEADERS {
        resp.set_default_header(name, value);
    }
    resp.set_default_header("Cache-Control", "no-store");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;
    use crate::ports::{OsRandom, SystemClock};

    #[test]
    fn echoes_sane_ids_and_replaces_others() {
        let clock = SystemClock::new();
        let r = Request::new(Method::Get, "/").with_header("x-request-id", "abc-123_x.y:z");
        assert_eq!(request_id(&r, &clock, &OsRandom), "abc-123_x.y:z");
        for bad in ["", "has space", "new\nline", &"x".repeat(129), "<script>"] {
            let r = Request::new(Method::Get, "/").with_header("x-request-id", bad);
            let id = request_id(&r, &clock, &OsRandom);
            assert!(id.starts_with("req_") && id != bad, "{bad:?} -> {id}");
        }
    }

    #[test]
    fn decorate_adds_every_header_once() {
        let mut r = Response::new(200).with_header("x-request-id", "spoofed");
        decorate(&mut r, "req_1");
        assert_eq!(r.header("X-Request-ID"), Some("req_1"));
        assert_eq!(
            r.headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("x-request-id"))
                .count(),
            1
        );
        for (name, _) in SECURITY_HEADERS {
            assert!(r.header(name).is_some(), "{name}");
        }
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
}
