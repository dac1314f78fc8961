//! The OAuth refresh-token grant (RFC 6749 §6) at Google's token endpoint:
//! one exchange for every Google integration (Gmail alerts, Drive uploads).
//!
//! An access token is fetched for each use and never stored: these calls
//! are rare, and a bearer token kept in the database would be one more
//! secret at rest. Every secret (client secret, refresh token, access
//! token) is redacted from the errors this module returns.
//!
//! Each integration has its own variables, named by a prefix (`gmail`,
//! `drive`): `<prefix>_client_id`, `<prefix>_client_secret`,
//! `<prefix>_refresh_token` and `<prefix>_oauth_base_url` (the token
//! endpoint's origin, `https://oauth2.googleapis.com` by default).

use crate::config;
use crate::error::{Error, Result};
use crate::ports::{
    form_encode, redact, retryable, Config, HttpClient, HttpError, OutboundRequest,
    OutboundResponse,
};
use serde_json::Value;

/// Google's token endpoint origin.
pub const TOKEN_DEFAULT_ORIGIN: &str = "https://oauth2.googleapis.com";

/// A refresh-token grant: where to exchange it and with which client.
#[derive(Clone, PartialEq)]
pub struct RefreshGrant {
    /// The token endpoint (`<origin>/token`).
    pub token_url: String,
    /// The variable naming the endpoint's origin (for a refused destination).
    pub origin_variable: String,
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret.
    pub client_secret: String,
    /// The refresh token.
    pub refresh_token: String,
}

impl std::fmt::Debug for RefreshGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshGrant")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl RefreshGrant {
    /// The grant of the integration whose variables start with `prefix`;
    /// `None` when none of its three secrets is set (not configured); an
    /// error naming the first one missing when only some are, or a
    /// malformed token endpoint origin.
    pub fn from_config(c: &dyn Config, prefix: &str) -> Result<Option<RefreshGrant>> {
        let names =
            ["client_id", "client_secret", "refresh_token"].map(|s| format!("{prefix}_{s}"));
        let values = names
            .iter()
            .map(|n| config::text(c, n))
            .collect::<Result<Vec<_>>>()?;
        if values.iter().all(Option::is_none) {
            return Ok(None);
        }
        if let Some(i) = values.iter().position(Option::is_none) {
            return Err(Error::unavailable(
                "invalid_configuration",
                format!(
                    "variable `{}` is not set ({} needs {}, {} and {})",
                    names[i], prefix, names[0], names[1], names[2]
                ),
            ));
        }
        let [client_id, client_secret, refresh_token] =
            <[Option<String>; 3]>::try_from(values).map_err(|_| Error::internal("three values"))?;
        let origin_variable = format!("{prefix}_oauth_base_url");
        Ok(Some(RefreshGrant {
            token_url: format!(
                "{}/token",
                config::origin(c, &origin_variable, TOKEN_DEFAULT_ORIGIN)?
            ),
            origin_variable,
            client_id: client_id.unwrap_or_default(),
            client_secret: client_secret.unwrap_or_default(),
            refresh_token: refresh_token.unwrap_or_default(),
        }))
    }

    /// The strings to keep out of any error text, as they are and as the
    /// token request form-encodes them (an endpoint may echo either).
    pub fn secrets(&self) -> Vec<String> {
        [&self.client_secret, &self.refresh_token]
            .into_iter()
            .flat_map(|s| [s.clone(), form_encode(s)])
            .collect()
    }

    /// The form-encoded refresh-token grant.
    pub fn request(&self, timeout_ms: u64) -> OutboundRequest {
        OutboundRequest::new("POST", self.token_url.clone())
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", &self.client_id),
                ("client_secret", &self.client_secret),
                ("refresh_token", &self.refresh_token),
            ])
            .timeout_ms(timeout_ms)
    }
}

/// An access token; its `Debug` output hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// The `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }
    /// The token itself (to redact it from later errors).
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

/// Why no access token came back. Messages never contain a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// The grant was refused (revoked or expired refresh token, wrong
    /// client) or the answer had no token: retrying will not help.
    Refused {
        /// The status, when one arrived.
        status: Option<u16>,
        /// What Google said.
        message: String,
    },
    /// The endpoint is not in the component's `allowed_outbound_hosts`.
    NotAllowed {
        /// What to check.
        message: String,
    },
    /// The endpoint could not answer now (network, timeout, 408, 429, 5xx).
    Unavailable {
        /// The status, when one arrived.
        status: Option<u16>,
        /// What went wrong.
        message: String,
        /// How long the endpoint asked us to wait, ms.
        retry_after_ms: Option<i64>,
    },
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Refused { message, .. } => write!(f, "OAuth token refused: {message}"),
            TokenError::NotAllowed { message } | TokenError::Unavailable { message, .. } => {
                f.write_str(message)
            }
        }
    }
}

/// The access token in the token endpoint's `answer`, or why there is none.
pub fn access_token(
    grant: &RefreshGrant,
    answer: std::result::Result<OutboundResponse, HttpError>,
) -> std::result::Result<AccessToken, TokenError> {
    let secrets = grant.secrets();
    let clean = |m: String| redact(&m, &secrets);
    match answer {
        Ok(resp) if (200..300).contains(&resp.status) => {
            serde_json::from_slice::<Value>(&resp.body)
                .ok()
                .and_then(|v| v.get("access_token")?.as_str().map(str::to_string))
                .filter(|t| !t.is_empty())
                .map(AccessToken)
                .ok_or_else(|| TokenError::Refused {
                    status: Some(resp.status),
                    message: "the answer has no access_token".into(),
                })
        }
        Ok(resp) => {
            let body = serde_json::from_slice::<Value>(&resp.body).unwrap_or(Value::Null);
            let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
            let why = match (field("error"), field("error_description")) {
                ("", _) => format!("HTTP {}", resp.status),
                (code, "") => format!("HTTP {}: {code}", resp.status),
                (code, text) => format!("HTTP {}: {code}: {text}", resp.status),
            };
            if retryable(resp.status) {
                Err(TokenError::Unavailable {
                    status: Some(resp.status),
                    message: clean(format!("Google's token endpoint answered {why}")),
                    retry_after_ms: resp.retry_after_secs().map(|s| (s * 1000.0).ceil() as i64),
                })
            } else {
                Err(TokenError::Refused {
                    status: Some(resp.status),
                    message: clean(why),
                })
            }
        }
        Err(HttpError::NotAllowed(_)) => Err(TokenError::NotAllowed {
            message: format!(
                "Google's token endpoint is not in allowed_outbound_hosts (check the {} variable)",
                grant.origin_variable
            ),
        }),
        Err(e) => Err(TokenError::Unavailable {
            status: None,
            message: clean(format!("Google's token endpoint: {e}")),
            retry_after_ms: None,
        }),
    }
}

/// Exchange `grant` for an access token.
pub async fn exchange(
    http: &dyn HttpClient,
    grant: &RefreshGrant,
    timeout_ms: u64,
) -> std::result::Result<AccessToken, TokenError> {
    access_token(grant, http.send(grant.request(timeout_ms)).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native::MapConfig;

    fn grant() -> RefreshGrant {
        RefreshGrant {
            token_url: "http://127.0.0.1:9/token".into(),
            origin_variable: "gmail_oauth_base_url".into(),
            client_id: "id.apps.googleusercontent.com".into(),
            client_secret: "s&cret=1".into(),
            refresh_token: "1//0g-x/y".into(),
        }
    }

    fn resp(status: u16, body: &str) -> OutboundResponse {
        OutboundResponse {
            status,
            headers: vec![("retry-after".into(), "2".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn grants_come_from_prefixed_variables() {
        assert_eq!(
            RefreshGrant::from_config(&MapConfig::new(&[]), "drive").unwrap(),
            None
        );
        let partial = MapConfig::new(&[("drive_refresh_token", "1//r")]);
        let e = RefreshGrant::from_config(&partial, "drive").unwrap_err();
        assert!(e.message.contains("`drive_client_id`"), "{}", e.message);
        assert!(!e.message.contains("1//r"), "{}", e.message);
        let c = MapConfig::new(&[
            ("drive_refresh_token", "1//r"),
            ("drive_client_id", "cid"),
            ("drive_client_secret", "csecret"),
            ("drive_oauth_base_url", "http://127.0.0.1:9/"),
        ]);
        let g = RefreshGrant::from_config(&c, "drive").unwrap().unwrap();
        assert_eq!(g.token_url, "http://127.0.0.1:9/token");
        let debug = format!("{g:?}");
        assert!(
            !debug.contains("csecret") && !debug.contains("1//r"),
            "{debug}"
        );
    }

    #[test]
    fn the_request_is_a_form_encoded_refresh_grant() {
        let r = grant().request(1000);
        assert_eq!(r.method, "POST");
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "grant_type=refresh_token&client_id=id.apps.googleusercontent.com&client_secret=s%26cret%3D1&refresh_token=1%2F%2F0g-x%2Fy"
        );
    }

    #[test]
    fn answers_are_classified_without_secrets() {
        let g = grant();
        let token = access_token(&g, Ok(resp(200, r#"{"access_token":"ya29.x"}"#))).unwrap();
        assert_eq!(token.bearer(), "Bearer ya29.x");
        assert!(!format!("{token:?}").contains("ya29"));
        let echoed = format!(
            r#"{{"error":"invalid_grant","error_description":"Token 1//0g-x/y ({}) has been expired or revoked."}}"#,
            form_encode("s&cret=1")
        );
        match access_token(&g, Ok(resp(400, &echoed))) {
            Err(TokenError::Refused {
                status: Some(400),
                message,
            }) => {
                assert!(message.contains("invalid_grant"), "{message}");
                assert!(
                    !message.contains("0g-x") && !message.contains("cret"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            access_token(&g, Ok(resp(503, "down"))),
            Err(TokenError::Unavailable {
                status: Some(503),
                retry_after_ms: Some(2000),
                ..
            })
        ));
        assert!(matches!(
            access_token(&g, Ok(resp(200, "{}"))),
            Err(TokenError::Refused { .. })
        ));
        assert!(matches!(
            access_token(&g, Err(HttpError::Timeout)),
            Err(TokenError::Unavailable { status: None, .. })
        ));
        match access_token(&g, Err(HttpError::NotAllowed("http://x".into()))) {
            Err(TokenError::NotAllowed { message }) => {
                assert!(message.contains("gmail_oauth_base_url"))
            }
            other => panic!("{other:?}"),
        }
    }
}
