//! Referral codes, clicks and signups.

use super::canonical_email;
use crate::error::{Error, Kind, Result};
use crate::jobs::model::Email;
use crate::params;
use crate::ports::{DbError, DbExt, Env, Row};
use crate::time::{rfc3339, DAY_MS};
use serde_json::{json, Value};

/// A referral code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// 8 characters, `[0-9A-F]`.
    pub code: String,
    /// The tenant whose customers it refers.
    pub tenant_id: String,
    /// Who earns its commissions.
    pub referrer_id: String,
    /// The referrer's email (for self-referral checks).
    pub referrer_email: String,
    /// The campaign (`default` when none).
    pub campaign: String,
    /// Its commission, basis points of a payment.
    pub commission_bps: i64,
    /// Created, Unix ms.
    pub created_at: i64,
}

const COLUMNS: &str =
    "code, tenant_id, referrer_id, referrer_email, campaign, commission_bps, created_at";

impl Code {
    fn from_row(r: &Row) -> Result<Code> {
        Ok(Code {
            code: r.text(0)?,
            tenant_id: r.text(1)?,
            referrer_id: r.text(2)?,
            referrer_email: r.text(3)?,
            campaign: r.text(4)?,
            commission_bps: r.i64(5)?,
            created_at: r.i64(6)?,
        })
    }

    /// As served (the seeds' creation shape, with counts).
    pub fn view(&self, clicks: i64, signups: i64, conversions: i64) -> Value {
        json!({
            "referral_code": self.code,
            "referrer_id": self.referrer_id,
            "campaign": self.campaign,
            "tenant_id": self.tenant_id,
            "commission_pct": self.commission_bps as f64 / 100.0,
            "created_at": rfc3339(self.created_at),
            "clicks": clicks,
            "signups": signups,
            "conversions": conversions,
        })
    }
}

/// A name-like field: 1 to 64 of letters, digits, `_`, `-`, `.`, `@`.
fn label(field: &str, v: &str) -> Result<String> {
    let v = v.trim();
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@'));
    if ok {
        Ok(v.to_string())
    } else {
        Err(Error::unprocessable(
            "invalid_field",
            format!("`{field}` is 1 to 64 letters, digits, `_`, `-`, `.` or `@`"),
        ))
    }
}

/// A new code's request.
pub struct NewCode<'a> {
    /// The tenant.
    pub tenant_id: &'a str,
    /// Who refers.
    pub referrer_id: &'a str,
    /// Their email.
    pub referrer_email: &'a str,
    /// The campaign, if any.
    pub campaign: Option<&'a str>,
    /// The commission in percent, if not the default.
    pub commission_pct: Option<f64>,
}

/// The code of a referrer and campaign: created on first request, the same
/// one afterwards (idempotent). The bool says whether it was created.
pub fn create(env: &Env, n: &NewCode<'_>, actor: &str) -> Result<(Code, bool)> {
    let referrer = label("referrer_id", n.referrer_id)?;
    let campaign = label("campaign", n.campaign.unwrap_or("default"))?;
    let email = canonical_email(Email::parse(n.referrer_email)?.as_str());
    let bps = match n.commission_pct {
        Some(p) if p.is_finite() && (0.0..=100.0).contains(&p) => (p * 100.0).round() as i64,
        Some(_) => {
            return Err(Error::unprocessable(
                "invalid_commission",
                "`commission_pct` is a number from 0 to 100",
            ))
        }
        None => super::default_commission_bps(env.config.as_ref())?,
    };
    if let Some(existing) = find(env, n.tenant_id, &referrer, &campaign)? {
        return Ok((existing, false));
    }
    let now = env.clock.now_ms();
    for _ in 0..5 {
        let code = crate::ports::ids::random_hex(4, env.ids.as_ref())?.to_ascii_uppercase();
        let inserted = env.db.execute(
            &format!(
                "INSERT INTO referral_codes (code, tenant_id, referrer_id, referrer_email, campaign,
                    commission_bps, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING {COLUMNS}"
            ),
            params![
                code.as_str(),
                n.tenant_id,
                referrer.as_str(),
                email.as_str(),
                campaign.as_str(),
                bps,
                actor,
                now
            ],
        );
        match inserted {
            Ok(rows) => {
                let row = rows
                    .first()
                    .ok_or_else(|| Error::internal("insert returned nothing"))?;
                return Ok((Code::from_row(row)?, true));
            }
            // The same referrer and campaign raced us: theirs stands.
            Err(DbError::Constraint(_)) => {
                if let Some(existing) = find(env, n.tenant_id, &referrer, &campaign)? {
                    return Ok((existing, false));
                }
                // Otherwise the random code collided: draw again.
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::internal("no free referral code after 5 draws"))
}

fn find(env: &Env, tenant: &str, referrer: &str, campaign: &str) -> Result<Option<Code>> {
    env.db
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM referral_codes WHERE tenant_id = ?1 AND referrer_id = ?2 AND campaign = ?3"
            ),
            params![tenant, referrer, campaign],
        )?
        .map(|r| Code::from_row(&r))
        .transpose()
}

/// A code (404 `unknown_code`).
pub fn get(env: &Env, code: &str) -> Result<Code> {
    let code = code.trim().to_ascii_uppercase();
    if code.len() != 8 || !code.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::new(
            Kind::NotFound,
            "unknown_code",
            "no such referral code",
        ));
    }
    env.db
        .query_opt(
            &format!("SELECT {COLUMNS} FROM referral_codes WHERE code = ?1"),
            params![code],
        )?
        .map(|r| Code::from_row(&r))
        .transpose()?
        .ok_or_else(|| Error::new(Kind::NotFound, "unknown_code", "no such referral code"))
}

/// Count a click on `code` (today's counter).
pub fn click(env: &Env, code: &str) -> Result<Code> {
    let c = get(env, code)?;
    env.db.exec(
        "INSERT INTO referral_clicks (code, day, n) VALUES (?1, ?2, 1)
         ON CONFLICT (code, day) DO UPDATE SET n = n + 1",
        params![c.code.as_str(), env.clock.now_ms().div_euclid(DAY_MS)],
    )?;
    Ok(c)
}

/// Record that `email` signed up through `code`. Refused (409) and
/// recorded: the referrer's own email (`self_referral`), and an email
/// already signed up in the tenant (`duplicate_signup`).
pub fn signup(env: &Env, code: &str, email: &str, client_addr: &str) -> Result<Code> {
    let c = get(env, code)?;
    let email = canonical_email(Email::parse(email)?.as_str());
    let now = env.clock.now_ms();
    let refuse = |reason: &'static str, message: &str| -> Result<Code> {
        env.db.exec(
            "INSERT INTO referral_refusals (code, email, reason, client_addr, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![c.code.as_str(), email.as_str(), reason, client_addr, now],
        )?;
        Err(Error::conflict(reason, message))
    };
    if email == c.referrer_email {
        return refuse(
            "self_referral",
            "a referrer cannot sign up through their own code",
        );
    }
    let inserted = env.db.execute(
        "INSERT INTO referral_signups (tenant_id, email, code, client_addr, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![c.tenant_id.as_str(), email.as_str(), c.code.as_str(), client_addr, now],
    );
    match inserted {
        Ok(_) => Ok(c),
        Err(DbError::Constraint(_)) => {
            refuse("duplicate_signup", "this email has already signed up")
        }
        Err(e) => Err(e.into()),
    }
}

/// The code a customer signed up through, in `tenant`.
pub fn of_customer(db: &dyn crate::ports::Db, tenant: &str, email: &str) -> Result<Option<Code>> {
    db.query_opt(
        &format!(
            "SELECT {} FROM referral_codes c JOIN referral_signups s ON s.code = c.code
             WHERE s.tenant_id = ?1 AND s.email = ?2",
            COLUMNS
                .split(", ")
                .map(|c| format!("c.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        params![tenant, canonical_email(email)],
    )?
    .map(|r| Code::from_row(&r))
    .transpose()
}

/// Codes within a scope, optionally of one campaign (at most 1,000).
pub fn list(env: &Env, scope: &crate::tenancy::Scope, campaign: Option<&str>) -> Result<Vec<Code>> {
    let (cond, tenant) = scope.condition("tenant_id", 2);
    let mut p = vec![crate::ports::Value::from(campaign.map(str::to_string))];
    p.extend(tenant.map(crate::ports::Value::from));
    let rows = env.db.exec(
        &format!(
            "SELECT {COLUMNS} FROM referral_codes WHERE (?1 IS NULL OR campaign = ?1) AND {cond}
             ORDER BY created_at, code LIMIT 1000"
        ),
        &p,
    )?;
    rows.rows.iter().map(Code::from_row).collect()
}
