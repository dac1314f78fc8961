//! Loopback mock servers for the app's integrations. A [`MockServer`]
//! listens on 127.0.0.1 (ephemeral port), records every request (method,
//! path, headers, body) and answers from a queue of scripted [`Reply`]s
//! first, then from its handler. A reply can be normal, slow (a delay),
//! an error status (429 with Retry-After, 500...), or no answer at all (the
//! connection is held until the mock is dropped).
//!
//! Presets: [`openai`], [`notion`], [`stripe`], [`telegram`], [`email`],
//! [`gmail`], [`drive`].

use crate::engine;
use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A request the mock received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// Headers (names lower-cased).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The path without the query.
    pub fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }
    /// The first header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    /// The query string's pairs, decoded.
    pub fn query(&self) -> BTreeMap<String, String> {
        let q = self.path.split_once('?').map_or("", |(_, q)| q);
        url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
    /// The body as `application/x-www-form-urlencoded` pairs.
    pub fn form(&self) -> BTreeMap<String, String> {
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How the mock answers one request.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Wait this long before answering.
    pub delay: Option<Duration>,
    /// Never answer (hold the connection until the mock is dropped).
    pub hang: bool,
}

impl Reply {
    /// An empty reply with `status`.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: None,
            hang: false,
        }
    }
    /// A JSON reply.
    pub fn json(status: u16, body: &Value) -> Reply {
        Reply::status(status)
            .header("content-type", "application/json")
            .body(body.to_string())
    }
    /// A plain-text reply.
    pub fn text(status: u16, body: &str) -> Reply {
        Reply::status(status)
            .header("content-type", "text/plain; charset=utf-8")
            .body(body)
    }
    /// 429 with `Retry-After: <secs>` and a JSON error body.
    pub fn rate_limited(retry_after_secs: u64) -> Reply {
        Reply::json(
            429,
            &json!({"error": {"message": "Rate limit reached", "type": "rate_limit_error", "code": "rate_limited"}}),
        )
        .header("retry-after", &retry_after_secs.to_string())
    }
    /// A reply that never comes.
    pub fn hang() -> Reply {
        Reply {
            hang: true,
            ..Reply::status(200)
        }
    }
    /// Add a header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
    /// Set the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }
    /// Answer after `delay`.
    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }
}

type Handler = Box<dyn FnMut(&Recorded) -> Reply + Send>;

struct MockState {
    name: String,
    requests: Mutex<Vec<Recorded>>,
    queue: Mutex<VecDeque<Reply>>,
    handler: Mutex<Handler>,
}

/// A scriptable loopback HTTP server.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<MockState>,
    stop: watch::Sender<bool>,
}

impl MockServer {
    /// Start a mock named `name` answering with `handler` (after any queued
    /// replies).
    pub fn start(
        name: &str,
        handler: impl FnMut(&Recorded) -> Reply + Send + 'static,
    ) -> Result<MockServer> {
        let rt = engine::tokio();
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(MockState {
            name: name.to_string(),
            requests: Mutex::new(Vec::new()),
            queue: Mutex::new(VecDeque::new()),
            handler: Mutex::new(Box::new(handler)),
        });
        let (stop, stopped) = watch::channel(false);
        rt.spawn(serve(listener, state.clone(), stopped));
        Ok(MockServer { addr, state, stop })
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:<port>`.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// What to put in `allowed_outbound_hosts` for this mock.
    pub fn allowed_host(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answer the next request with `reply` (queued replies go first, in order).
    pub fn enqueue(&self, reply: Reply) {
        self.state.queue.lock().unwrap().push_back(reply);
    }

    /// Replace the handler.
    pub fn set_handler(&self, handler: impl FnMut(&Recorded) -> Reply + Send + 'static) {
        *self.state.handler.lock().unwrap() = Box::new(handler);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Requests whose path (without query) is `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path_only() == path)
            .collect()
    }

    /// Wait (at most `timeout`) until `n` requests have arrived.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.requests();
            if r.len() >= n || Instant::now() >= deadline {
                return r;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The mock's name (for messages).
    pub fn name(&self) -> &str {
        &self.state.name
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<MockState>,
    stopped: watch::Receiver<bool>,
) {
    let mut stop = stopped.clone();
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r { Ok((s, _)) => s, Err(_) => continue },
            _ = stop.changed() => return,
        };
        let state = state.clone();
        let stopped = stopped.clone();
        let mut conn_stop = stopped.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let state = state.clone();
                    let mut stopped = stopped.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes().to_vec())
                            .unwrap_or_default();
                        let rec = Recorded {
                            method: parts.method.to_string(),
                            path: parts
                                .uri
                                .path_and_query()
                                .map(|p| p.as_str().to_string())
                                .unwrap_or_else(|| "/".into()),
                            headers: parts
                                .headers
                                .iter()
                                .map(|(k, v)| {
                                    (
                                        k.to_string(),
                                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                    )
                                })
                                .collect(),
                            body,
                        };
                        state.requests.lock().unwrap().push(rec.clone());
                        let queued = state.queue.lock().unwrap().pop_front();
                        let reply = match queued {
                            Some(r) => r,
                            None => (state.handler.lock().unwrap())(&rec),
                        };
                        if reply.hang {
                            let _ = stopped.wait_for(|s| *s).await;
                        }
                        if let Some(d) = reply.delay {
                            tokio::select! {
                                _ = tokio::time::sleep(d) => {}
                                _ = stopped.wait_for(|s| *s) => {}
                            }
                        }
                        let mut resp = hyper::Response::new(Full::new(Bytes::from(reply.body)));
                        *resp.status_mut() = hyper::StatusCode::from_u16(reply.status)
                            .unwrap_or(hyper::StatusCode::OK);
                        for (k, v) in reply.headers {
                            if let (Ok(k), Ok(v)) = (
                                k.parse::<http::HeaderName>(),
                                http::HeaderValue::from_str(&v),
                            ) {
                                resp.headers_mut().append(k, v);
                            }
                        }
                        Ok::<_, Infallible>(resp)
                    }
                });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = conn_stop.wait_for(|s| *s) => {}
            }
        });
    }
}

static SEQ: AtomicU64 = AtomicU64::new(1);

fn next_id(prefix: &str) -> String {
    format!("{prefix}{:012x}", SEQ.fetch_add(1, Ordering::Relaxed))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn not_found(r: &Recorded) -> Reply {
    Reply::json(
        404,
        &json!({"error": {"message": format!("no mock route for {} {}", r.method, r.path_only())}}),
    )
}

/// Rough token count: one token per four characters, at least one.
pub fn approx_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

// ----------------------------------------------------------------- OpenAI --

/// Produces the assistant's content for a chat-completions request body.
pub type Responder = Box<dyn FnMut(&Value) -> String + Send>;

/// An OpenAI-compatible chat-completions mock
/// (`POST /v1/chat/completions`).
pub struct OpenAi {
    /// The server (queue error replies on it, read its requests).
    pub server: MockServer,
    contents: Arc<Mutex<VecDeque<String>>>,
    responder: Arc<Mutex<Option<Responder>>>,
    delay: Arc<Mutex<Duration>>,
}

impl OpenAi {
    /// Answer the next completion with `content` (queued, in order).
    pub fn push_content(&self, content: impl Into<String>) {
        self.contents.lock().unwrap().push_back(content.into());
    }
    /// Compute each answer from the request body (used when the queue is empty).
    pub fn set_responder(&self, f: impl FnMut(&Value) -> String + Send + 'static) {
        *self.responder.lock().unwrap() = Some(Box::new(f));
    }
    /// Answer every completion after `delay` (a slow model).
    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }
    /// The completion requests received.
    pub fn completions(&self) -> Vec<Recorded> {
        self.server.requests_to("/v1/chat/completions")
    }
    /// The base URL to give the app (`openai_base_url`), ending in `/v1`.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server.url())
    }
}

/// Start an OpenAI-compatible mock. Without scripting it answers
/// `"Mock answer."`.
pub fn openai() -> Result<OpenAi> {
    let contents: Arc<Mutex<VecDeque<String>>> = Arc::default();
    let responder: Arc<Mutex<Option<Responder>>> = Arc::default();
    let delay: Arc<Mutex<Duration>> = Arc::default();
    let (c, r, d) = (contents.clone(), responder.clone(), delay.clone());
    let server = MockServer::start("openai", move |req| {
        if req.method != "POST" || req.path_only() != "/v1/chat/completions" {
            return not_found(req);
        }
        let body = req.json();
        let Some(messages) = body.get("messages").and_then(Value::as_array) else {
            return Reply::json(
                400,
                &json!({"error": {"message": "'messages' is required", "type": "invalid_request_error"}}),
            );
        };
        let content = match c.lock().unwrap().pop_front() {
            Some(s) => s,
            None => match r.lock().unwrap().as_mut() {
                Some(f) => f(&body),
                None => "Mock answer.".to_string(),
            },
        };
        let prompt_text: String = messages
            .iter()
            .filter_map(|m| m.get("content").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n");
        let prompt = approx_tokens(&prompt_text) + 3 * messages.len() as u64;
        let completion = approx_tokens(&content);
        Reply::json(
            200,
            &json!({
                "id": next_id("chatcmpl-"),
                "object": "chat.completion",
                "created": unix_now(),
                "model": body.get("model").cloned().unwrap_or(json!("gpt-4o")),
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": null},
                    "logprobs": null,
                    "finish_reason": "stop"
                }],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion
                },
                "system_fingerprint": "fp_mock"
            }),
        )
        .header("x-request-id", &next_id("req_"))
        .delay(*d.lock().unwrap())
    })?;
    Ok(OpenAi {
        server,
        contents,
        responder,
        delay,
    })
}

// ----------------------------------------------------------------- Notion --

/// A Notion API mock: databases of pages, queried with pagination.
pub struct Notion {
    /// The server.
    pub server: MockServer,
    databases: Arc<Mutex<BTreeMap<String, Vec<Value>>>>,
}

impl Notion {
    /// Put `pages` (Notion page objects) in database `id`.
    pub fn set_database(&self, id: &str, pages: Vec<Value>) {
        self.databases.lock().unwrap().insert(id.to_string(), pages);
    }
    /// The pages of database `id` now (after PATCH and POST calls).
    pub fn pages(&self, id: &str) -> Vec<Value> {
        self.databases
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .unwrap_or_default()
    }
    /// The base URL to give the app (`notion_base_url`), ending in `/v1`.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server.url())
    }
}

/// A Notion page object with `properties`.
pub fn notion_page(id: &str, database_id: &str, properties: Value) -> Value {
    json!({
        "object": "page",
        "id": id,
        "created_time": "2024-01-01T00:00:00.000Z",
        "last_edited_time": "2024-01-01T00:00:00.000Z",
        "parent": {"type": "database_id", "database_id": database_id},
        "archived": false,
        "properties": properties,
        "url": format!("https://www.notion.so/{}", id.replace('-', "")),
    })
}

fn merge(into: &mut Value, patch: &Value) {
    if let (Some(a), Some(b)) = (into.as_object_mut(), patch.as_object()) {
        for (k, v) in b {
            match a.get_mut(k) {
                Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                _ => {
                    a.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

/// Whether `page` passes a database query `filter` (the forms the app
/// sends: `{"property": P, "status"|"select": {"equals": V}}` and
/// `{"timestamp": "created_time", "created_time": {"on_or_after": T}}`;
/// none or any other filter passes every page).
fn matches_filter(page: &Value, filter: Option<&Value>) -> bool {
    let Some(f) = filter else { return true };
    if let Some(after) = f
        .pointer("/created_time/on_or_after")
        .and_then(Value::as_str)
    {
        // Same-format RFC 3339 UTC timestamps compare as text.
        let created = page["created_time"].as_str().unwrap_or_default();
        return created[..created.len().min(19)] >= after[..after.len().min(19)];
    }
    let Some(prop) = f.get("property").and_then(Value::as_str) else {
        return true;
    };
    for kind in ["status", "select"] {
        if let Some(want) = f
            .pointer(&format!("/{kind}/equals"))
            .and_then(Value::as_str)
        {
            let have = page
                .pointer(&format!("/properties/{prop}/{kind}/name"))
                .and_then(Value::as_str);
            return have == Some(want);
        }
    }
    true
}

/// A Notion-style timestamp for "now", distinct per call (Notion's have
/// millisecond precision; the counter keeps successive edits apart).
fn edit_time() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    format!(
        "2026-01-01T00:{:02}:{:02}.{:03}Z",
        (n / 60_000) % 60,
        (n / 1000) % 60,
        n % 1000
    )
}

/// Start a Notion mock: `POST /v1/databases/{id}/query` (paginated with
/// `page_size`, `start_cursor`, `has_more`, `next_cursor`; status/select
/// `equals` filters applied), `PATCH /v1/pages/{id}` (moves
/// `last_edited_time`), `PATCH /v1/blocks/{id}/children` (appended to the
/// page's `children`), `POST /v1/pages`. Queue
/// `Reply::rate_limited(n)` on its server for a 429.
pub fn notion() -> Result<Notion> {
    let databases: Arc<Mutex<BTreeMap<String, Vec<Value>>>> = Arc::default();
    let dbs = databases.clone();
    let server = MockServer::start("notion", move |req| {
        let path = req.path_only().to_string();
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut dbs = dbs.lock().unwrap();
        match (req.method.as_str(), segs.as_slice()) {
            ("POST", ["v1", "databases", id, "query"]) => {
                let Some(pages) = dbs.get(*id) else {
                    return Reply::json(
                        404,
                        &json!({"object": "error", "status": 404, "code": "object_not_found", "message": format!("Could not find database with ID: {id}.")}),
                    );
                };
                let body = req.json();
                let filtered: Vec<Value> = pages
                    .iter()
                    .filter(|p| matches_filter(p, body.get("filter")))
                    .cloned()
                    .collect();
                let pages = &filtered;
                let size = body
                    .get("page_size")
                    .and_then(Value::as_u64)
                    .unwrap_or(100)
                    .clamp(1, 100) as usize;
                let start = body
                    .get("start_cursor")
                    .and_then(Value::as_str)
                    .and_then(|c| pages.iter().position(|p| p["id"] == c))
                    .unwrap_or(0);
                let end = (start + size).min(pages.len());
                let next = pages.get(end).map(|p| p["id"].clone());
                Reply::json(
                    200,
                    &json!({
                        "object": "list",
                        "results": pages[start..end],
                        "has_more": next.is_some(),
                        "next_cursor": next.unwrap_or(Value::Null),
                        "type": "page_or_database",
                        "page_or_database": {}
                    }),
                )
            }
            ("PATCH", ["v1", "pages", id]) => {
                let patch = req.json();
                for pages in dbs.values_mut() {
                    if let Some(p) = pages.iter_mut().find(|p| p["id"] == *id) {
                        merge(p, &patch);
                        // Notion moves last_edited_time on every edit.
                        p["last_edited_time"] = json!(edit_time());
                        return Reply::json(200, p);
                    }
                }
                Reply::json(
                    404,
                    &json!({"object": "error", "status": 404, "code": "object_not_found", "message": format!("Could not find page with ID: {id}.")}),
                )
            }
            ("PATCH", ["v1", "blocks", id, "children"]) => {
                let children = req.json().get("children").cloned().unwrap_or(json!([]));
                for pages in dbs.values_mut() {
                    if let Some(p) = pages.iter_mut().find(|p| p["id"] == *id) {
                        let list = p
                            .as_object_mut()
                            .map(|o| o.entry("children").or_insert(json!([])));
                        if let Some(Value::Array(list)) = list {
                            list.extend(children.as_array().cloned().unwrap_or_default());
                        }
                        p["last_edited_time"] = json!(edit_time());
                        return Reply::json(
                            200,
                            &json!({"object": "list", "results": children, "has_more": false, "next_cursor": null}),
                        );
                    }
                }
                Reply::json(
                    404,
                    &json!({"object": "error", "status": 404, "code": "object_not_found", "message": format!("Could not find block with ID: {id}.")}),
                )
            }
            ("POST", ["v1", "pages"]) => {
                let body = req.json();
                let db = body
                    .pointer("/parent/database_id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let page = notion_page(
                    &next_id("page-"),
                    &db,
                    body.get("properties").cloned().unwrap_or(json!({})),
                );
                dbs.entry(db).or_default().push(page.clone());
                Reply::json(200, &page)
            }
            _ => not_found(req),
        }
    })?;
    Ok(Notion { server, databases })
}

// ----------------------------------------------------------------- Stripe --

/// A Stripe API mock: `GET /v1/charges` lists the charges it holds (with
/// Stripe's `created[gte|lt]`, `limit` and `starting_after`, newest first;
/// a bearer `sk_` key required), and `POST /v1/checkout/sessions`,
/// `/v1/refunds`, `/v1/customers` and `/v1/invoiceitems` answer
/// Stripe-shaped objects to form-encoded bodies. `POST /v1/invoices` takes
/// the customer's pending invoice items into a draft whose `total` is
/// their sum; `…/finalize` makes it `open` and `…/send` answers it with a
/// `hosted_invoice_url`.
pub struct Stripe {
    /// The server.
    pub server: MockServer,
    charges: Arc<Mutex<Vec<Value>>>,
}

/// The mock's invoicing state: pending items by customer, invoices by id.
#[derive(Default)]
struct Invoicing {
    pending: BTreeMap<String, Vec<Value>>,
    invoices: BTreeMap<String, Value>,
}

impl Invoicing {
    fn answer(&mut self, req: &Recorded, form: &BTreeMap<String, String>) -> Option<Reply> {
        let field = |k: &str| form.get(k).cloned().unwrap_or_default();
        let path = req.path_only();
        let reply = match path {
            "/v1/customers" => json!({
                "id": next_id("cus_"), "object": "customer", "email": field("email"), "name": field("name"),
            }),
            "/v1/invoiceitems" => {
                let item = json!({
                    "id": next_id("ii_"), "object": "invoiceitem", "customer": field("customer"),
                    "amount": field("amount").parse::<i64>().ok(), "currency": field("currency"),
                    "description": field("description"),
                });
                self.pending
                    .entry(field("customer"))
                    .or_default()
                    .push(item.clone());
                item
            }
            "/v1/invoices" => {
                let items = self.pending.remove(&field("customer")).unwrap_or_default();
                let total: i64 = items.iter().filter_map(|i| i["amount"].as_i64()).sum();
                let id = next_id("in_");
                let invoice = json!({
                    "id": id, "object": "invoice", "status": "draft", "customer": field("customer"),
                    "collection_method": field("collection_method"), "currency": field("currency"),
                    "total": total, "amount_due": total, "lines": { "object": "list", "data": items },
                });
                self.invoices.insert(id, invoice.clone());
                invoice
            }
            _ => {
                let rest = path.strip_prefix("/v1/invoices/")?;
                let (id, action) = rest.split_once('/')?;
                let invoice = self.invoices.get_mut(id)?;
                match action {
                    "finalize" => invoice["status"] = json!("open"),
                    "send" => {
                        invoice["hosted_invoice_url"] =
                            json!(format!("https://invoice.stripe.com/i/{id}"))
                    }
                    _ => return None,
                }
                invoice.clone()
            }
        };
        Some(Reply::json(200, &reply))
    }
}

impl Stripe {
    /// Replace the charges Stripe holds (charge objects; see [`charge`]).
    pub fn set_charges(&self, charges: Vec<Value>) {
        *self.charges.lock().unwrap() = charges;
    }
    /// The origin to give the app (`stripe_base_url`).
    pub fn url(&self) -> String {
        self.server.url()
    }
}

/// A Stripe charge object.
pub fn charge(id: &str, amount: i64, currency: &str, created: i64, tenant: Option<&str>) -> Value {
    json!({
        "id": id, "object": "charge", "amount": amount, "amount_refunded": 0,
        "currency": currency, "status": "succeeded", "paid": true, "refunded": false,
        "disputed": false, "livemode": false, "created": created,
        "customer": "cus_mock", "payment_intent": format!("pi_{id}"),
        "description": "EchoPilot subscription",
        "metadata": tenant.map_or(json!({}), |t| json!({"tenant_id": t})),
    })
}

/// One page of `GET /v1/charges` over `all`.
fn list_charges(req: &Recorded, all: &[Value]) -> Reply {
    let authorized = req
        .header("authorization")
        .is_some_and(|a| a.starts_with("Bearer sk_"));
    if !authorized {
        return Reply::json(
            401,
            &json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_****"}}),
        );
    }
    let q = req.query();
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok());
    let limit = num("limit").unwrap_or(10).clamp(1, 100) as usize;
    let created = |c: &Value| c["created"].as_i64().unwrap_or(0);
    let mut list: Vec<&Value> = all
        .iter()
        .filter(|c| num("created[gte]").is_none_or(|g| created(c) >= g))
        .filter(|c| num("created[lt]").is_none_or(|l| created(c) < l))
        .collect();
    list.sort_by(|a, b| (created(b), b["id"].as_str()).cmp(&(created(a), a["id"].as_str())));
    if let Some(after) = q.get("starting_after") {
        match list.iter().position(|c| c["id"] == after.as_str()) {
            Some(i) => list.drain(..=i).for_each(drop),
            None => {
                return Reply::json(
                    400,
                    &json!({"error": {"type": "invalid_request_error", "message": format!("No such charge: '{after}'")}}),
                )
            }
        }
    }
    let has_more = list.len() > limit;
    list.truncate(limit);
    Reply::json(
        200,
        &json!({"object": "list", "url": "/v1/charges", "has_more": has_more, "data": list}),
    )
}

/// Start the Stripe mock (no charges yet).
pub fn stripe() -> Result<Stripe> {
    let charges: Arc<Mutex<Vec<Value>>> = Arc::default();
    let held = charges.clone();
    let mut invoicing = Invoicing::default();
    let mut idempotency = Idempotency::default();
    let server = MockServer::start("stripe", move |req| {
        if req.method == "GET" && req.path_only() == "/v1/charges" {
            return list_charges(req, &held.lock().unwrap());
        }
        idempotency.answer(req, |req| write(req, &mut invoicing))
    })?;
    Ok(Stripe { server, charges })
}

/// Stripe's idempotent requests: a POST repeating an `Idempotency-Key`
/// gets the first answer again (no second object), or 400 when its path
/// or parameters differ from the first's.
#[derive(Default)]
struct Idempotency {
    seen: BTreeMap<String, (String, Vec<u8>, Reply)>,
}

impl Idempotency {
    fn answer(&mut self, req: &Recorded, f: impl FnOnce(&Recorded) -> Reply) -> Reply {
        let Some(key) = req.header("idempotency-key").map(str::to_string) else {
            return f(req);
        };
        if let Some((path, body, reply)) = self.seen.get(&key) {
            if path == req.path_only() && body == &req.body {
                return reply.clone().header("Idempotent-Replayed", "true");
            }
            return Reply::json(
                400,
                &json!({"error": {"type": "idempotency_error", "message": format!("Keys for idempotent requests can only be used with the same parameters they were first used with: {key}")}}),
            );
        }
        let reply = f(req);
        if reply.status < 500 {
            self.seen.insert(
                key,
                (req.path_only().to_string(), req.body.clone(), reply.clone()),
            );
        }
        reply
    }
}

/// The mock's answer to a POST (or an unknown GET).
fn write(req: &Recorded, invoicing: &mut Invoicing) -> Reply {
    let form = req.form();
    let metadata: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata[")
                .and_then(|k| k.strip_suffix(']'))
                .map(|k| (k.to_string(), json!(v)))
        })
        .collect();
    match (req.method.as_str(), req.path_only()) {
        ("POST", "/v1/checkout/sessions") => {
            let id = next_id("cs_test_");
            let amount: Option<i64> = form
                .get("line_items[0][price_data][unit_amount]")
                .and_then(|v| v.parse().ok());
            Reply::json(
                200,
                &json!({
                    "id": id,
                    "object": "checkout.session",
                    "url": format!("https://checkout.stripe.com/c/pay/{id}"),
                    "mode": form.get("mode").cloned().unwrap_or_else(|| "payment".into()),
                    "amount_total": amount,
                    "currency": form.get("line_items[0][price_data][currency]"),
                    "client_reference_id": form.get("client_reference_id"),
                    "success_url": form.get("success_url"),
                    "cancel_url": form.get("cancel_url"),
                    "metadata": metadata,
                    "payment_status": "unpaid",
                    "status": "open",
                    "created": unix_now()
                }),
            )
        }
        ("POST", "/v1/refunds") => Reply::json(
            200,
            &json!({
                "id": next_id("re_"),
                "object": "refund",
                "amount": form.get("amount").and_then(|a| a.parse::<i64>().ok()),
                "payment_intent": form.get("payment_intent"),
                "charge": form.get("charge"),
                "reason": form.get("reason"),
                "metadata": metadata,
                "status": "succeeded",
                "created": unix_now()
            }),
        ),
        ("POST", _) => invoicing
            .answer(req, &form)
            .unwrap_or_else(|| not_found(req)),
        _ => not_found(req),
    }
}

// --------------------------------------------------------------- Telegram --

/// Start a Telegram Bot API mock: `POST /bot{token}/sendMessage`.
pub fn telegram() -> Result<MockServer> {
    let seq = Arc::new(AtomicU64::new(1));
    MockServer::start("telegram", move |req| {
        let path = req.path_only();
        let is_send =
            req.method == "POST" && path.starts_with("/bot") && path.ends_with("/sendMessage");
        if !is_send {
            return Reply::json(
                404,
                &json!({"ok": false, "error_code": 404, "description": "Not Found"}),
            );
        }
        let body = if req
            .header("content-type")
            .is_some_and(|c| c.contains("json"))
        {
            req.json()
        } else {
            serde_json::to_value(req.form()).unwrap_or(Value::Null)
        };
        let Some(chat) = body.get("chat_id").cloned() else {
            return Reply::json(
                400,
                &json!({"ok": false, "error_code": 400, "description": "Bad Request: chat_id is empty"}),
            );
        };
        Reply::json(
            200,
            &json!({
                "ok": true,
                "result": {
                    "message_id": seq.fetch_add(1, Ordering::Relaxed),
                    "date": unix_now(),
                    "chat": {"id": chat, "type": "private"},
                    "text": body.get("text").cloned().unwrap_or(Value::Null)
                }
            }),
        )
    })
}

// ------------------------------------------------------------------ email --

/// Start a generic HTTPS-style email API mock: `POST /send` answers
/// `202 {"id": "msg_..."}`.
pub fn email() -> Result<MockServer> {
    MockServer::start("email", |req| {
        match (req.method.as_str(), req.path_only()) {
            ("POST", "/send") => {
                Reply::json(202, &json!({"id": next_id("msg_"), "status": "queued"}))
            }
            _ => not_found(req),
        }
    })
}

// ------------------------------------------------------------------ Gmail --

/// The OAuth client id the Gmail mock accepts.
pub const GMAIL_CLIENT_ID: &str = "e2e-client.apps.googleusercontent.com";
/// The OAuth client secret the Gmail mock accepts.
pub const GMAIL_CLIENT_SECRET: &str = "e2e-client-secret";
/// The refresh token the Gmail mock accepts (any other is revoked).
pub const GMAIL_REFRESH_TOKEN: &str = "1//e2e-refresh-token";

/// Google's OAuth token endpoint as a mock answers it: the refresh-token
/// grant (form-encoded) for one client and refresh token, and the access
/// tokens it issued, which the API routes of the same mock check. One
/// helper serves the Gmail and the Drive mocks.
#[derive(Clone)]
struct GoogleTokens {
    client_id: &'static str,
    client_secret: &'static str,
    refresh_token: &'static str,
    scope: &'static str,
    issued: Arc<Mutex<Vec<String>>>,
    /// The refresh token was revoked (every exchange is `invalid_grant`).
    revoked: Arc<std::sync::atomic::AtomicBool>,
}

impl GoogleTokens {
    fn new(
        client_id: &'static str,
        client_secret: &'static str,
        refresh_token: &'static str,
        scope: &'static str,
    ) -> GoogleTokens {
        GoogleTokens {
            client_id,
            client_secret,
            refresh_token,
            scope,
            issued: Arc::new(Mutex::new(Vec::new())),
            revoked: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// The answer to `POST /token`: an unknown client is `401
    /// invalid_client`, an unknown refresh token `400 invalid_grant`.
    fn exchange(&self, req: &Recorded) -> Reply {
        let form = req.form();
        let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
        let form_encoded = req
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        if !form_encoded || field("grant_type") != "refresh_token" {
            return Reply::json(
                400,
                &json!({"error": "unsupported_grant_type", "error_description": "Invalid grant_type: "}),
            );
        }
        if field("client_id") != self.client_id || field("client_secret") != self.client_secret {
            return Reply::json(
                401,
                &json!({"error": "invalid_client", "error_description": "The OAuth client was not found."}),
            );
        }
        if field("refresh_token") != self.refresh_token || self.revoked.load(Ordering::SeqCst) {
            return Reply::json(
                400,
                &json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
            );
        }
        let token = next_id("ya29.e2e-");
        self.issued.lock().unwrap().push(token.clone());
        Reply::json(
            200,
            &json!({"access_token": token, "expires_in": 3599,
                    "scope": self.scope, "token_type": "Bearer"}),
        )
    }

    /// `None` when `req` carries an access token this endpoint issued,
    /// else Google's `401`.
    fn refuse_unauthorized(&self, req: &Recorded) -> Option<Reply> {
        let bearer = req
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or("");
        if self.issued.lock().unwrap().iter().any(|t| t == bearer) {
            return None;
        }
        Some(Reply::json(
            401,
            &json!({"error": {"code": 401, "status": "UNAUTHENTICATED",
                    "message": "Request had invalid authentication credentials."}}),
        ))
    }
}

/// Start a mock of Google's OAuth token endpoint (`POST /token`, the
/// refresh-token grant, form-encoded) and the Gmail API
/// (`POST /gmail/v1/users/me/messages/send` with `{raw}`), as Google
/// answers: an unknown client or refresh token is `400 invalid_grant`, a
/// send without an access token this mock issued is `401`, a `raw` that is
/// not base64url of a message with From and To is `400`.
pub fn gmail() -> Result<MockServer> {
    let tokens = GoogleTokens::new(
        GMAIL_CLIENT_ID,
        GMAIL_CLIENT_SECRET,
        GMAIL_REFRESH_TOKEN,
        "https://www.googleapis.com/auth/gmail.send",
    );
    MockServer::start("gmail", move |req| {
        match (req.method.as_str(), req.path_only()) {
            ("POST", "/token") => tokens.exchange(req),
            ("POST", "/gmail/v1/users/me/messages/send") => {
                if let Some(refused) = tokens.refuse_unauthorized(req) {
                    return refused;
                }
                let mime = gmail_message(req).unwrap_or_default();
                if !(mime.contains("\r\nTo: ") && mime.starts_with("From: ")) {
                    return Reply::json(
                        400,
                        &json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                "message": "Invalid To header"}}),
                    );
                }
                Reply::json(
                    200,
                    &json!({"id": next_id("18c"), "threadId": next_id("18c"), "labelIds": ["SENT"]}),
                )
            }
            _ => not_found(req),
        }
    })
}

/// The RFC 2822 message a Gmail send carried in `raw`, decoded.
pub fn gmail_message(req: &Recorded) -> Option<String> {
    let raw = req.json()["raw"]
        .as_str()?
        .trim_end_matches('=')
        .to_string();
    let bytes = echopilot_core::identity::base64url::decode(&raw)?;
    String::from_utf8(bytes).ok()
}

// ------------------------------------------------------------------ Drive --

/// The OAuth client id the Drive mock accepts.
pub const DRIVE_CLIENT_ID: &str = "e2e-drive-client.apps.googleusercontent.com";
/// The OAuth client secret the Drive mock accepts.
pub const DRIVE_CLIENT_SECRET: &str = "e2e-drive-client-secret";
/// The refresh token the Drive mock accepts (any other is revoked).
pub const DRIVE_REFRESH_TOKEN: &str = "1//e2e-drive-refresh-token";

/// A file the Drive mock holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveFile {
    /// Drive's file id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The folders it is in.
    pub parents: Vec<String>,
    /// Its media type, from the metadata.
    pub mime_type: String,
    /// Its private properties (`appProperties`).
    pub app_properties: BTreeMap<String, String>,
    /// The media part, as text.
    pub content: String,
}

impl DriveFile {
    fn view(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "parents": self.parents,
            "appProperties": self.app_properties,
            "webViewLink": format!("https://drive.google.com/file/d/{}/view", self.id),
        })
    }
}

/// How the Drive mock misbehaves on the next uploads.
#[derive(Default)]
struct DriveFaults {
    /// Refuse this many uploads with 503 (nothing stored).
    refuse: usize,
    /// Store this many uploads, then answer 503 anyway (the answer lost,
    /// as after a timeout).
    lose_answer: usize,
}

/// A Google Drive mock: the token endpoint and the Drive API.
pub struct Drive {
    /// The server (`url()` is both `drive_oauth_base_url` and
    /// `drive_api_base_url`).
    pub server: MockServer,
    files: Arc<Mutex<Vec<DriveFile>>>,
    faults: Arc<Mutex<DriveFaults>>,
    revoked: Arc<std::sync::atomic::AtomicBool>,
}

impl Drive {
    /// Revoke the refresh token (or restore it): every exchange is then
    /// refused with `400 invalid_grant`.
    pub fn revoke_grant(&self, revoked: bool) {
        self.revoked.store(revoked, Ordering::SeqCst);
    }
    /// Every file uploaded, oldest first.
    pub fn files(&self) -> Vec<DriveFile> {
        self.files.lock().unwrap().clone()
    }
    /// The files in folder `folder`.
    pub fn files_in(&self, folder: &str) -> Vec<DriveFile> {
        self.files()
            .into_iter()
            .filter(|f| f.parents.iter().any(|p| p == folder))
            .collect()
    }
    /// Answer the next `n` uploads `503` without storing them.
    pub fn refuse_uploads(&self, n: usize) {
        self.faults.lock().unwrap().refuse = n;
    }
    /// Store the next `n` uploads but answer `503`, as when the answer is
    /// lost to a timeout: a retry that uploads again makes a second file.
    pub fn lose_upload_answers(&self, n: usize) {
        self.faults.lock().unwrap().lose_answer = n;
    }
    /// The upload requests received.
    pub fn uploads(&self) -> Vec<Recorded> {
        self.server.requests_to("/upload/drive/v3/files")
    }
}

/// The parts of a `multipart/related` body: each part's headers (names
/// lower-cased) and content.
pub fn multipart_parts(req: &Recorded) -> Option<Vec<(BTreeMap<String, String>, String)>> {
    let content_type = req.header("content-type")?;
    if !content_type.starts_with("multipart/related") {
        return None;
    }
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()?
        .trim_matches('"');
    let body = req.text();
    let delimiter = format!("--{boundary}");
    let mut sections = body.split(delimiter.as_str());
    sections.next()?; // the preamble
    let mut parts = Vec::new();
    for section in sections {
        if section.starts_with("--") {
            return Some(parts); // the close delimiter
        }
        let section = section.strip_prefix("\r\n")?;
        let (head, content) = section.split_once("\r\n\r\n")?;
        let headers = head
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        parts.push((headers, content.strip_suffix("\r\n")?.to_string()));
    }
    None // no close delimiter
}

/// The `(key, value)` of a Drive search `q` of the form
/// `appProperties has { key='K' and value='V' }`, and the folder of an
/// `'F' in parents` clause.
fn drive_query(q: &str) -> (Option<(String, String)>, Option<String>) {
    let quoted = |after: &str, s: &str| -> Option<String> {
        let rest = &s[s.find(after)? + after.len()..];
        let rest = rest.trim_start().strip_prefix('\'')?;
        Some(rest[..rest.find('\'')?].to_string())
    };
    let property = quoted("key=", q).zip(quoted("value=", q));
    let folder = q.find("' in parents").and_then(|end| {
        let start = q[..end].rfind('\'')?;
        Some(q[start + 1..end].to_string())
    });
    (property, folder)
}

/// The answer to a multipart upload: the file stored, or why not.
fn drive_upload(
    req: &Recorded,
    files: &Mutex<Vec<DriveFile>>,
    faults: &Mutex<DriveFaults>,
) -> Reply {
    let bad = |m: &str| {
        Reply::json(
            400,
            &json!({"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": m}}),
        )
    };
    if req.query().get("uploadType").map(String::as_str) != Some("multipart") {
        return bad("uploadType must be multipart");
    }
    let Some(parts) = multipart_parts(req) else {
        return bad("Malformed multipart body.");
    };
    let [(meta_head, meta), (media_head, content)] = parts.as_slice() else {
        return bad("A multipart upload has a metadata part and a media part.");
    };
    if !meta_head
        .get("content-type")
        .is_some_and(|c| c.starts_with("application/json"))
    {
        return bad("The metadata part is application/json.");
    }
    let Ok(meta) = serde_json::from_str::<Value>(meta) else {
        return bad("The metadata part is not JSON.");
    };
    let text = |k: &str| {
        meta.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let media_type = media_head.get("content-type").cloned().unwrap_or_default();
    if text("name").is_empty() || !media_type.starts_with(&text("mimeType")) {
        return bad("A file has a name and its media part the metadata's mimeType.");
    }
    let mut faults = faults.lock().unwrap();
    if faults.refuse > 0 {
        faults.refuse -= 1;
        return Reply::json(
            503,
            &json!({"error": {"code": 503, "message": "The service is currently unavailable."}}),
        );
    }
    let file = DriveFile {
        id: next_id("1drv"),
        name: text("name"),
        parents: meta["parents"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        mime_type: text("mimeType"),
        app_properties: meta["appProperties"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        content: content.clone(),
    };
    let view = file.view();
    files.lock().unwrap().push(file);
    if faults.lose_answer > 0 {
        faults.lose_answer -= 1;
        return Reply::json(
            503,
            &json!({"error": {"code": 503, "message": "Backend Error"}}),
        );
    }
    Reply::json(200, &view)
}

/// Start a Google Drive mock: the token endpoint (`POST /token`, as the
/// Gmail mock's, for [`DRIVE_CLIENT_ID`] and [`DRIVE_REFRESH_TOKEN`]), the
/// multipart upload (`POST /upload/drive/v3/files?uploadType=multipart`:
/// the `multipart/related` body's JSON metadata part, name, parents,
/// mimeType and appProperties, then the media part, recorded as a file)
/// and the search (`GET /drive/v3/files?q=appProperties has { key='K' and
/// value='V' }`, optionally `and 'F' in parents`). Both API routes need an
/// access token the mock issued (`401` otherwise).
pub fn drive() -> Result<Drive> {
    let tokens = GoogleTokens::new(
        DRIVE_CLIENT_ID,
        DRIVE_CLIENT_SECRET,
        DRIVE_REFRESH_TOKEN,
        "https://www.googleapis.com/auth/drive.file",
    );
    let revoked = tokens.revoked.clone();
    let files = Arc::new(Mutex::new(Vec::<DriveFile>::new()));
    let faults = Arc::new(Mutex::new(DriveFaults::default()));
    let (held, faulty) = (files.clone(), faults.clone());
    let server = MockServer::start("drive", move |req| {
        let route = (req.method.as_str(), req.path_only());
        if route == ("POST", "/token") {
            return tokens.exchange(req);
        }
        if let Some(refused) = tokens.refuse_unauthorized(req) {
            return refused;
        }
        match route {
            ("POST", "/upload/drive/v3/files") => drive_upload(req, &held, &faulty),
            ("GET", "/drive/v3/files") => {
                let q = req.query().get("q").cloned().unwrap_or_default();
                let (property, folder) = drive_query(&q);
                let Some((key, value)) = property else {
                    return Reply::json(
                        400,
                        &json!({"error": {"code": 400, "message": "This mock searches by appProperties only."}}),
                    );
                };
                let found: Vec<Value> = held
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|f| f.app_properties.get(&key) == Some(&value))
                    .filter(|f| folder.as_ref().is_none_or(|d| f.parents.contains(d)))
                    .map(DriveFile::view)
                    .collect();
                Reply::json(200, &json!({"kind": "drive#fileList", "files": found}))
            }
            _ => not_found(req),
        }
    })?;
    Ok(Drive {
        server,
        files,
        faults,
        revoked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Client;

    #[test]
    fn openai_scripts_contents_errors_and_usage() {
        let ai = openai().unwrap();
        let c = Client::new(ai.server.url());
        ai.push_content("first");
        ai.server.enqueue(Reply::rate_limited(7));
        let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]});
        let r = c.post("/v1/chat/completions").json(&body).send().unwrap();
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("7"));
        let v = c
            .post("/v1/chat/completions")
            .json(&body)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "first");
        assert_eq!(v["model"], "gpt-4o-mini");
        let u = &v["usage"];
        assert_eq!(
            u["total_tokens"].as_u64().unwrap(),
            u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap()
        );
        ai.set_responder(|req| {
            format!(
                "echo {}",
                req["messages"][0]["content"].as_str().unwrap_or("")
            )
        });
        let v = c
            .post("/v1/chat/completions")
            .json(&body)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "echo hello there");
        assert_eq!(ai.completions().len(), 3);
        assert_eq!(c.get("/v1/models").send().unwrap().status, 404);
    }

    #[test]
    fn notion_paginates_and_updates() {
        let n = notion().unwrap();
        let pages = (0..5)
            .map(|i| notion_page(&format!("p{i}"), "db", json!({"Name": {"title": []}})))
            .collect();
        n.set_database("db", pages);
        let c = Client::new(n.server.url());
        let first = c
            .post("/v1/databases/db/query")
            .json(&json!({"page_size": 2}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(first["results"].as_array().unwrap().len(), 2);
        assert_eq!(first["has_more"], true);
        let mut cursor = first["next_cursor"].clone();
        let mut seen = 2;
        for _ in 0..5 {
            if cursor.is_null() {
                break;
            }
            let page = c
                .post("/v1/databases/db/query")
                .json(&json!({"page_size": 2, "start_cursor": cursor}))
                .send()
                .unwrap()
                .json()
                .unwrap();
            seen += page["results"].as_array().unwrap().len();
            cursor = page["next_cursor"].clone();
        }
        assert_eq!(seen, 5);
        let patched = c
            .patch("/v1/pages/p1")
            .json(&json!({"properties": {"Status": {"select": {"name": "Done"}}}}))
            .send()
            .unwrap();
        assert_eq!(patched.status, 200);
        assert_eq!(
            n.pages("db")[1]["properties"]["Status"]["select"]["name"],
            "Done"
        );
        let created = c
            .post("/v1/pages")
            .json(&json!({"parent": {"database_id": "db"}, "properties": {}}))
            .send()
            .unwrap();
        assert_eq!(created.status, 200);
        assert_eq!(n.pages("db").len(), 6);
    }

    #[test]
    fn drive_stores_multipart_uploads_and_finds_them_by_app_property() {
        let d = drive().unwrap();
        let c = Client::new(d.server.url());
        let token = |refresh: &str| {
            c.post("/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "grant_type=refresh_token&client_id={DRIVE_CLIENT_ID}&client_secret={DRIVE_CLIENT_SECRET}&refresh_token={}",
                    refresh.replace('/', "%2F")
                ))
                .send()
                .unwrap()
        };
        assert_eq!(token("1//revoked").status, 400);
        let access = token(DRIVE_REFRESH_TOKEN).json().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let body = "--B\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n\
            {\"name\":\"r.md\",\"mimeType\":\"text/markdown\",\"parents\":[\"fold\"],\"appProperties\":{\"echopilot_job\":\"job_1\"}}\r\n\
            --B\r\nContent-Type: text/markdown; charset=UTF-8\r\n\r\n# Hi\r\n--B--\r\n";
        let upload = |bearer: &str| {
            c.post("/upload/drive/v3/files?uploadType=multipart")
                .header("authorization", &format!("Bearer {bearer}"))
                .header("content-type", "multipart/related; boundary=B")
                .body(body)
                .send()
                .unwrap()
        };
        assert_eq!(upload("stolen").status, 401);
        d.refuse_uploads(1);
        assert_eq!(upload(&access).status, 503);
        assert!(d.files().is_empty());
        let stored = upload(&access).json().unwrap();
        assert_eq!(stored["name"], "r.md");
        let f = &d.files_in("fold")[0];
        assert_eq!(
            (f.content.as_str(), f.mime_type.as_str()),
            ("# Hi", "text/markdown")
        );
        assert_eq!(f.app_properties["echopilot_job"], "job_1");
        let search = |q: &str| {
            c.get(&format!(
                "/drive/v3/files?q={}",
                url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            ))
            .header("authorization", &format!("Bearer {access}"))
            .send()
            .unwrap()
            .json()
            .unwrap()["files"]
                .as_array()
                .map_or(0, Vec::len)
        };
        assert_eq!(
            search(
                "appProperties has { key='echopilot_job' and value='job_1' } and 'fold' in parents"
            ),
            1
        );
        assert_eq!(
            search("appProperties has { key='echopilot_job' and value='job_2' }"),
            0
        );
        assert_eq!(search("appProperties has { key='echopilot_job' and value='job_1' } and 'other' in parents"), 0);
        d.lose_upload_answers(1);
        assert_eq!(upload(&access).status, 503);
        assert_eq!(d.files().len(), 2, "stored although the answer was lost");
    }

    #[test]
    fn stripe_telegram_email_and_slow_replies() {
        let s = stripe().unwrap();
        let c = Client::new(s.url());
        let r = c
            .post("/v1/checkout/sessions")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("mode=payment&line_items[0][price_data][unit_amount]=1500&line_items[0][price_data][currency]=eur&metadata[tenant]=t1")
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert!(r["id"].as_str().unwrap().starts_with("cs_test_"));
        assert_eq!(r["amount_total"], 1500);
        assert_eq!(r["metadata"]["tenant"], "t1");
        let refund = c
            .post("/v1/refunds")
            .body("payment_intent=pi_1&amount=500")
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(refund["status"], "succeeded");
        assert_eq!(s.server.requests()[0].form()["mode"], "payment");
        // Invoices: the customer's pending items, summed; finalized; sent.
        let post = |path: &str, body: &str| -> Value {
            c.post(path)
                .body(body.to_string())
                .send()
                .unwrap()
                .json()
                .unwrap()
        };
        let cus = post("/v1/customers", "email=b%40t.co");
        let cus = cus["id"].as_str().unwrap();
        post(
            "/v1/invoiceitems",
            &format!("customer={cus}&amount=1000&currency=usd"),
        );
        post(
            "/v1/invoiceitems",
            &format!("customer={cus}&amount=250&currency=usd"),
        );
        let inv = post("/v1/invoices", &format!("customer={cus}&currency=usd"));
        assert_eq!(
            (inv["total"].as_i64(), inv["status"].as_str()),
            (Some(1250), Some("draft"))
        );
        let id = inv["id"].as_str().unwrap();
        assert_eq!(
            post(&format!("/v1/invoices/{id}/finalize"), "")["status"],
            "open"
        );
        let sent = post(&format!("/v1/invoices/{id}/send"), "");
        assert!(sent["hosted_invoice_url"].as_str().unwrap().ends_with(id));
        assert_eq!(
            c.post("/v1/invoices/in_none/send").send().unwrap().status,
            404
        );
        // An Idempotency-Key repeated: the first answer again; with other
        // parameters, 400.
        let keyed = |body: &str| {
            let r = c
                .post("/v1/refunds")
                .header("idempotency-key", "k-1")
                .body(body.to_string())
                .send()
                .unwrap();
            (r.status, r.json().unwrap_or(Value::Null))
        };
        let (first, again) = (keyed("charge=ch_1&amount=5"), keyed("charge=ch_1&amount=5"));
        assert_eq!((first.0, &first.1["id"]), (200, &again.1["id"]));
        assert_eq!(keyed("charge=ch_1&amount=6").0, 400);
        // Charges: newest first, by window, paged with starting_after.
        s.set_charges(
            (1..=5)
                .map(|i| charge(&format!("ch_{i}"), 100 * i, "eur", 1_000 + i, None))
                .collect(),
        );
        let list = |q: &str, key: &str| {
            let resp = c
                .get(&format!("/v1/charges?{q}"))
                .header("authorization", key)
                .send()
                .unwrap();
            (resp.status, resp.json().unwrap())
        };
        let (status, page): (u16, Value) =
            list("limit=2&created%5Bgte%5D=1002", "Bearer sk_test_1");
        assert_eq!(status, 200);
        assert_eq!(page["data"][0]["id"], "ch_5");
        assert_eq!(page["data"][1]["id"], "ch_4");
        assert_eq!(page["has_more"], true);
        let (_, rest): (u16, Value) = list(
            "limit=2&created%5Bgte%5D=1002&starting_after=ch_4",
            "Bearer sk_test_1",
        );
        assert_eq!(rest["data"].as_array().unwrap().len(), 2);
        assert_eq!(rest["has_more"], false);
        assert_eq!(list("limit=2", "Bearer nope").0, 401);

        let t = telegram().unwrap();
        let r = Client::new(t.url())
            .post("/bot123:abc/sendMessage")
            .json(&json!({"chat_id": 42, "text": "hi"}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(r["ok"], true);
        assert_eq!(r["result"]["chat"]["id"], 42);

        let e = email().unwrap();
        let ec = Client::new(e.url());
        assert_eq!(
            ec.post("/send")
                .json(&json!({"to": "a@b.c"}))
                .send()
                .unwrap()
                .status,
            202
        );
        e.enqueue(Reply::status(500).delay(Duration::from_millis(20)));
        assert_eq!(
            ec.post("/send").json(&json!({})).send().unwrap().status,
            500
        );
        assert_eq!(e.wait_for_requests(2, Duration::from_secs(1)).len(), 2);
    }
}
