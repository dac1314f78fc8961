//! Silences: "stop paging about this for a while". A silence matches by
//! `source` or by `fingerprint` (exactly one) for `duration_minutes` (at
//! most `silence_max_minutes`, default 1,440). An incident raised while a
//! silence matches is recorded with the silence's id but sends nothing and
//! is not digested. Creating and removing one appends to the audit chain.

use super::model::{is_fingerprint, Actor, MAX_SOURCE_CHARS};
use crate::audit;
use crate::config;
use crate::error::{Error, Result};
use crate::params;
use crate::ports::{ids, Db, DbExt, Env, Row};
use crate::time::rfc3339;
use serde::Deserialize;
use serde_json::Value;

/// The longest silence when `silence_max_minutes` is not set: one day.
pub const DEFAULT_MAX_MINUTES: i64 = 1440;
/// The longest `comment`, in characters.
pub const MAX_COMMENT_CHARS: usize = 500;
/// The longest `author`, in characters.
pub const MAX_AUTHOR_CHARS: usize = 100;

/// A silence to create, as sent (every field optional so that a missing
/// one is a 422 naming it, not a parse error).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    /// Match incidents from this source...
    pub source: Option<String>,
    /// ...or with this fingerprint (exactly one of the two).
    pub fingerprint: Option<String>,
    /// Why (required).
    pub comment: Option<String>,
    /// Who asked for it (required).
    pub author: Option<String>,
    /// For how long (required, 1 to `silence_max_minutes`).
    pub duration_minutes: Option<i64>,
}

/// A stored silence.
#[derive(Debug, Clone, PartialEq)]
pub struct Silence {
    /// `sil_` + a time-sortable id.
    pub id: String,
    /// `source` or `fingerprint`.
    pub matcher: String,
    /// The source or fingerprint matched.
    pub value: String,
    /// Why.
    pub comment: String,
    /// Who asked for it.
    pub author: String,
    /// The principal that created it.
    pub created_by: String,
    /// When, Unix ms.
    pub created_at: i64,
    /// When it stops matching (moved to the removal time when removed early).
    pub expires_at: i64,
    /// When removed early.
    pub removed_at: Option<i64>,
    /// Who removed it.
    pub removed_by: Option<String>,
}

const COLUMNS: &str =
    "id, matcher, value, comment, author, created_by, created_at, expires_at, removed_at, removed_by";

impl Silence {
    fn from_row(r: &Row) -> Result<Self> {
        Ok(Silence {
            id: r.text(0)?,
            matcher: r.text(1)?,
            value: r.text(2)?,
            comment: r.text(3)?,
            author: r.text(4)?,
            created_by: r.text(5)?,
            created_at: r.i64(6)?,
            expires_at: r.i64(7)?,
            removed_at: r.opt_i64(8)?,
            removed_by: r.opt_text(9)?,
        })
    }

    /// Whether it matches at `now`.
    pub fn active_at(&self, now: i64) -> bool {
        self.removed_at.is_none() && self.expires_at > now
    }

    /// As served, with `active` as of `now`.
    pub fn view(&self, now: i64) -> Value {
        serde_json::json!({
            "id": self.id,
            "matcher": self.matcher,
            self.matcher.as_str(): self.value,
            "comment": self.comment,
            "author": self.author,
            "created_by": self.created_by,
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.expires_at),
            "removed_at": self.removed_at.map(rfc3339),
            "removed_by": self.removed_by,
            "active": self.active_at(now),
        })
    }
}

fn invalid(code: &'static str, message: impl Into<String>) -> Error {
    Error::unprocessable(code, message)
}

fn required_text(
    v: &Option<String>,
    field: &str,
    max: usize,
    code: &'static str,
) -> Result<String> {
    let t = v.as_deref().map(str::trim).unwrap_or_default();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(invalid(
            code,
            format!("`{field}` is required: 1 to {max} characters, no control characters"),
        ));
    }
    Ok(t.to_string())
}

/// Create a silence; 422 when a field is missing or out of range, and
/// then nothing is stored.
pub fn create(env: &Env, new: &NewSilence, by: &Actor) -> Result<Silence> {
    let (matcher, value) = match (&new.source, &new.fingerprint) {
        (Some(s), None) => {
            let s = s.trim();
            if s.is_empty() || s.chars().count() > MAX_SOURCE_CHARS {
                return Err(invalid(
                    "invalid_matcher",
                    format!("`source` is 1 to {MAX_SOURCE_CHARS} characters"),
                ));
            }
            ("source", s.to_string())
        }
        (None, Some(f)) => {
            let f = f.trim().to_ascii_lowercase();
            if !is_fingerprint(&f) {
                return Err(invalid(
                    "invalid_matcher",
                    "`fingerprint` is the 12 hex characters an incident shows",
                ));
            }
            ("fingerprint", f)
        }
        _ => {
            return Err(invalid(
                "invalid_matcher",
                "give exactly one of `source` or `fingerprint`",
            ))
        }
    };
    let comment = required_text(
        &new.comment,
        "comment",
        MAX_COMMENT_CHARS,
        "invalid_comment",
    )?;
    let author = required_text(&new.author, "author", MAX_AUTHOR_CHARS, "invalid_author")?;
    let max = config::int(
        env.config.as_ref(),
        "silence_max_minutes",
        DEFAULT_MAX_MINUTES,
        1,
        525_600,
    )?;
    let minutes = match new.duration_minutes {
        Some(m) if (1..=max).contains(&m) => m,
        _ => {
            return Err(invalid(
                "invalid_duration",
                format!("`duration_minutes` is required: 1 to {max}"),
            ))
        }
    };
    let now = env.clock.now_ms();
    let id = ids::new_id("sil_", now, env.ids.as_ref())?;
    let row = env.db.query_one(
        &format!(
            "INSERT INTO incident_silences (id, matcher, value, comment, author, created_by, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING {COLUMNS}"
        ),
        params![
            id.as_str(),
            matcher,
            value.as_str(),
            comment.as_str(),
            author.as_str(),
            by.actor.as_str(),
            now,
            now + minutes * 60_000
        ],
    )?;
    let silence = Silence::from_row(&row)?;
    audit::append(
        env,
        &by.event("incident.silence_create")
            .target(&silence.id)
            .detail(serde_json::json!({
                "matcher": matcher, "value": value, "duration_minutes": minutes,
                "comment": comment, "author": author,
                "expires_at": rfc3339(silence.expires_at),
            })),
    )?;
    Ok(silence)
}

/// The silences matching now, newest first.
pub fn list_active(env: &Env) -> Result<Vec<Silence>> {
    let rows = env.db.exec(
        &format!(
            "SELECT {COLUMNS} FROM incident_silences
             WHERE removed_at IS NULL AND expires_at > ?1 ORDER BY id DESC"
        ),
        params![env.clock.now_ms()],
    )?;
    rows.rows.iter().map(Silence::from_row).collect()
}

/// A silence by id (404 otherwise).
pub fn get(env: &Env, id: &str) -> Result<Silence> {
    env.db
        .query_opt(
            &format!("SELECT {COLUMNS} FROM incident_silences WHERE id = ?1"),
            params![id],
        )?
        .map(|r| Silence::from_row(&r))
        .transpose()?
        .ok_or_else(|| Error::not_found(format!("no silence `{id}`")))
}

/// End an active silence now. 404 when unknown; 409 `silence_inactive`
/// when it already expired or was removed.
pub fn remove(env: &Env, id: &str, by: &Actor) -> Result<Silence> {
    let now = env.clock.now_ms();
    let row = env.db.query_opt(
        &format!(
            "UPDATE incident_silences SET removed_at = ?2, removed_by = ?3, expires_at = MIN(expires_at, ?2)
             WHERE id = ?1 AND removed_at IS NULL AND expires_at > ?2 RETURNING {COLUMNS}"
        ),
        params![id, now, by.actor.as_str()],
    )?;
    let Some(row) = row else {
        let s = get(env, id)?;
        return Err(Error::conflict(
            "silence_inactive",
            format!(
                "silence `{id}` already {} at {}",
                if s.removed_at.is_some() {
                    "was removed"
                } else {
                    "expired"
                },
                rfc3339(s.removed_at.unwrap_or(s.expires_at))
            ),
        ));
    };
    let silence = Silence::from_row(&row)?;
    audit::append(
        env,
        &by.event("incident.silence_remove")
            .target(&silence.id)
            .detail(serde_json::json!({ "matcher": silence.matcher, "value": silence.value })),
    )?;
    Ok(silence)
}

/// The id of the oldest active silence matching `source` or `fingerprint`.
pub(crate) fn matching(
    db: &dyn Db,
    now: i64,
    source: &str,
    fingerprint: &str,
) -> Result<Option<String>> {
    let row = db.query_opt(
        "SELECT id FROM incident_silences
         WHERE removed_at IS NULL AND expires_at > ?1
           AND ((value = ?2 AND matcher = 'source') OR (value = ?3 AND matcher = 'fingerprint'))
         ORDER BY id LIMIT 1",
        params![now, source, fingerprint],
    )?;
    row.map(|r| r.text(0)).transpose()
}
