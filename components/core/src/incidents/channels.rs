//! The delivery channels: Telegram (Bot API `sendMessage`) and email,
//! through a generic HTTPS email API or the Gmail API ([`super::gmail`]).
//! Each is configured by variables; an unconfigured channel is "not
//! configured", never an error.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `email_provider` | `https` | `https` (the generic API below) or `gmail` (OAuth, [`super::gmail`]) |
//! | `telegram_bot_token` | (none) | the bot's token; never logged or returned |
//! | `telegram_chat_id` | (none) | the chat that gets alerts |
//! | `telegram_base_url` | `https://api.telegram.org` | the Bot API origin |
//! | `email_api_base_url` | `https://api.resend.com` | origin of the HTTPS email API (also in `allowed_outbound_hosts`) |
//! | `email_api_path` | `/emails` | the path that accepts `POST {from, to, subject, text}` |
//! | `email_api_key` | (none) | sent as `Authorization: Bearer …` when set |
//! | `alert_email_to` | (none) | comma-separated recipients |
//! | `alert_email_from` | (none) | the sender address |

use super::gmail::{self, Gmail};
use crate::config;
use crate::error::{Error, Result};
use crate::ports::{Config, HttpClient, HttpError, OutboundRequest, OutboundResponse};
use serde::Serialize;
use serde_json::Value;

/// Where a delivery goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A Telegram chat through a bot.
    Telegram,
    /// Email through an HTTPS API.
    Email,
    /// A compliance event forwarded to a configured endpoint, signed with
    /// `X-EchoPilot-Signature` (see [`crate::compliance::forward`]). Not a
    /// channel alerts or workflows pick: it is not in [`Channel::ALL`].
    Webhook,
}

impl Channel {
    /// Every channel alerts and workflows deliver to.
    pub const ALL: [Channel; 2] = [Channel::Telegram, Channel::Email];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Telegram => "telegram",
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }

    /// Parse a stored channel (including [`Channel::Webhook`]).
    pub fn from_stored(s: &str) -> Result<Self> {
        if s == Channel::Webhook.as_str() {
            return Ok(Channel::Webhook);
        }
        Channel::parse(s)
    }

    /// Parse; 422 `invalid_channel` otherwise.
    pub fn parse(s: &str) -> Result<Self> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                Error::unprocessable(
                    "invalid_channel",
                    "unknown channel; expected telegram or email",
                )
            })
    }
}

/// The Telegram Bot API origin when `telegram_base_url` is not set.
pub const TELEGRAM_DEFAULT_BASE_URL: &str = "https://api.telegram.org";
/// Telegram refuses longer messages.
const TELEGRAM_MAX_CHARS: usize = 4096;
/// How long one send may take.
const SEND_TIMEOUT_MS: u64 = 15_000;

/// Telegram settings.
#[derive(Clone, PartialEq)]
pub struct Telegram {
    /// The Bot API origin.
    pub base_url: String,
    /// The bot token (secret).
    pub token: String,
    /// The default chat.
    pub chat_id: Option<String>,
}

/// How email leaves.
#[derive(Clone, PartialEq)]
pub enum Transport {
    /// A generic HTTPS API taking `POST {from, to, subject, text}`.
    Https {
        /// The endpoint.
        url: String,
        /// The bearer key (secret), if the endpoint needs one.
        key: Option<String>,
    },
    /// The Gmail API with an OAuth refresh token.
    Gmail(Gmail),
}

/// Email settings.
#[derive(Clone, PartialEq)]
pub struct Email {
    /// How it is sent.
    pub transport: Transport,
    /// The sender.
    pub from: String,
    /// The default recipients.
    pub to: Vec<String>,
}

// Secrets stay out of debug output.
impl std::fmt::Debug for Telegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telegram")
            .field("base_url", &self.base_url)
            .field("chat_id", &self.chat_id)
            .finish_non_exhaustive()
    }
}
impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transport = match &self.transport {
            Transport::Https { url, .. } => format!("https {url}"),
            Transport::Gmail(g) => format!("{g:?}"),
        };
        f.debug_struct("Email")
            .field("transport", &transport)
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

fn recipients(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The Telegram settings, `None` when no bot token is set. A malformed
/// `telegram_base_url` is an error naming the variable.
pub fn telegram(c: &dyn Config) -> Result<Option<Telegram>> {
    let Some(token) = config::text(c, "telegram_bot_token")? else {
        return Ok(None);
    };
    Ok(Some(Telegram {
        base_url: config::origin(c, "telegram_base_url", TELEGRAM_DEFAULT_BASE_URL)?,
        token,
        chat_id: config::text(c, "telegram_chat_id")?,
    }))
}

/// The default email API: Resend's, whose `POST /emails` takes exactly
/// this JSON; any API of that shape works through the two variables.
pub const EMAIL_DEFAULT_BASE_URL: &str = "https://api.resend.com";

/// The email settings, `None` when `alert_email_from` is not set. A
/// malformed origin or path, an unknown provider or a missing Gmail
/// variable is an error naming the variable.
pub fn email(c: &dyn Config) -> Result<Option<Email>> {
    let Some(from) = config::text(c, "alert_email_from")? else {
        return Ok(None);
    };
    let to = recipients(&config::text(c, "alert_email_to")?.unwrap_or_default());
    let transport = match config::text_or(c, "email_provider", "https")?.as_str() {
        "https" => https_transport(c)?,
        "gmail" => Transport::Gmail(gmail::settings(c)?),
        other => {
            return Err(Error::unavailable(
                "invalid_configuration",
                format!("variable `email_provider` is {other:?}; expected https or gmail"),
            ))
        }
    };
    Ok(Some(Email {
        transport,
        from,
        to,
    }))
}

fn https_transport(c: &dyn Config) -> Result<Transport> {
    let base = config::origin(c, "email_api_base_url", EMAIL_DEFAULT_BASE_URL)?;
    let path = config::text_or(c, "email_api_path", "/emails")?;
    if !path.starts_with('/') || path.contains(char::is_whitespace) || path.contains("//") {
        return Err(Error::unavailable(
            "invalid_configuration",
            "variable `email_api_path` must be a path like /emails",
        ));
    }
    Ok(Transport::Https {
        url: format!("{base}{path}"),
        key: config::text(c, "email_api_key")?,
    })
}

/// Whether `channel` can deliver `payload`: its variables are set and it
/// has somewhere to send (the payload's `chat_id` / `to`, or the
/// configured default). Only presence is checked; a malformed value fails
/// the delivery when it is sent, never the caller.
pub fn is_configured(c: &dyn Config, channel: Channel, payload: &Value) -> bool {
    let set = |name: &str| config::text(c, name).ok().flatten().is_some();
    match channel {
        Channel::Telegram => {
            set("telegram_bot_token")
                && (set("telegram_chat_id") || payload.get("chat_id").is_some())
        }
        Channel::Email => {
            set("alert_email_from")
                && (config::text(c, "alert_email_to")
                    .ok()
                    .flatten()
                    .is_some_and(|t| !recipients(&t).is_empty())
                    || payload.get("to").is_some())
        }
        Channel::Webhook => crate::compliance::forward::is_configured(c),
    }
}

/// Check a payload for `channel`: an object with a non-empty `text`;
/// email also needs a `subject`; optional `chat_id` (Telegram) or `to`
/// (email: a list of addresses) override the configured destination.
pub fn check_payload(channel: Channel, payload: &Value) -> Result<()> {
    let bad = |m: &str| Err(Error::unprocessable("invalid_payload", m.to_string()));
    let Some(obj) = payload.as_object() else {
        return bad("a delivery payload is a JSON object");
    };
    let blank = |field: &str| {
        obj.get(field)
            .and_then(Value::as_str)
            .is_none_or(|t| t.trim().is_empty())
    };
    if blank("text") {
        return bad("a delivery payload needs a non-empty `text`");
    }
    match channel {
        Channel::Telegram => {
            if let Some(c) = obj.get("chat_id") {
                if !(c.is_string() || c.is_i64()) {
                    return bad("`chat_id` is a string or an integer");
                }
            }
        }
        Channel::Email => {
            if blank("subject") {
                return bad("an email payload needs a non-empty `subject`");
            }
            if let Some(to) = obj.get("to") {
                let ok = to.as_array().is_some_and(|a| {
                    !a.is_empty()
                        && a.iter()
                            .all(|v| v.as_str().is_some_and(|s| s.contains('@')))
                });
                if !ok {
                    return bad("`to` is a non-empty list of email addresses");
                }
            }
        }
        Channel::Webhook => {
            if blank("url") || !obj.get("body").is_some_and(Value::is_object) {
                return bad("a webhook payload needs a `url` and a `body` object");
            }
        }
    }
    Ok(())
}

/// A request ready to send, and the secrets to keep out of any error text.
pub struct Prepared {
    /// The request.
    pub request: OutboundRequest,
    /// Strings to redact from errors and response snippets.
    pub secrets: Vec<String>,
    /// An OAuth grant to exchange first; its access token authorizes
    /// `request` (Gmail).
    pub authorize: Option<crate::google::oauth::RefreshGrant>,
    /// The variable naming `request`'s origin, for a refused destination.
    pub origin_variable: &'static str,
}

/// Why a payload cannot be sent now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReady {
    /// The channel is not configured (the delivery is skipped).
    NotConfigured,
    /// The configuration is malformed (the delivery fails).
    Invalid(String),
}

fn char_prefix(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Build the outbound request for `payload` on `channel`.
pub fn prepare(
    c: &dyn Config,
    channel: Channel,
    payload: &Value,
) -> std::result::Result<Prepared, NotReady> {
    let text = payload
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match channel {
        Channel::Telegram => {
            let s = telegram(c)
                .map_err(|e| NotReady::Invalid(e.message))?
                .ok_or(NotReady::NotConfigured)?;
            let chat = match payload.get("chat_id") {
                Some(v) => v.clone(),
                None => Value::String(s.chat_id.clone().ok_or(NotReady::NotConfigured)?),
            };
            let body = serde_json::json!({
                "chat_id": chat,
                "text": char_prefix(text, TELEGRAM_MAX_CHARS),
            });
            Ok(Prepared {
                request: OutboundRequest::new(
                    "POST",
                    format!("{}/bot{}/sendMessage", s.base_url, s.token),
                )
                .json(&body)
                .timeout_ms(SEND_TIMEOUT_MS),
                secrets: vec![s.token],
                authorize: None,
                origin_variable: "telegram_base_url",
            })
        }
        Channel::Email => {
            let s = email(c)
                .map_err(|e| NotReady::Invalid(e.message))?
                .ok_or(NotReady::NotConfigured)?;
            let to = match payload.get("to").and_then(Value::as_array) {
                Some(list) => list
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                None => s.to.clone(),
            };
            if to.is_empty() {
                return Err(NotReady::NotConfigured);
            }
            let subject = payload
                .get("subject")
                .and_then(Value::as_str)
                .unwrap_or("EchoPilot");
            match s.transport {
                Transport::Https { url, key } => {
                    let body = serde_json::json!({
                        "to": to,
                        "from": s.from,
                        "subject": subject,
                        "text": text,
                    });
                    let mut request = OutboundRequest::new("POST", url)
                        .json(&body)
                        .timeout_ms(SEND_TIMEOUT_MS);
                    let mut secrets = Vec::new();
                    if let Some(key) = key {
                        request = request.header("authorization", format!("Bearer {key}"));
                        secrets.push(key);
                    }
                    Ok(Prepared {
                        request,
                        secrets,
                        authorize: None,
                        origin_variable: "email_api_base_url",
                    })
                }
                Transport::Gmail(g) => {
                    let raw = gmail::message(&s.from, &to, subject, text)
                        .map_err(|e| NotReady::Invalid(format!("email: {e}")))?;
                    Ok(Prepared {
                        request: gmail::send_request(&g, &raw, SEND_TIMEOUT_MS),
                        secrets: g.secrets(),
                        authorize: Some(g.grant),
                        origin_variable: "gmail_api_base_url",
                    })
                }
            }
        }
        // Signed with the send time, so it is built by the outbox, which
        // has the clock: `compliance::forward::prepare`.
        Channel::Webhook => Err(NotReady::Invalid(
            "webhook deliveries are prepared by compliance::forward".into(),
        )),
    }
}

/// Send a prepared request (after its OAuth exchange, if any) and classify
/// the answer.
pub async fn send(http: &dyn HttpClient, channel: Channel, p: Prepared) -> Outcome {
    let Prepared {
        mut request,
        mut secrets,
        authorize,
        origin_variable,
    } = p;
    if let Some(grant) = authorize {
        match crate::google::oauth::exchange(http, &grant, SEND_TIMEOUT_MS).await {
            Ok(token) => {
                request = request.header("authorization", token.bearer());
                secrets.push(token.secret().to_string());
            }
            Err(e) => return gmail::token_outcome(e),
        }
    }
    classify(channel, http.send(request).await, &secrets, origin_variable)
}

pub use crate::ports::redact;

/// What one send came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted (2xx).
    Sent {
        /// The status.
        status: u16,
    },
    /// May work later (network error, timeout, 408, 429, 5xx).
    Retry {
        /// The status, when one arrived.
        status: Option<u16>,
        /// What went wrong (secrets redacted).
        error: String,
        /// How long the other side asked us to wait, ms.
        retry_after_ms: Option<i64>,
    },
    /// Will not work as sent (another 4xx, a refused destination, bad
    /// configuration).
    Fail {
        /// The status, when one arrived.
        status: Option<u16>,
        /// What went wrong (secrets redacted).
        error: String,
    },
    /// The channel is not configured.
    Skip,
}

/// Retry-After as milliseconds: the header (seconds) or Telegram's
/// `parameters.retry_after` in the body.
fn retry_after_ms(resp: &OutboundResponse) -> Option<i64> {
    let header = resp.retry_after_secs();
    let body = || {
        serde_json::from_slice::<Value>(&resp.body)
            .ok()?
            .pointer("/parameters/retry_after")?
            .as_f64()
    };
    header.or_else(body).map(|s| (s * 1000.0).ceil() as i64)
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let parsed = serde_json::from_str::<Value>(&text).ok();
    let described = parsed.as_ref().and_then(|v| {
        v.get("description")
            .or_else(|| v.pointer("/error/message"))
            .or_else(|| v.get("message"))
            .or_else(|| v.get("error"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    char_prefix(described.as_deref().unwrap_or(text.trim()), 200)
}

pub use crate::ports::retryable;

/// Classify the answer (or failure) of a send to the origin that the
/// variable `origin_variable` names.
pub fn classify(
    channel: Channel,
    answer: std::result::Result<OutboundResponse, HttpError>,
    secrets: &[String],
    origin_variable: &str,
) -> Outcome {
    let name = channel.as_str();
    match answer {
        Ok(resp) if (200..300).contains(&resp.status) => Outcome::Sent {
            status: resp.status,
        },
        Ok(resp) => {
            let status = resp.status;
            let error = redact(
                &format!("{name} answered HTTP {status}: {}", snippet(&resp.body)),
                secrets,
            );
            if retryable(status) {
                Outcome::Retry {
                    status: Some(status),
                    error,
                    retry_after_ms: retry_after_ms(&resp),
                }
            } else {
                Outcome::Fail {
                    status: Some(status),
                    error,
                }
            }
        }
        // The URL may carry a token (Telegram's): never repeat it.
        Err(HttpError::NotAllowed(_)) => Outcome::Fail {
            status: None,
            error: format!(
                "the {name} destination is not in allowed_outbound_hosts (check the {origin_variable} variable)"
            ),
        },
        Err(HttpError::Timeout) => Outcome::Retry {
            status: None,
            error: format!("{name}: no answer within {} s", SEND_TIMEOUT_MS / 1000),
            retry_after_ms: None,
        },
        Err(e) => Outcome::Retry {
            status: None,
            error: redact(&format!("{name}: {e}"), secrets),
            retry_after_ms: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native::MapConfig;

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> OutboundResponse {
        OutboundResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn nothing_set_means_not_configured() {
        let c = MapConfig::new(&[]);
        let p = serde_json::json!({"text": "x", "subject": "s"});
        for ch in Channel::ALL {
            assert!(!is_configured(&c, ch, &p));
            assert_eq!(prepare(&c, ch, &p).err(), Some(NotReady::NotConfigured));
        }
    }

    #[test]
    fn telegram_requests_carry_chat_and_text_and_hide_the_token() {
        let c = MapConfig::new(&[
            ("telegram_bot_token", "123:SECRET"),
            ("telegram_chat_id", "-1001"),
            ("telegram_base_url", "http://127.0.0.1:9/"),
        ]);
        let p = serde_json::json!({"text": "hello"});
        assert!(is_configured(&c, Channel::Telegram, &p));
        let prepared = prepare(&c, Channel::Telegram, &p).unwrap();
        assert_eq!(
            prepared.request.url,
            "http://127.0.0.1:9/bot123:SECRET/sendMessage"
        );
        let body: Value = serde_json::from_slice(&prepared.request.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"chat_id": "-1001", "text": "hello"})
        );
        let denied = classify(
            Channel::Telegram,
            Err(HttpError::NotAllowed(prepared.request.url.clone())),
            &prepared.secrets,
            "telegram_base_url",
        );
        assert!(!format!("{denied:?}").contains("SECRET"));
        let echoed = classify(
            Channel::Telegram,
            Ok(resp(500, &[], "token 123:SECRET is bad")),
            &prepared.secrets,
            "telegram_base_url",
        );
        assert!(!format!("{echoed:?}").contains("SECRET"), "{echoed:?}");
        assert!(!format!("{:?}", telegram(&c).unwrap()).contains("SECRET"));
    }

    #[test]
    fn email_requests_use_the_configured_addresses_and_bearer_key() {
        let c = MapConfig::new(&[
            ("email_api_base_url", "http://127.0.0.1:9"),
            ("email_api_path", "/send"),
            ("email_api_key", "ek_1"),
            ("alert_email_to", "a@x.io, b@x.io"),
            ("alert_email_from", "alerts@x.io"),
        ]);
        let p = serde_json::json!({"text": "body", "subject": "subj"});
        let prepared = prepare(&c, Channel::Email, &p).unwrap();
        assert_eq!(prepared.request.url, "http://127.0.0.1:9/send");
        assert!(prepared
            .request
            .headers
            .contains(&("authorization".into(), "Bearer ek_1".into())));
        let body: Value = serde_json::from_slice(&prepared.request.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"to": ["a@x.io", "b@x.io"], "from": "alerts@x.io", "subject": "subj", "text": "body"})
        );
        let bad = MapConfig::new(&[
            ("email_api_base_url", "ftp://x"),
            ("alert_email_from", "a@x.io"),
        ]);
        assert!(matches!(
            prepare(&bad, Channel::Email, &p),
            Err(NotReady::Invalid(_))
        ));
    }

    #[test]
    fn gmail_sends_exchange_the_refresh_token_then_send_raw_mime() {
        use crate::adapters::native::ScriptedHttp;
        let c = MapConfig::new(&[
            ("email_provider", "gmail"),
            ("gmail_client_id", "cid"),
            ("gmail_client_secret", "CSECRET"),
            ("gmail_refresh_token", "1//REFRESH"),
            ("gmail_oauth_base_url", "http://127.0.0.1:9"),
            ("gmail_api_base_url", "http://127.0.0.1:9"),
            ("alert_email_to", "ops@x.io"),
            ("alert_email_from", "alerts@x.io"),
        ]);
        let p = serde_json::json!({"text": "disk full", "subject": "CRITICAL"});
        assert!(is_configured(&c, Channel::Email, &p));
        let http = ScriptedHttp::new(|r| {
            Ok(if r.url.ends_with("/token") {
                resp(
                    200,
                    &[],
                    r#"{"access_token":"ya29.TOKEN","expires_in":3599}"#,
                )
            } else {
                resp(200, &[], r#"{"id":"m1","threadId":"t1"}"#)
            })
        });
        let prepared = prepare(&c, Channel::Email, &p).unwrap();
        let outcome = futures::executor::block_on(send(&http, Channel::Email, prepared));
        assert_eq!(outcome, Outcome::Sent { status: 200 });
        let sent = http.sent();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].url, "http://127.0.0.1:9/token");
        assert!(String::from_utf8_lossy(&sent[0].body).contains("refresh_token=1%2F%2FREFRESH"));
        assert_eq!(
            sent[1].url,
            "http://127.0.0.1:9/gmail/v1/users/me/messages/send"
        );
        assert!(sent[1]
            .headers
            .contains(&("authorization".into(), "Bearer ya29.TOKEN".into())));
        let body: Value = serde_json::from_slice(&sent[1].body).unwrap();
        let mime = crate::identity::base64url::decode(body["raw"].as_str().unwrap()).unwrap();
        let mime = String::from_utf8(mime).unwrap();
        assert!(
            mime.starts_with("From: alerts@x.io\r\nTo: ops@x.io\r\n"),
            "{mime}"
        );

        // A revoked refresh token fails the delivery (no retry), and no
        // secret shows in the error.
        let revoked = ScriptedHttp::new(|r| {
            Ok(resp(
                400,
                &[],
                &format!(
                    r#"{{"error":"invalid_grant","error_description":"Token 1//REFRESH has been expired or revoked. {}"}}"#,
                    String::from_utf8_lossy(&r.body)
                ),
            ))
        });
        let prepared = prepare(&c, Channel::Email, &p).unwrap();
        match futures::executor::block_on(send(&revoked, Channel::Email, prepared)) {
            Outcome::Fail {
                status: Some(400),
                error,
            } => {
                assert!(error.contains("invalid_grant"), "{error}");
                assert!(
                    !error.contains("REFRESH") && !error.contains("CSECRET"),
                    "{error}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(revoked.sent().len(), 1, "no send without a token");

        // Gmail selected but a variable missing: a clear configuration
        // error for the delivery (callers only check that email has a
        // sender and recipients, like for the HTTPS API's key).
        let partial = MapConfig::new(&[
            ("email_provider", "gmail"),
            ("gmail_client_id", "cid"),
            ("alert_email_to", "ops@x.io"),
            ("alert_email_from", "alerts@x.io"),
        ]);
        match prepare(&partial, Channel::Email, &p) {
            Err(NotReady::Invalid(m)) => assert!(m.contains("gmail_client_secret"), "{m}"),
            _ => panic!("expected a configuration error"),
        }
        let unknown = MapConfig::new(&[("email_provider", "smtp"), ("alert_email_from", "a@x.io")]);
        assert!(matches!(
            prepare(&unknown, Channel::Email, &p),
            Err(NotReady::Invalid(_))
        ));
    }

    #[test]
    fn answers_are_classified() {
        let none: &[String] = &[];
        assert_eq!(
            classify(
                Channel::Email,
                Ok(resp(202, &[], "{}")),
                none,
                "email_api_base_url"
            ),
            Outcome::Sent { status: 202 }
        );
        match classify(
            Channel::Email,
            Ok(resp(429, &[("Retry-After", "7")], "")),
            none,
            "email_api_base_url",
        ) {
            Outcome::Retry {
                status,
                retry_after_ms,
                ..
            } => {
                assert_eq!((status, retry_after_ms), (Some(429), Some(7000)))
            }
            other => panic!("{other:?}"),
        }
        let tg = r#"{"ok":false,"error_code":429,"description":"Too Many Requests","parameters":{"retry_after":3}}"#;
        match classify(
            Channel::Telegram,
            Ok(resp(429, &[], tg)),
            none,
            "telegram_base_url",
        ) {
            Outcome::Retry {
                retry_after_ms,
                error,
                ..
            } => {
                assert_eq!(retry_after_ms, Some(3000));
                assert!(error.contains("Too Many Requests"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(
                Channel::Email,
                Ok(resp(503, &[], "")),
                none,
                "email_api_base_url"
            ),
            Outcome::Retry {
                status: Some(503),
                ..
            }
        ));
        assert!(matches!(
            classify(
                Channel::Email,
                Ok(resp(401, &[], "")),
                none,
                "email_api_base_url"
            ),
            Outcome::Fail {
                status: Some(401),
                ..
            }
        ));
        assert!(matches!(
            classify(
                Channel::Email,
                Err(HttpError::Timeout),
                none,
                "email_api_base_url"
            ),
            Outcome::Retry { status: None, .. }
        ));
    }

    #[test]
    fn payloads_are_checked_per_channel() {
        assert!(check_payload(Channel::Telegram, &serde_json::json!({"text": "a"})).is_ok());
        assert!(check_payload(Channel::Telegram, &serde_json::json!({"text": " "})).is_err());
        assert!(check_payload(Channel::Email, &serde_json::json!({"text": "a"})).is_err());
        assert!(check_payload(
            Channel::Email,
            &serde_json::json!({"text": "a", "subject": "s", "to": ["x@y.z"]})
        )
        .is_ok());
        assert!(check_payload(
            Channel::Email,
            &serde_json::json!({"text": "a", "subject": "s", "to": []})
        )
        .is_err());
        assert!(check_payload(Channel::Email, &serde_json::json!("text")).is_err());
    }
}
