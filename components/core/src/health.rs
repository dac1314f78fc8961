//! `GET /health` (liveness and what is running) and `GET /api/version`.

use crate::app::{App, Ctx};
use crate::build_info;
use crate::error::Result;
use crate::heartbeat;
use crate::http::router::Edge;
use crate::http::{Request, Response, Route};
use crate::ports::Db;
use crate::scheduler;
use serde::Serialize;

/// The api-health component.
pub const APP: App = App {
    component: "api-health",
    routes: &[
        // Probes and dashboards poll it: a second-old answer is good enough.
        Route::get("/health", health).edge(Edge::Cached(1_000)),
        // A constant: nothing to guard, nothing to record.
        Route::get("/api/version", version).edge(Edge::Free),
        Route::get("/healthz/strict", crate::slo::api::strict),
        Route::post("/api/internal/cron/{job}", scheduler::unknown_job),
    ],
    stateless: false,
};

/// The data store as `/health` shows it.
#[derive(Debug, Serialize)]
struct Store {
    status: &'static str,
    schema_version: Option<i64>,
    initialized_at: Option<String>,
    uptime_seconds: Option<i64>,
    error: Option<String>,
}

fn store(db: &dyn Db, now: i64) -> Result<Store> {
    crate::db::migrate::ensure_current(db)?;
    let schema_version = crate::db::migrate::current_version(db)?;
    let initialized = crate::db::meta::get_i64(db, "initialized_at")?;
    Ok(Store {
        status: "ok",
        schema_version: Some(schema_version),
        initialized_at: initialized.map(crate::time::rfc3339),
        uptime_seconds: initialized.map(|t| ((now - t) / 1000).max(0)),
        error: None,
    })
}

/// `GET /health`: 200 while the data store answers (status `ok`, or
/// `degraded` when the heartbeat is stale or missing or a scheduled job
/// cannot run as configured), 503 when it does not. `configuration` lists
/// each such job with the variable to fix and how, never its value.
/// `uptime_30d` is [`heartbeat::uptime`]: minutes with a heartbeat over the
/// last 30 days.
fn health(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let now = ctx.env.clock.now_ms();
    let db = ctx.env.db.as_ref();
    let checks = store(db, now).and_then(|s| {
        Ok((
            s,
            heartbeat::status(db, now)?,
            crate::integrations::all(db)?,
            crate::slo::gate::state(db)?,
            heartbeat::uptime(db, now)?,
            scheduler::configuration_problems(db)?,
        ))
    });
    let (store, heartbeat, integrations, gate, uptime, problems) = match checks {
        Ok((s, h, i, g, u, p)) => (s, Some(h), i, Some(g), Some(u), p),
        Err(e) => {
            crate::log::error("health", &format!("data store check failed: {e}"));
            let s = Store {
                status: "down",
                schema_version: None,
                initialized_at: None,
                uptime_seconds: None,
                error: Some(e.public_message().to_string()),
            };
            (s, None, serde_json::Value::Null, None, None, Vec::new())
        }
    };
    let status = match (&store.status, &heartbeat) {
        (&"ok", Some(h)) if h.status == "ok" && problems.is_empty() => "ok",
        (&"ok", _) => "degraded",
        _ => "down",
    };
    let build = build_info::get();
    let body = serde_json::json!({
        "status": status,
        "service": "echopilot",
        "version": build.version,
        "git_sha": build.git_sha,
        "dirty": build.dirty,
        "build_time": build.build_time,
        "time": crate::time::rfc3339(now),
        "store": store,
        "heartbeat": heartbeat,
        "uptime_30d": uptime,
        "integrations": integrations,
        "configuration": {
            "status": if problems.is_empty() { "ok" } else { "invalid" },
            "problems": problems,
        },
        "deploy_gate": gate,
    });
    let code = if status == "down" { 503 } else { 200 };
    Ok(Response::data(code, &body))
}

/// `GET /api/version`: the build, and whether this is a demo (the
/// dashboard shows its banner).
fn version(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let mut body = serde_json::to_value(build_info::get())?;
    body["demo_mode"] = crate::demo::enabled(ctx.env)?.into();
    Ok(Response::ok(&body))
}
