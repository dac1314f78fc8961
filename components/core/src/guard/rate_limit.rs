//! Token buckets, one atomic SQLite statement per take.
//!
//! Spin's key-value API has no atomic update (a get-then-set loses updates
//! under concurrency), and Spin's local key-value file commits with a
//! rollback journal (an fsync per write), so buckets live in SQLite (WAL):
//! exact under concurrency, cheap per request. Losing them loses nothing.

use crate::error::{Error, Result};
use crate::params;
use crate::ports::{DbExt, Env};

/// A bucket's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Requests a bucket holds (the burst).
    pub capacity: f64,
    /// Requests per minute it refills.
    pub per_minute: f64,
}

impl Limit {
    /// `per_minute` with a burst of a quarter minute's worth (at least 5).
    pub fn per_minute(n: i64) -> Self {
        Limit {
            capacity: (n as f64 / 4.0).max(5.0),
            per_minute: n as f64,
        }
    }
    /// One token, back after `minutes`.
    pub fn once_every(minutes: f64) -> Self {
        Limit {
            capacity: 1.0,
            per_minute: 1.0 / minutes,
        }
    }

    /// `n` an hour, all at once if need be.
    pub fn per_hour(n: f64) -> Self {
        Limit {
            capacity: n,
            per_minute: n / 60.0,
        }
    }

    fn per_ms(&self) -> f64 {
        self.per_minute / 60_000.0
    }
}

/// What a take left.
#[derive(Debug, Clone, PartialEq)]
pub struct Taken {
    /// The bucket's limit (requests per minute).
    pub limit: i64,
    /// Whole requests left now.
    pub remaining: i64,
    /// Seconds until the bucket is full again.
    pub reset_secs: i64,
}

impl Taken {
    /// The `X-RateLimit-*` headers.
    pub fn headers(&self) -> Vec<(String, String)> {
        vec![
            ("X-RateLimit-Limit".into(), self.limit.to_string()),
            ("X-RateLimit-Remaining".into(), self.remaining.to_string()),
            ("X-RateLimit-Reset".into(), self.reset_secs.to_string()),
        ]
    }
}

/// Take one token from bucket `key`; 429 `rate_limited` with Retry-After
/// (and the bucket's headers) when it is empty.
pub fn take(env: &Env, key: &str, limit: Limit) -> Result<Taken> {
    let now = env.clock.now_ms();
    let rate = limit.per_ms();
    let row = env.db.query_opt(
        "INSERT INTO rate_buckets (key, tokens, updated_ms) VALUES (?1, ?2 - 1, ?3)
         ON CONFLICT (key) DO UPDATE SET
            tokens = MIN(?2, tokens + (?3 - updated_ms) * ?4) - 1,
            updated_ms = ?3
         WHERE MIN(?2, tokens + (?3 - updated_ms) * ?4) >= 1
         RETURNING tokens",
        params![key, limit.capacity, now, rate],
    )?;
    let reset = |tokens: f64| {
        (((limit.capacity - tokens) / rate) / 1000.0)
            .ceil()
            .max(0.0) as i64
    };
    match row {
        Some(r) => {
            let tokens = r.f64(0)?;
            Ok(Taken {
                limit: limit.per_minute as i64,
                remaining: tokens.floor().max(0.0) as i64,
                reset_secs: reset(tokens),
            })
        }
        None => {
            let tokens = env
                .db
                .query_opt(
                    "SELECT MIN(?2, tokens + (?3 - updated_ms) * ?4) FROM rate_buckets WHERE key = ?1",
                    params![key, limit.capacity, now, rate],
                )?
                .map(|r| r.f64(0))
                .transpose()?
                .unwrap_or(0.0);
            let wait = (((1.0 - tokens) / rate) / 1000.0).ceil().max(1.0) as u64;
            let mut e = Error::rate_limited(
                wait,
                "too many requests; slow down and retry after the Retry-After delay",
            );
            e.headers = Taken {
                limit: limit.per_minute as i64,
                remaining: 0,
                reset_secs: reset(tokens),
            }
            .headers();
            Err(e)
        }
    }
}

/// Whether every bucket of `buckets` gives a token, taken in order and
/// stopping at the first that has none: budgets that decide whether
/// something is done (an audit sample, an email), not whether a request is
/// answered. A failing database counts as "no".
pub fn allows(env: &Env, buckets: &[(&str, Limit)]) -> bool {
    buckets
        .iter()
        .all(|(key, limit)| take(env, key, *limit).is_ok())
}

/// Drop buckets idle for an hour (they would be full anyway: no bucket
/// takes longer than an hour to refill). Returns how many.
pub fn prune(env: &Env) -> Result<i64> {
    Ok(env
        .db
        .exec(
            "DELETE FROM rate_buckets WHERE updated_ms < ?1 RETURNING key",
            params![env.clock.now_ms() - 3_600_000],
        )?
        .rows
        .len() as i64)
}
