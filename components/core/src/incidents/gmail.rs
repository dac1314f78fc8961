//! Email through the Gmail API (`email_provider = gmail`): an OAuth refresh
//! token is exchanged for an access token at Google's token endpoint, then
//! the message goes to `users.messages.send` as an RFC 2822 message,
//! base64url-encoded in `raw`.
//!
//! The access token is fetched for each send and never stored: alerts are
//! rare, and a bearer token kept in the database would be one more secret
//! at rest. Every secret (client secret, refresh token, access token) is
//! redacted from errors.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `gmail_client_id` | (none) | the OAuth client's id |
//! | `gmail_client_secret` | (none) | the OAuth client's secret |
//! | `gmail_refresh_token` | (none) | a refresh token with the `gmail.send` scope |
//! | `gmail_oauth_base_url` | `https://oauth2.googleapis.com` | the token endpoint's origin (`/token`) |
//! | `gmail_api_base_url` | `https://gmail.googleapis.com` | the Gmail API's origin |
//!
//! The sender is `alert_email_from` (the account the token belongs to, or
//! one of its aliases); recipients are `alert_email_to` or the payload's
//! `to`, as for the generic HTTPS API.

use super::channels::{self, Channel, Outcome};
use crate::config;
use crate::error::{Error, Result};
use crate::identity::base64url;
use crate::ports::{form_encode, Config, HttpError, OutboundRequest, OutboundResponse};
use serde_json::Value;

/// Google's token endpoint origin.
pub const OAUTH_DEFAULT_BASE_URL: &str = "https://oauth2.googleapis.com";
/// The Gmail API origin.
pub const API_DEFAULT_BASE_URL: &str = "https://gmail.googleapis.com";

/// The variable naming the token endpoint's origin.
const TOKEN_ORIGIN_VARIABLE: &str = "gmail_oauth_base_url";

/// The Gmail settings.
#[derive(Clone, PartialEq)]
pub struct Gmail {
    /// The token endpoint.
    pub token_url: String,
    /// `users.messages.send` for the authorized account.
    pub send_url: String,
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret.
    pub client_secret: String,
    /// The refresh token.
    pub refresh_token: String,
}

impl std::fmt::Debug for Gmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gmail")
            .field("token_url", &self.token_url)
            .field("send_url", &self.send_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Gmail {
    /// The strings to keep out of any error text, as they are and as the
    /// token request form-encodes them (an endpoint may echo either).
    pub fn secrets(&self) -> Vec<String> {
        [&self.client_secret, &self.refresh_token]
            .into_iter()
            .flat_map(|s| [s.clone(), form_encode(s)])
            .collect()
    }
}

/// The Gmail settings; an error naming the first missing or malformed
/// variable.
pub fn settings(c: &dyn Config) -> Result<Gmail> {
    let need = |name: &str| -> Result<String> {
        config::text(c, name)?.ok_or_else(|| {
            Error::unavailable(
                "invalid_configuration",
                format!("email_provider is gmail but variable `{name}` is not set"),
            )
        })
    };
    Ok(Gmail {
        token_url: format!(
            "{}/token",
            config::origin(c, TOKEN_ORIGIN_VARIABLE, OAUTH_DEFAULT_BASE_URL)?
        ),
        send_url: format!(
            "{}/gmail/v1/users/me/messages/send",
            config::origin(c, "gmail_api_base_url", API_DEFAULT_BASE_URL)?
        ),
        client_id: need("gmail_client_id")?,
        client_secret: need("gmail_client_secret")?,
        refresh_token: need("gmail_refresh_token")?,
    })
}

/// The refresh-token grant (RFC 6749 §6).
pub fn token_request(g: &Gmail, timeout_ms: u64) -> OutboundRequest {
    OutboundRequest::new("POST", g.token_url.clone())
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", &g.client_id),
            ("client_secret", &g.client_secret),
            ("refresh_token", &g.refresh_token),
        ])
        .timeout_ms(timeout_ms)
}

/// The access token from the token endpoint's answer, or what the delivery
/// comes to: a refused grant (revoked or expired refresh token, wrong
/// client) fails, an unavailable endpoint is retried.
pub fn access_token(
    answer: std::result::Result<OutboundResponse, HttpError>,
    secrets: &[String],
) -> std::result::Result<String, Outcome> {
    let refused = |status: Option<u16>, why: String| Outcome::Fail {
        status,
        error: channels::redact(&format!("gmail OAuth token refused: {why}"), secrets),
    };
    match answer {
        Ok(resp) if (200..300).contains(&resp.status) => {
            let token = serde_json::from_slice::<Value>(&resp.body)
                .ok()
                .and_then(|v| v.get("access_token")?.as_str().map(str::to_string))
                .filter(|t| !t.is_empty());
            token.ok_or_else(|| {
                refused(
                    Some(resp.status),
                    "the answer has no access_token".to_string(),
                )
            })
        }
        Ok(resp) if channels::retryable(resp.status) => Err(channels::classify(
            Channel::Email,
            Ok(resp),
            secrets,
            TOKEN_ORIGIN_VARIABLE,
        )),
        Ok(resp) => {
            let body = serde_json::from_slice::<Value>(&resp.body).unwrap_or(Value::Null);
            let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
            let why = match (field("error"), field("error_description")) {
                ("", _) => format!("HTTP {}", resp.status),
                (code, "") => format!("HTTP {}: {code}", resp.status),
                (code, text) => format!("HTTP {}: {code}: {text}", resp.status),
            };
            Err(refused(Some(resp.status), why))
        }
        Err(e) => Err(channels::classify(
            Channel::Email,
            Err(e),
            secrets,
            TOKEN_ORIGIN_VARIABLE,
        )),
    }
}

/// The `users.messages.send` request for `raw` (from [`message`]); the
/// sender adds the access token's `Authorization` header.
pub fn send_request(g: &Gmail, raw: &str, timeout_ms: u64) -> OutboundRequest {
    OutboundRequest::new("POST", g.send_url.clone())
        .json(&serde_json::json!({ "raw": raw }))
        .timeout_ms(timeout_ms)
}

/// An address fit for a header: one mailbox, no spaces, controls or
/// separators that could add a header or a recipient.
fn address(a: &str) -> std::result::Result<&str, String> {
    let ok = a.contains('@')
        && a.len() <= 254
        && !a
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>'));
    if ok {
        Ok(a)
    } else {
        Err(format!("{a:?} is not a single email address"))
    }
}

/// Standard base64 with padding (RFC 4648 §4), for MIME.
fn base64_std(data: &[u8]) -> String {
    let mut s: String = base64url::encode(data)
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !s.len().is_multiple_of(4) {
        s.push('=');
    }
    s
}

/// A header value as RFC 2047 encoded words (UTF-8, base64), folded so no
/// line passes 76 characters: any text is safe in it, CR and LF included.
fn encoded_words(text: &str) -> String {
    let mut words = Vec::new();
    let mut chunk = String::new();
    for ch in text.chars() {
        if chunk.len() + ch.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(ch);
    }
    if !chunk.is_empty() || words.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", base64_std(w.as_bytes())))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// The message as Gmail's `raw`: RFC 2822 headers, a UTF-8 plain-text body
/// in base64 (lines of 76), the whole base64url-encoded. Addresses that
/// could smuggle a header or recipient are refused.
pub fn message(
    from: &str,
    to: &[String],
    subject: &str,
    text: &str,
) -> std::result::Result<String, String> {
    let from = address(from)?;
    let to = to
        .iter()
        .map(|a| address(a))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    if to.is_empty() {
        return Err("no recipients".into());
    }
    let body = base64_std(text.as_bytes());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    let mime = format!(
        "From: {from}\r\nTo: {}\r\nSubject: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        to.join(", "),
        encoded_words(subject),
        lines.join("\r\n")
    );
    Ok(base64url::encode(mime.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native::MapConfig;

    fn decoded_mime(raw: &str) -> String {
        String::from_utf8(base64url::decode(raw).expect("base64url")).unwrap()
    }

    fn decode_std(s: &str) -> Vec<u8> {
        let url: String = s
            .trim_end_matches('=')
            .chars()
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                c => c,
            })
            .collect();
        base64url::decode(&url).unwrap()
    }

    #[test]
    fn settings_name_the_missing_variable_and_build_google_urls() {
        let c = MapConfig::new(&[("gmail_client_id", "cid")]);
        let e = settings(&c).unwrap_err();
        assert!(e.message.contains("gmail_client_secret"), "{}", e.message);
        let c = MapConfig::new(&[
            ("gmail_client_id", "cid"),
            ("gmail_client_secret", "csecret"),
            ("gmail_refresh_token", "1//refresh"),
        ]);
        let g = settings(&c).unwrap();
        assert_eq!(g.token_url, "https://oauth2.googleapis.com/token");
        assert_eq!(
            g.send_url,
            "https://gmail.googleapis.com/gmail/v1/users/me/messages/send"
        );
        let debug = format!("{g:?}");
        assert!(!debug.contains("csecret") && !debug.contains("refresh"));
    }

    #[test]
    fn the_token_request_is_a_form_encoded_refresh_grant() {
        let g = Gmail {
            token_url: "http://127.0.0.1:9/token".into(),
            send_url: "http://127.0.0.1:9/send".into(),
            client_id: "id.apps.googleusercontent.com".into(),
            client_secret: "s&cret=1".into(),
            refresh_token: "1//0g-x/y".into(),
        };
        let r = token_request(&g, 1000);
        assert_eq!(r.method, "POST");
        assert!(r.headers.contains(&(
            "content-type".into(),
            "application/x-www-form-urlencoded".into()
        )));
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "grant_type=refresh_token&client_id=id.apps.googleusercontent.com&client_secret=s%26cret%3D1&refresh_token=1%2F%2F0g-x%2Fy"
        );
    }

    fn resp(status: u16, body: &str) -> OutboundResponse {
        OutboundResponse {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn token_answers_are_classified() {
        let secrets = vec!["1//refresh".to_string()];
        assert_eq!(
            access_token(
                Ok(resp(200, r#"{"access_token":"ya29.x","expires_in":3599}"#)),
                &secrets
            ),
            Ok("ya29.x".to_string())
        );
        match access_token(
            Ok(resp(
                400,
                r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
            )),
            &secrets,
        ) {
            Err(Outcome::Fail {
                status: Some(400),
                error,
            }) => {
                assert!(
                    error.contains("invalid_grant") && error.contains("revoked"),
                    "{error}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            access_token(Ok(resp(503, "down")), &secrets),
            Err(Outcome::Retry {
                status: Some(503),
                ..
            })
        ));
        assert!(matches!(
            access_token(Ok(resp(200, "{}")), &secrets),
            Err(Outcome::Fail { .. })
        ));
        assert!(matches!(
            access_token(Err(HttpError::Timeout), &secrets),
            Err(Outcome::Retry { status: None, .. })
        ));
    }

    #[test]
    fn messages_are_rfc2822_with_encoded_subject_and_body() {
        let raw = message(
            "alerts@x.io",
            &["a@x.io".into(), "b@x.io".into()],
            "CRITICAL: café down\r\nBcc: evil@x.io",
            "line one\nline two ✓",
        )
        .unwrap();
        let mime = decoded_mime(&raw);
        let (head, body) = mime.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("From: alerts@x.io\r\nTo: a@x.io, b@x.io\r\nSubject: =?UTF-8?B?"));
        // The subject's CR LF stayed inside an encoded word: no new header.
        assert!(!head.contains("Bcc:"));
        let subject: String = head
            .lines()
            .skip_while(|l| !l.starts_with("Subject:"))
            .take_while(|l| l.starts_with("Subject:") || l.starts_with(' '))
            .flat_map(|l| l.split_whitespace())
            .filter_map(|w| w.strip_prefix("=?UTF-8?B?")?.strip_suffix("?="))
            .map(|b| String::from_utf8(decode_std(b)).unwrap())
            .collect();
        assert_eq!(subject, "CRITICAL: café down\r\nBcc: evil@x.io");
        assert!(head.lines().all(|l| l.len() <= 76), "{head}");
        let text: String = body.split("\r\n").collect();
        assert_eq!(
            String::from_utf8(decode_std(&text)).unwrap(),
            "line one\nline two ✓"
        );
    }

    #[test]
    fn addresses_that_could_inject_are_refused() {
        for bad in [
            "a@x.io\r\nBcc: e@x.io",
            "a@x.io, e@x.io",
            "nobody",
            "a @x.io",
        ] {
            assert!(message("f@x.io", &[bad.into()], "s", "t").is_err(), "{bad}");
            assert!(message(bad, &["a@x.io".into()], "s", "t").is_err(), "{bad}");
        }
        assert!(message("f@x.io", &[], "s", "t").is_err());
    }
}
