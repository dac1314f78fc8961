//! The request pipeline every HTTP component shares.
//!
//! A component is an [`App`]: a name and its routes. For each request:
//! request id → CORS preflight → route (404/405) → the edge (a public read
//! answered from the edge cache, or one that needs no data: see
//! [`Edge`]) → the guard (rate limits,
//! credential, permission table, CSRF, tenant scope, partner quota; all
//! before any body is read) → demo mode's write refusal → body limit (413) → input screening → handler →
//! error envelope (in the caller's `Accept-Language`) → request id,
//! security, rate-limit and CORS headers. The
//! Spin adapter reads the body between [`begin`] and [`finish`], only as far
//! as the route's limit.

use crate::error::{Error, Kind};
use crate::guard::{self, cors, Admission};
use crate::http::router::{self, Edge, Handler, Params, Route};
use crate::http::{security, Method, Request, Response};
use crate::identity::Principal;
use crate::ports::Env;
use crate::telemetry::{self, Sample};
use crate::tenancy::Scope;

/// An HTTP component: its name (as in spin.toml) and its routes.
pub struct App {
    /// The component id in spin.toml.
    pub component: &'static str,
    /// Its routes; each must also be in [`crate::access::POLICY`].
    pub routes: &'static [Route],
    /// Serves public, storage-free content (static files): no credentials
    /// are read and no rate limits kept, since it has no database.
    pub stateless: bool,
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
    /// Which tenants it may touch.
    pub scope: Scope,
    /// The client's address (the peer, or what a trusted proxy forwarded).
    pub client: String,
    /// The component serving the request.
    pub component: &'static str,
    /// The matched route pattern (for logs and metrics).
    pub route: &'static str,
}

impl Ctx<'_> {
    /// Refuse (403 `not_your_email`) unless `email` is the signed-in
    /// user's own, or the caller is an operator (by role, not by an API
    /// key) acting for a customer.
    pub fn require_customer(&self, email: &str) -> crate::Result<()> {
        use crate::identity::{users, Credential, Role};
        let operator = self.principal.role.is_some_and(|r| r >= Role::Operator)
            && !matches!(self.principal.credential, Credential::ApiKey { .. });
        let own = match &self.principal.credential {
            Credential::User { user_id, .. } => {
                let scope = crate::tenancy::Scope::Tenant(self.principal.tenant.clone());
                Some(users::get(self.env, &scope, user_id)?.email)
            }
            _ => None,
        };
        if operator || own.is_some_and(|o| o.eq_ignore_ascii_case(email)) {
            return Ok(());
        }
        Err(crate::Error::new(
            crate::error::Kind::Forbidden,
            "not_your_email",
            "customers act for their own email only; operators for anyone's",
        ))
    }

    /// The one tenant a write acts for: the scope's, or for the platform's
    /// admins (whose scope is every tenant) their own.
    pub fn acting_tenant(&self) -> crate::tenancy::TenantId {
        match &self.scope {
            crate::tenancy::Scope::Tenant(t) => t.clone(),
            crate::tenancy::Scope::All => self.principal.tenant.clone(),
        }
    }

    /// Refuse (403 `platform_only`) principals outside the default tenant,
    /// for resources that describe the whole platform (`what`, e.g.
    /// "incidents"). Schedulers pass.
    pub fn require_platform(&self, what: &str) -> crate::Result<()> {
        crate::tenancy::require_platform(
            &self.principal,
            &format!("{what} are platform-wide: only operators of the default tenant may use them"),
        )
    }
}

/// A request that passed routing and the guard, waiting for its body.
pub struct Pending {
    route: Route,
    params: Params,
    admission: Admission,
    request_id: String,
    origin: Option<String>,
    /// Served at the edge (a storage-free component or an [`Edge::Free`]
    /// route): not screened, not recorded.
    at_edge: bool,
}

/// The telemetry sample of a request answered before routing or admission
/// completed (no route, no tenant yet).
fn early_sample(
    app: &App,
    head: &Request,
    request_id: &str,
    route: Option<&'static str>,
    status: u16,
) -> Sample {
    Sample {
        component: app.component,
        route: route.unwrap_or(telemetry::UNMATCHED),
        method: head.method,
        status,
        tenant: telemetry::NO_TENANT.into(),
        request_id: request_id.into(),
    }
}

/// The tenant a request acted in, for telemetry.
fn sample_tenant(admission: &Admission) -> String {
    match &admission.scope {
        Scope::Tenant(t) => t.as_str().to_string(),
        Scope::All => admission.principal.tenant.as_str().to_string(),
    }
}

impl Pending {
    /// How many body bytes to read at most; one more means "too large".
    pub fn body_limit(&self) -> usize {
        self.route.body_limit
    }
}

/// The outcome of [`begin`].
pub enum Begin {
    /// Answer now (404, 405, 401, 403, 429, OPTIONS, an edge-cache hit)
    /// without reading the body; record the sample, if any, once it is sent.
    Respond(Response, Option<Sample>),
    /// Read the body (up to [`Pending::body_limit`]) and call [`finish`].
    Continue(Box<Pending>),
}

fn origin_of(env: &Env, head: &Request) -> Option<String> {
    cors::allowed_origin(env, head).unwrap_or_else(|e| {
        crate::log::error("cors", &e.to_string());
        None
    })
}

/// Route and admit a request whose body has not been read yet.
pub fn begin(app: &App, env: &Env, head: &Request) -> Begin {
    let request_id = security::request_id(head, env.clock.as_ref(), env.ids.as_ref());
    let origin = if head.header("origin").is_some() {
        origin_of(env, head)
    } else {
        None
    };
    let found = router::find(app.routes, head.method, &head.path);
    if head.method == Method::Options {
        if let Err(e) = &found {
            if e.kind == Kind::MethodNotAllowed {
                let allow = e.allow.clone().unwrap_or_default();
                let mut resp = Response::new(204).with_header("Allow", &allow);
                let preflight = cors::is_preflight(head).then_some(allow.as_str());
                cors::decorate(&mut resp, origin.as_deref(), preflight);
                security::decorate(&mut resp, &request_id);
                let sample = early_sample(app, head, &request_id, None, resp.status);
                return Begin::Respond(resp, (!app.stateless).then_some(sample));
            }
        }
    }
    let matched = found.as_ref().ok().map(|(r, _)| r.pattern);
    if let Ok((route, _)) = &found {
        if let Some(mut resp) = edge_hit(env, route, head) {
            cors::decorate(&mut resp, origin.as_deref(), None);
            security::decorate(&mut resp, &request_id);
            if head.method == Method::Head {
                resp.body.clear();
            }
            return Begin::Respond(resp, None);
        }
    }
    let step = found.and_then(|(route, params)| {
        let at_edge = at_edge(app, route, head);
        let admission = if at_edge {
            Admission {
                principal: Principal::anonymous(),
                scope: Scope::Tenant(crate::tenancy::TenantId::default_tenant()),
                headers: Vec::new(),
                // Not resolved at the edge (no configuration read): nothing
                // served there is audited.
                client: String::new(),
            }
        } else {
            let admission = guard::admit(env, head.method, route.pattern, head, &request_id)?;
            crate::demo::refuse_writes(env, head.method, route.pattern, &admission.principal)?;
            admission
        };
        Ok((*route, params, admission, at_edge))
    });
    match step {
        Ok((route, params, admission, at_edge)) => Begin::Continue(Box::new(Pending {
            route,
            params,
            admission,
            request_id,
            origin,
            at_edge,
        })),
        Err(e) => {
            let resp = render_error(app, env, &e, &request_id, head, origin.as_deref(), &[]);
            let sample = early_sample(app, head, &request_id, matched, resp.status);
            Begin::Respond(resp, (!app.stateless).then_some(sample))
        }
    }
}

/// Whether `head` is served at the edge: on a storage-free component, or
/// on an [`Edge::Free`] route by a caller without a credential.
fn at_edge(app: &App, route: &Route, head: &Request) -> bool {
    app.stateless || (route.edge == Edge::Free && !guard::presents_credential(head))
}

/// The edge-cache answer to `head`, if its route is [`Edge::Cached`], the
/// caller presents no credential and a young enough answer is kept.
fn edge_hit(env: &Env, route: &Route, head: &Request) -> Option<Response> {
    match route.edge {
        Edge::Cached(max_age_ms)
            if matches!(head.method, Method::Get | Method::Head)
                && !guard::presents_credential(head) =>
        {
            crate::cache::lookup(env, head, max_age_ms)
        }
        _ => None,
    }
}

/// Run the handler for a request whose body has been read; record the
/// sample (none for an answer at the edge) once the response is sent.
pub async fn finish(
    app: &App,
    env: &Env,
    pending: Box<Pending>,
    req: Request,
) -> (Response, Option<Sample>) {
    let mut sample = (!pending.at_edge).then(|| Sample {
        component: app.component,
        route: pending.route.pattern,
        method: req.method,
        status: 0,
        tenant: sample_tenant(&pending.admission),
        request_id: pending.request_id.clone(),
    });
    let resp = handle(app, env, pending, req).await;
    if let Some(sample) = &mut sample {
        sample.status = resp.status;
    }
    (resp, sample)
}

async fn handle(app: &App, env: &Env, pending: Box<Pending>, req: Request) -> Response {
    let Pending {
        route,
        params,
        admission,
        request_id,
        origin,
        at_edge,
    } = *pending;
    let extra = admission.headers.clone();
    // Refusals after admission: a body over the route's limit, then
    // screened input.
    let refused = if req.body_too_large {
        Err(Error::new(
            Kind::PayloadTooLarge,
            "payload_too_large",
            format!(
                "the request body is larger than this endpoint's limit of {} bytes",
                route.body_limit
            ),
        ))
    } else if at_edge {
        Ok(())
    } else {
        let named: Vec<(&str, &str)> = params.iter().collect();
        if route.signed_body {
            let head = req.clone_head();
            guard::screen(env, &head, &named, &admission.principal, &request_id)
        } else {
            guard::screen(env, &req, &named, &admission.principal, &request_id)
        }
    };
    if let Err(e) = refused {
        return render_error(app, env, &e, &request_id, &req, origin.as_deref(), &extra);
    }
    let ctx = Ctx {
        env,
        request_id,
        params,
        principal: admission.principal,
        scope: admission.scope,
        client: admission.client,
        component: app.component,
        route: route.pattern,
    };
    let result = match route.handler {
        Handler::Sync(f) => f(&ctx, &req),
        Handler::Async(f) => f(&ctx, &req).await,
    };
    match result {
        Ok(mut resp) => {
            if let Edge::Cached(max_age_ms) = route.edge {
                if matches!(req.method, Method::Get | Method::Head) {
                    crate::cache::store(env, &req, &mut resp, max_age_ms);
                }
            }
            resp.headers.extend(extra);
            cors::decorate(&mut resp, origin.as_deref(), None);
            security::decorate(&mut resp, &ctx.request_id);
            if req.method == Method::Head {
                resp.body.clear();
            }
            resp
        }
        Err(e) => render_error(
            app,
            env,
            &e,
            &ctx.request_id,
            &req,
            origin.as_deref(),
            &extra,
        ),
    }
}

/// [`begin`] and [`finish`] for a request whose body is already in memory
/// (native tests, internal calls). Applies the route's body limit too, and
/// records the request before returning.
pub async fn serve(app: &App, env: &Env, mut req: Request) -> Response {
    let started = env.clock.monotonic_ms();
    let (resp, sample) = match begin(app, env, &req) {
        Begin::Respond(resp, sample) => (resp, sample),
        Begin::Continue(pending) => {
            if req.body.len() > pending.body_limit() {
                req.body_too_large = true;
                req.body.truncate(pending.body_limit());
            }
            finish(app, env, pending, req).await
        }
    };
    if let Some(sample) = &sample {
        record(app, env, sample, started);
    }
    resp
}

/// Record a served request (started at monotonic `started_ms`) unless
/// telemetry is off. A failure is logged, never returned: the response has
/// been sent. Answers at the edge have no sample to record.
pub fn record(app: &App, env: &Env, sample: &Sample, started_ms: f64) {
    if !telemetry::enabled(env) {
        return;
    }
    let latency_us = ((env.clock.monotonic_ms() - started_ms) * 1000.0).round() as i64;
    if let Err(e) = telemetry::record(env, sample, latency_us) {
        crate::log::warn(
            app.component,
            &format!("request {}: telemetry not recorded: {e}", sample.request_id),
        );
    }
}

/// The error envelope for `req`, in the language its `Accept-Language` asks for.
fn render_error(
    app: &App,
    env: &Env,
    e: &Error,
    request_id: &str,
    req: &Request,
    origin: Option<&str>,
    extra: &[(String, String)],
) -> Response {
    if matches!(e.kind, Kind::Internal | Kind::Unavailable) {
        let level = if e.kind == Kind::Internal {
            crate::events::Level::Error
        } else {
            crate::events::Level::Warn
        };
        let event = crate::events::Event::new(level, app.component, "request", &e.message)
            .request(request_id)
            .fields(serde_json::json!({ "code": e.code }));
        crate::events::emit(env, &event);
    }
    let lang = crate::i18n::Lang::negotiate(req.header("accept-language"));
    let mut resp = Response::error_in(e, lang);
    if e.headers.is_empty() {
        resp.headers.extend(extra.iter().cloned());
    }
    cors::decorate(&mut resp, origin, None);
    security::decorate(&mut resp, request_id);
    if req.method == Method::Head {
        resp.body.clear();
    }
    resp
}
