//! Email through the Gmail API (`email_provider = gmail`): an OAuth refresh
//! token is exchanged for an access token at Google's token endpoint (the
//! exchange every Google integration shares, [`crate::google::oauth`]),
//! then the message goes to `users.messages.send` as an RFC 2822 message,
//! base64url-encoded in `raw`. The access token is fetched for each send
//! and never stored; every secret is redacted from errors.
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

use super::channels::Outcome;
use crate::config;
use crate::error::{Error, Result};
use crate::google::oauth::{RefreshGrant, TokenError};
use crate::identity::base64url;
use crate::ports::{Config, OutboundRequest};

/// Google's token endpoint origin.
pub const OAUTH_DEFAULT_BASE_URL: &str = crate::google::oauth::TOKEN_DEFAULT_ORIGIN;
/// The Gmail API origin.
pub const API_DEFAULT_BASE_URL: &str = "https://gmail.googleapis.com";

/// The Gmail settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Gmail {
    /// The refresh-token grant (`gmail_*` variables).
    pub grant: RefreshGrant,
    /// `users.messages.send` for the authorized account.
    pub send_url: String,
}

impl Gmail {
    /// The strings to keep out of any error text.
    pub fn secrets(&self) -> Vec<String> {
        self.grant.secrets()
    }
}

/// The Gmail settings; an error naming the first missing or malformed
/// variable.
pub fn settings(c: &dyn Config) -> Result<Gmail> {
    let grant = RefreshGrant::from_config(c, "gmail")?.ok_or_else(|| {
        Error::unavailable(
            "invalid_configuration",
            "email_provider is gmail but variable `gmail_client_id` is not set (nor \
             `gmail_client_secret` and `gmail_refresh_token`)",
        )
    })?;
    Ok(Gmail {
        grant,
        send_url: format!(
            "{}/gmail/v1/users/me/messages/send",
            config::origin(c, "gmail_api_base_url", API_DEFAULT_BASE_URL)?
        ),
    })
}

/// What a failed token exchange comes to for a delivery: a refused grant
/// fails it, an unavailable endpoint is retried.
pub fn token_outcome(e: TokenError) -> Outcome {
    match e {
        TokenError::Refused { status, message } => Outcome::Fail {
            status,
            error: format!("gmail OAuth token refused: {message}"),
        },
        TokenError::NotAllowed { message } => Outcome::Fail {
            status: None,
            error: message,
        },
        TokenError::Unavailable {
            status,
            message,
            retry_after_ms,
        } => Outcome::Retry {
            status,
            error: message,
            retry_after_ms,
        },
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
        assert!(settings(&MapConfig::new(&[])).is_err());
        let c = MapConfig::new(&[
            ("gmail_client_id", "cid"),
            ("gmail_client_secret", "csecret"),
            ("gmail_refresh_token", "1//refresh"),
        ]);
        let g = settings(&c).unwrap();
        assert_eq!(g.grant.token_url, "https://oauth2.googleapis.com/token");
        assert_eq!(
            g.send_url,
            "https://gmail.googleapis.com/gmail/v1/users/me/messages/send"
        );
        let debug = format!("{g:?}");
        assert!(!debug.contains("csecret") && !debug.contains("refresh"));
    }

    #[test]
    fn token_failures_become_delivery_outcomes() {
        let refused = TokenError::Refused {
            status: Some(400),
            message: "HTTP 400: invalid_grant".into(),
        };
        match token_outcome(refused) {
            Outcome::Fail {
                status: Some(400),
                error,
            } => assert!(error.contains("invalid_grant"), "{error}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            token_outcome(TokenError::Unavailable {
                status: Some(503),
                message: "down".into(),
                retry_after_ms: None
            }),
            Outcome::Retry {
                status: Some(503),
                ..
            }
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
