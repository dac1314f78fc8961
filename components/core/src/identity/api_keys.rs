//! Partner API keys (the marketplace): `ep_<prefix>_<secret>`, shown once
//! at creation, stored as a SHA-256 hash with the visible prefix, with
//! scopes and daily and monthly quotas counted exactly in SQLite.

use crate::access::digest_eq;
use crate::db::transaction;
use crate::error::{Error, Kind, Result};
use crate::params;
use crate::ports::{ids, DbExt, Env, Row};
use crate::tenancy::{Scope, TenantId};
use crate::time::rfc3339;
use sha2::{Digest, Sha256};

/// Scopes a key can hold.
pub const SCOPES: &[&str] = &["jobs:write", "jobs:read"];
const PREFIX_CHARS: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz23456789x";

/// A key as listed (never with its secret).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct ApiKey {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub daily_quota: i64,
    pub monthly_quota: i64,
    created_by: String,
    created_at: i64,
    last_used_at: Option<i64>,
    pub revoked: bool,
}

const COLUMNS: &str =
    "id, tenant_id, name, prefix, scopes, daily_quota, monthly_quota, created_by, created_at, last_used_at, revoked_at";

impl ApiKey {
    fn from_row(r: &Row) -> Result<Self> {
        Ok(ApiKey {
            id: r.text(0)?,
            tenant_id: r.text(1)?,
            name: r.text(2)?,
            prefix: r.text(3)?,
            scopes: r
                .text(4)?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            daily_quota: r.i64(5)?,
            monthly_quota: r.i64(6)?,
            created_by: r.text(7)?,
            created_at: r.i64(8)?,
            last_used_at: r.opt_i64(9)?,
            revoked: r.opt_i64(10)?.is_some(),
        })
    }

    /// As listed.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id, "tenant_id": self.tenant_id, "name": self.name, "prefix": format!("ep_{}", self.prefix),
            "scopes": self.scopes, "daily_quota": self.daily_quota, "monthly_quota": self.monthly_quota,
            "created_by": self.created_by, "created_at": rfc3339(self.created_at),
            "last_used_at": self.last_used_at.map(rfc3339), "revoked": self.revoked,
        })
    }
}

fn secret_hash(secret: &str) -> String {
    crate::hex(&Sha256::digest(secret.as_bytes()))
}

/// Create a key. Returns the key and its full secret (shown only now).
#[allow(clippy::too_many_arguments)]
pub fn create(
    env: &Env,
    tenant: &TenantId,
    name: &str,
    scopes: &[String],
    daily: i64,
    monthly: i64,
    by: &str,
) -> Result<(ApiKey, String)> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(Error::unprocessable(
            "invalid_name",
            "a key name is 1 to 100 characters",
        ));
    }
    if scopes.is_empty() || scopes.iter().any(|s| !SCOPES.contains(&s.as_str())) {
        return Err(Error::unprocessable(
            "invalid_scopes",
            format!("scopes must be some of: {}", SCOPES.join(", ")),
        ));
    }
    if !(1..=10_000_000).contains(&daily)
        || !(1..=300_000_000).contains(&monthly)
        || daily > monthly
    {
        return Err(Error::unprocessable(
            "invalid_quota",
            "quotas are positive, daily at most 10,000,000, monthly at most 300,000,000, daily not above monthly",
        ));
    }
    super::tenants::require(env, tenant)?;
    let mut raw = [0u8; 40];
    env.ids.fill(&mut raw)?;
    let prefix: String = raw[..8]
        .iter()
        .map(|b| PREFIX_CHARS[(*b & 31) as usize] as char)
        .collect();
    let secret = format!("ep_{prefix}_{}", super::base64url::encode(&raw[8..]));
    let now = env.clock.now_ms();
    let id = ids::new_id("pk_", now, env.ids.as_ref())?;
    let row = env.db.query_one(
        &format!(
            "INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, scopes, daily_quota, monthly_quota, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING {COLUMNS}"
        ),
        params![id.as_str(), tenant.as_str(), name.trim(), prefix.as_str(), secret_hash(&secret), scopes.join(","), daily, monthly, by, now],
    )?;
    Ok((ApiKey::from_row(&row)?, secret))
}

/// Whether `token` looks like an API key.
pub fn looks_like_key(token: &str) -> bool {
    token.starts_with("ep_") && token.len() < 128 && token.matches('_').count() >= 2
}

/// The key `token` names, if it is valid and not revoked (401 otherwise).
pub fn authenticate(env: &Env, token: &str) -> Result<ApiKey> {
    let bad = || Error::unauthorized("the API key is not valid");
    let prefix = token
        .strip_prefix("ep_")
        .and_then(|r| r.split('_').next())
        .ok_or_else(bad)?;
    if prefix.len() != 8 {
        return Err(bad());
    }
    let row = env.db.query_opt(
        &format!("SELECT {COLUMNS}, secret_hash FROM api_keys WHERE prefix = ?1"),
        params![prefix],
    )?;
    // Hash the presented key either way, so a miss costs what a hit costs.
    let presented = secret_hash(token);
    let Some(row) = row else {
        digest_eq(&presented, "");
        return Err(bad());
    };
    let key = ApiKey::from_row(&row)?;
    if !digest_eq(&presented, &row.text(11)?) {
        return Err(bad());
    }
    if key.revoked {
        return Err(Error::new(
            Kind::Unauthorized,
            "key_revoked",
            "this API key has been revoked",
        ));
    }
    Ok(key)
}

/// Keys in `scope`.
pub fn list(env: &Env, scope: &Scope) -> Result<Vec<ApiKey>> {
    let (cond, tenant) = scope.condition("tenant_id", 1);
    let p: Vec<crate::ports::Value> = tenant.into_iter().map(Into::into).collect();
    let rows = env.db.exec(
        &format!("SELECT {COLUMNS} FROM api_keys WHERE {cond} ORDER BY id LIMIT 1000"),
        &p,
    )?;
    rows.rows.iter().map(ApiKey::from_row).collect()
}

/// Revoke a key in `scope`.
pub fn revoke(env: &Env, scope: &Scope, id: &str) -> Result<ApiKey> {
    let (cond, tenant) = scope.condition("tenant_id", 3);
    let mut p = params![id, env.clock.now_ms()].to_vec();
    p.extend(tenant.map(crate::ports::Value::from));
    let row = env.db.query_opt(
        &format!("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1 AND {cond} RETURNING {COLUMNS}"),
        &p,
    )?;
    row.map(|r| ApiKey::from_row(&r))
        .transpose()?
        .ok_or_else(|| Error::not_found(format!("no API key `{id}`")))
}

/// A key's quota state after a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// Daily limit.
    pub daily_limit: i64,
    /// Left today.
    pub daily_remaining: i64,
    /// Monthly limit.
    pub monthly_limit: i64,
    /// Left this month.
    pub monthly_remaining: i64,
    /// When the daily count resets (Unix ms, next UTC midnight).
    pub resets_at: i64,
}

impl Quota {
    /// The `X-Quota-*` headers.
    pub fn headers(&self) -> Vec<(String, String)> {
        vec![
            ("X-Quota-Daily-Limit".into(), self.daily_limit.to_string()),
            (
                "X-Quota-Daily-Remaining".into(),
                self.daily_remaining.to_string(),
            ),
            (
                "X-Quota-Monthly-Limit".into(),
                self.monthly_limit.to_string(),
            ),
            (
                "X-Quota-Monthly-Remaining".into(),
                self.monthly_remaining.to_string(),
            ),
            ("X-Quota-Reset".into(), rfc3339(self.resets_at)),
        ]
    }
}

/// Count one call against the key's daily and monthly quotas, atomically;
/// 429 `quota_exceeded` (with Retry-After) when either is spent, in which
/// case nothing is counted.
pub fn consume(env: &Env, key_id: &str, daily: i64, monthly: i64) -> Result<Quota> {
    let now = env.clock.now_ms();
    let day = crate::time::date(now);
    let month = &day[..7];
    let resets_at = (now.div_euclid(86_400_000) + 1) * 86_400_000;
    let bump = "INSERT INTO api_key_usage (key_id, period, count) VALUES (?1, ?2, 1)
                ON CONFLICT (key_id, period) DO UPDATE SET count = count + 1 WHERE count < ?3
                RETURNING count";
    let counted = transaction(env.db.as_ref(), |db| {
        let d = db.query_opt(bump, params![key_id, format!("d:{day}"), daily])?;
        let m = db.query_opt(bump, params![key_id, format!("m:{month}"), monthly])?;
        match (d, m) {
            (Some(d), Some(m)) => Ok(Some((d.i64(0)?, m.i64(0)?))),
            // Spent: roll back so nothing is counted.
            _ => Err(Error::new(Kind::RateLimited, "quota_exceeded", "")),
        }
    });
    match counted {
        Ok(Some((d, m))) => {
            env.db.exec(
                "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1",
                params![key_id, now],
            )?;
            Ok(Quota {
                daily_limit: daily,
                daily_remaining: (daily - d).max(0),
                monthly_limit: monthly,
                monthly_remaining: (monthly - m).max(0),
                resets_at,
            })
        }
        Ok(None) => Err(Error::internal("quota count missing")),
        Err(e) if e.code == "quota_exceeded" => {
            let used = |period: String| -> Result<i64> {
                Ok(env
                    .db
                    .query_opt(
                        "SELECT count FROM api_key_usage WHERE key_id = ?1 AND period = ?2",
                        params![key_id, period],
                    )?
                    .map(|r| r.i64(0))
                    .transpose()?
                    .unwrap_or(0))
            };
            let monthly_spent = used(format!("m:{month}"))? >= monthly;
            let retry = if monthly_spent {
                let next_month = month_start_after(now);
                (next_month - now) / 1000
            } else {
                (resets_at - now) / 1000
            };
            let mut err = Error::rate_limited(
                retry.max(1) as u64,
                if monthly_spent {
                    "the monthly quota of this API key is spent"
                } else {
                    "the daily quota of this API key is spent"
                },
            );
            err.code = "quota_exceeded";
            Err(err)
        }
        Err(e) => Err(e),
    }
}

/// The start (Unix ms) of the month after the one containing `now`.
fn month_start_after(now: i64) -> i64 {
    let date = crate::time::date(now);
    let (y, m): (i64, i64) = (
        date[..4].parse().unwrap_or(1970),
        date[5..7].parse().unwrap_or(1),
    );
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    crate::time::parse_rfc3339(&format!("{y:04}-{m:02}-01T00:00:00Z"))
        .unwrap_or(now + 31 * 86_400_000)
}
