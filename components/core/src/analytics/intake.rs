//! `POST /api/analytics/event`: a batch of dashboard events.
//!
//! `{"events": [{"name", "view"?, "at"?}]}`: 1 to [`MAX_BATCH`] events, a
//! body of at most [`BODY_LIMIT`] bytes, unknown fields refused, names and
//! views from [`super::vocabulary`], `at` (RFC 3339; the server's time when
//! absent) no more than a day old nor five minutes ahead. A batch with one
//! bad event is refused whole (400, naming the event), so nothing half
//! lands. No cookie is read or set; the visitor is [`super::visitor`]'s
//! daily hash. Floods meet three limits after the guard's own buckets: per
//! client address for anonymous callers, per visitor, and a daily cap of
//! events per tenant (429 with Retry-After).

use super::{settings::Limits, visitor, vocabulary};
use crate::app::Ctx;
use crate::error::{Error, Result};
use crate::guard::rate_limit::{self, Limit};
use crate::http::{Request, Response};
use crate::identity::Credential;
use crate::ports::{DbExt, Env, Value};
use crate::time::{day_of, DAY_MS};
use serde::Deserialize;
use serde_json::json;

/// Events in one batch, at most.
pub const MAX_BATCH: usize = 50;
/// The route's body limit: 16 KiB.
pub const BODY_LIMIT: usize = 16 * 1024;
/// How old an event may be.
pub const MAX_AGE_MS: i64 = DAY_MS;
/// How far ahead of the server's clock an event may be.
pub const MAX_AHEAD_MS: i64 = 5 * 60_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    events: Vec<Incoming>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Incoming {
    name: String,
    #[serde(default)]
    view: Option<String>,
    #[serde(default)]
    at: Option<String>,
}

/// One event, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// From the catalogue.
    pub name: &'static str,
    /// From the catalogue.
    pub view: Option<&'static str>,
    /// When it happened, Unix ms.
    pub at_ms: i64,
}

fn bad(code: &'static str, message: String) -> Error {
    Error::bad_request(code, message)
}

/// Check one incoming event (the `i`-th of its batch) at `now`.
fn check(i: usize, e: &Incoming, now: i64) -> Result<Event> {
    let name = vocabulary::event(&e.name).ok_or_else(|| {
        bad(
            "unknown_event",
            format!(
                "events[{i}].name `{}` is not an event this API records",
                e.name.chars().take(40).collect::<String>()
            ),
        )
    })?;
    let view = match &e.view {
        None => None,
        Some(v) => Some(vocabulary::view(v).ok_or_else(|| {
            bad(
                "unknown_view",
                format!(
                    "events[{i}].view `{}` is not a dashboard view",
                    v.chars().take(40).collect::<String>()
                ),
            )
        })?),
    };
    if name == vocabulary::PAGE_VIEW && view.is_none() {
        return Err(bad(
            "missing_view",
            format!("events[{i}] is a page.view and needs `view`"),
        ));
    }
    let at_ms = match &e.at {
        None => now,
        Some(t) => {
            let at = crate::time::parse_rfc3339(t).map_err(|err| {
                bad(
                    "invalid_event_time",
                    format!("events[{i}].at: {}", err.message),
                )
            })?;
            if at < now - MAX_AGE_MS || at > now + MAX_AHEAD_MS {
                return Err(bad(
                    "invalid_event_time",
                    format!(
                        "events[{i}].at must be within the last 24 hours and at most 5 minutes ahead"
                    ),
                ));
            }
            at
        }
    };
    Ok(Event { name, view, at_ms })
}

/// Parse and check a batch at `now` (no storage touched).
pub fn parse(req: &Request, now: i64) -> Result<Vec<Event>> {
    let batch: Batch = req.json()?;
    if batch.events.is_empty() || batch.events.len() > MAX_BATCH {
        return Err(bad(
            "invalid_batch",
            format!(
                "`events` holds 1 to {MAX_BATCH} events; this one holds {}",
                batch.events.len()
            ),
        ));
    }
    batch
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| check(i, e, now))
        .collect()
}

/// Count `n` more events against `tenant`'s cap for `day`; 429
/// `analytics_cap_reached` (until the next UTC day) when they do not fit.
fn take_daily(env: &Env, tenant: &str, day: i64, n: i64, cap: i64, now: i64) -> Result<()> {
    let fits = n <= cap
        && env
            .db
            .query_opt(
                "INSERT INTO analytics_intake (tenant_id, day, events) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant_id, day) DO UPDATE SET events = events + ?3
                 WHERE events + ?3 <= ?4
                 RETURNING events",
                crate::params![tenant, day, n, cap],
            )?
            .is_some();
    if fits {
        return Ok(());
    }
    let retry = ((day + 1) * DAY_MS - now) / 1000;
    let mut e = Error::rate_limited(
        retry.max(1) as u64,
        format!("this tenant has recorded its {cap} analytics events for today"),
    );
    e.code = "analytics_cap_reached";
    Err(e)
}

/// Store checked `events` for `tenant` from the client `address` and
/// `user_agent`; how many.
pub fn record(
    env: &Env,
    tenant: &str,
    address: &str,
    user_agent: &str,
    events: &[Event],
) -> Result<usize> {
    let mut salts: Vec<(i64, String)> = Vec::new();
    let mut values: Vec<Value> = Vec::with_capacity(events.len() * 6);
    for e in events {
        let day = day_of(e.at_ms);
        let salt = match salts.iter().find(|(d, _)| *d == day) {
            Some((_, s)) => s.clone(),
            None => {
                let s = visitor::salt(env, day)?;
                salts.push((day, s.clone()));
                s
            }
        };
        values.extend([
            Value::from(tenant),
            Value::from(day),
            Value::from(e.at_ms),
            Value::from(e.name),
            Value::from(e.view),
            Value::from(visitor::hash(&salt, address, user_agent)),
        ]);
    }
    let rows: Vec<String> = (0..events.len())
        .map(|i| {
            let b = i * 6;
            format!(
                "(?{}, ?{}, ?{}, ?{}, ?{}, ?{})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6
            )
        })
        .collect();
    env.db.exec(
        &format!(
            "INSERT INTO analytics_events (tenant_id, day, at_ms, name, view, visitor) VALUES {}",
            rows.join(", ")
        ),
        &values,
    )?;
    Ok(events.len())
}

/// `POST /api/analytics/event`.
pub fn post(ctx: &Ctx, req: &Request) -> Result<Response> {
    let env = ctx.env;
    let now = env.clock.now_ms();
    let events = parse(req, now)?;
    let limits = Limits::read(env)?;
    let address = crate::guard::client_ip(env, req)?;
    let user_agent = req.header("user-agent").unwrap_or("");
    let today = day_of(now);
    // The limits key on today's visitor, never on anything stored raw.
    let me = visitor::hash(&visitor::salt(env, today)?, &address, user_agent);
    if matches!(ctx.principal.credential, Credential::Anonymous) {
        rate_limit::take(
            env,
            &format!("analytics:ip:{address}"),
            Limit::per_minute(limits.anonymous_per_minute),
        )?;
    }
    let taken = rate_limit::take(
        env,
        &format!("analytics:visitor:{me}"),
        Limit::per_minute(limits.visitor_per_minute),
    )?;
    let tenant = ctx.principal.tenant.as_str();
    take_daily(
        env,
        tenant,
        today,
        events.len() as i64,
        limits.daily_events_max,
        now,
    )?;
    let accepted = record(env, tenant, &address, user_agent, &events)?;
    let mut resp = Response::data(202, &json!({ "accepted": accepted }));
    resp.headers.extend(taken.headers());
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    const NOW: i64 = 1_800_000_000_000;

    fn batch(body: serde_json::Value) -> Result<Vec<Event>> {
        let req = Request::new(Method::Post, "/api/analytics/event")
            .with_header("content-type", "application/json")
            .with_body(body.to_string());
        parse(&req, NOW)
    }

    fn code(body: serde_json::Value) -> &'static str {
        batch(body).unwrap_err().code
    }

    #[test]
    fn good_events_are_taken_with_the_server_time_when_absent() {
        let at = crate::time::rfc3339(NOW - 3_600_000);
        let events = batch(json!({"events": [
            {"name": "page.view", "view": "overview"},
            {"name": "job.retry", "at": at},
        ]}))
        .unwrap();
        assert_eq!(
            events,
            vec![
                Event {
                    name: "page.view",
                    view: Some("overview"),
                    at_ms: NOW
                },
                Event {
                    name: "job.retry",
                    view: None,
                    at_ms: NOW - 3_600_000
                },
            ]
        );
    }

    #[test]
    fn bad_events_are_refused_with_the_reason() {
        let e = |v: serde_json::Value| json!({ "events": [v] });
        assert_eq!(code(json!({"events": []})), "invalid_batch");
        let many: Vec<_> = (0..51).map(|_| json!({"name": "palette.open"})).collect();
        assert_eq!(code(json!({ "events": many })), "invalid_batch");
        assert_eq!(code(e(json!({"name": "pwned"}))), "unknown_event");
        assert_eq!(
            code(e(json!({"name": "page.view", "view": "secret"}))),
            "unknown_view"
        );
        assert_eq!(code(e(json!({"name": "page.view"}))), "missing_view");
        assert_eq!(
            code(e(json!({"name": "palette.open", "email": "a@b.c"}))),
            "invalid_json"
        );
        assert_eq!(
            code(json!({"events": [], "user": "x"})),
            "invalid_json",
            "unknown top-level fields are refused"
        );
        let old = crate::time::rfc3339(NOW - MAX_AGE_MS - 1);
        let ahead = crate::time::rfc3339(NOW + MAX_AHEAD_MS + 1);
        for at in [old.as_str(), ahead.as_str(), "yesterday"] {
            assert_eq!(
                code(e(json!({"name": "palette.open", "at": at}))),
                "invalid_event_time",
                "{at}"
            );
        }
        let err = batch(json!({"events": [
            {"name": "palette.open"}, {"name": "nope"}
        ]}))
        .unwrap_err();
        assert!(err.message.contains("events[1]"), "{}", err.message);
    }
}
