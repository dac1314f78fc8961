//! The request pipeline every HTTP component shares.
//!
//! A component is an [`App`]: a name and its routes. For each request:
//! request id → route (404/405) → access policy (401/403, before any body
//! is read) → body limit (413) → handler → error envelope → request id and
//! security headers. The Spin adapter reads the body between [`begin`] and
//! [`finish`], only as far as the route's limit.

use crate::access::{self, Principal};
use crate::error::{Error, Kind};
use crate::http::router::{self, Handler, Params, Route};
use crate::http::{security, Method, Request, Response};
use crate::ports::Env;

/// An HTTP component: its name (as in spin.toml) and its routes.
pub struct App {
    /// The component id in spin.toml.
    pub component: &'static str,
    /// Its routes; each must also be in [`crate::access::POLICY`].
    pub routes: &'static [Route],
}

/// What a handler gets besides the request.
pub struct Ctx<'a> {
    /// The ports.
    pub env: &'a Env,
    /// This request's id (also in the `X-Request-ID` response header).
    pub request_id: String,
    /// Path parameters.
    pub params: Params,
    /// Who is calling.
    pub principal: Principal,
    /// The component serving the request.
    pub component: &'static str,
    /// The matched route pattern (for logs and metrics).
    pub route: &'static str,
}

/// A request that passed routing and access, waiting for its body.
pub struct Pending {
    route: Route,
    params: Params,
    principal: Principal,
    request_id: String,
}

impl Pending {
    /// How many body bytes to read at most; one more means "too large".
    pub fn body_limit(&self) -> usize {
        self.route.body_limit
    }
}

/// The outcome of [`begin`].
pub enum Begin {
    /// Answer now (404, 405, 401, 403, OPTIONS) without reading the body.
    Respond(Response),
    /// Read the body (up to [`Pending::body_limit`]) and call [`finish`].
    Continue(Pending),
}

/// Route and authorise a request whose body has not been read yet.
pub fn begin(app: &App, env: &Env, head: &Request) -> Begin {
    let request_id = security::request_id(head, env.clock.as_ref(), env.ids.as_ref());
    let step = router::find(app.routes, head.method, &head.path).and_then(|(route, params)| {
        let principal = access::authorize(env, head.method, route.pattern, head)?;
        Ok((*route, params, principal))
    });
    match step {
        Ok((route, params, principal)) => Begin::Continue(Pending {
            route,
            params,
            principal,
            request_id,
        }),
        Err(e) if head.method == Method::Options && e.kind == Kind::MethodNotAllowed => {
            let mut resp =
                Response::new(204).with_header("Allow", e.allow.as_deref().unwrap_or(""));
            security::decorate(&mut resp, &request_id);
            Begin::Respond(resp)
        }
        Err(e) => Begin::Respond(render_error(app, &e, &request_id, head.method)),
    }
}

/// Run the handler for a request whose body has been read.
pub async fn finish(app: &App, env: &Env, pending: Pending, req: Request) -> Response {
    let Pending {
        route,
        params,
        principal,
        request_id,
    } = pending;
    if req.body_too_large {
        let e = Error::new(
            Kind::PayloadTooLarge,
            "payload_too_large",
            format!(
                "the request body is larger than this endpoint's limit of {} bytes",
                route.body_limit
            ),
        );
        return render_error(app, &e, &request_id, req.method);
    }
    let ctx = Ctx {
        env,
        request_id,
        params,
        principal,
        component: app.component,
        route: route.pattern,
    };
    let result = match route.handler {
        Handler::Sync(f) => f(&ctx, &req),
        Handler::Async(f) => f(&ctx, &req).await,
    };
    match result {
        Ok(mut resp) => {
            security::decorate(&mut resp, &ctx.request_id);
            if req.method == Method::Head {
                resp.body.clear();
            }
            resp
        }
        Err(e) => render_error(app, &e, &ctx.request_id, req.method),
    }
}

/// [`begin`] and [`finish`] for a request whose body is already in memory
/// (native tests, internal calls). Applies the route's body limit too.
pub async fn serve(app: &App, env: &Env, mut req: Request) -> Response {
    match begin(app, env, &req) {
        Begin::Respond(resp) => resp,
        Begin::Continue(pending) => {
            if req.body.len() > pending.body_limit() {
                req.body_too_large = true;
                req.body.truncate(pending.body_limit());
            }
            finish(app, env, pending, req).await
        }
    }
}

fn render_error(app: &App, e: &Error, request_id: &str, method: Method) -> Response {
    if e.kind == Kind::Internal {
        crate::log::error(
            app.component,
            &format!("request {request_id}: {}", e.message),
        );
    }
    let mut resp = Response::error(e);
    security::decorate(&mut resp, request_id);
    if method == Method::Head {
        resp.body.clear();
    }
    resp
}
