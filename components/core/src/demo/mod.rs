//! Demo mode: a read-only showcase with realistic data, and a clean way out.
//!
//! - [`refuse_writes`]: with `demo_mode = on`, every write route answers
//!   403 `demo_read_only`, except signing in and out and the dashboard's
//!   analytics ([`ALLOWED_WRITES`]); the scheduler's own calls (the cron
//!   token on the internal job routes) still run. The request pipeline calls
//!   it once for every request, after the guard and before the body is
//!   read; read requests never even look at the variable.
//! - [`seed`]: fills demo clients (tenants), jobs with outputs, QA scores
//!   and attempts, incidents, LLM spend, partner keys and product analytics.
//!   The `demo` job (`cron-demo`, every minute) runs it while demo mode is
//!   on; it seeds once: one transaction that first checks a marker row, so
//!   replicas, retries and restarts never seed twice.
//! - [`tags`]: every row the seeder writes, or adds to, is listed in
//!   `demo_rows`, with what was there before.
//! - [`remove`]: the console's `remove_demo_data` command undoes exactly
//!   that, leaving no trace (row counts, counters, id sequences).
//!
//! Nothing the seeder does reaches the audit chain, the event log or
//! request telemetry: those record what really happened.

pub mod content;
pub mod remove;
pub mod seed;
pub mod tags;

use crate::config;
use crate::error::{Error, Kind, Result};
use crate::http::Method;
use crate::identity::{Credential, Principal};
use crate::ports::Env;
use crate::scheduler::{self, Job, JobFn};

/// Writes demo mode still lets through: signing in, refreshing and signing
/// out, and the dashboard's analytics events.
pub const ALLOWED_WRITES: &[(Method, &str)] = &[
    (Method::Post, "/api/auth/login"),
    (Method::Post, "/api/auth/refresh"),
    (Method::Post, "/api/auth/logout"),
    (Method::Post, "/api/analytics/event"),
];

/// Whether `demo_mode` is `on` (`off` by default; anything else is a
/// configuration error, so a typo never silently opens a demo for writes).
pub fn enabled(env: &Env) -> Result<bool> {
    match config::text(env.config.as_ref(), "demo_mode")?.as_deref() {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("off") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("on") => Ok(true),
        Some(v) => Err(Error::unavailable(
            "invalid_configuration",
            format!(
                "variable `demo_mode` must be on or off; it is `{}`",
                v.chars().take(20).collect::<String>()
            ),
        )),
    }
}

/// Whether `method` changes anything.
fn writes(method: Method) -> bool {
    !matches!(method, Method::Get | Method::Head | Method::Options)
}

/// Refuse a write on route `pattern` while demo mode is on (403
/// `demo_read_only`), unless [`ALLOWED_WRITES`] lists it or the scheduler
/// is running its jobs.
pub fn refuse_writes(env: &Env, method: Method, pattern: &str, who: &Principal) -> Result<()> {
    if !writes(method)
        || ALLOWED_WRITES.contains(&(method, pattern))
        || matches!(who.credential, Credential::Scheduler)
        || !enabled(env)?
    {
        return Ok(());
    }
    Err(Error::new(
        Kind::Forbidden,
        "demo_read_only",
        "this is a demo: changes are switched off (demo_mode is on); signing in still works",
    ))
}

/// The seeding job: every minute, at second 45.
pub const JOB: Job = Job {
    name: "demo",
    component: "cron-demo",
    schedule: "45 * * * * *",
    period_secs: 60,
    lease_secs: 50,
    max_attempts: 3,
    exclusive: true,
    body: JobFn::Sync(seed::run),
};

scheduler::cron_http_app!("cron-demo", "/api/internal/cron/demo", JOB);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native;

    #[test]
    fn only_writes_outside_the_allow_list_are_refused_and_only_in_demo_mode() {
        let on = native::memory_env(&[("demo_mode", "on")]);
        let off = native::memory_env(&[]);
        let anyone = Principal::anonymous();
        let refused = |env: &Env, m: Method, p: &str, who: &Principal| {
            refuse_writes(env, m, p, who).err().map(|e| e.code)
        };
        assert_eq!(
            refused(&on, Method::Post, "/api/jobs/{id}/retry", &anyone),
            Some("demo_read_only")
        );
        assert_eq!(
            refused(&on, Method::Delete, "/api/partners/{id}", &anyone),
            Some("demo_read_only")
        );
        assert_eq!(refused(&on, Method::Get, "/api/jobs", &anyone), None);
        assert_eq!(refused(&on, Method::Post, "/api/auth/login", &anyone), None);
        assert_eq!(
            refused(&on, Method::Post, "/api/analytics/event", &anyone),
            None
        );
        assert_eq!(
            refused(
                &on,
                Method::Post,
                "/api/internal/cron/demo",
                &Principal::scheduler()
            ),
            None
        );
        assert_eq!(
            refused(&off, Method::Post, "/api/jobs/{id}/retry", &anyone),
            None
        );
    }

    #[test]
    fn a_malformed_demo_mode_refuses_writes_and_says_why() {
        let env = native::memory_env(&[("demo_mode", "yes please")]);
        let e = refuse_writes(
            &env,
            Method::Post,
            "/api/queue/enqueue",
            &Principal::anonymous(),
        )
        .unwrap_err();
        assert_eq!((e.status(), e.code), (503, "invalid_configuration"));
        assert!(enabled(&native::memory_env(&[("demo_mode", "ON")])).unwrap());
    }
}
