//! The api-workflows component: workflows (CRUD, validation, the node
//! catalogue, templates), runs (start, debug, signed webhook, cancel,
//! restart from a node) and their live log (poll `GET /api/runs/{id}`).
//! Every read and write is scoped to the caller's tenant.

use super::engine::{self, Start};
use super::store::{self, Draft};
use super::{nodes, templates, webhook};
use crate::app::{App, Ctx};
use crate::audit::{self, Event};
use crate::error::{Error, Result};
use crate::http::{Request, Response, Route};
use crate::tenancy::{Scope, TenantId};
use serde_json::{json, Value};

/// A graph of 100 nodes with long prompts fits; more is refused (413).
pub const BODY_LIMIT: usize = 512 * 1024;

/// The api-workflows component.
pub const APP: App = App {
    component: "api-workflows",
    routes: &[
        Route::get("/api/workflows", list),
        Route::post("/api/workflows", create).body_limit(BODY_LIMIT),
        Route::get("/api/workflows/{id}", get),
        Route::put("/api/workflows/{id}", update).body_limit(BODY_LIMIT),
        Route::delete("/api/workflows/{id}", delete),
        Route::post("/api/workflows/{id}/run", run).body_limit(engine::MAX_INPUT_BYTES + 1024),
        Route::post("/api/workflows/{id}/trigger", trigger).body_limit(engine::MAX_INPUT_BYTES),
        Route::get("/api/workflows/{id}/runs", runs),
        Route::get("/api/runs/{id}", get_run),
        Route::post("/api/runs/{id}/cancel", cancel),
        Route::post("/api/runs/{id}/restart", restart),
        Route::get("/api/workflow-templates", list_templates),
        Route::get("/api/workflow-nodes", catalogue),
        Route::post("/api/workflow-checks", check).body_limit(BODY_LIMIT),
    ],
    stateless: false,
};

/// The tenant a request acts in.
fn tenant(ctx: &Ctx) -> TenantId {
    match &ctx.scope {
        Scope::Tenant(t) => t.clone(),
        Scope::All => ctx.principal.tenant.clone(),
    }
}

fn body(req: &Request) -> Result<Value> {
    if req.body.is_empty() {
        return Ok(json!({}));
    }
    req.json()
}

/// `GET /api/workflows`.
fn list(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let list: Vec<Value> = store::list(ctx.env, &ctx.scope)?
        .iter()
        .map(|w| {
            let mut v = w.view();
            if let Some(o) = v.as_object_mut() {
                o.remove("graph");
            }
            v
        })
        .collect();
    Ok(Response::ok(&json!({ "workflows": list })))
}

/// `POST /api/workflows`: `{name, description, graph}` or `{template}`.
/// The answer holds the webhook signing secret, shown only now.
fn create(ctx: &Ctx, req: &Request) -> Result<Response> {
    let draft = Draft::from_json(&req.json()?)?;
    let actor = ctx.principal.actor();
    let (wf, secret) = store::create(ctx.env, &tenant(ctx), &draft, &actor)?;
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "workflow.create").target(&wf.id),
    )?;
    let mut view = wf.view();
    view["webhook_secret"] = json!(secret);
    Ok(Response::data(201, &view))
}

/// `GET /api/workflows/{id}`.
fn get(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let wf = store::get(ctx.env, &ctx.scope, ctx.params.require("id")?)?;
    Ok(Response::ok(&wf.view()))
}

/// `PUT /api/workflows/{id}`: a new version; with `version` (the one the
/// change was based on), only if nobody saved since (409 otherwise).
fn update(ctx: &Ctx, req: &Request) -> Result<Response> {
    let id = ctx.params.require("id")?;
    let wf = store::get(ctx.env, &ctx.scope, id)?;
    let b: Value = req.json()?;
    let draft = Draft::from_json(&b)?;
    let expected = match b.get("version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().filter(|v| *v >= 1).ok_or_else(|| {
            Error::unprocessable(
                "invalid_version",
                "`version` is the version the change was based on: a whole number from 1",
            )
        })?),
    };
    let tenant = TenantId::parse(&wf.tenant_id)?;
    let wf = store::update(ctx.env, &tenant, id, &draft, expected)?;
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "workflow.update")
            .target(&wf.id)
            .detail(json!({ "version": wf.version })),
    )?;
    Ok(Response::ok(&wf.view()))
}

/// `DELETE /api/workflows/{id}`: running runs are cancelled.
fn delete(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let id = ctx.params.require("id")?;
    let wf = store::get(ctx.env, &ctx.scope, id)?;
    store::delete(ctx.env, &TenantId::parse(&wf.tenant_id)?, id)?;
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "workflow.delete").target(&wf.id),
    )?;
    Ok(Response::ok(&json!({ "id": wf.id, "deleted": true })))
}

/// `POST /api/workflows/{id}/run`: `{context, debug}` (or `?debug=true`).
/// Debug mode runs with the given (pinned) data, the simulated AI provider
/// and simulated integrations: nothing leaves the app.
fn run(ctx: &Ctx, req: &Request) -> Result<Response> {
    let wf = store::get(ctx.env, &ctx.scope, ctx.params.require("id")?)?;
    let b = body(req)?;
    let debug = match (b.get("debug"), req.query_param("debug").as_deref()) {
        (Some(Value::Bool(d)), _) => *d,
        (Some(_), _) => {
            return Err(Error::unprocessable(
                "invalid_debug",
                "`debug` is true or false",
            ))
        }
        (None, Some("true" | "1")) => true,
        (None, None | Some("false" | "0")) => false,
        (None, Some(_)) => {
            return Err(Error::unprocessable(
                "invalid_debug",
                "`debug` is true or false",
            ))
        }
    };
    let input = b.get("context").cloned().unwrap_or_else(|| json!({}));
    if !input.is_object() {
        return Err(Error::unprocessable(
            "invalid_context",
            "`context` is a JSON object: the trigger's data",
        ));
    }
    let run = engine::start(
        ctx.env,
        &wf,
        &Start {
            trigger: "manual",
            input,
            debug,
        },
    )?;
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "workflow.run")
            .target(&wf.id)
            .detail(json!({ "run_id": run.id, "debug": debug })),
    )?;
    Ok(Response::data(
        202,
        &run.view(&engine::steps(ctx.env, &run.id)?),
    ))
}

/// `POST /api/workflows/{id}/trigger`: a signed webhook delivery (see
/// [`webhook`]); the JSON body is the trigger's data. Anonymous: the
/// signature is the credential, and every failure is the same 401.
fn trigger(ctx: &Ctx, req: &Request) -> Result<Response> {
    let id = ctx.params.require("id")?;
    let unauthorized =
        || Error::unauthorized("the webhook signature is missing, invalid or expired");
    let (wf, secret) = store::webhook_secret(ctx.env, id)?.ok_or_else(unauthorized)?;
    let signature = webhook::verify(
        &secret,
        req.header(webhook::HEADER),
        &req.body,
        ctx.env.clock.now_ms(),
    )?;
    let graph = store::graph_at(ctx.env, &wf.tenant_id, &wf.id, wf.version)?;
    if graph.trigger().map(|t| t.kind()) != Some("webhook") {
        return Err(Error::conflict(
            "not_a_webhook_workflow",
            "this workflow's trigger is not a signed webhook",
        ));
    }
    let input: Value = req.json()?;
    if !input.is_object() {
        return Err(Error::unprocessable(
            "invalid_body",
            "the body is a JSON object",
        ));
    }
    webhook::remember(ctx.env, &wf.id, &signature)?;
    let run = engine::start(
        ctx.env,
        &wf,
        &Start {
            trigger: "webhook",
            input,
            debug: false,
        },
    )?;
    Ok(Response::data(
        202,
        &json!({ "run_id": run.id, "status": run.status }),
    ))
}

/// `GET /api/workflows/{id}/runs?limit=`.
fn runs(ctx: &Ctx, req: &Request) -> Result<Response> {
    let wf = store::get(ctx.env, &ctx.scope, ctx.params.require("id")?)?;
    let limit = match req.query_param("limit") {
        None => 20,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| Error::unprocessable("invalid_limit", "`limit` is 1 to 100"))?,
    };
    let list: Vec<Value> = engine::runs_of(ctx.env, &wf.id, limit)?
        .iter()
        .map(engine::Run::summary)
        .collect();
    Ok(Response::ok(&json!({ "runs": list })))
}

/// `GET /api/runs/{id}`: the run and each node's step (status, timing,
/// input, output, error, cost): the live log, polled while it runs.
fn get_run(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let run = engine::get_run(ctx.env, &ctx.scope, ctx.params.require("id")?)?;
    let steps = engine::steps(ctx.env, &run.id)?;
    let mut view = run.view(&steps);
    if !run.finished() {
        view["poll_after_ms"] = json!(1000);
    }
    Ok(Response::ok(&view))
}

/// `POST /api/runs/{id}/cancel`.
fn cancel(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let run = engine::cancel(ctx.env, &ctx.scope, ctx.params.require("id")?)?;
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "workflow.run.cancel").target(&run.id),
    )?;
    Ok(Response::ok(&run.summary()))
}

/// `POST /api/runs/{id}/restart`: `{node, debug}`: a new run that keeps the
/// recorded results of every node before `node`.
fn restart(ctx: &Ctx, req: &Request) -> Result<Response> {
    let b = body(req)?;
    let node = b.get("node").and_then(Value::as_str).ok_or_else(|| {
        Error::unprocessable("missing_node", "`node` names the node to restart from")
    })?;
    let debug = match b.get("debug") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(d)) => Some(*d),
        Some(_) => {
            return Err(Error::unprocessable(
                "invalid_debug",
                "`debug` is true or false",
            ))
        }
    };
    let run = engine::restart(ctx.env, &ctx.scope, ctx.params.require("id")?, node, debug)?;
    audit::append(
        ctx.env,
        &Event::for_request(ctx, "workflow.run.restart")
            .target(&run.id)
            .detail(json!({ "from_run": run.restarted_from, "node": node })),
    )?;
    Ok(Response::data(
        202,
        &run.view(&engine::steps(ctx.env, &run.id)?),
    ))
}

/// `GET /api/workflow-templates`.
fn list_templates(_ctx: &Ctx, _req: &Request) -> Result<Response> {
    Ok(Response::ok(&templates::view()))
}

/// `GET /api/workflow-nodes`: every node type, its kinds, their
/// configuration fields (a JSON schema each), ports and outputs.
fn catalogue(_ctx: &Ctx, _req: &Request) -> Result<Response> {
    Ok(Response::ok(&nodes::catalogue_view()))
}

/// `POST /api/workflow-checks`: `{graph}` validated as a save would, without
/// saving: `{valid, problems}` (each problem with its node id).
fn check(ctx: &Ctx, req: &Request) -> Result<Response> {
    let b: Value = req.json()?;
    let graph = b
        .get("graph")
        .ok_or_else(|| Error::unprocessable("missing_graph", "send `{\"graph\": {...}}`"))?;
    let policy = super::validate::Policy::load(ctx.env.config.as_ref(), tenant(ctx).as_str())?;
    let problems = match super::validate::validate(graph, &policy) {
        Ok(_) => Vec::new(),
        Err(p) => p,
    };
    Ok(Response::ok(
        &json!({ "valid": problems.is_empty(), "problems": problems }),
    ))
}
