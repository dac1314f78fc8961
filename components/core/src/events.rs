//! The structured event log: what components did and what went wrong, as
//! rows in `event_log` (read by `GET /api/logs`) and as JSON lines on
//! stderr (collected by Spin per component).
//!
//! Events carry the `X-Request-ID` of the request that caused them, so one
//! id finds a request (its telemetry sample) and everything it logged.
//! Writing is best effort: an event that cannot be stored is still printed.

use crate::error::{Error, Result};
use crate::params;
use crate::ports::{DbExt, Env};
use crate::time::rfc3339;
use serde::Serialize;

/// How much an event matters, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Detail for debugging.
    Debug,
    /// Worth knowing, no action needed.
    Info,
    /// Degraded but working.
    Warn,
    /// Failed.
    Error,
}

impl Level {
    /// All levels, lowest first.
    pub const ALL: [Level; 4] = [Level::Debug, Level::Info, Level::Warn, Level::Error];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }

    /// Parse a stored or requested level.
    pub fn parse(s: &str) -> Result<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::bad_request(
                    "invalid_level",
                    format!("`level` must be one of debug, info, warn, error; got `{s}`"),
                )
            })
    }
}

/// An event to log.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// Its level.
    pub level: Level,
    /// The component that logs it.
    pub component: &'a str,
    /// The area within the component (`worker`, `guard`, `notion`, ...).
    pub area: &'a str,
    /// What happened, for people.
    pub message: &'a str,
    /// The request that caused it.
    pub request_id: Option<&'a str>,
    /// The tenant it concerns.
    pub tenant: Option<&'a str>,
    /// Structured details (a JSON object).
    pub fields: serde_json::Value,
}

impl<'a> Event<'a> {
    /// An event without request, tenant or fields.
    pub fn new(level: Level, component: &'a str, area: &'a str, message: &'a str) -> Self {
        Event {
            level,
            component,
            area,
            message,
            request_id: None,
            tenant: None,
            fields: serde_json::json!({}),
        }
    }
    /// The request that caused it.
    pub fn request(mut self, id: &'a str) -> Self {
        self.request_id = Some(id);
        self
    }
    /// The tenant it concerns.
    pub fn tenant(mut self, t: &'a str) -> Self {
        self.tenant = Some(t);
        self
    }
    /// Structured details.
    pub fn fields(mut self, f: serde_json::Value) -> Self {
        self.fields = f;
        self
    }
}

/// Print `e` as one JSON line on stderr and store it in the event log.
pub fn emit(env: &Env, e: &Event<'_>) {
    let at = env.clock.now_ms();
    let line = serde_json::json!({
        "ts": rfc3339(at), "level": e.level, "component": e.component, "area": e.area,
        "msg": e.message, "request_id": e.request_id, "tenant_id": e.tenant, "fields": e.fields,
    });
    eprintln!("{line}");
    let stored = env.db.exec(
        "INSERT INTO event_log (at_ms, level, component, area, message, request_id, tenant_id, fields)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            at,
            e.level.as_str(),
            e.component,
            e.area,
            e.message,
            e.request_id,
            e.tenant,
            e.fields.to_string()
        ],
    );
    if let Err(err) = stored {
        crate::log::warn("events", &format!("event not stored: {err}"));
    }
}

/// How long events are kept (`log_retention_days`, 14 by default).
pub fn retention_days(env: &Env) -> Result<i64> {
    crate::config::int(env.config.as_ref(), "log_retention_days", 14, 1, 3650)
}

/// Delete events past their retention; returns how many.
pub fn prune(env: &Env) -> Result<i64> {
    let cutoff = env.clock.now_ms() - retention_days(env)? * 86_400_000;
    let n = env
        .db
        .query_one(
            "SELECT COUNT(*) FROM event_log WHERE at_ms < ?1",
            params![cutoff],
        )?
        .i64(0)?;
    if n > 0 {
        env.db
            .exec("DELETE FROM event_log WHERE at_ms < ?1", params![cutoff])?;
    }
    Ok(n)
}

/// Which events to read.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only events of this tenant (`None`: every event, platform events
    /// included; see [`crate::tenancy::record_scope`]).
    pub tenant: Option<String>,
    /// Only this request's.
    pub request_id: Option<String>,
    /// Only this component's.
    pub component: Option<String>,
    /// This level or higher.
    pub min_level: Option<Level>,
    /// From this time (Unix ms, inclusive).
    pub since_ms: Option<i64>,
    /// Before this time (Unix ms, exclusive).
    pub until_ms: Option<i64>,
    /// Events older than this id (the cursor of the previous page).
    pub before_id: Option<i64>,
    /// Page size.
    pub limit: usize,
}

/// One stored event.
#[derive(Debug, Clone, Serialize)]
pub struct Stored {
    /// Its id (pass as `cursor` to continue after it).
    pub id: i64,
    /// When, RFC 3339.
    pub ts: String,
    /// The level.
    pub level: String,
    /// The component.
    pub component: String,
    /// The area.
    pub area: String,
    /// The message.
    pub message: String,
    /// The request.
    pub request_id: Option<String>,
    /// The tenant.
    pub tenant_id: Option<String>,
    /// Details.
    pub fields: serde_json::Value,
}

/// Events matching `f`, newest first; the second value is the next page's
/// cursor.
pub fn query(env: &Env, f: &Filter) -> Result<(Vec<Stored>, Option<i64>)> {
    let mut c = crate::db::Conditions::new();
    c.add_opt("tenant_id = ?", f.tenant.as_deref())
        .add_opt("request_id = ?", f.request_id.as_deref())
        .add_opt("component = ?", f.component.as_deref())
        .add_opt("at_ms >= ?", f.since_ms)
        .add_opt("at_ms < ?", f.until_ms)
        .add_opt("id < ?", f.before_id);
    if let Some(l) = f.min_level {
        // The level names are this module's constants, not input.
        let levels: Vec<String> = Level::ALL
            .into_iter()
            .filter(|x| *x >= l)
            .map(|x| format!("'{}'", x.as_str()))
            .collect();
        c.add_sql(format!("level IN ({})", levels.join(", ")));
    }
    let limit = f.limit.clamp(1, 500);
    let rows = env.db.exec(
        &format!(
            "SELECT id, at_ms, level, component, area, message, request_id, tenant_id, fields
             FROM event_log WHERE {} ORDER BY id DESC LIMIT {}",
            c.sql(),
            limit + 1
        ),
        &c.params_with([]),
    )?;
    let mut out = Vec::with_capacity(limit);
    for r in rows.rows.iter().take(limit) {
        out.push(Stored {
            id: r.i64(0)?,
            ts: rfc3339(r.i64(1)?),
            level: r.text(2)?,
            component: r.text(3)?,
            area: r.text(4)?,
            message: r.text(5)?,
            request_id: r.opt_text(6)?,
            tenant_id: r.opt_text(7)?,
            fields: serde_json::from_str(&r.text(8)?).unwrap_or(serde_json::Value::Null),
        });
    }
    let next = (rows.rows.len() > limit)
        .then(|| out.last().map(|e| e.id))
        .flatten();
    Ok((out, next))
}
