//! Sign-in, token pairs, refresh rotation with reuse detection, logout and
//! the revocation list.
//!
//! Access tokens live 15 minutes, refresh tokens 24 hours. Every refresh
//! rotates: the old refresh token is marked used and a new pair issued in
//! the same family. Presenting a used (or revoked) refresh token again means
//! it was stolen or replayed: the whole family is revoked. Revoked access
//! tokens are listed in key-value until they would have expired anyway.

use super::jwt::{self, Claims};
use super::keys;
use super::throttle::{self, Counter};
use super::users::{self, User};
use crate::error::{Error, Result};
use crate::params;
use crate::ports::{ids, DbExt, Env};
use crate::tenancy::TenantId;

/// Access-token lifetime.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
/// Refresh-token lifetime.
pub const REFRESH_TTL_SECS: i64 = 24 * 3600;

/// A freshly issued pair.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The family both belong to.
    pub family: String,
    /// The CSRF token bound to this session (cookie sessions).
    pub csrf_token: String,
}

impl TokenPair {
    /// As returned by login and refresh.
    pub fn view(&self, user: &User) -> serde_json::Value {
        serde_json::json!({
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "csrf_token": self.csrf_token,
            "user": user.view(),
        })
    }
}

fn claims(
    user: &User,
    typ: &str,
    now: i64,
    ttl: i64,
    jti: String,
    family: &str,
    csrf_hash: &str,
) -> Claims {
    Claims {
        iss: jwt::ISSUER.into(),
        aud: jwt::AUDIENCE.into(),
        sub: user.id.clone(),
        tid: user.tenant_id.clone(),
        role: user.role.as_str().into(),
        typ: typ.into(),
        iat: now,
        nbf: now,
        exp: now + ttl,
        jti,
        fam: family.into(),
        csrf: csrf_hash.into(),
    }
}

/// Issue a pair for `user` in `family` (a new family when `None`).
pub fn issue(env: &Env, user: &User, family: Option<&str>) -> Result<TokenPair> {
    let secret = keys::secret(env)?;
    let kid = keys::active_kid(env)?;
    let key = keys::derive(&secret, &kid);
    let now_ms = env.clock.now_ms();
    let now = now_ms / 1000;
    let family = match family {
        Some(f) => f.to_string(),
        None => ids::new_id("fam_", now_ms, env.ids.as_ref())?,
    };
    let csrf_token = ids::random_hex(24, env.ids.as_ref())?;
    let csrf_hash = crate::hex(&<sha2::Sha256 as sha2::Digest>::digest(
        csrf_token.as_bytes(),
    ));
    let access_jti = ids::new_id("at_", now_ms, env.ids.as_ref())?;
    let refresh_jti = ids::new_id("rt_", now_ms, env.ids.as_ref())?;
    let access = claims(
        user,
        "access",
        now,
        ACCESS_TTL_SECS,
        access_jti,
        &family,
        &csrf_hash,
    );
    let refresh = claims(
        user,
        "refresh",
        now,
        REFRESH_TTL_SECS,
        refresh_jti.clone(),
        &family,
        "",
    );
    // One statement decides: a family that was revoked (sign-out, reuse,
    // disabling) gets no new token, even when the revocation landed between
    // a refresh spending its token and this insert. Revocation marks every
    // row of the family, and SQLite runs the two statements one after the
    // other: either this row exists and is marked, or the mark is seen here.
    let inserted = env.db.query_opt(
        "INSERT INTO refresh_tokens (jti, family, user_id, tenant_id, issued_at, expires_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6
         WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE family = ?2 AND revoked_at IS NOT NULL)
         RETURNING jti",
        params![refresh_jti.as_str(), family.as_str(), user.id.as_str(), user.tenant_id.as_str(), now_ms, (now + REFRESH_TTL_SECS) * 1000],
    )?;
    if inserted.is_none() {
        return Err(revoked());
    }
    Ok(TokenPair {
        access_token: jwt::sign(&access, &kid, &key),
        refresh_token: jwt::sign(&refresh, &kid, &key),
        expires_in: ACCESS_TTL_SECS,
        family,
        csrf_token,
    })
}

/// Verify a token of type `typ` against the key ring: 401 on any problem
/// (the precise reason goes to the log, not the client).
pub fn verify(env: &Env, token: &str, typ: &str) -> Result<Claims> {
    let invalid = |why: String| {
        crate::log::info("auth", &format!("token refused: {why}"));
        Error::unauthorized("the token is not valid; sign in again")
    };
    let kid = jwt::kid(token).map_err(|e| invalid(format!("{e:?}")))?;
    let secret = keys::secret(env).map_err(|e| {
        if e.code == "not_configured" {
            Error::unauthorized("bearer tokens are not accepted: `jwt_secret` is not set")
        } else {
            e
        }
    })?;
    if !keys::verifies(env, &kid)? {
        return Err(invalid(format!("unknown or retired kid {kid}")));
    }
    let now = env.clock.now_ms() / 1000;
    match jwt::verify(token, &keys::derive(&secret, &kid), now, typ) {
        Ok(c) => Ok(c),
        Err(jwt::JwtError::Expired) => Err(Error::new(
            crate::error::Kind::Unauthorized,
            "token_expired",
            "the token has expired; refresh it or sign in again",
        )),
        Err(e) => Err(invalid(format!("{e:?}"))),
    }
}

/// A sign-in attempt.
#[derive(Debug, Clone, Copy)]
pub struct SignIn<'a> {
    /// The email (lower case).
    pub email: &'a str,
    /// The password.
    pub password: &'a str,
    /// The account's tenant, when the email has accounts in several.
    pub tenant: Option<&'a TenantId>,
    /// The client's address (the guard's).
    pub client: &'a str,
    /// A device token from an earlier sign-in, if the client kept one.
    pub device_token: Option<&'a str>,
}

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Who.
    pub user: User,
    /// Its tokens.
    pub pair: TokenPair,
    /// A fresh device token for this client.
    pub device_token: String,
}

/// Check a sign-in against the throttles, then the password; a pair for
/// the user. Unknown emails cost the same Argon2 work as wrong passwords,
/// answer the same 401 and count the same failures; a locked sign-in is
/// refused (429 `sign_in_locked`) before any password is checked.
pub fn login(env: &Env, s: &SignIn) -> Result<SignedIn> {
    keys::secret(env)?;
    users::bootstrap_admin(env)?;
    let found = users::find_for_login(env, s.email, s.tenant)?;
    let account = match &found {
        Some((user, _)) => user.id.clone(),
        None => format!(
            "{}|{}",
            s.email,
            s.tenant.map(TenantId::as_str).unwrap_or("*")
        ),
    };
    let device = match (&found, s.device_token) {
        (Some((user, _)), Some(token)) => super::devices::recognise(env, token, &user.id),
        _ => None,
    };
    let counters = match &device {
        Some(d) => vec![Counter::device(d)],
        None => vec![
            Counter::pair(&account, s.client),
            Counter::address(s.client),
            Counter::account(&account),
        ],
    };
    throttle::check(env, &counters)?;
    let hash = found
        .as_ref()
        .map(|(_, h)| h.as_str())
        .unwrap_or(super::password::DUMMY_HASH);
    let ok = super::password::verify(s.password, hash);
    let user = match found {
        Some((user, _)) if ok => user,
        _ => {
            throttle::failed(env, &counters)?;
            return Err(Error::new(
                crate::error::Kind::Unauthorized,
                "invalid_credentials",
                "the email or password is not correct",
            ));
        }
    };
    // The password was right: this client's failures are forgiven (the
    // account's count over all addresses only fades with time).
    let forgiven = match &device {
        Some(d) => Counter::device(d),
        None => Counter::pair(&account, s.client),
    };
    throttle::cleared(env, &[forgiven])?;
    if user.disabled {
        return Err(Error::new(
            crate::error::Kind::Forbidden,
            "account_disabled",
            "this account is disabled",
        ));
    }
    users::current(env, &user.id)?
        .ok_or_else(|| Error::unauthorized("the account no longer exists"))?
        .admit()?;
    users::touch_login(env, &user.id)?;
    let pair = issue(env, &user, None)?;
    let device_token = super::devices::issue(env, &user.id)?;
    Ok(SignedIn {
        user,
        pair,
        device_token,
    })
}

/// Rotate a refresh token: the old one is spent, a new pair is issued in
/// the same family. A token that was already spent or revoked revokes its
/// whole family (and is refused).
pub fn refresh(env: &Env, token: &str) -> Result<(User, TokenPair)> {
    let c = verify(env, token, "refresh")?;
    let now = env.clock.now_ms();
    let spent = env.db.query_opt(
        "UPDATE refresh_tokens SET used_at = ?2 WHERE jti = ?1 AND used_at IS NULL AND revoked_at IS NULL RETURNING family",
        params![c.jti.as_str(), now],
    )?;
    if spent.is_none() {
        let state = env.db.query_opt(
            "SELECT used_at FROM refresh_tokens WHERE jti = ?1",
            params![c.jti.as_str()],
        )?;
        return match state {
            // Spent before: replayed or stolen. End the whole family.
            Some(row) if row.opt_i64(0)?.is_some() => {
                revoke_family(env, &c.fam)?;
                crate::audit::append(
                    env,
                    &crate::audit::Event::new(
                        &c.tid,
                        &format!("user:{}", c.sub),
                        "auth.refresh_reuse",
                    )
                    .target(&c.fam)
                    .detail(serde_json::json!({ "jti": c.jti })),
                )?;
                Err(Error::new(
                    crate::error::Kind::Unauthorized,
                    "token_reused",
                    "this refresh token was already used; every session of this sign-in has been revoked",
                ))
            }
            // Revoked by a sign-out, a disabled account or a password change.
            Some(_) => Err(revoked()),
            None => Err(Error::unauthorized(
                "the refresh token is not known; sign in again",
            )),
        };
    }
    let Some(standing) = users::current(env, &c.sub)? else {
        return Err(Error::unauthorized("the account no longer exists"));
    };
    if standing.disabled {
        revoke_family(env, &c.fam)?;
        return Err(Error::new(
            crate::error::Kind::Forbidden,
            "account_disabled",
            "this account is disabled",
        ));
    }
    standing.admit()?;
    let user = users::get(env, &crate::tenancy::Scope::All, &c.sub)?;
    let pair = issue(env, &user, Some(&c.fam))?;
    Ok((user, pair))
}

fn revoked() -> Error {
    Error::new(
        crate::error::Kind::Unauthorized,
        "token_revoked",
        "this session was signed out; sign in again",
    )
}

/// Drop refresh-token rows past their expiry: such a token no longer
/// verifies, so its row (used, revoked or not) decides nothing.
pub fn prune(env: &Env) -> Result<i64> {
    Ok(env
        .db
        .exec(
            "DELETE FROM refresh_tokens WHERE expires_at < ?1 RETURNING jti",
            params![env.clock.now_ms() - jwt::LEEWAY_SECS * 1000],
        )?
        .rows
        .len() as i64)
}

/// Revoke every refresh token of `family`, and (through the revocation
/// list) every access token issued in it.
pub fn revoke_family(env: &Env, family: &str) -> Result<()> {
    env.db.exec(
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family = ?1 AND revoked_at IS NULL",
        params![family, env.clock.now_ms()],
    )?;
    let until = env.clock.now_ms() / 1000 + ACCESS_TTL_SECS;
    env.kv
        .set(&family_key(family), until.to_string().as_bytes())
}

fn family_key(family: &str) -> String {
    format!("revoked-family:{family}")
}

/// Revoke every session of a user (disabled, password changed).
pub fn revoke_user_refresh_tokens(env: &Env, user_id: &str) -> Result<()> {
    let families = env.db.exec(
        "SELECT DISTINCT family FROM refresh_tokens WHERE user_id = ?1 AND revoked_at IS NULL",
        params![user_id],
    )?;
    for row in &families.rows {
        revoke_family(env, &row.text(0)?)?;
    }
    Ok(())
}

fn revocation_key(jti: &str) -> String {
    format!("revoked:{jti}")
}

/// Put an access token on the revocation list until it expires (`exp`,
/// Unix seconds). Key-value has no TTL, so the expiry is the value and the
/// entry is dropped when read after it.
pub fn revoke_access(env: &Env, jti: &str, exp: i64) -> Result<()> {
    env.kv.set(&revocation_key(jti), exp.to_string().as_bytes())
}

/// Whether an access token was revoked, by its id or through its family.
pub fn is_revoked(env: &Env, jti: &str, family: &str) -> Result<bool> {
    Ok(listed(env, &revocation_key(jti))? || listed(env, &family_key(family))?)
}

/// Whether `key` is on the revocation list (entries hold their expiry in
/// Unix seconds and are dropped when read after it: key-value has no TTL).
fn listed(env: &Env, key: &str) -> Result<bool> {
    match env.kv.get(key)? {
        None => Ok(false),
        Some(v) => {
            let exp: i64 = String::from_utf8_lossy(&v).parse().unwrap_or(i64::MAX);
            if exp * 1000 < env.clock.now_ms() - jwt::LEEWAY_SECS * 1000 {
                env.kv.delete(key)?;
                Ok(false)
            } else {
                Ok(true)
            }
        }
    }
}

/// Sign out: revoke the access token and its refresh family.
pub fn logout(env: &Env, jti: &str, exp: i64, family: &str) -> Result<()> {
    revoke_access(env, jti, exp)?;
    revoke_family(env, family)
}
