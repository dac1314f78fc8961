//! Routes and path matching.
//!
//! A pattern is a path of literal segments, `{name}` segments (one non-empty
//! segment, percent-decoded) and an optional final `...` (the rest of the
//! path). When several routes match, the most specific wins: more literal
//! segments first, then fewer wildcards, as in Spin's own router.

use super::{Method, Request, Response, DEFAULT_BODY_LIMIT};
use crate::app::Ctx;
use crate::error::{Error, Kind, Result};
use futures::future::LocalBoxFuture;

/// A handler that needs no awaiting.
pub type SyncHandler = fn(&Ctx, &Request) -> Result<Response>;
/// A handler that awaits (outbound HTTP, concurrency).
pub type AsyncHandler =
    for<'a> fn(&'a Ctx<'a>, &'a Request) -> LocalBoxFuture<'a, Result<Response>>;

/// What a route runs.
#[derive(Clone, Copy)]
pub enum Handler {
    /// A plain function.
    Sync(SyncHandler),
    /// A function returning a future.
    Async(AsyncHandler),
}

/// One route of a component.
#[derive(Clone, Copy)]
pub struct Route {
    /// The method (GET routes also answer HEAD).
    pub method: Method,
    /// The path pattern, e.g. `/api/jobs/{id}`.
    pub pattern: &'static str,
    /// What runs.
    pub handler: Handler,
    /// The largest body this route reads; longer bodies get 413.
    pub body_limit: usize,
    /// Whether the pipeline may answer it before the guard.
    pub edge: Edge,
    /// The body is authenticated by a signature the handler verifies (a
    /// webhook): input screening skips it (its path and query are still
    /// screened), since refusing a signed third-party payload for a
    /// pattern in a customer's name would only make the sender retry.
    pub signed_body: bool,
}

/// How a public read may be answered at the edge: before the guard, without
/// a credential, a rate-limit charge or a telemetry sample, so without
/// opening SQLite (Spin makes a new connection per request, and SQLite
/// parses the whole schema on its first statement). Only for routes that are
/// public in [`crate::access::POLICY`] (a catalog test checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The full pipeline, always.
    None,
    /// Needs no data at all (a constant answer, like the build version):
    /// always answered at the edge, like a static file.
    Free,
    /// A read polled by many clients: a 200 answer is kept in the key-value
    /// store this many milliseconds ([`crate::cache`]) and served from
    /// there at the edge; a miss (or `Cache-Control: no-cache`) goes through
    /// the full pipeline and refreshes it.
    Cached(i64),
}

/// The routes of every table in `parts`, in order, as one array (`N` must
/// be the sum of their lengths), so a component can serve route tables that
/// live in different modules:
/// `const ALL: [Route; A.len() + B.len()] = concat(&[A, B]);`
pub const fn concat<const N: usize>(parts: &[&[Route]]) -> [Route; N] {
    let mut total = 0;
    let mut p = 0;
    while p < parts.len() {
        total += parts[p].len();
        p += 1;
    }
    assert!(total == N, "N must be the sum of the parts' lengths");
    assert!(N > 0, "nothing to concatenate");
    let mut first = 0;
    while parts[first].is_empty() {
        first += 1;
    }
    let mut out = [parts[first][0]; N];
    let (mut i, mut p) = (0, 0);
    while p < parts.len() {
        let mut j = 0;
        while j < parts[p].len() {
            out[i] = parts[p][j];
            i += 1;
            j += 1;
        }
        p += 1;
    }
    out
}

impl Route {
    const fn make(method: Method, pattern: &'static str, handler: Handler) -> Self {
        Route {
            method,
            pattern,
            handler,
            body_limit: DEFAULT_BODY_LIMIT,
            edge: Edge::None,
            signed_body: false,
        }
    }
    /// A GET (and HEAD) route.
    pub const fn get(pattern: &'static str, f: SyncHandler) -> Self {
        Self::make(Method::Get, pattern, Handler::Sync(f))
    }
    /// A POST route.
    pub const fn post(pattern: &'static str, f: SyncHandler) -> Self {
        Self::make(Method::Post, pattern, Handler::Sync(f))
    }
    /// A PUT route.
    pub const fn put(pattern: &'static str, f: SyncHandler) -> Self {
        Self::make(Method::Put, pattern, Handler::Sync(f))
    }
    /// A PATCH route.
    pub const fn patch(pattern: &'static str, f: SyncHandler) -> Self {
        Self::make(Method::Patch, pattern, Handler::Sync(f))
    }
    /// A DELETE route.
    pub const fn delete(pattern: &'static str, f: SyncHandler) -> Self {
        Self::make(Method::Delete, pattern, Handler::Sync(f))
    }
    /// A route with an async handler.
    pub const fn asynchronous(method: Method, pattern: &'static str, f: AsyncHandler) -> Self {
        Self::make(method, pattern, Handler::Async(f))
    }
    /// The same route with another body limit.
    pub const fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
    /// The same route, its body verified by the handler's signature check
    /// instead of screened ([`Route::signed_body`]).
    pub const fn signed_body(mut self) -> Self {
        self.signed_body = true;
        self
    }
    /// The same route, answered at the edge ([`Edge`]).
    pub const fn edge(mut self, edge: Edge) -> Self {
        self.edge = edge;
        self
    }
}

/// Values captured from the path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    named: Vec<(&'static str, String)>,
    /// What `...` matched, with a leading `/` (raw, not decoded).
    pub rest: Option<String>,
}

impl Params {
    /// The decoded value of `{name}`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.named
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every named value, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.named.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// The decoded value of `{name}`, or 400 if the route has none.
    pub fn require(&self, name: &str) -> Result<&str> {
        self.get(name).ok_or_else(|| {
            Error::bad_request(
                "missing_parameter",
                format!("missing path parameter `{name}`"),
            )
        })
    }
}

/// (literal segments, -params, -wildcard): larger is more specific.
type Specificity = (usize, isize, isize);

fn match_pattern(pattern: &'static str, path: &str) -> Option<(Params, Specificity)> {
    let mut params = Params::default();
    let pat: Vec<&'static str> = pattern.trim_start_matches('/').split('/').collect();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (mut literals, mut named) = (0usize, 0isize);
    for (i, p) in pat.iter().enumerate() {
        if *p == "..." && i == pat.len() - 1 {
            let rest = segs.get(i..).map(|r| r.join("/")).unwrap_or_default();
            params.rest = Some(format!("/{rest}"));
            return Some((params, (literals, -named, -1)));
        }
        let seg = segs.get(i)?;
        if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if seg.is_empty() {
                return None;
            }
            let value = super::request::percent_decode(seg)?;
            params.named.push((name, value));
            named += 1;
        } else if p == seg {
            literals += 1;
        } else {
            return None;
        }
    }
    (pat.len() == segs.len()).then_some((params, (literals, -named, 0)))
}

/// Find the route for `method` and `path`: 404 when no pattern matches the
/// path, 405 (with `Allow`) when patterns match but not for this method.
pub fn find<'r>(routes: &'r [Route], method: Method, path: &str) -> Result<(&'r Route, Params)> {
    let lookup = if method == Method::Head {
        Method::Get
    } else {
        method
    };
    let mut best: Option<(&Route, Params, Specificity)> = None;
    let mut allowed: Vec<&'static str> = Vec::new();
    for route in routes {
        let Some((params, spec)) = match_pattern(route.pattern, path) else {
            continue;
        };
        if !allowed.contains(&route.method.as_str()) {
            allowed.push(route.method.as_str());
            if route.method == Method::Get {
                allowed.push("HEAD");
            }
        }
        if route.method == lookup && best.as_ref().is_none_or(|(_, _, s)| spec > *s) {
            best = Some((route, params, spec));
        }
    }
    match best {
        Some((route, params, _)) => Ok((route, params)),
        None if allowed.is_empty() => Err(Error::not_found(format!("no route for {path}"))),
        None => {
            let mut e = Error::new(
                Kind::MethodNotAllowed,
                "method_not_allowed",
                format!(
                    "{} is not allowed on {path}; allowed: {}",
                    method.as_str(),
                    allowed.join(", ")
                ),
            );
            e.allow = Some(allowed.join(", "));
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(_: &Ctx, _: &Request) -> Result<Response> {
        Ok(Response::new(200))
    }

    const ROUTES: &[Route] = &[
        Route::get("/...", h),
        Route::get("/health", h),
        Route::get("/api/jobs/{id}", h),
        Route::post("/api/jobs/{id}/retry", h),
        Route::get("/api/jobs/stats", h),
        Route::get("/files/...", h),
    ];

    #[test]
    fn most_specific_route_wins() {
        let (r, _) = find(ROUTES, Method::Get, "/health").unwrap();
        assert_eq!(r.pattern, "/health");
        let (r, p) = find(ROUTES, Method::Get, "/api/jobs/job_1").unwrap();
        assert_eq!((r.pattern, p.get("id")), ("/api/jobs/{id}", Some("job_1")));
        let (r, _) = find(ROUTES, Method::Get, "/api/jobs/stats").unwrap();
        assert_eq!(r.pattern, "/api/jobs/stats");
        let (r, p) = find(ROUTES, Method::Get, "/files/a/b.css").unwrap();
        assert_eq!(
            (r.pattern, p.rest.as_deref()),
            ("/files/...", Some("/a/b.css"))
        );
        let (r, p) = find(ROUTES, Method::Get, "/").unwrap();
        assert_eq!((r.pattern, p.rest.as_deref()), ("/...", Some("/")));
    }

    #[test]
    fn params_are_decoded_and_never_empty() {
        let (_, p) = find(ROUTES, Method::Get, "/api/jobs/a%20b").unwrap();
        assert_eq!(p.get("id"), Some("a b"));
        let (r, _) = find(ROUTES, Method::Get, "/api/jobs/").unwrap();
        assert_eq!(r.pattern, "/...");
    }

    #[test]
    fn head_uses_get_routes_and_wrong_methods_get_405() {
        assert!(find(ROUTES, Method::Head, "/health").is_ok());
        const API: &[Route] = &[
            Route::post("/api/jobs/{id}/retry", h),
            Route::get("/api/jobs/{id}", h),
        ];
        let e = find(API, Method::Get, "/api/jobs/x/retry").err().unwrap();
        assert_eq!(e.status(), 405);
        assert_eq!(e.allow.as_deref(), Some("POST"));
        let e = find(ROUTES, Method::Delete, "/api/jobs/x/retry")
            .err()
            .unwrap();
        assert_eq!(e.allow.as_deref(), Some("GET, HEAD, POST"));
    }

    #[test]
    fn unmatched_paths_are_404() {
        const API: &[Route] = &[Route::get("/health", h)];
        assert_eq!(find(API, Method::Get, "/nope").err().unwrap().status(), 404);
        assert_eq!(
            find(API, Method::Get, "/health/extra")
                .err()
                .unwrap()
                .status(),
            404
        );
    }
}
