//! Signed-webhook triggers. A delivery carries
//! `X-EchoPilot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` where the
//! MAC is over `<t>.<raw body>` keyed with the workflow's secret (shown
//! once, when the workflow is created). A delivery is accepted when the
//! MAC matches (compared in constant time), `t` is within
//! [`TOLERANCE_MS`] of now, and the same signature has not been accepted
//! before (replays within the window are refused; older ones fail the
//! time check).

use crate::error::{Error, Result};
use crate::params;
use crate::ports::{DbExt, Env};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header carrying the signature.
pub const HEADER: &str = "x-echopilot-signature";
/// How far a delivery's timestamp may be from now.
pub const TOLERANCE_MS: i64 = 5 * 60_000;

fn mac(secret: &str, t: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut m =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    m.update(t.as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The header value for `body` signed with `secret` at `t` (Unix seconds):
/// what a sender computes.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let sig = mac(secret, &t.to_string(), body).finalize().into_bytes();
    format!("t={t},v1={}", crate::hex(&sig))
}

/// Check `header` for `body`; the signature's hex on success. Every
/// failure is the same 401, so a caller learns nothing about which part
/// was wrong.
pub fn verify(secret: &str, header: Option<&str>, body: &[u8], now_ms: i64) -> Result<String> {
    let bad = || Error::unauthorized("the webhook signature is missing, invalid or expired");
    let header = header.filter(|h| h.len() <= 512).ok_or_else(bad)?;
    let (mut t, mut v1) = (None, None);
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v),
            Some(("v1", v)) => v1 = Some(v),
            _ => {}
        }
    }
    let (t, v1) = (t.ok_or_else(bad)?, v1.ok_or_else(bad)?);
    let secs: i64 = t.parse().map_err(|_| bad())?;
    if (now_ms - secs.saturating_mul(1000)).abs() > TOLERANCE_MS {
        return Err(bad());
    }
    let sig = hex_decode(v1).ok_or_else(bad)?;
    mac(secret, t, body).verify_slice(&sig).map_err(|_| bad())?;
    Ok(v1.to_ascii_lowercase())
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Record an accepted delivery; 409 `replayed` when its signature was
/// seen before. Deliveries older than the window are forgotten.
pub fn remember(env: &Env, workflow: &str, signature: &str) -> Result<()> {
    let now = env.clock.now_ms();
    env.db.exec(
        "DELETE FROM workflow_webhook_deliveries WHERE received_at < ?1",
        params![now - 2 * TOLERANCE_MS],
    )?;
    let fresh = env.db.exec(
        "INSERT OR IGNORE INTO workflow_webhook_deliveries (workflow_id, signature, received_at)
         VALUES (?1, ?2, ?3) RETURNING signature",
        params![workflow, signature, now],
    )?;
    if fresh.rows.is_empty() {
        return Err(Error::conflict(
            "replayed",
            "this signed delivery was already accepted",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn signatures_verify_and_refuse_tampering_and_old_times() {
        let h = sign("whsec_k", NOW / 1000, b"{\"a\":1}");
        assert!(verify("whsec_k", Some(&h), b"{\"a\":1}", NOW).is_ok());
        assert!(
            verify("whsec_k", Some(&h), b"{\"a\":2}", NOW).is_err(),
            "body"
        );
        assert!(verify("other", Some(&h), b"{\"a\":1}", NOW).is_err(), "key");
        assert!(
            verify("whsec_k", Some(&h), b"{\"a\":1}", NOW + TOLERANCE_MS + 1000).is_err(),
            "late"
        );
        assert!(verify("whsec_k", None, b"", NOW).is_err());
        for junk in [
            "",
            "t=,v1=",
            "v1=zz",
            "t=1,v1=00",
            "t=x,v1=ab",
            &"a".repeat(600),
        ] {
            assert!(verify("whsec_k", Some(junk), b"", NOW).is_err(), "{junk}");
        }
    }
}
