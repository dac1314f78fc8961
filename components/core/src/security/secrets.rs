//! The secrets the app is configured with: which variables they are, how
//! strong each must be, when each value was first seen, and when it is due
//! for rotation.
//!
//! The database never holds a secret: only its fingerprint, a SHA-256 of a
//! fixed label, the variable's name and the value, cut to 128 bits. A
//! changed value is a new fingerprint with its own first-seen time, so the
//! age of a secret is the age of its current value. "First seen" is when
//! this app first read the value (the scan or the daily `secrets` job), so
//! a value set long before this feature shipped starts its clock then.
//!
//! Rotation: secrets the operator generates and those a provider issues
//! are rotated every `secret_rotation_days` (30 by default: the seeds
//! rotate monthly). The `secrets` job (`cron-secrets`, 00:10 UTC) raises a
//! WARNING incident for each secret due, and again a week later while it
//! is still the same value.

use crate::config;
use crate::db::transaction;
use crate::error::Result;
use crate::incidents::{self, NewIncident, Severity};
use crate::params;
use crate::ports::db::DbExt;
use crate::ports::Env;
use crate::scheduler::{self, Job, JobFn, RunContext};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// How a secret comes to be, which decides what "strong" means for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The operator generates it (`openssl rand -hex 24`): at least
    /// [`config::MIN_SECRET_CHARS`] characters; rotated.
    Generated,
    /// A provider issues it (Stripe, OpenAI, Notion, Telegram, Google):
    /// its length is the provider's; rotated in the provider's console.
    Issued,
    /// The first admin's password: 12 characters or more; not rotated here
    /// (it is used once, to create the first account).
    Password,
}

impl Origin {
    /// The fewest characters a value may have.
    pub fn min_chars(self) -> usize {
        match self {
            Origin::Generated => config::MIN_SECRET_CHARS,
            Origin::Issued => 1,
            Origin::Password => 12,
        }
    }

    /// Whether values of this origin are due for rotation with age.
    pub fn rotates(self) -> bool {
        self != Origin::Password
    }
}

/// A secret variable.
#[derive(Debug, Clone, Copy)]
pub struct Secret {
    /// The variable's name.
    pub name: &'static str,
    /// How its value comes to be.
    pub origin: Origin,
}

const fn secret(name: &'static str, origin: Origin) -> Secret {
    Secret { name, origin }
}

/// Every secret variable in spin.toml (`secret = true`). A test keeps this
/// list and the manifest in agreement; api-security and cron-secrets
/// declare each of them.
pub const SECRETS: &[Secret] = &[
    secret("dashboard_key", Origin::Generated),
    secret("cron_token", Origin::Generated),
    secret("metrics_token", Origin::Generated),
    secret("jwt_secret", Origin::Generated),
    secret("portal_signing_secret", Origin::Generated),
    secret("audit_signing_secret", Origin::Generated),
    secret("admin_password", Origin::Password),
    secret("openai_api_key", Origin::Issued),
    secret("notion_token", Origin::Issued),
    secret("telegram_bot_token", Origin::Issued),
    secret("email_api_key", Origin::Issued),
    secret("gmail_client_secret", Origin::Issued),
    secret("gmail_refresh_token", Origin::Issued),
    secret("drive_client_secret", Origin::Issued),
    secret("drive_refresh_token", Origin::Issued),
    secret("stripe_secret_key", Origin::Issued),
    secret("stripe_webhook_secret", Origin::Issued),
    secret("compliance_webhook_secrets", Origin::Generated),
    secret("compliance_forward_secret", Origin::Generated),
    secret("backup_s3_secret_access_key", Origin::Issued),
];

/// Days a secret may be used before it is due for rotation, by default.
pub const DEFAULT_ROTATION_DAYS: i64 = 30;
/// A reminder for a secret still due is repeated after this long.
pub const REMIND_EVERY_MS: i64 = 7 * 86_400_000;
const DAY_MS: i64 = 86_400_000;

/// The rotation period (`secret_rotation_days`, 1-365), in days.
pub fn rotation_days(env: &Env) -> Result<i64> {
    config::int(
        env.config.as_ref(),
        "secret_rotation_days",
        DEFAULT_ROTATION_DAYS,
        1,
        365,
    )
}

/// The fingerprint of `value` as the value of variable `name`: 32 hex
/// digits. Names the value without revealing it (the name is part of the
/// input, so equal values of two variables do not match).
pub fn fingerprint(name: &str, value: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"echopilot secret fingerprint v1\0");
    h.update(name.as_bytes());
    h.update(b"\0");
    h.update(value.as_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A configured secret's age, as the scan shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Age {
    /// The variable.
    pub name: &'static str,
    /// How its value comes to be.
    pub origin: Origin,
    /// When this value was first seen (Unix ms).
    pub set_at: i64,
    /// When it is due for rotation (Unix ms); `None` for secrets not rotated.
    pub due_at: Option<i64>,
    /// Whether that time has passed.
    pub due: bool,
    /// When a rotation reminder for this value was last raised (Unix ms).
    pub reminded_at: Option<i64>,
    /// The value's fingerprint (kept out of answers: nothing needs it).
    #[serde(skip)]
    pub fingerprint: String,
}

/// The configured value of each set secret, with its definition.
pub fn configured(env: &Env) -> Result<Vec<(Secret, String)>> {
    let mut out = Vec::new();
    for s in SECRETS {
        if let Some(v) = config::text(env.config.as_ref(), s.name)? {
            out.push((*s, v));
        }
    }
    Ok(out)
}

/// Record the fingerprint of every set secret (first seen now, if new;
/// last seen now) and return each one's age.
pub fn observe(env: &Env) -> Result<Vec<Age>> {
    let now = env.clock.now_ms();
    let days = rotation_days(env)?;
    let set = configured(env)?;
    transaction(env.db.as_ref(), |db| {
        let mut ages = Vec::new();
        for (s, value) in &set {
            let fp = fingerprint(s.name, value);
            let row = db.query_one(
                "INSERT INTO secret_fingerprints (name, fingerprint, first_seen_at, last_seen_at)
                 VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (name, fingerprint) DO UPDATE SET last_seen_at = MAX(last_seen_at, excluded.last_seen_at)
                 RETURNING first_seen_at, reminded_at",
                params![s.name, fp.as_str(), now],
            )?;
            let set_at = row.i64(0)?;
            let due_at = s.origin.rotates().then(|| set_at + days * DAY_MS);
            ages.push(Age {
                name: s.name,
                origin: s.origin,
                set_at,
                due_at,
                due: due_at.is_some_and(|d| d <= now),
                reminded_at: row.opt_i64(1)?,
                fingerprint: fp,
            });
        }
        Ok(ages)
    })
}

/// The daily check: record every secret, and raise a WARNING incident for
/// each one due for rotation that was not reminded of in the last week.
pub fn remind(env: &Env) -> Result<Vec<&'static str>> {
    let now = env.clock.now_ms();
    let days = rotation_days(env)?;
    let mut reminded = Vec::new();
    for age in observe(env)? {
        let recent = age.reminded_at.is_some_and(|r| now - r < REMIND_EVERY_MS);
        if !age.due || recent {
            continue;
        }
        incidents::raise(
            env,
            NewIncident {
                severity: Severity::Warning,
                source: "secrets".into(),
                message: format!(
                    "Secret `{}` is due for rotation: its value was first seen on {} and secrets are rotated every {days} days. Set a new value (and revoke the old one with its issuer).",
                    age.name,
                    crate::time::date(age.set_at)
                ),
                links: json!({ "variable": age.name, "set_at": crate::time::rfc3339(age.set_at) }),
            },
        )?;
        env.db.exec(
            "UPDATE secret_fingerprints SET reminded_at = ?3 WHERE name = ?1 AND fingerprint = ?2",
            params![age.name, age.fingerprint.as_str(), now],
        )?;
        reminded.push(age.name);
    }
    Ok(reminded)
}

/// The secrets job: daily at 00:10 UTC.
pub const JOB: Job = Job {
    name: "secrets",
    component: "cron-secrets",
    schedule: "0 10 0 * * *",
    period_secs: 86_400,
    lease_secs: 600,
    max_attempts: 3,
    exclusive: true,
    body: JobFn::Sync(daily),
};

scheduler::cron_http_app!("cron-secrets", "/api/internal/cron/secrets", JOB);

fn daily(env: &Env, _run: &RunContext) -> Result<String> {
    let reminded = remind(env)?;
    Ok(if reminded.is_empty() {
        "no secret due for rotation".to_string()
    } else {
        format!("rotation due: {}", reminded.join(", "))
    })
}
