//! Google Drive: files uploaded with Drive's multipart upload
//! (`POST /upload/drive/v3/files?uploadType=multipart`, one
//! `multipart/related` body of JSON metadata and the content), authorized
//! by an access token from the shared refresh-token exchange
//! ([`super::oauth`]). Used by the workflow Drive action and by the
//! per-tenant filing of finished jobs.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `drive_client_id` | (none) | the OAuth client's id |
//! | `drive_client_secret` | (none) | the OAuth client's secret |
//! | `drive_refresh_token` | (none) | a refresh token with the `drive.file` scope; empty: Drive is not configured |
//! | `drive_oauth_base_url` | `https://oauth2.googleapis.com` | the token endpoint's origin |
//! | `drive_api_base_url` | `https://www.googleapis.com` | the Drive upload API's origin |
//! | `drive_folder_id` | (none) | the folder files go to when a caller names none |

use super::oauth::{self, AccessToken, RefreshGrant, TokenError};
use crate::config;
use crate::error::{Error, Result};
use crate::ports::{ids, redact, retryable, Config, Env, HttpError, OutboundRequest};
use serde_json::Value;

/// The Drive API's origin.
pub const API_DEFAULT_ORIGIN: &str = "https://www.googleapis.com";
/// Multipart uploads carry at most 5 MB (Google's limit for this upload type).
pub const MAX_CONTENT_BYTES: usize = 5 * 1000 * 1000;
/// The longest file name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// How long an exchange or an upload may take.
const TIMEOUT_MS: u64 = 30_000;

/// The Drive settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Drive {
    /// The refresh-token grant (`drive_*` variables).
    pub grant: RefreshGrant,
    /// The multipart upload endpoint.
    pub upload_url: String,
    /// The file search endpoint (`files.list`).
    pub search_url: String,
    /// The folder used when a caller names none.
    pub default_folder: Option<String>,
}

/// The Drive settings, `None` when Drive is not configured (no
/// `drive_*` secrets); an error naming a missing or malformed variable.
pub fn settings(c: &dyn Config) -> Result<Option<Drive>> {
    let Some(grant) = RefreshGrant::from_config(c, "drive")? else {
        return Ok(None);
    };
    let default_folder = config::text(c, "drive_folder_id")?
        .map(|f| {
            FolderId::parse(&f)
                .map(|f| f.0)
                .map_err(|_| config::invalid("drive_folder_id", "a Drive folder id", &f))
        })
        .transpose()?;
    let origin = config::origin(c, "drive_api_base_url", API_DEFAULT_ORIGIN)?;
    Ok(Some(Drive {
        grant,
        upload_url: format!(
            "{origin}/upload/drive/v3/files?uploadType=multipart&supportsAllDrives=true&fields=id,name,mimeType,webViewLink"
        ),
        search_url: format!("{origin}/drive/v3/files"),
        default_folder,
    }))
}

/// A Drive folder id: 1 to 128 of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderId(String);

impl FolderId {
    /// Parse a folder id (422 `invalid_folder_id` otherwise).
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim();
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(FolderId(t.to_string()))
        } else {
            Err(Error::unprocessable(
                "invalid_folder_id",
                "a Drive folder id is 1 to 128 letters, digits, `-` or `_` (the last part of the folder's URL)",
            ))
        }
    }
    /// As text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What kind of text a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Plain text (`text/plain`, `.txt`).
    Text,
    /// Markdown (`text/markdown`, `.md`).
    Markdown,
    /// HTML (`text/html`, `.html`).
    Html,
}

impl Format {
    /// Every format, as named in requests.
    pub const NAMES: &'static [&'static str] = &["text", "markdown", "html"];

    /// Parse `text`, `markdown` or `html` (422 `invalid_format` otherwise).
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "text" => Ok(Format::Text),
            "markdown" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            _ => Err(Error::unprocessable(
                "invalid_format",
                format!("unknown format `{s}`; expected text, markdown or html"),
            )),
        }
    }
    /// As named in requests and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Html => "html",
        }
    }
    /// The media type Drive stores.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Text => "text/plain",
            Format::Markdown => "text/markdown",
            Format::Html => "text/html",
        }
    }
    /// The file name extension, with its dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Text => ".txt",
            Format::Markdown => ".md",
            Format::Html => ".html",
        }
    }
}

/// A file to upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// The file's name in Drive (the format's extension is added when
    /// missing).
    pub name: String,
    /// The folder; `None` for the configured default (or My Drive's root).
    pub folder: Option<FolderId>,
    /// Its kind of text.
    pub format: Format,
    /// The content.
    pub content: String,
    /// Private properties of the app (`appProperties`), to find the file
    /// again; none for most uploads.
    pub properties: Vec<(String, String)>,
}

impl Upload {
    /// Check the name and size: 422 for a blank or overlong name, 413 for
    /// content over [`MAX_CONTENT_BYTES`].
    pub fn check(&self) -> Result<()> {
        let name = self.name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(Error::unprocessable(
                "invalid_file_name",
                format!("a file name is 1 to {MAX_NAME_CHARS} characters on one line"),
            ));
        }
        if self.content.len() > MAX_CONTENT_BYTES {
            return Err(Error::new(
                crate::error::Kind::PayloadTooLarge,
                "content_too_large",
                format!(
                    "the file has {} bytes; a Drive multipart upload takes at most {MAX_CONTENT_BYTES}",
                    self.content.len()
                ),
            ));
        }
        Ok(())
    }

    /// The file name with the format's extension.
    pub fn file_name(&self) -> String {
        let name = self.name.trim();
        if name.to_ascii_lowercase().ends_with(self.format.extension()) {
            name.to_string()
        } else {
            format!("{name}{}", self.format.extension())
        }
    }
}

/// The `multipart/related` body of `upload` into `folder`: the metadata
/// part, then the content part, separated by `boundary` (which must not
/// occur in either). Returns the content type and the body.
pub fn multipart(upload: &Upload, folder: Option<&str>, boundary: &str) -> (String, Vec<u8>) {
    let mut metadata = serde_json::json!({
        "name": upload.file_name(),
        "mimeType": upload.format.mime(),
    });
    if let Some(f) = folder {
        metadata["parents"] = serde_json::json!([f]);
    }
    if !upload.properties.is_empty() {
        metadata["appProperties"] = upload
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    let body = format!(
        "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n\
         --{boundary}\r\nContent-Type: {}; charset=UTF-8\r\n\r\n{}\r\n--{boundary}--\r\n",
        upload.format.mime(),
        upload.content
    );
    (
        format!("multipart/related; boundary={boundary}"),
        body.into_bytes(),
    )
}

/// A file Drive stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Uploaded {
    /// Drive's file id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Where people open it, when Drive said.
    pub link: Option<String>,
}

/// Why an upload did not happen. Messages never contain a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadError {
    /// Will not work as sent (refused grant, 4xx, refused destination,
    /// bad input).
    Refused(String),
    /// May work later (network, timeout, 408, 429, 5xx).
    Unavailable(String),
}

impl std::fmt::Display for UploadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UploadError::Refused(m) | UploadError::Unavailable(m) => f.write_str(m),
        }
    }
}

fn from_token(e: TokenError) -> UploadError {
    match e {
        TokenError::Refused { .. } | TokenError::NotAllowed { .. } => {
            UploadError::Refused(format!("drive: {e}"))
        }
        TokenError::Unavailable { .. } => UploadError::Unavailable(format!("drive: {e}")),
    }
}

/// A boundary that occurs nowhere in `content`.
fn boundary(env: &Env, content: &str) -> Result<String> {
    for _ in 0..4 {
        let b = format!("echopilot-{}", ids::random_hex(12, env.ids.as_ref())?);
        if !content.contains(&b) {
            return Ok(b);
        }
    }
    Err(Error::internal(
        "no multipart boundary absent from the content",
    ))
}

/// An access token for `drive`.
pub async fn authorize(env: &Env, drive: &Drive) -> std::result::Result<AccessToken, UploadError> {
    oauth::exchange(env.http.as_ref(), &drive.grant, TIMEOUT_MS)
        .await
        .map_err(from_token)
}

/// Upload `upload` with `drive`: exchange the refresh token, then send
/// the multipart request.
pub async fn upload(
    env: &Env,
    drive: &Drive,
    upload: &Upload,
) -> std::result::Result<Uploaded, UploadError> {
    upload
        .check()
        .map_err(|e| UploadError::Refused(e.message))?;
    let token = authorize(env, drive).await?;
    send_upload(env, drive, &token, upload).await
}

/// Upload `upload` unless a file carrying its property `key` is already
/// in its folder (an earlier attempt whose answer was lost): exactly one
/// file however often this is retried. `key` must be one of
/// `upload.properties`.
pub async fn upload_once(
    env: &Env,
    drive: &Drive,
    upload: &Upload,
    key: &str,
) -> std::result::Result<Uploaded, UploadError> {
    upload
        .check()
        .map_err(|e| UploadError::Refused(e.message))?;
    let value = upload
        .properties
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| {
            UploadError::Refused(format!("drive: no property `{key}` to find the file by"))
        })?;
    let token = authorize(env, drive).await?;
    let folder = folder_of(drive, upload);
    if let Some(found) = find(env, drive, &token, (key, value), folder.as_deref()).await? {
        return Ok(found);
    }
    send_upload(env, drive, &token, upload).await
}

/// The folder `upload` goes to.
fn folder_of(drive: &Drive, upload: &Upload) -> Option<String> {
    upload
        .folder
        .as_ref()
        .map(|f| f.as_str().to_string())
        .or_else(|| drive.default_folder.clone())
}

/// A Drive query string literal: quoted, `\` and `'` escaped.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The query finding a file by an app property, in `folder` when given.
pub fn property_query((key, value): (&str, &str), folder: Option<&str>) -> String {
    let mut q = format!(
        "appProperties has {{ key={} and value={} }} and trashed = false",
        literal(key),
        literal(value)
    );
    if let Some(f) = folder {
        q.push_str(&format!(" and {} in parents", literal(f)));
    }
    q
}

/// The file whose app property `key` is `value` (in `folder`), if any.
pub async fn find(
    env: &Env,
    drive: &Drive,
    token: &AccessToken,
    property: (&str, &str),
    folder: Option<&str>,
) -> std::result::Result<Option<Uploaded>, UploadError> {
    let url = format!(
        "{}?q={}&fields=files(id,name,webViewLink)&pageSize=1&supportsAllDrives=true&includeItemsFromAllDrives=true",
        drive.search_url,
        crate::ports::form_encode(&property_query(property, folder))
    );
    let request = OutboundRequest::new("GET", url)
        .header("authorization", token.bearer())
        .timeout_ms(TIMEOUT_MS);
    let body = answer(drive, token, env.http.send(request).await, "search")?;
    let first = body
        .get("files")
        .and_then(Value::as_array)
        .and_then(|f| f.first());
    Ok(first.and_then(|f| {
        let text = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Uploaded {
            id: text("id")?,
            name: text("name").unwrap_or_default(),
            link: text("webViewLink"),
        })
    }))
}

/// The JSON of a successful Drive answer, or why it failed (secrets
/// redacted).
fn answer(
    drive: &Drive,
    token: &AccessToken,
    answer: std::result::Result<crate::ports::OutboundResponse, HttpError>,
    what: &str,
) -> std::result::Result<Value, UploadError> {
    let mut secrets = drive.grant.secrets();
    secrets.push(token.secret().to_string());
    let resp = match answer {
        Ok(r) => r,
        Err(HttpError::NotAllowed(_)) => {
            return Err(UploadError::Refused(
                "drive: the Drive API is not in allowed_outbound_hosts (check the drive_api_base_url variable)"
                    .into(),
            ))
        }
        Err(e) => {
            return Err(UploadError::Unavailable(redact(
                &format!("drive {what}: {e}"),
                &secrets,
            )))
        }
    };
    let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    if !(200..300).contains(&resp.status) {
        let why = body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("no explanation");
        let message = redact(
            &format!("drive {what} answered HTTP {}: {why}", resp.status),
            &secrets,
        );
        return Err(if retryable(resp.status) {
            UploadError::Unavailable(message)
        } else {
            UploadError::Refused(message)
        });
    }
    Ok(body)
}

/// Send the multipart upload of `upload` with `token`.
async fn send_upload(
    env: &Env,
    drive: &Drive,
    token: &AccessToken,
    upload: &Upload,
) -> std::result::Result<Uploaded, UploadError> {
    let folder = folder_of(drive, upload);
    let boundary = boundary(env, &upload.content).map_err(|e| UploadError::Refused(e.message))?;
    let (content_type, body) = multipart(upload, folder.as_deref(), &boundary);
    let mut request = OutboundRequest::new("POST", drive.upload_url.clone())
        .header("authorization", token.bearer())
        .header("content-type", content_type)
        .timeout_ms(TIMEOUT_MS);
    request.body = body;
    let body = answer(drive, token, env.http.send(request).await, "upload")?;
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    match text("id") {
        Some(id) => Ok(Uploaded {
            id,
            name: text("name").unwrap_or_else(|| upload.file_name()),
            link: text("webViewLink"),
        }),
        None => Err(UploadError::Unavailable(
            "drive answered without a file id".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native::{self, MapConfig, ScriptedHttp};
    use crate::ports::OutboundResponse;

    fn resp(status: u16, body: &str) -> OutboundResponse {
        OutboundResponse {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    const VARS: &[(&str, &str)] = &[
        ("drive_client_id", "cid"),
        ("drive_client_secret", "CSECRET"),
        ("drive_refresh_token", "1//REFRESH"),
        ("drive_oauth_base_url", "http://127.0.0.1:9"),
        ("drive_api_base_url", "http://127.0.0.1:9"),
        ("drive_folder_id", "folder_default"),
    ];

    fn file(content: &str) -> Upload {
        Upload {
            name: "Weekly report".into(),
            folder: Some(FolderId::parse("1AbC-d_E").unwrap()),
            format: Format::Markdown,
            content: content.into(),
            properties: Vec::new(),
        }
    }

    #[test]
    fn not_configured_without_secrets_and_malformed_variables_are_named() {
        assert_eq!(settings(&MapConfig::new(&[])).unwrap(), None);
        let mut vars = VARS.to_vec();
        vars.push(("drive_api_base_url", "http://127.0.0.1:9/drive"));
        let bad = MapConfig::new(&vars[1..]);
        let e = settings(&bad).unwrap_err();
        assert!(e.message.contains("drive_client_id"), "{}", e.message);
        let d = settings(&MapConfig::new(VARS)).unwrap().unwrap();
        assert!(d
            .upload_url
            .starts_with("http://127.0.0.1:9/upload/drive/v3/files?uploadType=multipart"));
        assert_eq!(d.default_folder.as_deref(), Some("folder_default"));
        assert!(FolderId::parse("a/b").is_err() && FolderId::parse("").is_err());
    }

    #[test]
    fn the_body_is_multipart_related_metadata_then_content() {
        let (ct, body) = multipart(&file("# Title\n\nbody"), Some("1AbC-d_E"), "BOUND");
        assert_eq!(ct, "multipart/related; boundary=BOUND");
        let body = String::from_utf8(body).unwrap();
        let parts: Vec<&str> = body.split("--BOUND").collect();
        assert_eq!(parts.len(), 4, "{body}");
        let (head, meta) = parts[1].split_once("\r\n\r\n").unwrap();
        assert!(head.contains("application/json"));
        let meta: Value = serde_json::from_str(meta.trim()).unwrap();
        assert_eq!(
            meta,
            serde_json::json!({"name": "Weekly report.md", "mimeType": "text/markdown", "parents": ["1AbC-d_E"]})
        );
        let (head, content) = parts[2].split_once("\r\n\r\n").unwrap();
        assert!(head.contains("text/markdown"));
        assert_eq!(content, "# Title\n\nbody\r\n");
        assert_eq!(parts[3], "--\r\n");
    }

    #[test]
    fn names_and_sizes_are_checked() {
        let mut u = file("x");
        u.name = "report.MD".into();
        assert_eq!(u.file_name(), "report.MD");
        u.name = " ".into();
        assert_eq!(u.check().unwrap_err().code, "invalid_file_name");
        u.name = "a\nb".into();
        assert!(u.check().is_err());
        let big = file(&"x".repeat(MAX_CONTENT_BYTES + 1));
        assert_eq!(big.check().unwrap_err().status(), 413);
    }

    #[test]
    fn an_upload_exchanges_the_token_then_sends_and_never_leaks_secrets() {
        let mut env = native::memory_env(VARS);
        let http = std::sync::Arc::new(ScriptedHttp::new(|r| {
            Ok(if r.url.ends_with("/token") {
                resp(200, r#"{"access_token":"ya29.TOKEN"}"#)
            } else {
                resp(
                    200,
                    r#"{"id":"file1","name":"Weekly report.md","webViewLink":"https://drive.google.com/file/d/file1/view"}"#,
                )
            })
        }));
        env.http = Box::new(http.clone());
        let d = settings(env.config.as_ref()).unwrap().unwrap();
        let done = futures::executor::block_on(upload(&env, &d, &file("hello"))).unwrap();
        assert_eq!(done.id, "file1");
        assert_eq!(
            done.link.as_deref(),
            Some("https://drive.google.com/file/d/file1/view")
        );
        let sent = http.sent();
        assert_eq!(sent.len(), 2);
        assert!(sent[1]
            .headers
            .contains(&("authorization".into(), "Bearer ya29.TOKEN".into())));

        // A 403 that echoes the token: refused for good, token redacted.
        let http = std::sync::Arc::new(ScriptedHttp::new(|r| {
            Ok(if r.url.ends_with("/token") {
                resp(200, r#"{"access_token":"ya29.TOKEN"}"#)
            } else {
                resp(
                    403,
                    r#"{"error":{"message":"ya29.TOKEN lacks drive.file scope"}}"#,
                )
            })
        }));
        env.http = Box::new(http);
        match futures::executor::block_on(upload(&env, &d, &file("hello"))) {
            Err(UploadError::Refused(m)) => {
                assert!(m.contains("403") && !m.contains("ya29"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        // A 503: may work later.
        let http = std::sync::Arc::new(ScriptedHttp::new(|r| {
            Ok(if r.url.ends_with("/token") {
                resp(200, r#"{"access_token":"t"}"#)
            } else {
                resp(503, "{}")
            })
        }));
        env.http = Box::new(http);
        assert!(matches!(
            futures::executor::block_on(upload(&env, &d, &file("hello"))),
            Err(UploadError::Unavailable(_))
        ));
    }

    #[test]
    fn an_upload_once_finds_the_file_an_earlier_attempt_made() {
        let mut env = native::memory_env(VARS);
        let d = settings(env.config.as_ref()).unwrap().unwrap();
        let mut u = file("hello");
        u.properties = vec![("echopilot_job".into(), "job_1'x".into())];
        let script = |found: bool| {
            std::sync::Arc::new(ScriptedHttp::new(move |r| {
                Ok(if r.url.ends_with("/token") {
                    resp(200, r#"{"access_token":"ya29.T"}"#)
                } else if r.method == "GET" {
                    resp(
                        200,
                        if found {
                            r#"{"files":[{"id":"old","name":"Weekly report.md"}]}"#
                        } else {
                            r#"{"files":[]}"#
                        },
                    )
                } else {
                    resp(200, r#"{"id":"new","name":"Weekly report.md"}"#)
                })
            }))
        };
        let http = script(true);
        env.http = Box::new(http.clone());
        let got = futures::executor::block_on(upload_once(&env, &d, &u, "echopilot_job")).unwrap();
        assert_eq!(got.id, "old");
        let sent = http.sent();
        assert_eq!(sent.len(), 2, "no upload when the file exists");
        assert!(
            sent[1].url.contains("/drive/v3/files?q="),
            "{}",
            sent[1].url
        );
        let http = script(false);
        env.http = Box::new(http.clone());
        let got = futures::executor::block_on(upload_once(&env, &d, &u, "echopilot_job")).unwrap();
        assert_eq!(got.id, "new");
        let body = String::from_utf8(http.sent()[2].body.clone()).unwrap();
        assert!(
            body.contains(r#""appProperties":{"echopilot_job":"job_1'x"}"#),
            "{body}"
        );
        assert_eq!(
            property_query(("echopilot_job", "job_1'x"), Some("f1")),
            r"appProperties has { key='echopilot_job' and value='job_1\'x' } and trashed = false and 'f1' in parents"
        );
    }
}
