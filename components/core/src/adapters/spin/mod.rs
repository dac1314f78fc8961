//! Spin adapters (wasm32 only): the ports on spin-sdk, the HTTP entry point
//! and the cron entry point every component calls.
//!
//! Stores and databases are opened lazily, on first use, so a request that
//! never touches SQLite never opens it (and never pays for the schema check).

mod clock;
mod config;
mod db;
mod http;
mod kv;
mod llm;

pub use clock::{Deadline, SpinClock};
pub use config::SpinConfig;
pub use db::SpinDb;
pub use http::SpinHttp;
pub use kv::SpinKv;
pub use llm::SpinLlm;

use crate::app::{self, App, Begin};
use crate::http::request::split_path_query;
use crate::http::{Method, Request, Response};
use crate::ports::{Env, OsRandom};
use crate::scheduler::{self, Job, Trigger};
use futures::StreamExt;
use spin_sdk::http::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam};

/// The ports on Spin: the `default` key-value store and database, outbound
/// HTTP, variables, the WASI clocks and random source, Serverless AI.
pub fn env() -> Env {
    Env {
        kv: Box::new(SpinKv::default()),
        db: Box::new(SpinDb::default()),
        http: Box::new(SpinHttp),
        clock: Box::new(SpinClock::default()),
        ids: Box::new(OsRandom),
        config: Box::new(SpinConfig),
        llm: Box::new(SpinLlm),
    }
}

/// The HTTP entry point: serve `req` with `app`.
pub async fn serve_http(app: &App, req: IncomingRequest, out: ResponseOutparam) {
    let env = env();
    let started = env.clock.monotonic_ms();
    let head = head(&req);
    let (response, sample) = match app::begin(app, &env, &head) {
        Begin::Respond(resp, sample) => (resp, sample),
        Begin::Continue(pending) => {
            let mut full = head;
            let (body, too_large) = if full.has_no_body() {
                (Vec::new(), false)
            } else {
                read_body(req, pending.body_limit()).await
            };
            full.body = body;
            full.body_too_large = too_large;
            app::finish(app, &env, pending, full).await
        }
    };
    write(out, response).await;
    // The client has its response; recording it costs the client nothing.
    if let Some(sample) = &sample {
        app::record(app, &env, sample, started);
    }
}

fn head(req: &IncomingRequest) -> Request {
    let method = Method::parse(&req.method().to_string());
    let (path, query) = split_path_query(&req.path_with_query().unwrap_or_else(|| "/".into()));
    let headers: Vec<(String, String)> = req
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect();
    // Spin appends its own spin-* headers after the client's: the last
    // `spin-client-addr` is Spin's, earlier ones are the client's forgeries.
    let client_addr = headers
        .iter()
        .rev()
        .find(|(k, _)| k == "spin-client-addr")
        .map(|(_, v)| v.clone());
    Request {
        method,
        path,
        query,
        headers,
        body: Vec::new(),
        body_too_large: false,
        client_addr,
    }
}

/// Read at most `limit` bytes; `true` when the body was longer. A declared
/// Content-Length over the limit is refused without reading anything.
async fn read_body(req: IncomingRequest, limit: usize) -> (Vec<u8>, bool) {
    let declared = req
        .headers()
        .get("content-length")
        .first()
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return (Vec::new(), true);
    }
    let mut body = Vec::new();
    let mut stream = req.into_body_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                if body.len() + bytes.len() > limit {
                    return (Vec::new(), true);
                }
                body.extend_from_slice(&bytes);
            }
            Err(_) => break,
        }
    }
    (body, false)
}

async fn write(out: ResponseOutparam, resp: Response) {
    let headers: Vec<(String, Vec<u8>)> = resp
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&headers).unwrap_or_else(|_| Fields::new());
    let outgoing = OutgoingResponse::new(fields);
    if outgoing.set_status_code(resp.status).is_err() {
        crate::log::error("http", &format!("invalid status {}", resp.status));
    }
    if let Err(e) = out.set_with_body(outgoing, resp.body).await {
        crate::log::error("http", &format!("could not send the response body: {e:?}"));
    }
}

/// The cron entry point: run `job` for the slot of `timestamp_secs`. The
/// run's report goes to the event log (and stderr).
pub fn run_cron(job: &Job, timestamp_secs: u64) -> Result<(), String> {
    let env = env();
    let at_ms = (timestamp_secs as i64).saturating_mul(1000);
    match spin_executor::run(scheduler::run_and_log(&env, job, Trigger::Cron, at_ms)) {
        Ok(report) => match report.outcome {
            scheduler::Outcome::Failed { error } => Err(error),
            _ => Ok(()),
        },
        Err(e) => Err(e.to_string()),
    }
}
