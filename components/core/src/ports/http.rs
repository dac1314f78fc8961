//! The outbound HTTP port. Requests only reach hosts the component declares
//! in `allowed_outbound_hosts`; everything else fails with
//! [`HttpError::NotAllowed`].

use futures::future::LocalBoxFuture;
use std::fmt;

/// An outbound request.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundRequest {
    /// GET, POST, ...
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body (empty for none).
    pub body: Vec<u8>,
    /// Give up if no complete answer arrives within this many milliseconds.
    pub timeout_ms: u64,
}

impl OutboundRequest {
    /// A request with no headers and a 30 s timeout.
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        OutboundRequest {
            method: method.to_string(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: 30_000,
        }
    }

    /// Add a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Set a JSON body (and its content type).
    pub fn json(mut self, body: &serde_json::Value) -> Self {
        self.body = body.to_string().into_bytes();
        self.header("content-type", "application/json")
    }

    /// Set an `application/x-www-form-urlencoded` body.
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        self.body = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes();
        self.header("content-type", "application/x-www-form-urlencoded")
    }

    /// Set the timeout.
    pub fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = ms;
        self
    }
}

/// `v` percent-encoded for a form or query value (everything but RFC 3986's
/// unreserved characters).
pub fn form_encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An outbound response.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundResponse {
    /// Status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl OutboundResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `Retry-After` header in seconds (fractions allowed), if it is a
    /// finite, non-negative number. Callers round it to their own unit.
    pub fn retry_after_secs(&self) -> Option<f64> {
        self.header("retry-after")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
    }
}

/// Why an outbound request failed before a response arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The destination is not in the component's `allowed_outbound_hosts`.
    NotAllowed(String),
    /// No answer within the timeout.
    Timeout,
    /// Could not connect (DNS, refused, TLS).
    Connect(String),
    /// Anything else.
    Other(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::NotAllowed(u) => write!(f, "destination not allowed: {u}"),
            HttpError::Timeout => f.write_str("timed out"),
            HttpError::Connect(m) => write!(f, "connection failed: {m}"),
            HttpError::Other(m) => f.write_str(m),
        }
    }
}

/// Sends outbound requests. Futures are local (wasm is single-threaded), so
/// several requests can be in flight together under one executor.
pub trait HttpClient {
    /// Send `req` and wait for the whole response.
    fn send(&self, req: OutboundRequest)
        -> LocalBoxFuture<'_, Result<OutboundResponse, HttpError>>;
}
