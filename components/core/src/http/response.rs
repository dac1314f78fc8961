//! Responses and the JSON envelope.
//!
//! Success: `{"ok": true, "data": ...}`. Failure:
//! `{"ok": false, "error": {"code": "snake_case", "message": "human words"}}`.
//! [`Response::error`] is the one place an [`Error`] becomes a response.

use crate::error::Error;
use serde::Serialize;

/// An outgoing response.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers (names as written; lookups are case-insensitive).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with a status and no headers or body.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `200 {"ok": true, "data": data}`.
    pub fn ok<T: Serialize + ?Sized>(data: &T) -> Self {
        Self::data(200, data)
    }

    /// `status {"ok": true, "data": data}`.
    pub fn data<T: Serialize + ?Sized>(status: u16, data: &T) -> Self {
        #[derive(Serialize)]
        struct Envelope<'a, T: ?Sized> {
            ok: bool,
            data: &'a T,
        }
        let body = serde_json::to_vec(&Envelope { ok: true, data })
            .unwrap_or_else(|_| br#"{"ok":false,"error":{"code":"internal_error","message":"response could not be encoded"}}"#.to_vec());
        Response::new(status)
            .with_header("Content-Type", "application/json")
            .with_body(body)
    }

    /// The error envelope with the error's status (and Retry-After / Allow).
    pub fn error(err: &Error) -> Self {
        let mut error = serde_json::json!({ "code": err.code, "message": err.public_message() });
        if let (Some(details), false) = (&err.details, err.kind == crate::error::Kind::Internal) {
            error["details"] = (**details).clone();
        }
        let body = serde_json::json!({ "ok": false, "error": error });
        let mut resp = Response::new(err.status())
            .with_header("Content-Type", "application/json")
            .with_body(body.to_string().into_bytes());
        if let Some(secs) = err.retry_after {
            resp = resp.with_header("Retry-After", &secs.to_string());
        }
        if let Some(allow) = &err.allow {
            resp = resp.with_header("Allow", allow);
        }
        for (k, v) in &err.headers {
            resp = resp.with_header(k, v);
        }
        resp
    }

    /// Add a header (builder style).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Set the body (builder style).
    pub fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// The first header named `name`, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Set `name` unless the response already has it.
    pub fn set_default_header(&mut self, name: &str, value: &str) {
        if self.header(name).is_none() {
            self.headers.push((name.to_string(), value.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn success_envelope() {
        let r = Response::ok(&serde_json::json!({"a": 1}));
        assert_eq!(r.status, 200);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v, serde_json::json!({"ok": true, "data": {"a": 1}}));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }

    #[test]
    fn error_envelope_hides_internal_details() {
        let r = Response::error(&Error::internal("secret path /etc/x"));
        assert_eq!(r.status, 500);
        let body = String::from_utf8(r.body).unwrap();
        assert!(!body.contains("/etc/x"));
        assert!(body.contains("internal_error"));
    }

    #[test]
    fn rate_limit_and_405_carry_their_headers() {
        let r = Response::error(&Error::rate_limited(7, "slow down"));
        assert_eq!(r.header("retry-after"), Some("7"));
        let mut e = Error::new(Kind::MethodNotAllowed, "method_not_allowed", "no");
        e.allow = Some("GET, HEAD".into());
        assert_eq!(Response::error(&e).header("Allow"), Some("GET, HEAD"));
    }
}
