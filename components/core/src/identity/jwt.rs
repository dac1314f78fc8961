//! JSON Web Tokens, HS256 only, verified strictly.
//!
//! Refused: any `alg` but `HS256` (so `none` and RS/HS confusion fail), an
//! unknown `kid`, a `crit` header, a bad signature (compared in constant
//! time), a non-canonical or non-base64url part, a token over 4 KiB, missing
//! or unknown claims, the wrong issuer, audience or token type, and times
//! outside `nbf`/`exp` (30 s leeway for clock skew).

use super::base64url;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// `iss` of every token.
pub const ISSUER: &str = "echopilot";
/// `aud` of every token.
pub const AUDIENCE: &str = "echopilot-api";
/// The longest token accepted.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// Clock skew allowed on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: i64 = 30;

/// A token's claims. Unknown claims are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Subject: the user id.
    pub sub: String,
    /// The user's tenant.
    pub tid: String,
    /// The user's role when issued.
    pub role: String,
    /// `access` or `refresh`.
    pub typ: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expires.
    pub exp: i64,
    /// Token id (revocation).
    pub jti: String,
    /// Refresh-token family (rotation and reuse detection).
    pub fam: String,
    /// SHA-256 of the session's CSRF token (cookie sessions), or empty.
    #[serde(default)]
    pub csrf: String,
}

/// Why a token was refused (all answer 401; the detail goes to logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// Over [`MAX_TOKEN_BYTES`].
    TooLarge,
    /// Not three base64url parts of JSON.
    Malformed(&'static str),
    /// `alg` other than HS256, or a `crit` header.
    Algorithm,
    /// No key with this `kid`.
    UnknownKey,
    /// The signature does not match.
    Signature,
    /// Wrong issuer, audience or type, or a missing claim.
    Claims(&'static str),
    /// `exp` has passed.
    Expired,
    /// `nbf` (or `iat`) is in the future.
    NotYetValid,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    kid: String,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

fn mac(key: &[u8], signing_input: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(signing_input);
    m
}

/// Sign `claims` with `key`, naming it `kid`.
pub fn sign(claims: &Claims, kid: &str, key: &[u8]) -> String {
    let header = serde_json::json!({ "alg": "HS256", "typ": "JWT", "kid": kid });
    let h = base64url::encode(header.to_string().as_bytes());
    let p = base64url::encode(&serde_json::to_vec(claims).unwrap_or_default());
    let input = format!("{h}.{p}");
    let sig = mac(key, input.as_bytes()).finalize().into_bytes();
    format!("{input}.{}", base64url::encode(&sig))
}

/// The `kid` of a token, without verifying anything (to pick the key).
pub fn kid(token: &str) -> Result<String, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::TooLarge);
    }
    let header = token
        .split('.')
        .next()
        .ok_or(JwtError::Malformed("no header"))?;
    let bytes = base64url::decode(header).ok_or(JwtError::Malformed("header is not base64url"))?;
    let h: Header =
        serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed("header is not JSON"))?;
    if h.alg != "HS256" || h.crit.is_some() || h.typ.as_deref().is_some_and(|t| t != "JWT") {
        return Err(JwtError::Algorithm);
    }
    if h.kid.is_empty() || h.kid.len() > 64 {
        return Err(JwtError::UnknownKey);
    }
    Ok(h.kid)
}

/// Verify `token` with `key` (the key for its `kid`) at `now` (Unix
/// seconds), expecting type `typ`.
pub fn verify(token: &str, key: &[u8], now: i64, typ: &str) -> Result<Claims, JwtError> {
    kid(token)?;
    let parts: Vec<&str> = token.split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return Err(JwtError::Malformed("not three parts"));
    };
    let sig = base64url::decode(s).ok_or(JwtError::Malformed("signature is not base64url"))?;
    if sig.len() != 32 {
        return Err(JwtError::Signature);
    }
    mac(key, format!("{h}.{p}").as_bytes())
        .verify_slice(&sig)
        .map_err(|_| JwtError::Signature)?;
    let payload = base64url::decode(p).ok_or(JwtError::Malformed("payload is not base64url"))?;
    let c: Claims = serde_json::from_slice(&payload)
        .map_err(|_| JwtError::Claims("missing, unknown or mistyped claims"))?;
    if c.iss != ISSUER {
        return Err(JwtError::Claims("issuer"));
    }
    if c.aud != AUDIENCE {
        return Err(JwtError::Claims("audience"));
    }
    if c.typ != typ {
        return Err(JwtError::Claims("token type"));
    }
    if c.sub.is_empty() || c.jti.is_empty() || c.tid.is_empty() {
        return Err(JwtError::Claims("empty subject, id or tenant"));
    }
    if now >= c.exp + LEEWAY_SECS {
        return Err(JwtError::Expired);
    }
    if c.nbf > now + LEEWAY_SECS || c.iat > now + LEEWAY_SECS {
        return Err(JwtError::NotYetValid);
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn claims(now: i64) -> Claims {
        Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: "usr_1".into(),
            tid: "default".into(),
            role: "admin".into(),
            typ: "access".into(),
            iat: now,
            nbf: now,
            exp: now + 900,
            jti: "jti_1".into(),
            fam: "fam_1".into(),
            csrf: String::new(),
        }
    }

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip() {
        let t = sign(&claims(1000), "k1", KEY);
        assert_eq!(kid(&t).unwrap(), "k1");
        assert_eq!(verify(&t, KEY, 1000, "access").unwrap(), claims(1000));
    }

    fn forge(header: serde_json::Value, payload: &Claims, sig: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            base64url::encode(header.to_string().as_bytes()),
            base64url::encode(&serde_json::to_vec(payload).unwrap()),
            base64url::encode(sig)
        )
    }

    #[test]
    fn refuses_every_classic_attack() {
        let c = claims(1000);
        let none = forge(serde_json::json!({"alg": "none", "kid": "k1"}), &c, b"");
        assert_eq!(verify(&none, KEY, 1000, "access"), Err(JwtError::Algorithm));
        let rs = forge(
            serde_json::json!({"alg": "RS256", "kid": "k1"}),
            &c,
            &[0; 256],
        );
        assert_eq!(verify(&rs, KEY, 1000, "access"), Err(JwtError::Algorithm));
        let hs512 = forge(
            serde_json::json!({"alg": "HS512", "kid": "k1"}),
            &c,
            &[0; 64],
        );
        assert_eq!(
            verify(&hs512, KEY, 1000, "access"),
            Err(JwtError::Algorithm)
        );
        let crit = forge(
            serde_json::json!({"alg": "HS256", "kid": "k1", "crit": ["exp"]}),
            &c,
            &[0; 32],
        );
        assert_eq!(verify(&crit, KEY, 1000, "access"), Err(JwtError::Algorithm));

        let t = sign(&c, "k1", KEY);
        assert_eq!(
            verify(&t, b"another key entirely, 32 bytes!", 1000, "access"),
            Err(JwtError::Signature)
        );
        assert_eq!(
            verify(&t, KEY, 1000 + 900 + 30, "access"),
            Err(JwtError::Expired)
        );
        assert!(
            verify(&t, KEY, 1000 + 900 + 29, "access").is_ok(),
            "within leeway"
        );
        assert_eq!(
            verify(&t, KEY, 1000 - 31, "access"),
            Err(JwtError::NotYetValid)
        );
        assert_eq!(
            verify(&t, KEY, 1000, "refresh"),
            Err(JwtError::Claims("token type"))
        );
        for (field, value) in [("iss", "evil"), ("aud", "other-api")] {
            let mut v = serde_json::to_value(&c).unwrap();
            v[field] = value.into();
            let bad: Claims = serde_json::from_value(v).unwrap();
            assert!(matches!(
                verify(&sign(&bad, "k1", KEY), KEY, 1000, "access"),
                Err(JwtError::Claims(_))
            ));
        }
        // Missing claims and unknown claims.
        let h = base64url::encode(br#"{"alg":"HS256","kid":"k1"}"#);
        for payload in [
            r#"{"sub":"x"}"#,
            &serde_json::to_string(&c)
                .unwrap()
                .replace("}", r#","admin":true}"#),
        ] {
            let p = base64url::encode(payload.as_bytes());
            let sig = mac(KEY, format!("{h}.{p}").as_bytes())
                .finalize()
                .into_bytes();
            let t = format!("{h}.{p}.{}", base64url::encode(&sig));
            assert!(
                matches!(verify(&t, KEY, 1000, "access"), Err(JwtError::Claims(_))),
                "{payload}"
            );
        }
        // Truncated, non-base64, huge.
        assert!(verify(&t[..t.len() - 5], KEY, 1000, "access").is_err());
        assert!(verify("a.b", KEY, 1000, "access").is_err());
        assert!(verify("!!!.???.***", KEY, 1000, "access").is_err());
        assert_eq!(
            verify(&"a".repeat(5000), KEY, 1000, "access"),
            Err(JwtError::TooLarge)
        );
        assert!(verify(&format!("{t}.extra"), KEY, 1000, "access").is_err());
    }
}

#[cfg(test)]
mod properties {
    use super::tests_support::*;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any claims signed with any key verify with that key.
        #[test]
        fn signed_tokens_round_trip(sub in "[a-z0-9_]{1,40}", tid in "[a-z0-9-]{1,20}", iat in 0i64..4_000_000_000, key in proptest::collection::vec(any::<u8>(), 16..64)) {
            let mut c = base(iat);
            c.sub = sub;
            c.tid = tid;
            let t = sign(&c, "k1", &key);
            prop_assert_eq!(verify(&t, &key, iat, "access").unwrap(), c);
        }

        /// Changing any single byte of a token makes it invalid.
        #[test]
        fn any_single_byte_change_is_refused(pos in 0usize..10_000, replacement in any::<u8>()) {
            let key = b"property-test-key-0123456789abcd";
            let t = sign(&base(1000), "k1", key);
            let mut bytes = t.clone().into_bytes();
            let pos = pos % bytes.len();
            prop_assume!(bytes[pos] != replacement);
            bytes[pos] = replacement;
            let changed = String::from_utf8_lossy(&bytes).into_owned();
            prop_assume!(changed != t);
            prop_assert!(verify(&changed, key, 1000, "access").is_err());
        }
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;

    pub fn base(now: i64) -> Claims {
        Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: "usr_1".into(),
            tid: "default".into(),
            role: "viewer".into(),
            typ: "access".into(),
            iat: now,
            nbf: now,
            exp: now + 900,
            jti: "j".into(),
            fam: "f".into(),
            csrf: String::new(),
        }
    }
}
