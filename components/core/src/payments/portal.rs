//! The customer portal (seeds, phase 78): a customer's receipts, and
//! signed links to download each one.
//!
//! - `GET /api/portal/receipts?email=` lists the receipts of `email` in the
//!   caller's tenant, for that signed-in customer (a user whose email it
//!   is) or an operator, each with a download link valid
//!   `portal_link_ttl_hours` (24).
//! - `GET /api/portal/download?email&id&expires&token` needs no
//!   credential: the token is the full hex HMAC-SHA256 of
//!   `email:id:expires` keyed by `portal_signing_secret`, compared in
//!   constant time; an expired or tampered link is 403.
//! - Every access, refused ones included, is a row in `portal_access` with
//!   the client's address (a security record kept a year; the event log
//!   keeps 14 days and is best effort).

use super::receipts::{self, Receipt};
use crate::config;
use crate::error::{Error, Kind, Result};
use crate::http::request::form_decode;
use crate::params;
use crate::ports::{DbExt, Env};
use crate::time::{rfc3339, DAY_MS};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Portal access rows are kept this long.
pub const ACCESS_RETENTION_MS: i64 = 365 * DAY_MS;

/// The signing secret, or 503 `not_configured`.
pub fn secret(env: &Env) -> Result<String> {
    config::text(env.config.as_ref(), "portal_signing_secret")?.ok_or_else(|| {
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

fn mac(secret: &str, email: &str, id: &str, expires: i64) -> Hmac<Sha256> {
    let mut m =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    m.update(format!("{email}:{id}:{expires}").as_bytes());
    m
}

/// The token of a link: hex HMAC-SHA256 of `email:id:expires` (Unix
/// seconds), the full 64 digits.
pub fn token(secret: &str, email: &str, id: &str, expires: i64) -> String {
    crate::hex(&mac(secret, email, id, expires).finalize().into_bytes())
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
    // Hex digits only, checked before slicing: a multi-byte character
    // must never reach a byte-indexed slice.
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let sig: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&token[2 * i..2 * i + 2], 16))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| invalid())?;
    mac(secret, email, id, expires)
        .verify_slice(&sig)
        .map_err(|_| invalid())?;
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
}
