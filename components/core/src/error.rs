//! The one error type of EchoPilot and its mapping to HTTP statuses.
//!
//! Every fallible function in core returns [`Result`]. An [`Error`] carries a
//! stable snake_case `code` (what clients branch on) and a human message (what
//! people read). [`Error::status`] is the only place where errors become HTTP
//! statuses; `http::response` renders them into the JSON envelope, with the
//! code's message from the caller's language catalogue ([`crate::i18n`]) and
//! this message as the `detail`.

use std::fmt;

/// What kind of failure this is; decides the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 400: the request is malformed (bad JSON, bad parameter).
    BadRequest,
    /// 401: no credential, or an invalid one.
    Unauthorized,
    /// 403: a valid credential that may not do this.
    Forbidden,
    /// 404: nothing here.
    NotFound,
    /// 405: the path exists but not with this method.
    MethodNotAllowed,
    /// 409: conflicts with the current state.
    Conflict,
    /// 413: the body is larger than allowed.
    PayloadTooLarge,
    /// 415: the body is not in a media type this route accepts.
    UnsupportedMediaType,
    /// 422: well-formed but semantically invalid.
    Unprocessable,
    /// 429: slow down; `retry_after` seconds.
    RateLimited,
    /// 503: a dependency is down or a feature is not configured.
    Unavailable,
    /// 500: our fault. The message is logged, never sent to the client.
    Internal,
}

/// An EchoPilot error: a kind, a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Decides the status.
    pub kind: Kind,
    /// Stable machine-readable code, snake_case.
    pub code: &'static str,
    /// Human words. For `Internal`, this is logged but replaced in responses.
    pub message: String,
    /// Seconds a client should wait before retrying (429, 503).
    pub retry_after: Option<u64>,
    /// Methods allowed on the path (405).
    pub allow: Option<String>,
    /// Extra response headers (rate-limit and quota state on a 429).
    pub headers: Vec<(String, String)>,
    /// Structured details a client can act on (the problems of an invalid
    /// workflow, each with its node id), served as `error.details`.
    pub details: Option<Box<serde_json::Value>>,
}

/// Result with the EchoPilot error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with `code` and `message`.
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> Self {
        Error {
            kind,
            code,
            message: message.into(),
            retry_after: None,
            allow: None,
            headers: Vec::new(),
            details: None,
        }
    }

    /// The value a catalogue message names in braces: `{retry_after}` or
    /// `{allow}`, when this error carries it.
    pub fn arg(&self, name: &str) -> Option<String> {
        match name {
            "retry_after" => self.retry_after.map(|s| s.to_string()),
            "allow" => self.allow.clone(),
            _ => None,
        }
    }

    /// The same error with structured `details` for the client.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, code, message)
    }
    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(Kind::Unauthorized, "unauthorized", message)
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Kind::Forbidden, "forbidden", message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, "not_found", message)
    }
    /// 409 with a code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, code, message)
    }
    /// 422 with a code.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Unprocessable, code, message)
    }
    /// 503: a feature or dependency is not available.
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Unavailable, code, message)
    }
    /// 500: an internal failure; `message` is for the logs only.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, "internal_error", message)
    }
    /// 429 with the seconds to wait.
    pub fn rate_limited(retry_after: u64, message: impl Into<String>) -> Self {
        let mut e = Self::new(Kind::RateLimited, "rate_limited", message);
        e.retry_after = Some(retry_after);
        e
    }

    /// The HTTP status of this error: the one mapping from kinds to statuses.
    pub fn status(&self) -> u16 {
        match self.kind {
            Kind::BadRequest => 400,
            Kind::Unauthorized => 401,
            Kind::Forbidden => 403,
            Kind::NotFound => 404,
            Kind::MethodNotAllowed => 405,
            Kind::Conflict => 409,
            Kind::PayloadTooLarge => 413,
            Kind::UnsupportedMediaType => 415,
            Kind::Unprocessable => 422,
            Kind::RateLimited => 429,
            Kind::Internal => 500,
            Kind::Unavailable => 503,
        }
    }

    /// The message a client may see: internal details stay in the logs.
    pub fn public_message(&self) -> &str {
        match self.kind {
            Kind::Internal => "an internal error occurred; quote the request id when reporting it",
            _ => &self.message,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::internal(format!("json: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_status() {
        let cases = [
            (Kind::BadRequest, 400),
            (Kind::Unauthorized, 401),
            (Kind::Forbidden, 403),
            (Kind::NotFound, 404),
            (Kind::MethodNotAllowed, 405),
            (Kind::Conflict, 409),
            (Kind::PayloadTooLarge, 413),
            (Kind::UnsupportedMediaType, 415),
            (Kind::Unprocessable, 422),
            (Kind::RateLimited, 429),
            (Kind::Internal, 500),
            (Kind::Unavailable, 503),
        ];
        for (kind, status) in cases {
            assert_eq!(Error::new(kind, "x", "y").status(), status, "{kind:?}");
        }
    }

    #[test]
    fn internal_messages_are_not_public() {
        let e = Error::internal("sqlite said: disk I/O error at /secret/path");
        assert!(!e.public_message().contains("/secret/path"));
        assert_eq!(Error::not_found("no job x").public_message(), "no job x");
    }
}
