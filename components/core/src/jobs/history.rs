//! Job history links: a requester reads the jobs submitted with their email
//! (`GET /api/public/job-history/{email}?token=…`) through a link that goes
//! to that mailbox and nowhere else.
//!
//! Naming an email proves nothing, so no answer ever carries a history
//! token. When a job is submitted through `POST /api/public/create-job`
//! with an email, a link with a fresh token is emailed to that address
//! through the alert outbox (at most one per address and tenant an hour,
//! and [`MAILS_PER_HOUR`] in all, so nobody can mail-bomb an address or
//! send mail in bulk through the platform). Whoever reads the mailbox is
//! the owner of the email, and sees what was submitted with it.
//!
//! Token: `v2.<tenant>.<expiry unix seconds>.<hex HMAC-SHA256>` over
//! `history|v2|<tenant>|<email>|<expiry>`, keyed by the
//! `portal_signing_secret` variable (32+ characters). The email is signed
//! but not in the token: it comes from the URL. Verification refuses a
//! token whose expiry lies more than [`VALIDITY_MS`] ahead (a maximum
//! lifetime, whatever the token claims) and every `v1` token (those were
//! handed to whoever submitted a job, for any email).

use crate::config;
use crate::error::{Error, Result};
use crate::guard::rate_limit::{self, Limit};
use crate::incidents::{outbox, Channel};
use crate::ports::Env;
use crate::sign;
use crate::tenancy::TenantId;

/// The longest a history token lives (and the life of each one issued).
pub const VALIDITY_MS: i64 = 30 * 86_400_000;
/// History links emailed per hour, over all addresses.
pub const MAILS_PER_HOUR: f64 = 60.0;
/// Minutes between two links to one address (in one tenant).
pub const MINUTES_PER_ADDRESS: f64 = 60.0;

fn message(tenant: &str, email: &str, expiry: i64) -> String {
    format!("history|v2|{tenant}|{email}|{expiry}")
}

/// The `portal_signing_secret` variable (`None`: history links are off).
pub fn secret(env: &Env) -> Result<Option<String>> {
    config::secret(env.config.as_ref(), "portal_signing_secret")
}

/// A token for `email`'s jobs in `tenant`, valid until `expires_ms`.
pub fn issue(secret: &str, tenant: &TenantId, email: &str, expires_ms: i64) -> String {
    let expiry = expires_ms / 1000;
    let sig = sign::signature(secret.as_bytes(), &message(tenant.as_str(), email, expiry));
    format!("v2.{}.{expiry}.{sig}", tenant.as_str())
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
    if *version != "v2" {
        return Err(bad());
    }
    let tenant = TenantId::parse(tenant).map_err(|_| bad())?;
    let expiry: i64 = expiry.parse().map_err(|_| bad())?;
    if !sign::verify(
        secret.as_bytes(),
        &message(tenant.as_str(), email, expiry),
        sig,
    ) {
        return Err(bad());
    }
    if expiry * 1000 > now_ms + VALIDITY_MS {
        return Err(Error::unauthorized(
            "the history token claims a longer life than history tokens have; ask for a new link",
        ));
    }
    if expiry * 1000 <= now_ms {
        return Err(Error::unauthorized(
            "the history token has expired; submit a job with this email to get a new link by email",
        ));
    }
    Ok(tenant)
}

/// Whether history links go out: a signing secret and an email channel.
pub fn enabled(env: &Env) -> Result<bool> {
    Ok(secret(env)?.is_some() && config::text(env.config.as_ref(), "alert_email_from")?.is_some())
}

/// `/api/public/job-history/<email>?token=<token>`, under `public_base_url`
/// when it is set (never under the request's Host header, which the
/// caller chooses: a link must not point where the caller says).
fn link(env: &Env, email: &str, token: &str) -> Result<String> {
    let c = env.config.as_ref();
    let base = match config::text(c, "public_base_url")? {
        Some(_) => config::origin(c, "public_base_url", "")?,
        None => String::new(),
    };
    let path: String = email
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'@' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    Ok(format!(
        "{base}/api/public/job-history/{path}?token={token}"
    ))
}

/// After a job was submitted with `email` in `tenant`: email that address
/// a link to its history, unless one went there within the hour (or the
/// hour's links are spent). Returns whether a link was queued.
pub fn email_link(env: &Env, tenant: &TenantId, email: &str) -> Result<bool> {
    let Some(secret) = secret(env)? else {
        return Ok(false);
    };
    let due = rate_limit::allows(
        env,
        &[
            (
                format!("history-mail:{}:{email}", tenant.as_str()).as_str(),
                Limit::once_every(MINUTES_PER_ADDRESS),
            ),
            ("history-mail", Limit::per_hour(MAILS_PER_HOUR)),
        ],
    );
    if !due {
        return Ok(false);
    }
    let token = issue(&secret, tenant, email, env.clock.now_ms() + VALIDITY_MS);
    let text = format!(
        "A job was submitted to EchoPilot with this email address.\n\n\
         Every job submitted with {email} is listed here (the link works for 30 days; it opens \
         your history to whoever has it, so do not share it):\n{}\n\n\
         If you did not submit a job, you can ignore this message.",
        link(env, email, &token)?
    );
    let payload = serde_json::json!({
        "to": [email],
        "subject": "Your EchoPilot job history",
        "text": text,
        outbox::CONFIDENTIAL: true,
    });
    outbox::enqueue(env, Channel::Email, &payload, None)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn tokens_bind_tenant_email_and_expiry() {
        let t = TenantId::default_tenant();
        let tok = issue("k", &t, "a@b.co", 10 * DAY);
        assert!(tok.starts_with("v2.default."));
        assert_eq!(verify("k", &tok, "a@b.co", DAY).unwrap(), t);
        assert!(verify("k", &tok, "c@b.co", DAY).is_err(), "other email");
        assert!(verify("other", &tok, "a@b.co", DAY).is_err(), "other key");
        assert!(verify("k", &tok, "a@b.co", 10 * DAY).is_err(), "expired");
        let forged = tok.replacen("v2.default.", "v2.acme.", 1);
        assert!(verify("k", &forged, "a@b.co", DAY).is_err(), "other tenant");
        for junk in ["", "v2", "v2.a.b.c", "v3.default.1.00", &"x".repeat(300)] {
            assert!(verify("k", junk, "a@b.co", 0).is_err());
        }
    }

    #[test]
    fn verification_enforces_the_maximum_lifetime() {
        let t = TenantId::default_tenant();
        // Signed with the right key, but claiming a year.
        let long = issue("k", &t, "a@b.co", 400 * DAY);
        let e = verify("k", &long, "a@b.co", DAY).unwrap_err();
        assert!(e.message.contains("longer life"), "{e}");
        // The same token is fine once it is within 30 days of expiring.
        assert!(verify("k", &long, "a@b.co", 371 * DAY).is_ok());
    }

    #[test]
    fn version_1_tokens_no_longer_open_anything() {
        // A v1 token as create-job used to hand out to any caller.
        let sig = sign::signature(b"k", "history|v1|default|a@b.co|864000");
        let v1 = format!("v1.default.864000.{sig}");
        assert!(verify("k", &v1, "a@b.co", DAY).is_err());
        let relabelled = v1.replacen("v1.", "v2.", 1);
        assert!(verify("k", &relabelled, "a@b.co", DAY).is_err());
    }

    #[test]
    fn any_changed_character_is_refused() {
        let tok = issue("k", &TenantId::default_tenant(), "a@b.co", 10 * DAY);
        for i in 0..tok.len() {
            let mut bytes = tok.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let changed = String::from_utf8(bytes).unwrap();
            if changed != tok {
                assert!(verify("k", &changed, "a@b.co", DAY).is_err(), "byte {i}");
            }
        }
    }
}
