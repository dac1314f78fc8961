//! Timestamped webhook signatures, as Stripe documents them
//! (<https://docs.stripe.com/webhooks#verify-manually>), the one scheme both
//! Stripe's `Stripe-Signature` and EchoPilot's own `X-EchoPilot-Signature`
//! (compliance webhooks, in and out) use:
//!
//! - the header is `t=<unix seconds>,v1=<hex>[,v1=…][,v0=…]`:
//!   comma-separated `key=value` items, in any order;
//! - the signed payload is `"{t}.{raw body}"`, and each `v1` is the hex
//!   HMAC-SHA256 of it keyed by the endpoint's signing secret; any one `v1`
//!   matching is enough (Stripe sends several while a secret is rolled),
//!   and other schemes (`v0`, test-mode signatures) are ignored;
//! - the timestamp must be within the tolerance, 300 seconds, of now
//!   (Stripe's libraries refuse only old ones; a signature from more than
//!   five minutes in the future is refused here too);
//! - comparisons are constant-time.
//!
//! `stripe_webhook_secret` (and `compliance_webhook_secrets`) may hold
//! several secrets separated by commas, so an endpoint's secret can be
//! rolled without a window in which valid deliveries are refused.

use crate::config;
use crate::error::{Error, Kind, Result};
use crate::ports::Config;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a signature's timestamp may be from now, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

/// The longest header accepted (Stripe's are well under 1 KiB).
const MAX_HEADER: usize = 4096;

/// Who signs with a header: its name and the sender, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Scheme {
    /// The header's name.
    pub header: &'static str,
    /// Who must have signed, in words.
    pub signer: &'static str,
}

/// Stripe's deliveries.
pub const STRIPE: Scheme = Scheme {
    header: "Stripe-Signature",
    signer: "Stripe",
};

/// EchoPilot's compliance webhooks, in and out.
pub const ECHOPILOT: Scheme = Scheme {
    header: "X-EchoPilot-Signature",
    signer: "a holder of a compliance webhook secret",
};

/// The endpoint signing secrets (`stripe_webhook_secret`, comma-separated),
/// or `None` when it is empty: webhooks are not configured.
pub fn secrets(c: &dyn Config) -> Result<Option<Vec<String>>> {
    secret_list(c, "stripe_webhook_secret")
}

/// The comma-separated secrets of variable `name`, or `None` when it is
/// empty.
pub fn secret_list(c: &dyn Config, name: &str) -> Result<Option<Vec<String>>> {
    let Some(raw) = config::text(c, name)? else {
        return Ok(None);
    };
    let list: Vec<String> = raw
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    Ok((!list.is_empty()).then_some(list))
}

/// A refusal: 400 with a code saying which rule failed (Stripe retries a
/// non-2xx delivery, and shows the answer in its dashboard).
fn refuse(code: &'static str, message: String) -> Error {
    Error::new(Kind::BadRequest, code, message)
}

/// 400 `signature_missing`: a delivery without a `Stripe-Signature`.
pub fn missing() -> Error {
    missing_as(STRIPE)
}

/// 400 `signature_missing`: a delivery without the scheme's header.
pub fn missing_as(scheme: Scheme) -> Error {
    refuse(
        "signature_missing",
        format!(
            "no {} header: webhook deliveries must be signed by {}",
            scheme.header, scheme.signer
        ),
    )
}

/// The header value signing `payload` at `t` (Unix seconds) with `secret`:
/// `t=<t>,v1=<hex>`.
pub fn header_value(secret: &str, t: i64, payload: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    format!("t={t},v1={}", crate::hex(&mac.finalize().into_bytes()))
}

/// The timestamp and the `v1` signatures of a header; `None` when either is
/// missing or malformed (as Stripe's libraries refuse it).
pub fn parse_header(header: &str) -> Option<(i64, Vec<[u8; 32]>)> {
    if header.len() > MAX_HEADER {
        return None;
    }
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for item in header.split(',') {
        let Some((k, v)) = item.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" => timestamp = v.parse::<i64>().ok(),
            "v1" => {
                if let Some(sig) = decode_hex32(v) {
                    v1.push(sig);
                }
            }
            _ => {}
        }
    }
    let t = timestamp?;
    (!v1.is_empty()).then_some((t, v1))
}

fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Whether `sig` is the HMAC-SHA256 of `"{t}.{payload}"` under `secret`,
/// compared in constant time.
fn matches(secret: &str, t: i64, payload: &[u8], sig: &[u8; 32]) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac.verify_slice(sig).is_ok()
}

/// Check `header` (the `Stripe-Signature` value) for `payload` against
/// every secret, at `now_s`. The timestamp when a `v1` signature matches a
/// secret and the timestamp is within [`TOLERANCE_SECS`]; otherwise 400
/// `signature_missing`, `signature_malformed`, `signature_mismatch` or
/// `signature_expired`.
pub fn verify(header: Option<&str>, payload: &[u8], secrets: &[String], now_s: i64) -> Result<i64> {
    verify_as(STRIPE, header, payload, secrets, now_s).map(|(t, _)| t)
}

/// [`verify`] for `scheme`: the timestamp and the index in `secrets` of
/// the (first) secret that signed.
pub fn verify_as(
    scheme: Scheme,
    header: Option<&str>,
    payload: &[u8],
    secrets: &[String],
    now_s: i64,
) -> Result<(i64, usize)> {
    let Some(header) = header.filter(|h| !h.trim().is_empty()) else {
        return Err(missing_as(scheme));
    };
    let Some((t, signatures)) = parse_header(header) else {
        return Err(refuse(
            "signature_malformed",
            format!(
                "the {} header has no timestamp or no v1 signature",
                scheme.header
            ),
        ));
    };
    // Every pair is checked (no early exit), so timing says nothing about
    // which secret or signature matched.
    let mut signer: Option<usize> = None;
    for (i, secret) in secrets.iter().enumerate() {
        for sig in &signatures {
            if matches(secret, t, payload, sig) && signer.is_none() {
                signer = Some(i);
            }
        }
    }
    let Some(signer) = signer else {
        return Err(refuse(
            "signature_mismatch",
            "no v1 signature matches the payload for this endpoint's signing secret".into(),
        ));
    };
    if (now_s - t).abs() > TOLERANCE_SECS {
        return Err(refuse(
            "signature_expired",
            "the signature's timestamp is more than 300 seconds from now (a replayed or delayed delivery)".into(),
        ));
    }
    Ok((t, signer))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sign as Stripe does (the e2e suite checks this verifier against the
    /// official `stripe` package's signatures).
    fn sign(secret: &str, t: i64, payload: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(payload);
        crate::hex(&mac.finalize().into_bytes())
    }

    const NOW: i64 = 1_800_000_000;
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;

    fn owned(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_fresh_signature_by_any_secret_in_the_list_is_accepted() {
        let header = format!("t={NOW},v1={}", sign("whsec_new", NOW, BODY));
        let s = owned(&["whsec_old", "whsec_new"]);
        assert_eq!(verify(Some(&header), BODY, &s, NOW + 10).unwrap(), NOW);
        // Several v1 (Stripe rolling a secret), a v0 and unknown items.
        let header = format!(
            "t={NOW},v1={},v0=abc,v1={},x=y",
            sign("whsec_other", NOW, BODY),
            sign("whsec_old", NOW, BODY)
        );
        assert!(verify(Some(&header), BODY, &s, NOW).is_ok());
    }

    #[test]
    fn tampered_stale_unsigned_and_malformed_deliveries_are_refused() {
        let s = owned(&["whsec_a"]);
        let good = format!("t={NOW},v1={}", sign("whsec_a", NOW, BODY));
        let code =
            |h: Option<&str>, body: &[u8], now: i64| verify(h, body, &s, now).unwrap_err().code;
        assert_eq!(code(None, BODY, NOW), "signature_missing");
        assert_eq!(code(Some(""), BODY, NOW), "signature_missing");
        assert_eq!(code(Some("v1=abc"), BODY, NOW), "signature_malformed");
        assert_eq!(
            code(Some(&format!("t={NOW}")), BODY, NOW),
            "signature_malformed"
        );
        assert_eq!(code(Some("t=x,v1=00"), BODY, NOW), "signature_malformed");
        let tampered = br#"{"id":"evt_1","type":"payment_intent.succeeded "}"#;
        assert_eq!(code(Some(&good), tampered, NOW), "signature_mismatch");
        // The signature binds the timestamp: moving it breaks the match.
        let moved = good.replacen(&format!("t={NOW}"), &format!("t={}", NOW + 1), 1);
        assert_eq!(code(Some(&moved), BODY, NOW), "signature_mismatch");
        assert_eq!(code(Some(&good), BODY, NOW + 301), "signature_expired");
        assert_eq!(code(Some(&good), BODY, NOW - 301), "signature_expired");
        assert!(verify(Some(&good), BODY, &s, NOW + 300).is_ok());
        let other = owned(&["whsec_b"]);
        assert_eq!(
            verify(Some(&good), BODY, &other, NOW).unwrap_err().code,
            "signature_mismatch"
        );
        assert_eq!(
            verify(Some(&good), BODY, &other, NOW).unwrap_err().status(),
            400
        );
    }

    /// A header made by Stripe's own library, not by this code:
    /// `stripe.webhooks.generateTestHeaderString({payload, secret:
    /// "whsec_official_vector", timestamp: 1800000000})` from the `stripe`
    /// npm package 17.7.0.
    #[test]
    fn a_header_made_by_the_official_stripe_library_verifies() {
        let payload = br#"{"id":"evt_official","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}"#;
        let header =
            "t=1800000000,v1=18274cfe433c6ac4ae8501b8abf9c05cf08ae4bfba536eda646d529163141255";
        let secret = owned(&["whsec_official_vector"]);
        assert_eq!(
            verify(Some(header), payload, &secret, NOW + 60).unwrap(),
            NOW
        );
        assert_eq!(sign("whsec_official_vector", NOW, payload), &header[16..]);
        assert_eq!(header_value("whsec_official_vector", NOW, payload), header);
        let mut tampered = payload.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            verify(Some(header), &tampered, &secret, NOW)
                .unwrap_err()
                .code,
            "signature_mismatch"
        );
    }

    #[test]
    fn the_secret_variable_is_a_comma_list() {
        use super::secrets;
        use crate::adapters::native::MapConfig;
        let c = MapConfig::new(&[("stripe_webhook_secret", " whsec_a , ,whsec_b ")]);
        assert_eq!(secrets(&c).unwrap().unwrap(), vec!["whsec_a", "whsec_b"]);
        let empty = MapConfig::new(&[("stripe_webhook_secret", " , ")]);
        assert_eq!(secrets(&empty).unwrap(), None);
        assert_eq!(secrets(&MapConfig::new(&[])).unwrap(), None);
    }
}
