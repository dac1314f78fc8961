//! Raising, reading and changing incidents.

use super::model::{
    fingerprint, Actor, Incident, NewIncident, Routing, Severity, Status, INCIDENT_COLUMNS,
};
use super::outbox::Delivery;
use super::{routing, silences};
use crate::audit;
use crate::build_info;
use crate::db::transaction;
use crate::error::{Error, Result};
use crate::params;
use crate::ports::{ids, DbExt, Env, Value};
use crate::time::rfc3339;
use serde_json::json;

/// A raise with the fingerprint of an unresolved incident seen within this
/// window is a repeat of it.
pub const DEDUP_WINDOW_MS: i64 = 3_600_000;
/// The longest resolution note, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;
/// The longest summary window, in hours.
pub const MAX_SUMMARY_HOURS: i64 = 720;

/// The result of [`raise`].
#[derive(Debug, Clone)]
pub struct Raised {
    /// The new incident, or the existing one this raise repeated.
    pub incident: Incident,
    /// True when this raise was folded into an existing incident.
    pub repeat: bool,
    /// How it was routed.
    pub routing: Routing,
    /// Deliveries enqueued by this raise (CRITICAL only, never on a repeat).
    pub deliveries: Vec<Delivery>,
}

impl Raised {
    /// As served.
    pub fn view(&self) -> serde_json::Value {
        json!({
            "incident": self.incident.view(),
            "repeat": self.repeat,
            "routing": self.routing,
            "deliveries": self.deliveries.iter().map(Delivery::view).collect::<Vec<_>>(),
        })
    }
}

/// Raise an incident.
///
/// Within one `BEGIN IMMEDIATE` transaction (so raisers in several
/// processes queue rather than race): if an unresolved incident with the
/// same fingerprint was raised or last repeated less than an hour ago, its
/// `repeat_count` goes up, `last_seen_at` moves to now, and nothing is
/// sent. Otherwise a new incident is recorded and routed by severity,
/// unless an active silence matches (then it is recorded as silenced and
/// nothing is sent or digested).
pub fn raise(env: &Env, new: NewIncident) -> Result<Raised> {
    let new = new.validated()?;
    let fp = fingerprint(new.severity, &new.source, &new.message);
    let now = env.clock.now_ms();
    let id = ids::new_id("inc_", now, env.ids.as_ref())?;
    transaction(env.db.as_ref(), |db| {
        let repeated = db.query_opt(
            &format!(
                "UPDATE incidents SET repeat_count = repeat_count + 1, last_seen_at = MAX(last_seen_at, ?2)
                 WHERE id = (
                     SELECT id FROM incidents
                     WHERE fingerprint = ?1 AND status <> 'resolved' AND last_seen_at > ?3
                     ORDER BY last_seen_at DESC, id DESC LIMIT 1)
                 RETURNING {INCIDENT_COLUMNS}"
            ),
            params![fp.as_str(), now, now - DEDUP_WINDOW_MS],
        )?;
        if let Some(row) = repeated {
            return Ok(Raised {
                incident: Incident::from_row(&row)?,
                repeat: true,
                routing: Routing::Repeat,
                deliveries: Vec::new(),
            });
        }
        let silence = silences::matching(db, now, &new.source, &fp)?;
        let routing = match (&silence, new.severity) {
            (Some(_), _) => Routing::Silenced,
            (None, Severity::Critical) => Routing::Page,
            (None, Severity::Warning) => Routing::Digest,
            (None, Severity::Info) => Routing::Record,
        };
        let row = db.query_one(
            &format!(
                "INSERT INTO incidents (id, severity, source, message, links, fingerprint, status,
                    repeat_count, silence_id, digest_state, created_at, last_seen_at, build_sha)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', 0, ?7, ?8, ?9, ?9, ?10)
                 RETURNING {INCIDENT_COLUMNS}"
            ),
            params![
                id.as_str(),
                new.severity.as_str(),
                new.source.as_str(),
                new.message.as_str(),
                new.links.to_string(),
                fp.as_str(),
                silence.as_deref(),
                (routing == Routing::Digest).then_some("pending"),
                now,
                build_info::GIT_SHA
            ],
        )?;
        let incident = Incident::from_row(&row)?;
        let deliveries = if routing == Routing::Page {
            routing::page(db, env, &incident)?
        } else {
            Vec::new()
        };
        Ok(Raised {
            incident,
            repeat: false,
            routing,
            deliveries,
        })
    })
}

/// When the newest unresolved incident with `fingerprint` first raised at
/// or after `since_ms` was last seen, if there is one (for raisers that
/// want one incident per period rather than one per dedup window).
pub fn last_seen_unresolved(env: &Env, fingerprint: &str, since_ms: i64) -> Result<Option<i64>> {
    env.db
        .query_one(
            "SELECT MAX(last_seen_at) FROM incidents
             WHERE fingerprint = ?1 AND status <> 'resolved' AND created_at >= ?2",
            params![fingerprint, since_ms],
        )?
        .opt_i64(0)
}

/// An incident by id (404 otherwise).
pub fn get(env: &Env, id: &str) -> Result<Incident> {
    env.db
        .query_opt(
            &format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1"),
            params![id],
        )?
        .map(|r| Incident::from_row(&r))
        .transpose()?
        .ok_or_else(|| Error::not_found(format!("no incident `{id}`")))
}

fn transition_conflict(env: &Env, id: &str, action: &str) -> Error {
    match get(env, id) {
        Err(e) => e,
        Ok(i) => Error::conflict(
            match i.status {
                Status::Resolved => "already_resolved",
                _ => "already_acknowledged",
            },
            format!(
                "incident `{id}` is {}; it cannot be {action}",
                i.status.as_str()
            ),
        ),
    }
}

/// Acknowledge an open incident. 404 when unknown; 409
/// `already_acknowledged` / `already_resolved` otherwise.
pub fn acknowledge(env: &Env, id: &str, by: &Actor) -> Result<Incident> {
    let now = env.clock.now_ms();
    let row = env.db.query_opt(
        &format!(
            "UPDATE incidents SET status = 'acknowledged', acknowledged_at = ?2, acknowledged_by = ?3
             WHERE id = ?1 AND status = 'open' RETURNING {INCIDENT_COLUMNS}"
        ),
        params![id, now, by.actor.as_str()],
    )?;
    let Some(row) = row else {
        return Err(transition_conflict(env, id, "acknowledged"));
    };
    let incident = Incident::from_row(&row)?;
    audit::append(
        env,
        &by.event("incident.acknowledge")
            .target(&incident.id)
            .detail(json!({
                "severity": incident.severity, "source": incident.source,
                "fingerprint": incident.fingerprint,
            })),
    )?;
    Ok(incident)
}

/// Resolve an open or acknowledged incident, with an optional note (at most
/// 1,000 characters). 404 when unknown; 409 `already_resolved`.
pub fn resolve(env: &Env, id: &str, note: Option<&str>, by: &Actor) -> Result<Incident> {
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
        return Err(Error::unprocessable(
            "invalid_note",
            format!("the note is longer than {MAX_NOTE_CHARS} characters"),
        ));
    }
    let now = env.clock.now_ms();
    let row = env.db.query_opt(
        &format!(
            "UPDATE incidents SET status = 'resolved', resolved_at = ?2, resolved_by = ?3, resolution_note = ?4
             WHERE id = ?1 AND status IN ('open', 'acknowledged') RETURNING {INCIDENT_COLUMNS}"
        ),
        params![id, now, by.actor.as_str(), note],
    )?;
    let Some(row) = row else {
        return Err(transition_conflict(env, id, "resolved"));
    };
    let incident = Incident::from_row(&row)?;
    audit::append(
        env,
        &by.event("incident.resolve")
            .target(&incident.id)
            .detail(json!({
                "severity": incident.severity, "source": incident.source,
                "fingerprint": incident.fingerprint, "note": note,
            })),
    )?;
    Ok(incident)
}

/// Filters for [`list`]. `None` means any.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Lifecycle state.
    pub status: Option<Status>,
    /// Severity.
    pub severity: Option<Severity>,
    /// Exact source.
    pub source: Option<String>,
    /// Seen (raised or repeated) at or after, Unix ms.
    pub since: Option<i64>,
}

/// One page of incidents, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    /// The incidents.
    pub incidents: Vec<Incident>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Incidents, newest first, `limit` (1 to 200) at a time after `cursor`
/// (the last id of the previous page: ids sort by creation time).
pub fn list(env: &Env, filter: &Filter, cursor: Option<&str>, limit: usize) -> Result<Page> {
    let mut c = crate::db::Conditions::new();
    c.add_opt("status = ?", filter.status.map(|s| s.as_str()))
        .add_opt("severity = ?", filter.severity.map(|s| s.as_str()))
        .add_opt("source = ?", filter.source.as_deref())
        .add_opt("last_seen_at >= ?", filter.since)
        .add_opt("id < ?", cursor);
    let limit = limit.clamp(1, 200);
    let rows = env.db.exec(
        &format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE {} ORDER BY id DESC LIMIT {}",
            c.sql(),
            c.next_placeholder()
        ),
        &c.params_with([Value::from(limit + 1)]),
    )?;
    let mut incidents = rows
        .rows
        .iter()
        .map(Incident::from_row)
        .collect::<Result<Vec<_>>>()?;
    let next_cursor = if incidents.len() > limit {
        incidents.truncate(limit);
        incidents.last().map(|i| i.id.clone())
    } else {
        None
    };
    Ok(Page {
        incidents,
        next_cursor,
    })
}

/// The incidents seen (raised or repeated) in the last `hours` (1 to 720):
/// totals by severity and status, raises including repeats, unique
/// fingerprints, the top sources, silenced ones; and how many incidents
/// are unresolved now, whenever raised.
///
/// Shape: `{"summary": {"total_incidents": N, "unique_fingerprints": M, ...}}`.
pub fn summary(env: &Env, hours: i64) -> Result<serde_json::Value> {
    if !(1..=MAX_SUMMARY_HOURS).contains(&hours) {
        return Err(Error::unprocessable(
            "invalid_hours",
            format!("`hours` must be an integer from 1 to {MAX_SUMMARY_HOURS}"),
        ));
    }
    let now = env.clock.now_ms();
    let since = now - hours * 3_600_000;
    let rows = env.db.exec(
        "SELECT severity, status, COUNT(*), SUM(repeat_count), SUM(silence_id IS NOT NULL)
         FROM incidents WHERE last_seen_at >= ?1 GROUP BY severity, status",
        params![since],
    )?;
    let mut by_severity = serde_json::Map::new();
    for s in Severity::ALL {
        by_severity.insert(s.as_str().into(), 0.into());
    }
    let mut by_status = serde_json::Map::new();
    for s in Status::ALL {
        by_status.insert(s.as_str().into(), 0.into());
    }
    let (mut total, mut repeats, mut silenced) = (0i64, 0i64, 0i64);
    let bump = |m: &mut serde_json::Map<String, serde_json::Value>, k: String, n: i64| {
        let v = m.get(&k).and_then(|v| v.as_i64()).unwrap_or(0) + n;
        m.insert(k, v.into());
    };
    for r in &rows.rows {
        let n = r.i64(2)?;
        bump(&mut by_severity, r.text(0)?, n);
        bump(&mut by_status, r.text(1)?, n);
        total += n;
        repeats += r.i64(3)?;
        silenced += r.i64(4)?;
    }
    let unique = env
        .db
        .query_one(
            "SELECT COUNT(DISTINCT fingerprint) FROM incidents WHERE last_seen_at >= ?1",
            params![since],
        )?
        .i64(0)?;
    let top = env.db.exec(
        "SELECT source, COUNT(*), SUM(repeat_count) FROM incidents WHERE last_seen_at >= ?1
         GROUP BY source ORDER BY COUNT(*) DESC, SUM(repeat_count) DESC, source LIMIT 5",
        params![since],
    )?;
    let top_sources = top
        .rows
        .iter()
        .map(|r| {
            Ok(json!({
                "source": r.text(0)?, "incidents": r.i64(1)?, "repeats": r.i64(2)?,
            }))
        })
        .collect::<Result<Vec<_>>>()?;
    let open = env
        .db
        .query_one(
            "SELECT COUNT(*) FROM incidents WHERE status <> 'resolved'",
            &[],
        )?
        .i64(0)?;
    Ok(json!({
        "summary": {
            "window_hours": hours,
            "since": rfc3339(since),
            "generated_at": rfc3339(now),
            "total_incidents": total,
            "total_raises": total + repeats,
            "unique_fingerprints": unique,
            "by_severity": by_severity,
            "by_status": by_status,
            "silenced": silenced,
            "top_sources": top_sources,
            "open_count": open,
        }
    }))
}
