//! Sign-in throttles: progressive locks on failed sign-ins, counted where
//! the guessing happens, so that nobody can lock an account's owner out.
//!
//! A sign-in from a client the account does not know (no valid device
//! token, see [`super::devices`]) is checked against three counters:
//!
//! - the **(account, address) pair**: one guesser at one address; after
//!   [`PAIR`]`.threshold` failures that pair waits, longer with every
//!   further failure. The owner at another address is not affected.
//! - the **address**, over all accounts: one address spraying passwords
//!   across accounts (credential stuffing).
//! - the **account**, over all addresses: guessing spread over many
//!   addresses. It locks clients the account does not know, and only
//!   them: a sign-in that presents the account's device token is checked
//!   against its **device** counter alone, so the owner of a known device
//!   still signs in while the account is under attack.
//!
//! Only failures count (a lock is checked before the password, which is
//! never verified while locked), a success clears the pair and device
//! counters, and failures are forgotten [`WINDOW_MS`] after the last one.
//! Counters are rows in SQLite (`signin_failures`), counted with one
//! upsert each, exact across instances. Addresses are the guard's (see
//! [`crate::guard::client`]: behind a proxy, set `trusted_proxies`).

use crate::error::{Error, Result};
use crate::params;
use crate::ports::{DbExt, Env, Value};

/// A counter's lock schedule: no wait below `threshold` failures, then
/// `base_ms`, doubling with every further failure, at most `cap_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Failures allowed before the first wait.
    pub threshold: i64,
    /// The first wait.
    pub base_ms: i64,
    /// The longest wait.
    pub cap_ms: i64,
}

impl Rule {
    /// How long a counter at `failures` locks.
    pub fn delay_ms(&self, failures: i64) -> i64 {
        if failures < self.threshold {
            return 0;
        }
        let doublings = (failures - self.threshold).clamp(0, 30) as u32;
        self.base_ms
            .saturating_mul(1i64 << doublings)
            .min(self.cap_ms)
    }
}

const MINUTE: i64 = 60_000;

/// A lock of a minute after `threshold` failures, doubling with each
/// further one up to 15 minutes (every counter locks the same way; they
/// differ in how many failures they forgive).
const fn progressive(threshold: i64) -> Rule {
    Rule {
        threshold,
        base_ms: MINUTE,
        cap_ms: 15 * MINUTE,
    }
}

/// One guesser at one address.
pub const PAIR: Rule = progressive(5);
/// One address, over all accounts.
pub const ADDRESS: Rule = progressive(30);
/// One account, over all addresses (clients it does not know only).
pub const ACCOUNT: Rule = progressive(20);
/// One known device.
pub const DEVICE: Rule = progressive(5);

/// Failures older than this (after the last one) are forgotten.
pub const WINDOW_MS: i64 = 60 * MINUTE;

/// A counter: its key and its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    key: String,
    rule: Rule,
}

impl Counter {
    fn new(kind: &str, key: &str, rule: Rule) -> Self {
        Counter {
            key: format!("{kind}:{key}"),
            rule,
        }
    }
    /// `account` (a user id, or the email asked for when there is no such
    /// account) from `address`.
    pub fn pair(account: &str, address: &str) -> Self {
        Self::new("pair", &format!("{account}|{address}"), PAIR)
    }
    /// Every sign-in from `address`.
    pub fn address(address: &str) -> Self {
        Self::new("addr", address, ADDRESS)
    }
    /// Every sign-in to `account` from clients it does not know.
    pub fn account(account: &str) -> Self {
        Self::new("acct", account, ACCOUNT)
    }
    /// Sign-ins with the device token `device_id`.
    pub fn device(device_id: &str) -> Self {
        Self::new("device", device_id, DEVICE)
    }
}

/// 429 `sign_in_locked` with Retry-After when any of `counters` is locked.
pub fn check(env: &Env, counters: &[Counter]) -> Result<()> {
    if counters.is_empty() {
        return Ok(());
    }
    let now = env.clock.now_ms();
    let marks: Vec<String> = (0..counters.len()).map(|i| format!("?{}", i + 2)).collect();
    let mut p = vec![Value::from(now)];
    p.extend(counters.iter().map(|c| Value::from(c.key.as_str())));
    let until = env
        .db
        .query_one(
            &format!(
                "SELECT MAX(locked_until_ms) FROM signin_failures
                 WHERE key IN ({}) AND locked_until_ms > ?1",
                marks.join(", ")
            ),
            &p,
        )?
        .opt_i64(0)?;
    match until {
        None => Ok(()),
        Some(until) => {
            let secs = ((until - now + 999) / 1000).max(1) as u64;
            let mut e = Error::rate_limited(
                secs,
                "too many failed sign-ins: this sign-in waits; a device that signed in to this account before is not affected",
            );
            e.code = "sign_in_locked";
            Err(e)
        }
    }
}

/// Count a failed sign-in on each of `counters` and lock them as their
/// rules say.
pub fn failed(env: &Env, counters: &[Counter]) -> Result<()> {
    let now = env.clock.now_ms();
    for c in counters {
        let failures = env
            .db
            .query_one(
                "INSERT INTO signin_failures (key, failures, last_failure_ms, locked_until_ms)
                 VALUES (?1, 1, ?2, 0)
                 ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN last_failure_ms < ?2 - ?3 THEN 1 ELSE failures + 1 END,
                    last_failure_ms = ?2
                 RETURNING failures",
                params![c.key.as_str(), now, WINDOW_MS],
            )?
            .i64(0)?;
        let delay = c.rule.delay_ms(failures);
        if delay > 0 {
            env.db.exec(
                "UPDATE signin_failures SET locked_until_ms = MAX(locked_until_ms, ?2) WHERE key = ?1",
                params![c.key.as_str(), now + delay],
            )?;
        }
    }
    Ok(())
}

/// A successful sign-in: forget the failures of `counters`.
pub fn cleared(env: &Env, counters: &[Counter]) -> Result<()> {
    for c in counters {
        env.db.exec(
            "DELETE FROM signin_failures WHERE key = ?1",
            params![c.key.as_str()],
        )?;
    }
    Ok(())
}

/// Drop counters whose failures are forgotten and whose lock is over.
pub fn prune(env: &Env) -> Result<i64> {
    let now = env.clock.now_ms();
    Ok(env
        .db
        .exec(
            "DELETE FROM signin_failures WHERE last_failure_ms < ?1 AND locked_until_ms < ?2 RETURNING key",
            params![now - WINDOW_MS, now],
        )?
        .rows
        .len() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_start_at_the_threshold_double_and_stop_at_the_cap() {
        let r = PAIR;
        assert_eq!(r.delay_ms(0), 0);
        assert_eq!(r.delay_ms(4), 0);
        assert_eq!(r.delay_ms(5), MINUTE);
        assert_eq!(r.delay_ms(6), 2 * MINUTE);
        assert_eq!(r.delay_ms(8), 8 * MINUTE);
        assert_eq!(r.delay_ms(9), 15 * MINUTE);
        assert_eq!(r.delay_ms(1000), 15 * MINUTE);
    }
}
