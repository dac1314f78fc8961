//! Consent records: what a data subject agreed to (or withdrew), when,
//! which version of the text, and where it was captured. Append-only: a
//! withdrawal is a new record, so the history shows what held at any time.

use super::export::{bound, render, TenantFilter};
use super::subject::Subject;
use crate::error::{Error, Result};
use crate::params;
use crate::ports::{DbExt, Env, Row};
use crate::tenancy::{Scope, TenantId};
use crate::time::rfc3339;
use serde::Serialize;
use serde_json::json;

/// What a consent is for.
pub const PURPOSES: &[&str] = &[
    "terms",
    "privacy_policy",
    "marketing_email",
    "product_analytics",
];

/// Where a consent was captured.
pub const SOURCES: &[&str] = &["dashboard", "signup", "api", "email", "paper", "import"];

/// A consent to record.
#[derive(Debug, Clone)]
pub struct NewConsent<'a> {
    /// One of [`PURPOSES`].
    pub purpose: &'a str,
    /// The version of the text agreed to (1-32 of `[A-Za-z0-9._-]`).
    pub version: &'a str,
    /// One of [`SOURCES`].
    pub source: &'a str,
    /// Given (`true`) or withdrawn (`false`).
    pub granted: bool,
}

impl NewConsent<'_> {
    fn validate(&self) -> Result<()> {
        let bad = |m: String| Error::bad_request("invalid_consent", m);
        if !PURPOSES.contains(&self.purpose) {
            return Err(bad(format!("`purpose` is one of {}", PURPOSES.join(", "))));
        }
        if !SOURCES.contains(&self.source) {
            return Err(bad(format!("`source` is one of {}", SOURCES.join(", "))));
        }
        let v = self.version;
        if v.is_empty()
            || v.len() > 32
            || !v
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(bad(
                "`version` is 1 to 32 letters, digits, `.`, `_` or `-`".into()
            ));
        }
        Ok(())
    }
}

/// One stored record.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Its tenant.
    pub tenant_id: String,
    /// What for.
    pub purpose: String,
    /// `given` or `withdrawn`.
    pub state: String,
    /// The text's version.
    pub version: String,
    /// Where it was captured.
    pub source: String,
    /// Who recorded it.
    pub actor: String,
    /// When (RFC 3339).
    pub at: String,
}

impl Record {
    fn from_row(r: &Row) -> Result<Self> {
        Ok(Record {
            tenant_id: r.text(0)?,
            purpose: r.text(1)?,
            state: r.text(2)?,
            version: r.text(3)?,
            source: r.text(4)?,
            actor: r.text(5)?,
            at: rfc3339(r.i64(6)?),
        })
    }
}

const COLUMNS: &str = "tenant_id, purpose, state, version, source, actor, at";

/// Record a consent given or withdrawn for `subject` in `tenant`.
pub fn record(
    env: &Env,
    tenant: &TenantId,
    subject: &Subject,
    c: &NewConsent,
    actor: &str,
    request_id: &str,
) -> Result<Record> {
    c.validate()?;
    let row = env.db.query_one(
        &format!(
            "INSERT INTO privacy_consents
                (tenant_id, email, purpose, state, version, source, actor, request_id, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING {COLUMNS}"
        ),
        params![
            tenant.as_str(),
            subject.email(),
            c.purpose,
            if c.granted { "given" } else { "withdrawn" },
            c.version,
            c.source,
            actor,
            request_id,
            env.clock.now_ms()
        ],
    )?;
    Record::from_row(&row)
}

/// `subject`'s consent history within `scope` (oldest first) and what
/// holds now per tenant and purpose (the latest record).
pub fn history(env: &Env, scope: &Scope, subject: &Subject) -> Result<serde_json::Value> {
    let filter = TenantFilter::new(scope);
    let sql = render(
        &filter,
        &format!(
            "SELECT {COLUMNS} FROM privacy_consents WHERE email = ?1 AND {{t}} ORDER BY at, id LIMIT 1000"
        ),
    );
    let args = filter.params(subject.email(), &[]);
    let records: Vec<Record> = env
        .db
        .exec(&sql, bound(&sql, &args))?
        .rows
        .iter()
        .map(Record::from_row)
        .collect::<Result<_>>()?;
    let mut current = std::collections::BTreeMap::<(String, String), &Record>::new();
    for r in &records {
        current.insert((r.tenant_id.clone(), r.purpose.clone()), r);
    }
    let current: Vec<_> = current
        .values()
        .map(|r| {
            json!({
                "tenant_id": r.tenant_id, "purpose": r.purpose,
                "granted": r.state == "given", "version": r.version, "since": r.at,
            })
        })
        .collect();
    Ok(json!({ "email": subject.email(), "current": current, "records": records }))
}
