//! Signing keys for JWTs. Key material is never stored: each key is derived
//! from the `jwt_secret` variable and its `kid` (HMAC-SHA256), and only the
//! kids live in `jwt_keys`. Rotation makes a new kid active; retired kids
//! keep verifying for a refresh token's lifetime (24 h), then stop.

use crate::config;
use crate::db::transaction;
use crate::error::{Error, Result};
use crate::params;
use crate::ports::{ids, DbExt, Env};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a retired key still verifies.
pub const RETIRED_GRACE_MS: i64 = 24 * 3_600_000;

/// The `jwt_secret` variable: 503 when unset (tokens are off) or too short
/// (see [`config::secret`]).
pub fn secret(env: &Env) -> Result<String> {
    config::secret(env.config.as_ref(), "jwt_secret")?.ok_or_else(|| {
        Error::unavailable(
            "not_configured",
            "user sign-in is disabled: set the `jwt_secret` variable (32 characters or more)",
        )
    })
}

/// The key for `kid`.
pub fn derive(secret: &str, kid: &str) -> Vec<u8> {
    let mut m =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    m.update(b"echopilot-jwt-key|");
    m.update(kid.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// The active kid, creating the first one if there is none.
pub fn active_kid(env: &Env) -> Result<String> {
    if let Some(row) = env
        .db
        .query_opt("SELECT kid FROM jwt_keys WHERE active = 1", &[])?
    {
        return row.text(0);
    }
    let kid = ids::new_id("k", env.clock.now_ms(), env.ids.as_ref())?;
    // Two first logins may race: the unique index keeps one active key.
    env.db.exec(
        "INSERT OR IGNORE INTO jwt_keys (kid, active, created_at) VALUES (?1, 1, ?2)",
        params![kid.as_str(), env.clock.now_ms()],
    )?;
    env.db
        .query_one("SELECT kid FROM jwt_keys WHERE active = 1", &[])?
        .text(0)
}

/// Whether `kid` may verify tokens now (active, or retired within 24 h).
pub fn verifies(env: &Env, kid: &str) -> Result<bool> {
    let now = env.clock.now_ms();
    Ok(env
        .db
        .query_opt(
            "SELECT 1 FROM jwt_keys WHERE kid = ?1 AND (retired_at IS NULL OR retired_at > ?2)",
            params![kid, now - RETIRED_GRACE_MS],
        )?
        .is_some())
}

/// Make a new key active; the old one verifies for 24 more hours.
/// Returns (new kid, retired kid).
pub fn rotate(env: &Env) -> Result<(String, Option<String>)> {
    let now = env.clock.now_ms();
    let kid = ids::new_id("k", now, env.ids.as_ref())?;
    transaction(env.db.as_ref(), |db| {
        let old = db
            .query_opt(
                "UPDATE jwt_keys SET active = 0, retired_at = ?1 WHERE active = 1 RETURNING kid",
                params![now],
            )?
            .map(|r| r.text(0))
            .transpose()?;
        db.exec(
            "INSERT INTO jwt_keys (kid, active, created_at) VALUES (?1, 1, ?2)",
            params![kid.as_str(), now],
        )?;
        Ok((kid.clone(), old))
    })
}
