//! Responses and the JSON envelope.
//!
//! Success: `{"ok": true, "data": ...}`. Failure:
//! `{"ok": false, "error": {"code": "snake_case", "message": "human words",
//! "detail": "the specifics"}}`: `message` is the code's message from the
//! language catalogue the caller asked for (`Accept-Language`, see
//! [`crate::i18n`]), `detail` the error's own English words (which field,
//! which value; absent for internal errors). [`Response::error_in`] is the
//! one place an [`Error`] becomes a response.

use crate::error::{Error, Kind};
use crate::i18n::{self, Lang};
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

    /// The error envelope in English (see [`Response::error_in`]).
    pub fn error(err: &Error) -> Self {
        Self::error_in(err, Lang::En)
    }

    /// The error envelope with the error's status (and Retry-After / Allow),
    /// its message in `lang` (or English where the catalogue has none), and
    /// `Content-Language` saying which.
    pub fn error_in(err: &Error, lang: Lang) -> Self {
        let (used, message) = i18n::render(lang, err);
        let mut error = serde_json::json!({ "code": err.code, "message": message });
        if err.kind != Kind::Internal {
            error["detail"] = err.public_message().into();
            if let Some(details) = &err.details {
                error["details"] = (**details).clone();
            }
        }
        let body = serde_json::json!({ "ok": false, "error": error });
        let mut resp = Response::new(err.status())
            .with_header("Content-Type", "application/json")
            .with_header("Content-Language", used.tag())
            .with_header("Vary", "Accept-Language")
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
        assert!(!body.contains("detail"));
    }

    #[test]
    fn error_messages_speak_the_language_asked_for_and_keep_the_specifics() {
        let e = Error::bad_request("invalid_json", "unknown field `txet`");
        let en: serde_json::Value = serde_json::from_slice(&Response::error(&e).body).unwrap();
        let es_resp = Response::error_in(&e, Lang::Es);
        let es: serde_json::Value = serde_json::from_slice(&es_resp.body).unwrap();
        assert_eq!(es_resp.header("content-language"), Some("es"));
        assert_eq!(es["error"]["code"], "invalid_json");
        assert_eq!(es["error"]["detail"], "unknown field `txet`");
        assert_ne!(es["error"]["message"], en["error"]["message"]);
        assert_eq!(
            en["error"]["message"],
            i18n::message(Lang::En, "invalid_json").unwrap()
        );
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
