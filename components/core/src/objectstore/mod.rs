//! A small client for S3-compatible object stores (AWS S3, MinIO, R2,
//! moto): PutObject, GetObject, ListObjectsV2 and DeleteObject, signed with
//! AWS Signature V4 ([`crate::sigv4`]), over the outbound HTTP port.
//!
//! Path-style addressing only: `{endpoint}/{bucket}/{key}`. It works with
//! every S3 implementation and keeps one origin per store, which is what
//! `allowed_outbound_hosts` can name from a variable (virtual-hosted style
//! would put the bucket in the host name). Every request signs its payload
//! (`x-amz-content-sha256` is the body's SHA-256, so S3 refuses a body
//! damaged on the way) and a body is sent with its `Content-Length`.
//!
//! S3's errors are XML (`<Error><Code>…</Code><Message>…</Message>`);
//! they come back as [`StoreError::Service`] with S3's code, so a 403
//! `SignatureDoesNotMatch` or a 404 `NoSuchBucket` says so. Messages never
//! carry the credentials: S3's own echo of the request (`StringToSign`,
//! `AWSAccessKeyId`) is not read, and what is shown is redacted anyway.

pub mod xml;

use crate::ports::{redact, Env, HttpError, OutboundRequest, OutboundResponse};
use crate::sigv4::{self, Credentials, Scope};
use std::fmt;

/// How long one request may take (a backup of tens of MB at a slow link).
const TIMEOUT_MS: u64 = 120_000;
/// The most keys one ListObjectsV2 page returns (S3's maximum).
pub const PAGE_KEYS: usize = 1000;

/// One bucket of one store, with the key that opens it.
#[derive(Clone, PartialEq, Eq)]
pub struct Bucket {
    /// `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000`: an
    /// origin, no path.
    pub endpoint: String,
    /// The bucket's name.
    pub name: String,
    /// The signing region (`us-east-1` for stores that ignore it).
    pub region: String,
    /// The access key.
    pub credentials: Credentials,
}

impl fmt::Debug for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bucket")
            .field("endpoint", &self.endpoint)
            .field("name", &self.name)
            .field("region", &self.region)
            .field("credentials", &self.credentials)
            .finish()
    }
}

/// Why a store request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// No answer: not allowed, refused, timed out.
    Transport(String),
    /// The store answered with an error: its status, S3's error code
    /// (`NoSuchBucket`, `SignatureDoesNotMatch`, …; the status's reason when
    /// the body has none) and message.
    Service {
        /// HTTP status.
        status: u16,
        /// S3's `<Code>`.
        code: String,
        /// S3's `<Message>`.
        message: String,
    },
}

impl StoreError {
    /// Whether the store said there is no such key.
    pub fn is_missing_key(&self) -> bool {
        matches!(self, StoreError::Service { code, .. } if code == "NoSuchKey")
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Transport(m) => write!(f, "the object store did not answer: {m}"),
            StoreError::Service {
                status,
                code,
                message,
            } => {
                write!(f, "the object store answered {status} {code}")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
        }
    }
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The key.
    pub key: String,
    /// Its size in bytes.
    pub size: i64,
    /// When it was last written (as the store says it, ISO 8601).
    pub last_modified: String,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The objects, in key order.
    pub objects: Vec<Object>,
    /// The token of the next page, when there is one.
    pub next: Option<String>,
}

/// A request before signing.
#[derive(Debug, Clone, PartialEq)]
pub struct Unsigned<'a> {
    /// `GET`, `PUT`, `DELETE`.
    pub method: &'a str,
    /// The object's key (empty for the bucket itself).
    pub key: &'a str,
    /// Query parameters, not encoded.
    pub query: Vec<(&'a str, &'a str)>,
    /// Extra headers to sign and send (`x-amz-meta-…`, `content-type`).
    pub headers: Vec<(&'a str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Bucket {
    /// The `host` header S3 sees: the endpoint's authority.
    fn host(&self) -> &str {
        self.endpoint
            .split_once("://")
            .map_or(self.endpoint.as_str(), |(_, rest)| rest)
    }

    /// `req` as a signed outbound request at `now_ms`.
    pub fn sign(&self, req: &Unsigned<'_>, now_ms: i64) -> OutboundRequest {
        let path = if req.key.is_empty() {
            format!("/{}", self.name)
        } else {
            format!("/{}/{}", self.name, req.key)
        };
        let date = sigv4::amz_date(now_ms);
        let payload = sigv4::payload_hash(&req.body);
        let mut headers: Vec<(&str, String)> = vec![
            ("host", self.host().to_string()),
            ("x-amz-content-sha256", payload.clone()),
            ("x-amz-date", date.clone()),
        ];
        headers.extend(req.headers.iter().cloned());
        let signed_headers: Vec<(&str, &str)> =
            headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let signed = sigv4::sign(
            &self.credentials,
            &Scope {
                region: &self.region,
                service: "s3",
            },
            &sigv4::Request {
                method: req.method,
                path: &path,
                query: &req.query,
                headers: &signed_headers,
                payload: &payload,
            },
            &date,
        );
        let query = sigv4::canonical_query(&req.query);
        let mut url = format!("{}{}", self.endpoint, sigv4::uri_encode(&path, true));
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        let mut out = OutboundRequest::new(req.method, url).timeout_ms(TIMEOUT_MS);
        // `host` is not sent: the HTTP client sets it from the URL (WASI
        // forbids setting it), and it is the same authority.
        for (k, v) in headers.into_iter().filter(|(k, _)| *k != "host") {
            out = out.header(k, v);
        }
        out = out.header("authorization", signed.authorization);
        out.body = req.body.clone();
        out
    }

    /// Send `req`; a non-2xx answer is a [`StoreError::Service`].
    async fn send(&self, env: &Env, req: Unsigned<'_>) -> Result<OutboundResponse, StoreError> {
        let out = self.sign(&req, env.clock.now_ms());
        let secrets = [
            self.credentials.secret_access_key.clone(),
            self.credentials.access_key_id.clone(),
        ];
        let resp = env.http.send(out).await.map_err(|e| {
            StoreError::Transport(match e {
                HttpError::NotAllowed(_) => format!(
                    "{} is not in the component's allowed_outbound_hosts",
                    self.endpoint
                ),
                other => redact(&other.to_string(), &secrets),
            })
        })?;
        if (200..300).contains(&resp.status) {
            return Ok(resp);
        }
        Err(service_error(&resp, &secrets))
    }

    /// PutObject: store `body` at `key` with `metadata` (`x-amz-meta-…`
    /// headers, names without the prefix).
    pub async fn put(
        &self,
        env: &Env,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        metadata: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        let names: Vec<String> = metadata
            .iter()
            .map(|(k, _)| format!("x-amz-meta-{k}"))
            .collect();
        let mut headers: Vec<(&str, String)> = vec![("content-type", content_type.to_string())];
        headers.extend(
            names
                .iter()
                .zip(metadata)
                .map(|(n, (_, v))| (n.as_str(), v.to_string())),
        );
        self.send(
            env,
            Unsigned {
                method: "PUT",
                key,
                query: Vec::new(),
                headers,
                body,
            },
        )
        .await
        .map(drop)
    }

    /// GetObject: the object's bytes.
    pub async fn get(&self, env: &Env, key: &str) -> Result<Vec<u8>, StoreError> {
        let resp = self
            .send(
                env,
                Unsigned {
                    method: "GET",
                    key,
                    query: Vec::new(),
                    headers: Vec::new(),
                    body: Vec::new(),
                },
            )
            .await?;
        Ok(resp.body)
    }

    /// DeleteObject (a key that is not there is not an error: S3 answers
    /// 204 either way).
    pub async fn delete(&self, env: &Env, key: &str) -> Result<(), StoreError> {
        self.send(
            env,
            Unsigned {
                method: "DELETE",
                key,
                query: Vec::new(),
                headers: Vec::new(),
                body: Vec::new(),
            },
        )
        .await
        .map(drop)
    }

    /// ListObjectsV2: one page of the keys under `prefix`, after the page
    /// `continuation` names.
    pub async fn list(
        &self,
        env: &Env,
        prefix: &str,
        continuation: Option<&str>,
    ) -> Result<Page, StoreError> {
        let mut query = vec![("list-type", "2"), ("prefix", prefix)];
        if let Some(token) = continuation {
            query.push(("continuation-token", token));
        }
        let resp = self
            .send(
                env,
                Unsigned {
                    method: "GET",
                    key: "",
                    query,
                    headers: Vec::new(),
                    body: Vec::new(),
                },
            )
            .await?;
        Ok(parse_list(&String::from_utf8_lossy(&resp.body)))
    }

    /// Every object under `prefix`, following continuation tokens for at
    /// most `max_pages` pages (an error past that: a prefix that large is
    /// not this app's).
    pub async fn list_all(
        &self,
        env: &Env,
        prefix: &str,
        max_pages: usize,
    ) -> Result<Vec<Object>, StoreError> {
        let mut objects = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..max_pages {
            let page = self.list(env, prefix, next.as_deref()).await?;
            objects.extend(page.objects);
            match page.next {
                Some(token) => next = Some(token),
                None => return Ok(objects),
            }
        }
        Err(StoreError::Transport(format!(
            "more than {} objects under `{prefix}`",
            max_pages * PAGE_KEYS
        )))
    }
}

/// A ListObjectsV2 answer read: its objects and the next page's token.
pub fn parse_list(body: &str) -> Page {
    let objects = xml::blocks(body, "Contents")
        .into_iter()
        .filter_map(|c| {
            Some(Object {
                key: xml::first(c, "Key")?,
                size: xml::first(c, "Size")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                last_modified: xml::first(c, "LastModified").unwrap_or_default(),
            })
        })
        .collect();
    let truncated = xml::first(body, "IsTruncated").as_deref() == Some("true");
    Page {
        objects,
        next: xml::first(body, "NextContinuationToken").filter(|_| truncated),
    }
}

/// An error answer read: S3's code and message, redacted.
pub fn service_error(resp: &OutboundResponse, secrets: &[String]) -> StoreError {
    let body = String::from_utf8_lossy(&resp.body);
    let code = xml::first(&body, "Code").unwrap_or_else(|| match resp.status {
        // HEAD-like answers and some proxies send no body.
        403 => "AccessDenied".into(),
        404 => "NotFound".into(),
        s => format!("HTTP{s}"),
    });
    let message: String = xml::first(&body, "Message")
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    StoreError::Service {
        status: resp.status,
        code: redact(&code, secrets).chars().take(64).collect(),
        message: redact(&message, secrets),
    }
}

#[cfg(test)]
mod tests;
