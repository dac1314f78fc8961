//! The customer portal (seeds, phase 78): a customer's receipts, and
//! signed links to download each one.
//!
//! - `GET /api/portal/receipts?email=` lists the receipts of `email` in the
//!   caller's tenant, for that signed-in customer (a user whose email it
//!   is) or an operator, each with a download link valid
//!   `portal_link_ttl_hours` (24).
//! - `GET /api/portal/download?email&id&expires&token` needs no
//!   credential: the token is the full hex HMAC-SHA256 of
//!   `email:id:expires` keyed by the receipt-link key, compared in
//!   constant time; an expired or tampered link is 403.
//! - The receipt-link key is derived from `portal_signing_secret` for this
//!   one purpose ([`crate::sign::derive_key`], purpose
//!   [`LINK_KEY_PURPOSE`]). The same secret signs job-history links
//!   ([`crate::jobs::history`]); with its own key a receipt token never
//!   verifies as a history token, nor the other way round.
//! - Every access, refused ones included, is a row in `portal_access` with
//!   the client's address (a security record kept a year; the event log
//!   keeps 14 days and is best effort).

use super::receipts::{self, Receipt};
use crate::config;
use crate::error::{Error, Kind, Result};
use crate::http::request::form_decode;
use crate::params;
use crate::ports::{DbExt, Env};
use crate::sign;
use crate::time::{rfc3339, DAY_MS};

/// Portal access rows are kept this long.
pub const ACCESS_RETENTION_MS: i64 = 365 * DAY_MS;

/// What the receipt-link key is derived for (a new version ends every
/// link signed under the old one).
pub const LINK_KEY_PURPOSE: &str = "portal-receipt-link-v1";

/// The signing secret (32+ characters, like every secret), or 503
/// `not_configured`.
pub fn secret(env: &Env) -> Result<String> {
    config::secret(env.config.as_ref(), "portal_signing_secret")?.ok_or_else(|| {
        Error::unavailable(
            "not_configured",
            "the customer portal needs `portal_signing_secret` (it signs download links)",
        )
    })
}

/// How long a download link is valid (`portal_link_ttl_hours`, 1 to 168).
pub fn ttl_ms(env: &Env) -> Result<i64> {
    Ok(config::int(env.config.as_ref(), "portal_link_ttl_hours", 24, 1, 168)? * 3_600_000)
}

fn message(email: &str, id: &str, expires: i64) -> String {
    format!("{email}:{id}:{expires}")
}

fn link_key(secret: &str) -> Vec<u8> {
    sign::derive_key(secret, LINK_KEY_PURPOSE)
}

/// The token of a link: hex HMAC-SHA256 of `email:id:expires` (Unix
/// seconds) under the receipt-link key, the full 64 digits.
pub fn token(secret: &str, email: &str, id: &str, expires: i64) -> String {
    sign::signature(&link_key(secret), &message(email, id, expires))
}

/// Whether a link checks out at `now_s`: `Ok` or 403 `link_expired` /
/// `link_invalid`.
pub fn check(
    secret: &str,
    email: &str,
    id: &str,
    expires: i64,
    token: &str,
    now_s: i64,
) -> Result<()> {
    let invalid = || {
        Error::new(
            Kind::Forbidden,
            "link_invalid",
            "this download link is not valid",
        )
    };
    // The full digest in hex, compared in constant time (`sign::verify`
    // refuses anything else without slicing inside a character).
    if !sign::verify(&link_key(secret), &message(email, id, expires), token) {
        return Err(invalid());
    }
    if expires <= now_s {
        return Err(Error::new(
            Kind::Forbidden,
            "link_expired",
            "this download link has expired: open your receipts again for a new one",
        ));
    }
    Ok(())
}

/// The download path of a receipt for `email`, valid until `expires` (s).
pub fn download_url(secret: &str, email: &str, id: &str, expires: i64) -> String {
    format!(
        "/api/portal/download?email={}&id={}&expires={expires}&token={}",
        crate::ports::form_encode(email),
        crate::ports::form_encode(id),
        token(secret, email, id, expires)
    )
}

/// One access to record.
pub struct Access<'a> {
    /// `list` or `download`.
    pub kind: &'a str,
    /// The email asked for.
    pub email: Option<&'a str>,
    /// The receipt asked for.
    pub receipt_id: Option<&'a str>,
    /// `ok`, or the refusal's code.
    pub outcome: &'a str,
    /// The client's address.
    pub client_addr: &'a str,
    /// Who (`anonymous` for links).
    pub actor: &'a str,
    /// The request.
    pub request_id: &'a str,
}

/// Record an access. A failure to record is logged; the caller's answer
/// does not depend on it (the event log has the request either way).
pub fn log_access(env: &Env, a: &Access<'_>) {
    let stored = env.db.exec(
        "INSERT INTO portal_access (at, kind, email, receipt_id, outcome, client_addr, actor, request_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            env.clock.now_ms(),
            a.kind,
            a.email.map(|e| e.chars().take(254).collect::<String>()),
            a.receipt_id.map(|r| r.chars().take(64).collect::<String>()),
            a.outcome,
            a.client_addr,
            a.actor,
            a.request_id
        ],
    );
    if let Err(e) = stored {
        crate::log::error(
            "portal",
            &format!("request {}: access not recorded: {e}", a.request_id),
        );
    }
}

/// Delete access rows past their retention; how many.
pub fn prune(env: &Env) -> Result<usize> {
    let rows = env.db.exec(
        "DELETE FROM portal_access WHERE at < ?1 RETURNING id",
        params![env.clock.now_ms() - ACCESS_RETENTION_MS],
    )?;
    Ok(rows.rows.len())
}

/// `email`'s receipts in `tenant`, each with a signed download link.
pub fn listing(env: &Env, tenant: &str, email: &str) -> Result<serde_json::Value> {
    let secret = secret(env)?;
    let ttl = ttl_ms(env)?;
    let email = email.to_ascii_lowercase();
    let expires = (env.clock.now_ms() + ttl) / 1000;
    let list: Vec<serde_json::Value> = receipts::for_customer(env.db.as_ref(), tenant, &email)?
        .iter()
        .map(|r| {
            let mut v = r.view();
            v["download_url"] = download_url(&secret, &email, &r.id, expires).into();
            v["expires_at"] = expires.into();
            v["expires_iso"] = rfc3339(expires * 1000).into();
            v
        })
        .collect();
    Ok(serde_json::json!({
        "email": email,
        "tenant_id": tenant,
        "receipts": list,
        "link_ttl_hours": ttl / 3_600_000,
    }))
}

/// A download request's parameters, parsed.
pub struct Link {
    /// The customer.
    pub email: String,
    /// The receipt.
    pub id: String,
    /// Expiry, Unix seconds.
    pub expires: i64,
    /// The token.
    pub token: String,
}

impl Link {
    /// Parse `email`, `id`, `expires` and `token` from a query string
    /// (400 `incomplete_link` when one is missing, 403 `link_invalid` when
    /// one is malformed).
    pub fn parse(query: &str) -> Result<Link> {
        let invalid = || {
            Error::new(
                Kind::Forbidden,
                "link_invalid",
                "this download link is not valid",
            )
        };
        let get = |name: &str| {
            query.split('&').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                (k == name).then(|| form_decode(v)).flatten()
            })
        };
        let (Some(email), Some(id), Some(expires), Some(token)) =
            (get("email"), get("id"), get("expires"), get("token"))
        else {
            return Err(Error::bad_request(
                "incomplete_link",
                "a download link has `email`, `id`, `expires` and `token`",
            ));
        };
        if email.len() > 254 || id.len() > 64 {
            return Err(invalid());
        }
        Ok(Link {
            email: email.to_ascii_lowercase(),
            id,
            expires: expires.parse().map_err(|_| invalid())?,
            token,
        })
    }
}

/// The receipt a valid link opens (403 for a bad link, 404 when the
/// receipt is gone).
pub fn open(env: &Env, link: &Link) -> Result<Receipt> {
    let secret = secret(env)?;
    check(
        &secret,
        &link.email,
        &link.id,
        link.expires,
        &link.token,
        env.clock.now_ms() / 1000,
    )?;
    receipts::for_download(env.db.as_ref(), &link.id, &link.email)?
        .ok_or_else(|| Error::not_found("no such receipt"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_email_receipt_and_expiry_with_the_full_digest() {
        let t = token("k", "a@b.co", "rcpt_1", 2_000);
        assert_eq!(t.len(), 64);
        assert!(check("k", "a@b.co", "rcpt_1", 2_000, &t, 1_000).is_ok());
        let code = |e: &str, id: &str, exp: i64, tok: &str, now: i64, key: &str| {
            check(key, e, id, exp, tok, now).unwrap_err().code
        };
        assert_eq!(
            code("c@b.co", "rcpt_1", 2_000, &t, 1_000, "k"),
            "link_invalid"
        );
        assert_eq!(
            code("a@b.co", "rcpt_2", 2_000, &t, 1_000, "k"),
            "link_invalid"
        );
        assert_eq!(
            code("a@b.co", "rcpt_1", 9_000, &t, 1_000, "k"),
            "link_invalid"
        );
        assert_eq!(
            code("a@b.co", "rcpt_1", 2_000, &t, 1_000, "other"),
            "link_invalid"
        );
        assert_eq!(
            code("a@b.co", "rcpt_1", 2_000, &t[..32], 1_000, "k"),
            "link_invalid"
        );
        let wide = format!("é{}", &t[2..]);
        assert_eq!(
            code("a@b.co", "rcpt_1", 2_000, &wide, 1_000, "k"),
            "link_invalid"
        );
        assert_eq!(
            code("a@b.co", "rcpt_1", 2_000, &t, 2_000, "k"),
            "link_expired"
        );
        assert_eq!(
            check("k", "a@b.co", "rcpt_1", 2_000, &t, 2_000)
                .unwrap_err()
                .status(),
            403
        );
        let url = download_url("k", "a+x@b.co", "rcpt_1", 2_000);
        let link = Link::parse(url.split_once('?').unwrap().1).unwrap();
        assert_eq!((link.email.as_str(), link.expires), ("a+x@b.co", 2_000));
        assert!(check("k", &link.email, &link.id, link.expires, &link.token, 1).is_ok());
        assert_eq!(
            Link::parse("email=a@b.co&id=x").err().unwrap().code,
            "incomplete_link"
        );
        assert_eq!(
            Link::parse("email=a@b.co&id=x&expires=soon&token=t")
                .err()
                .unwrap()
                .status(),
            403
        );
    }

    #[test]
    fn receipt_and_history_tokens_never_open_each_other() {
        use crate::jobs::history;
        use crate::tenancy::TenantId;
        let secret = "s".repeat(32);
        let (email, day_ms) = ("a@b.co", 86_400_000);
        let now_s = 1_000;
        // A history token for the customer's email, its signature tried as
        // a receipt token (for any receipt id, at its own expiry).
        let tenant = TenantId::default_tenant();
        let hist = history::issue(&secret, &tenant, email, 10 * day_ms);
        let (rest, hist_sig) = hist.rsplit_once('.').unwrap();
        let expiry: i64 = rest.rsplit_once('.').unwrap().1.parse().unwrap();
        assert!(history::verify(&secret, &hist, email, day_ms).is_ok());
        for id in ["rcpt_1", "default", ""] {
            assert_eq!(
                check(&secret, email, id, expiry, hist_sig, now_s)
                    .unwrap_err()
                    .code,
                "link_invalid"
            );
        }
        // The receipt message signed with the raw secret (a token of the
        // unseparated scheme, or of any purpose keyed by the raw secret)
        // is refused: only the receipt-link key signs receipt links.
        let raw = sign::signature(secret.as_bytes(), &message(email, "rcpt_1", 2_000));
        assert_eq!(
            check(&secret, email, "rcpt_1", 2_000, &raw, now_s)
                .unwrap_err()
                .code,
            "link_invalid"
        );
        // A receipt token dressed as a history token is refused.
        let receipt = token(&secret, email, "rcpt_1", expiry);
        assert!(check(&secret, email, "rcpt_1", expiry, &receipt, now_s).is_ok());
        let dressed = format!("v2.default.{expiry}.{receipt}");
        assert!(history::verify(&secret, &dressed, email, day_ms).is_err());
        // Nor does a history signature over the very string a receipt
        // link signs pass as that receipt's token.
        let hist_over_receipt = sign::signature(
            secret.as_bytes(),
            &format!("history|v2|default|{email}|{expiry}"),
        );
        assert_eq!(
            check(&secret, email, "rcpt_1", expiry, &hist_over_receipt, now_s)
                .unwrap_err()
                .code,
            "link_invalid"
        );
    }
}
