//! A small blocking HTTP/1.1 client for scenarios. It writes the request
//! target exactly as given (no normalisation of `..` or percent-encoding),
//! so traversal attempts reach the server raw, and records every request in
//! a [`Coverage`] when it has one.

use crate::scenario::Coverage;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

/// A client for one base URL (`http://host:port`).
#[derive(Clone)]
pub struct Client {
    authority: String,
    timeout: Duration,
    coverage: Option<Arc<Coverage>>,
    default_headers: Vec<(String, String)>,
}

/// A response, fully read.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in order (names lower-cased).
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body)
            .with_context(|| format!("status {}: body is not JSON: {}", self.status, self.text()))
    }

    /// `error.code` of an error envelope.
    pub fn error_code(&self) -> Option<String> {
        self.json()
            .ok()?
            .pointer("/error/code")?
            .as_str()
            .map(str::to_string)
    }
}

/// One request being built.
pub struct RequestBuilder<'a> {
    client: &'a Client,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RequestBuilder<'_> {
    /// Add a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    /// A JSON body (sets Content-Type).
    pub fn json<T: Serialize>(mut self, value: &T) -> Self {
        self.body = serde_json::to_vec(value).expect("serializable");
        self.header("Content-Type", "application/json")
    }

    /// A raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Send it and read the whole response.
    pub fn send(self) -> Result<Response> {
        let c = self.client;
        if let Some(cov) = &c.coverage {
            cov.record(&self.method, &self.target);
        }
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.method, self.target, c.authority
        );
        let has = |n: &str| {
            self.headers
                .iter()
                .chain(c.default_headers.iter())
                .any(|(k, _)| k.eq_ignore_ascii_case(n))
        };
        let needs_length = !self.body.is_empty() || !matches!(self.method.as_str(), "GET" | "HEAD");
        if needs_length && !has("content-length") {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        for (k, v) in c.default_headers.iter().chain(self.headers.iter()) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut raw = head.into_bytes();
        raw.extend_from_slice(&self.body);
        c.exchange(&raw, self.method == "HEAD")
    }
}

impl Client {
    /// A client for `base_url` (`http://127.0.0.1:3000`).
    pub fn new(base_url: impl AsRef<str>) -> Client {
        let authority = base_url
            .as_ref()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        Client {
            authority,
            timeout: Duration::from_secs(60),
            coverage: None,
            default_headers: Vec::new(),
        }
    }

    /// Record every request in `coverage`.
    pub fn with_coverage(mut self, coverage: Arc<Coverage>) -> Client {
        self.coverage = Some(coverage);
        self
    }

    /// Send `name: value` with every request.
    pub fn with_default_header(mut self, name: &str, value: &str) -> Client {
        self.default_headers.push((name.into(), value.into()));
        self
    }

    /// Give up reading a response after `timeout` (default 60 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// `http://host:port`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.authority)
    }

    /// A request with any method; `target` is sent as written.
    pub fn request(&self, method: &str, target: &str) -> RequestBuilder<'_> {
        RequestBuilder {
            client: self,
            method: method.to_string(),
            target: target.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// GET.
    pub fn get(&self, target: &str) -> RequestBuilder<'_> {
        self.request("GET", target)
    }
    /// HEAD.
    pub fn head(&self, target: &str) -> RequestBuilder<'_> {
        self.request("HEAD", target)
    }
    /// POST.
    pub fn post(&self, target: &str) -> RequestBuilder<'_> {
        self.request("POST", target)
    }
    /// PUT.
    pub fn put(&self, target: &str) -> RequestBuilder<'_> {
        self.request("PUT", target)
    }
    /// PATCH.
    pub fn patch(&self, target: &str) -> RequestBuilder<'_> {
        self.request("PATCH", target)
    }
    /// DELETE.
    pub fn delete(&self, target: &str) -> RequestBuilder<'_> {
        self.request("DELETE", target)
    }

    /// Send `raw` bytes as they are and read one response (for requests a
    /// normal client would refuse or rewrite). Coverage is recorded from the
    /// request line.
    pub fn raw(&self, raw: &[u8]) -> Result<Response> {
        if let Some(cov) = &self.coverage {
            let line = String::from_utf8_lossy(raw);
            let mut parts = line.split_whitespace();
            if let (Some(m), Some(t)) = (parts.next(), parts.next()) {
                cov.record(m, t);
            }
        }
        let head = raw.starts_with(b"HEAD ");
        self.exchange(raw, head)
    }

    fn exchange(&self, raw: &[u8], head_request: bool) -> Result<Response> {
        let mut stream = TcpStream::connect(&self.authority)
            .with_context(|| format!("connecting to {}", self.authority))?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        // A server may answer (413, 401) and close before reading the whole
        // body: keep going and read what it said.
        let _ = stream.write_all(raw);
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .context("reading the status line")?;
        if line.is_empty() {
            bail!("the server closed the connection without answering");
        }
        let mut parts = line.trim_end().splitn(3, ' ');
        let _version = parts.next();
        let status: u16 = parts
            .next()
            .context("no status code")?
            .parse()
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let find = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        let no_body =
            head_request || status == 204 || status == 304 || (100..200).contains(&status);
        if !no_body {
            if find("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
                loop {
                    let mut size = String::new();
                    reader.read_line(&mut size)?;
                    let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                        .with_context(|| format!("bad chunk size {size:?}"))?;
                    if n == 0 {
                        let mut end = String::new();
                        let _ = reader.read_line(&mut end);
                        break;
                    }
                    let mut chunk = vec![0; n];
                    reader.read_exact(&mut chunk)?;
                    body.extend_from_slice(&chunk);
                    let mut crlf = [0u8; 2];
                    reader.read_exact(&mut crlf)?;
                }
            } else if let Some(len) = find("content-length") {
                let n: usize = len.parse().context("bad content-length")?;
                body.resize(n, 0);
                reader.read_exact(&mut body)?;
            } else {
                reader.read_to_end(&mut body)?;
            }
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}
