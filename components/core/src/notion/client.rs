//! A paced Notion API client: at most 3 requests a second, Retry-After
//! honoured once per request when short.

use super::settings::{NotionSettings, NOTION_VERSION};
use crate::ports::{Env, HttpError, OutboundRequest};
use serde_json::Value;
use std::cell::Cell;

/// Minimum gap between requests: Notion allows an average of 3 per second.
pub const MIN_GAP_MS: f64 = 334.0;
/// The longest Retry-After waited for inside a tick.
const MAX_WAIT_MS: u64 = 10_000;

/// Why a Notion request failed.
#[derive(Debug, Clone, PartialEq)]
pub enum NotionError {
    /// 429 with a long Retry-After: stop for this tick.
    RateLimited(u64),
    /// The page or database does not exist, or is not shared with the
    /// integration (404).
    NotFound(String),
    /// Another 4xx: the request will not work as sent.
    Rejected(u16, String),
    /// 5xx, timeout, connection: may work later.
    Unavailable(String),
}

impl std::fmt::Display for NotionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotionError::RateLimited(ms) => {
                write!(f, "rate limited by Notion (retry after {ms} ms)")
            }
            NotionError::NotFound(m) => write!(f, "not found: {m}"),
            NotionError::Rejected(s, m) => write!(f, "rejected ({s}): {m}"),
            NotionError::Unavailable(m) => write!(f, "unavailable: {m}"),
        }
    }
}

/// The client for one sync run.
pub struct Notion<'a> {
    env: &'a Env,
    s: &'a NotionSettings,
    last: Cell<Option<f64>>,
    /// Requests sent so far.
    pub requests: Cell<usize>,
}

impl<'a> Notion<'a> {
    /// A client for `s`.
    pub fn new(env: &'a Env, s: &'a NotionSettings) -> Self {
        Notion {
            env,
            s,
            last: Cell::new(None),
            requests: Cell::new(0),
        }
    }

    async fn pace(&self) {
        if let Some(last) = self.last.get() {
            let wait = last + MIN_GAP_MS - self.env.clock.monotonic_ms();
            if wait > 0.0 {
                self.env.clock.sleep(wait.ceil() as u64).await;
            }
        }
        self.last.set(Some(self.env.clock.monotonic_ms()));
    }

    /// Send one request; on a short 429 or a 5xx, wait and try once more.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, NotionError> {
        for attempt in 0..2 {
            self.pace().await;
            let mut req = OutboundRequest::new(method, format!("{}{path}", self.s.base_url))
                .header("authorization", format!("Bearer {}", self.s.token))
                .header("notion-version", NOTION_VERSION)
                .timeout_ms(30_000);
            if let Some(b) = &body {
                req = req.json(b);
            }
            self.requests.set(self.requests.get() + 1);
            let resp = match self.env.http.send(req).await {
                Ok(r) => r,
                Err(HttpError::NotAllowed(u)) => {
                    return Err(NotionError::Rejected(
                        0,
                        format!("{u} is not in allowed_outbound_hosts (check notion_base_url)"),
                    ))
                }
                Err(e) if attempt == 0 => {
                    crate::log::warn("notion", &format!("{method} {path}: {e}; retrying"));
                    self.env.clock.sleep(1000).await;
                    continue;
                }
                Err(e) => return Err(NotionError::Unavailable(e.to_string())),
            };
            let message = || {
                serde_json::from_slice::<Value>(&resp.body)
                    .ok()
                    .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_else(|| format!("HTTP {}", resp.status))
            };
            match resp.status {
                200..=299 => {
                    return serde_json::from_slice(&resp.body)
                        .map_err(|e| NotionError::Unavailable(format!("malformed answer: {e}")))
                }
                429 => {
                    let wait = resp
                        .retry_after_secs()
                        .map(|s| (s * 1000.0) as u64)
                        .unwrap_or(1000);
                    if attempt == 1 || wait > MAX_WAIT_MS {
                        return Err(NotionError::RateLimited(wait));
                    }
                    self.env.clock.sleep(wait).await;
                }
                404 => return Err(NotionError::NotFound(message())),
                500..=599 if attempt == 0 => self.env.clock.sleep(1000).await,
                500..=599 => return Err(NotionError::Unavailable(message())),
                s => return Err(NotionError::Rejected(s, message())),
            }
        }
        Err(NotionError::Unavailable("gave up".into()))
    }

    /// One page of the queue database's Queued pages.
    pub async fn query_queued(&self, cursor: Option<&str>) -> Result<Value, NotionError> {
        let mut body = serde_json::json!({
            "filter": { "property": self.s.status_prop, self.s.status_kind.as_str(): { "equals": self.s.queued } },
            "sorts": [{ "timestamp": "created_time", "direction": "ascending" }],
            "page_size": 25,
        });
        if let Some(c) = cursor {
            body["start_cursor"] = c.into();
        }
        self.send(
            "POST",
            &format!("/v1/databases/{}/query", self.s.queue_db),
            Some(body),
        )
        .await
    }

    /// One page of database `db`'s pages created at or after `since`
    /// (RFC 3339), oldest first.
    pub async fn query_created_since(
        &self,
        db: &str,
        since: &str,
        cursor: Option<&str>,
    ) -> Result<Value, NotionError> {
        let mut body = serde_json::json!({
            "filter": { "timestamp": "created_time", "created_time": { "on_or_after": since } },
            "sorts": [{ "timestamp": "created_time", "direction": "ascending" }],
            "page_size": 25,
        });
        if let Some(c) = cursor {
            body["start_cursor"] = c.into();
        }
        self.send("POST", &format!("/v1/databases/{db}/query"), Some(body))
            .await
    }

    /// Set a page's status.
    pub async fn set_status(&self, page: &str, status: &str) -> Result<Value, NotionError> {
        let body = serde_json::json!({ "properties": { self.s.status_prop.as_str(): self.s.status_value(status) } });
        self.send("PATCH", &format!("/v1/pages/{page}"), Some(body))
            .await
    }

    /// Append blocks to a page.
    pub async fn append(&self, page: &str, blocks: Vec<Value>) -> Result<Value, NotionError> {
        self.send(
            "PATCH",
            &format!("/v1/blocks/{page}/children"),
            Some(serde_json::json!({ "children": blocks })),
        )
        .await
    }

    /// Create a Job Log entry.
    pub async fn log_entry(
        &self,
        db: &str,
        title: &str,
        blocks: Vec<Value>,
    ) -> Result<Value, NotionError> {
        let body = serde_json::json!({
            "parent": { "database_id": db },
            "properties": { self.s.log_title_prop.as_str(): { "title": [{ "type": "text", "text": { "content": title } }] } },
            "children": blocks,
        });
        self.send("POST", "/v1/pages", Some(body)).await
    }
}
