//! History tokens: signed, expiring capabilities to list one requester's
//! jobs (`GET /api/public/job-history/{email}`), so history is never served
//! by email alone.
//!
//! Format: `v1.<tenant>.<expiry unix seconds>.<hex HMAC-SHA256>` over
//! `history|v1|<tenant>|<email>|<expiry>`, keyed by the
//! `portal_signing_secret` variable. The email is signed but not in the
//! token: it comes from the URL.

use crate::error::{Error, Result};
use crate::tenancy::TenantId;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a token issued with a new job is valid.
pub const VALIDITY_MS: i64 = 30 * 86_400_000;

fn mac(secret: &str, tenant: &str, email: &str, expiry: i64) -> Hmac<Sha256> {
    let mut m =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    m.update(format!("history|v1|{tenant}|{email}|{expiry}").as_bytes());
    m
}

/// A token for `email`'s jobs in `tenant`, valid until `expires_ms`.
pub fn issue(secret: &str, tenant: &TenantId, email: &str, expires_ms: i64) -> String {
    let expiry = expires_ms / 1000;
    let sig = mac(secret, tenant.as_str(), email, expiry)
        .finalize()
        .into_bytes();
    format!("v1.{}.{expiry}.{}", tenant.as_str(), crate::hex(&sig))
}

/// The tenant a valid, unexpired token for `email` grants; 401 otherwise.
pub fn verify(secret: &str, token: &str, email: &str, now_ms: i64) -> Result<TenantId> {
    let bad = || Error::unauthorized("the history token is not valid for this email");
    if token.len() > 256 {
        return Err(bad());
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [version, tenant, expiry, sig] = parts.as_slice() else {
        return Err(bad());
    };
    if *version != "v1" || sig.len() != 64 {
        return Err(bad());
    }
    let tenant = TenantId::parse(tenant).map_err(|_| bad())?;
    let expiry: i64 = expiry.parse().map_err(|_| bad())?;
    let sig: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&sig[2 * i..2 * i + 2], 16))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad())?;
    mac(secret, tenant.as_str(), email, expiry)
        .verify_slice(&sig)
        .map_err(|_| bad())?;
    if expiry * 1000 <= now_ms {
        return Err(Error::unauthorized(
            "the history token has expired; submit a job to get a new one",
        ));
    }
    Ok(tenant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_tenant_email_and_expiry() {
        let t = TenantId::default_tenant();
        let tok = issue("k", &t, "a@b.co", 10_000_000);
        assert_eq!(verify("k", &tok, "a@b.co", 1_000).unwrap(), t);
        assert!(verify("k", &tok, "c@b.co", 1_000).is_err(), "other email");
        assert!(verify("other", &tok, "a@b.co", 1_000).is_err(), "other key");
        assert!(verify("k", &tok, "a@b.co", 10_000_000).is_err(), "expired");
        let forged = tok.replacen("v1.default.", "v1.acme.", 1);
        assert!(
            verify("k", &forged, "a@b.co", 1_000).is_err(),
            "other tenant"
        );
        for junk in ["", "v1", "v1.a.b.c", "v2.default.1.00", &"x".repeat(300)] {
            assert!(verify("k", junk, "a@b.co", 0).is_err());
        }
    }

    #[test]
    fn any_changed_character_is_refused() {
        let tok = issue("k", &TenantId::default_tenant(), "a@b.co", 10_000_000);
        for i in 0..tok.len() {
            let mut bytes = tok.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let changed = String::from_utf8(bytes).unwrap();
            if changed != tok {
                assert!(verify("k", &changed, "a@b.co", 1_000).is_err(), "byte {i}");
            }
        }
    }
}
