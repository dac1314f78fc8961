//! Who a visitor is, without cookies and without personal data: a hash of
//! the client address and user agent with a random salt of the day.
//!
//! Each UTC day has its own salt, made on first use (one row; replicas
//! agree through `INSERT OR IGNORE`). A salt is deleted once no event can
//! be dated in its day any more (events may be up to a day old, so when
//! the day after next begins: by the first salt made that day, or by the
//! daily rollup), and with it any way to recompute that day's hashes from
//! an address: the same person is a different visitor on another day, and
//! nobody (the operator included) can tell who it was.

use crate::error::Result;
use crate::params;
use crate::ports::{DbExt, Env};
use sha2::{Digest, Sha256};

/// Random bytes in a salt.
const SALT_BYTES: usize = 32;

/// The salt of UTC day `day`, made if it does not exist yet.
pub fn salt(env: &Env, day: i64) -> Result<String> {
    let read = |env: &Env| -> Result<Option<String>> {
        env.db
            .query_opt(
                "SELECT salt FROM analytics_salts WHERE day = ?1",
                params![day],
            )?
            .map(|r| r.text(0))
            .transpose()
    };
    if let Some(s) = read(env)? {
        return Ok(s);
    }
    let fresh = crate::ports::ids::random_hex(SALT_BYTES, env.ids.as_ref())?;
    env.db.exec(
        "INSERT OR IGNORE INTO analytics_salts (day, salt) VALUES (?1, ?2)",
        params![day, fresh],
    )?;
    // A new day began: the salts it made useless go now, not at the rollup.
    forget_before(env, first_needed(env.clock.now_ms()))?;
    // Whoever won the race, everyone uses the stored salt.
    read(env)?.ok_or_else(|| crate::Error::internal("the day's analytics salt vanished"))
}

/// The first day whose salt may still be needed at `now_ms`: events can
/// be a day old, so yesterday's.
pub fn first_needed(now_ms: i64) -> i64 {
    crate::time::day_of(now_ms) - 1
}

/// Delete the salts of days before `first_kept`; how many.
pub fn forget_before(env: &Env, first_kept: i64) -> Result<usize> {
    Ok(env
        .db
        .exec(
            "DELETE FROM analytics_salts WHERE day < ?1 RETURNING day",
            params![first_kept],
        )?
        .rows
        .len())
}

/// The visitor id for a client address and user agent under `salt`: 128
/// bits of SHA-256, hex.
pub fn hash(salt: &str, address: &str, user_agent: &str) -> String {
    let mut h = Sha256::new();
    for part in [salt, address, user_agent] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    crate::hex(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitor_depends_on_salt_address_and_agent_and_never_contains_them() {
        let v = hash("s1", "203.0.113.7", "Mozilla/5.0");
        assert_eq!(v.len(), 32);
        assert!(!v.contains("203"));
        assert_eq!(v, hash("s1", "203.0.113.7", "Mozilla/5.0"));
        assert_ne!(v, hash("s2", "203.0.113.7", "Mozilla/5.0"));
        assert_ne!(v, hash("s1", "203.0.113.8", "Mozilla/5.0"));
        assert_ne!(v, hash("s1", "203.0.113.7", "curl/8"));
        // Parts cannot run into each other.
        assert_ne!(hash("s1", "ab", "c"), hash("s1", "a", "bc"));
    }
}
