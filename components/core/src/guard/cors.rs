//! CORS: browsers on the origins in `cors_allowed_origins` may call the
//! API; everyone else gets no CORS headers (so browsers refuse the answer).

use crate::config;
use crate::error::Result;
use crate::http::{Request, Response};
use crate::ports::Env;

/// Headers a cross-origin caller may send.
pub const ALLOWED_HEADERS: &str =
    "authorization, content-type, idempotency-key, x-request-id, x-csrf-token, x-tenant-id, x-api-key, x-dash-key";
/// Headers a cross-origin caller may read.
pub const EXPOSED_HEADERS: &str = "x-request-id, retry-after, location, idempotent-replayed, x-ratelimit-limit, \
x-ratelimit-remaining, x-ratelimit-reset, x-quota-daily-limit, x-quota-daily-remaining, x-quota-monthly-limit, \
x-quota-monthly-remaining, x-quota-reset";

/// The request's `Origin` if it is on the allow-list.
pub fn allowed_origin(env: &Env, req: &Request) -> Result<Option<String>> {
    let Some(origin) = req.header("origin") else {
        return Ok(None);
    };
    let list = config::text(env.config.as_ref(), "cors_allowed_origins")?.unwrap_or_default();
    Ok(list
        .split(',')
        .map(|o| o.trim().trim_end_matches('/'))
        .any(|o| !o.is_empty() && o == origin)
        .then(|| origin.to_string()))
}

/// Whether `req` is a CORS preflight.
pub fn is_preflight(req: &Request) -> bool {
    req.method == crate::http::Method::Options
        && req.header("access-control-request-method").is_some()
}

/// Add the CORS headers for an allowed origin.
pub fn decorate(resp: &mut Response, origin: Option<&str>, preflight_allow: Option<&str>) {
    let Some(origin) = origin else { return };
    resp.headers
        .push(("Access-Control-Allow-Origin".into(), origin.into()));
    resp.headers.push(("Vary".into(), "Origin".into()));
    match preflight_allow {
        Some(methods) => {
            resp.headers
                .push(("Access-Control-Allow-Methods".into(), methods.into()));
            resp.headers.push((
                "Access-Control-Allow-Headers".into(),
                ALLOWED_HEADERS.into(),
            ));
            resp.headers
                .push(("Access-Control-Max-Age".into(), "600".into()));
        }
        None => resp.headers.push((
            "Access-Control-Expose-Headers".into(),
            EXPOSED_HEADERS.into(),
        )),
    }
}
