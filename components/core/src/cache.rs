//! The edge cache: public reads polled by many clients (a liveness probe, a
//! job's status page), kept in the key-value store for a second.
//!
//! Spin makes a new SQLite connection for every request, and SQLite parses
//! the whole schema on its first statement: for EchoPilot's schema that is
//! about 1.3 ms of CPU, more than the rest of such a read. The key-value
//! store keeps its connection open, so the pipeline answers a route marked
//! [`Edge::Cached`](crate::http::router::Edge) from here, before the guard,
//! when the same answer was computed less than its lifetime ago.
//!
//! - Only 200 answers are kept, and only their body (cached routes answer
//!   JSON). Errors are computed every time.
//! - A client that sends `Cache-Control: no-cache` (or `no-store`,
//!   `max-age=0`, `Pragma: no-cache`) always gets a fresh answer.
//! - Answers say how long they may be kept (`Cache-Control: max-age`) and
//!   how old they are (`Age`).
//! - Entries are disposable; a store that fails is bypassed (logged); the
//!   heartbeat deletes expired entries.

use crate::error::Result;
use crate::http::{Request, Response};
use crate::ports::Env;

const PREFIX: &str = "cache:";

/// Whether `req` asks for a fresh answer.
pub fn wants_fresh(req: &Request) -> bool {
    let directives = req
        .header("cache-control")
        .unwrap_or("")
        .to_ascii_lowercase();
    let cc = directives
        .split(',')
        .map(str::trim)
        .any(|d| matches!(d, "no-cache" | "no-store" | "max-age=0"));
    cc || req
        .header("pragma")
        .is_some_and(|p| p.eq_ignore_ascii_case("no-cache"))
}

/// The key of `req`'s answer: its path and query.
fn key(req: &Request) -> String {
    if req.query.is_empty() {
        format!("{PREFIX}{}", req.path)
    } else {
        format!("{PREFIX}{}?{}", req.path, req.query)
    }
}

fn max_age(max_age_ms: i64) -> String {
    format!("max-age={}", max_age_ms / 1000)
}

/// The kept answer to `req`, if one younger than `max_age_ms` exists and
/// `req` does not ask for a fresh one.
pub fn lookup(env: &Env, req: &Request, max_age_ms: i64) -> Option<Response> {
    if wants_fresh(req) {
        return None;
    }
    let key = key(req);
    let raw = match env.kv.get(&key) {
        Ok(raw) => raw?,
        Err(e) => {
            crate::log::warn("cache", &format!("{key}: not read: {e}"));
            return None;
        }
    };
    let (at, body) = decode(&raw)?;
    let age_ms = env.clock.now_ms() - at;
    (0..max_age_ms).contains(&age_ms).then(|| {
        Response::new(200)
            .with_header("Content-Type", "application/json")
            .with_header("Cache-Control", &max_age(max_age_ms))
            .with_header("Age", &(age_ms / 1000).to_string())
            .with_body(body.to_vec())
    })
}

/// Keep `resp` (a fresh answer to `req`) if it is a 200, and mark it with
/// its lifetime.
pub fn store(env: &Env, req: &Request, resp: &mut Response, max_age_ms: i64) {
    if resp.status != 200 {
        return;
    }
    let key = key(req);
    let mut raw = env.clock.now_ms().to_le_bytes().to_vec();
    raw.extend_from_slice(&resp.body);
    if let Err(e) = env.kv.set(&key, &raw) {
        crate::log::warn("cache", &format!("{key}: not stored: {e}"));
    }
    resp.headers
        .push(("Cache-Control".into(), max_age(max_age_ms)));
    resp.headers.push(("Age".into(), "0".into()));
}

fn decode(raw: &[u8]) -> Option<(i64, &[u8])> {
    let (at, body) = raw.split_at_checked(8)?;
    Some((i64::from_le_bytes(at.try_into().ok()?), body))
}

/// Delete the entries older than `older_than_ms` (answers live a second; a
/// minute is generous). Returns how many.
pub fn prune(env: &Env, older_than_ms: i64) -> Result<usize> {
    let now = env.clock.now_ms();
    let mut deleted = 0;
    for key in env.kv.keys()?.iter().filter(|k| k.starts_with(PREFIX)) {
        let stale = match env.kv.get(key)? {
            Some(raw) => decode(&raw).is_none_or(|(at, _)| now - at > older_than_ms),
            None => false,
        };
        if stale {
            env.kv.delete(key)?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native::{self, ManualClock, SqliteDb};
    use crate::http::Method;

    #[test]
    fn an_answer_is_kept_for_its_lifetime_unless_a_fresh_one_is_asked_for() {
        let clock = ManualClock::new(1_800_000_000_000);
        let mut env = native::env(SqliteDb::open_in_memory().unwrap(), &[]);
        env.clock = Box::new(clock.clone());
        let req = Request::new(Method::Get, "/api/public/job-status/job_1?x=1");
        assert!(lookup(&env, &req, 1_000).is_none());
        let mut fresh = Response::ok(&"queued");
        store(&env, &req, &mut fresh, 1_000);
        assert_eq!(fresh.header("cache-control"), Some("max-age=1"));
        clock.advance(400);
        let hit = lookup(&env, &req, 1_000).unwrap();
        assert_eq!(hit.body, br#"{"ok":true,"data":"queued"}"#);
        assert_eq!(hit.header("age"), Some("0"));
        // Another query is another answer; a no-cache request skips it.
        assert!(lookup(
            &env,
            &Request::new(Method::Get, "/api/public/job-status/job_1"),
            1_000
        )
        .is_none());
        let no_cache = Request::new(Method::Get, "/api/public/job-status/job_1?x=1")
            .with_header("Cache-Control", "no-cache");
        assert!(lookup(&env, &no_cache, 1_000).is_none());
        clock.advance(600);
        assert!(lookup(&env, &req, 1_000).is_none(), "expired");
        // Only 200s are kept.
        let mut missing = Response::new(404);
        store(
            &env,
            &Request::new(Method::Get, "/gone"),
            &mut missing,
            1_000,
        );
        assert!(lookup(&env, &Request::new(Method::Get, "/gone"), 1_000).is_none());
        clock.advance(120_000);
        assert_eq!(prune(&env, 60_000).unwrap(), 1);
    }
}
