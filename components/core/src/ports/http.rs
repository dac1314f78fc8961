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

    /// The headers to send on the wire: the request's own, plus
    /// `Content-Length` when it has a body (or a method that carries one)
    /// and does not set the length itself. Without it Spin sends the body
    /// chunked, which some servers and proxies refuse or mis-read; the app
    /// always knows the size, so it always says it.
    pub fn wire_headers(&self) -> Vec<(String, String)> {
        let mut headers = self.headers.clone();
        let carries_body =
            !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH");
        let has_length = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
        if carries_body && !has_length {
            headers.push(("content-length".to_string(), self.body.len().to_string()));
        }
        headers
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

/// `text` with every (non-empty) secret replaced by `[redacted]`: for error
/// messages about outbound calls, which may echo a token, a key or a URL
/// carrying one.
pub fn redact(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), "[redacted]"))
}

/// Whether an answer with `status` may succeed if sent again later (408,
/// 429, 5xx).
pub fn retryable(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
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

/// A shared client is a client (tests keep a handle to what a scripted
/// client recorded while the [`crate::ports::Env`] owns another).
impl<T: HttpClient + ?Sized> HttpClient for std::sync::Arc<T> {
    fn send(
        &self,
        req: OutboundRequest,
    ) -> LocalBoxFuture<'_, Result<OutboundResponse, HttpError>> {
        (**self).send(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn length(req: &OutboundRequest) -> Option<String> {
        req.wire_headers()
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v)
    }

    #[test]
    fn a_body_is_sent_with_its_length() {
        let req =
            OutboundRequest::new("POST", "https://x.test/").json(&serde_json::json!({"a": "é"}));
        assert_eq!(length(&req), Some(req.body.len().to_string()));
        let form = OutboundRequest::new("POST", "https://x.test/").form(&[("k", "v w")]);
        assert_eq!(length(&form).as_deref(), Some("7")); // k=v%20w
    }

    #[test]
    fn an_empty_post_says_zero_and_a_get_says_nothing() {
        assert_eq!(
            length(&OutboundRequest::new("POST", "https://x.test/")).as_deref(),
            Some("0")
        );
        assert_eq!(
            length(&OutboundRequest::new("GET", "https://x.test/")),
            None
        );
    }

    #[test]
    fn a_length_the_caller_set_is_kept_once() {
        let req = OutboundRequest::new("PUT", "https://x.test/").header("Content-Length", "3");
        let req = OutboundRequest {
            body: b"abc".to_vec(),
            ..req
        };
        let lengths: Vec<_> = req
            .wire_headers()
            .into_iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .collect();
        assert_eq!(
            lengths,
            vec![("Content-Length".to_string(), "3".to_string())]
        );
    }
}
