//! An incoming request, already read (the body up to the route's limit).

use crate::error::Result;

/// HTTP methods core routes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET
    Get,
    /// HEAD (served by GET routes without a body)
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// OPTIONS
    Options,
    /// Anything else.
    Other,
}

impl Method {
    /// Parse a method name (case-sensitive, as HTTP requires).
    pub fn parse(s: &str) -> Method {
        match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }

    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other => "OTHER",
        }
    }
}

/// A request as handlers see it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path, percent-encoded as received, without the query.
    pub path: String,
    /// The raw query string (without `?`).
    pub query: String,
    /// Headers with lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Whether the body was longer than the route's limit (and so cut short).
    pub body_too_large: bool,
    /// The client's address, when the platform tells it.
    pub client_addr: Option<String>,
}

impl Request {
    /// A request with no headers and no body (tests, internal calls).
    pub fn new(method: Method, path_and_query: &str) -> Self {
        let (path, query) = split_path_query(path_and_query);
        Request {
            method,
            path,
            query,
            headers: Vec::new(),
            body: Vec::new(),
            body_too_large: false,
            client_addr: None,
        }
    }

    /// Add a header (builder style).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// Set the body (builder style).
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The first header named `name` (give it in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the request has no body to read: a GET or HEAD that declares
    /// neither a length nor a transfer coding (RFC 9112 §6.3: then there is
    /// no body). Reading an empty body stream still costs several host calls
    /// per request.
    pub fn has_no_body(&self) -> bool {
        matches!(self.method, Method::Get | Method::Head)
            && self.header("content-length").is_none()
            && self.header("transfer-encoding").is_none()
    }

    /// The decoded value of query parameter `name`, if present.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k)? == name).then(|| form_decode(v))?
        })
    }

    /// Query parameter `name` as an RFC 3339 time (Unix ms); 400
    /// `invalid_timestamp` when it is not one.
    pub fn time_param(&self, name: &str) -> Result<Option<i64>> {
        self.query_param(name)
            .map(|v| {
                crate::time::parse_rfc3339(&v).map_err(|e| {
                    crate::Error::bad_request("invalid_timestamp", format!("{name}: {}", e.message))
                })
            })
            .transpose()
    }

    /// The `limit` query parameter (a page size from 1 to `max`, `default`
    /// when absent); 400 `invalid_limit` otherwise.
    pub fn limit_param(&self, default: usize, max: usize) -> Result<usize> {
        match self.query_param("limit") {
            None => Ok(default),
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    crate::Error::bad_request(
                        "invalid_limit",
                        format!("limit must be an integer from 1 to {max}"),
                    )
                }),
        }
    }

    /// The `cursor` query parameter of a paged list (an opaque id this API
    /// issued: letters, digits, `_`, at most 64); 400 `invalid_cursor`
    /// otherwise. Empty means none.
    pub fn cursor_param(&self) -> Result<Option<String>> {
        let cursor = self.query_param("cursor").filter(|c| !c.is_empty());
        if let Some(c) = &cursor {
            if c.len() > 64 || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(crate::Error::bad_request(
                    "invalid_cursor",
                    "the cursor is not one this API issued",
                ));
            }
        }
        Ok(cursor)
    }

    /// The request without its body (method, path, query, headers).
    pub fn clone_head(&self) -> Request {
        Request {
            method: self.method,
            path: self.path.clone(),
            query: self.query.clone(),
            headers: self.headers.clone(),
            body: Vec::new(),
            body_too_large: self.body_too_large,
            client_addr: self.client_addr.clone(),
        }
    }

    /// Parse the body as JSON into `T` (see [`super::body::json`]).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        super::body::json(self)
    }
}

/// Split `path?query` into its parts.
pub fn split_path_query(s: &str) -> (String, String) {
    match s.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (s.to_string(), String::new()),
    }
}

/// Decode `%XX` escapes into UTF-8 text (paths: `+` stays `+`).
pub fn percent_decode(s: &str) -> Option<String> {
    decode(s, false)
}

/// Decode a query-string component: `%XX` escapes and `+` as space.
pub fn form_decode(s: &str) -> Option<String> {
    decode(s, true)
}

fn decode(s: &str, plus_as_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_decoded() {
        let r = Request::new(Method::Get, "/x?a=1&name=J%C3%BCrgen+K&flag");
        assert_eq!(r.path, "/x");
        assert_eq!(r.query_param("a").as_deref(), Some("1"));
        assert_eq!(r.query_param("name").as_deref(), Some("Jürgen K"));
        assert_eq!(r.query_param("flag").as_deref(), Some(""));
        assert_eq!(r.query_param("missing"), None);
    }

    #[test]
    fn only_a_get_or_head_declaring_no_length_or_coding_has_no_body() {
        assert!(Request::new(Method::Get, "/").has_no_body());
        assert!(Request::new(Method::Head, "/").has_no_body());
        assert!(!Request::new(Method::Post, "/").has_no_body());
        assert!(!Request::new(Method::Delete, "/").has_no_body());
        let declared = Request::new(Method::Get, "/").with_header("content-length", "3");
        assert!(!declared.has_no_body());
        let chunked = Request::new(Method::Get, "/").with_header("transfer-encoding", "chunked");
        assert!(!chunked.has_no_body());
    }

    #[test]
    fn bad_escapes_are_errors() {
        assert!(percent_decode("%zz").is_none());
        assert!(percent_decode("%4").is_none());
        assert!(percent_decode("%ff").is_none());
        assert_eq!(percent_decode("a+b%20c").unwrap(), "a+b c");
        assert_eq!(form_decode("a+b%20c").unwrap(), "a b c");
    }
}
