//! Randomness, and the opaque, time-sortable ids built from it.

use crate::error::{Error, Result};

/// A source of cryptographically strong random bytes.
pub trait Ids {
    /// Fill `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]) -> Result<()>;
}

/// The operating system's (or WASI's) random source.
pub struct OsRandom;

impl Ids for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<()> {
        getrandom::fill(buf).map_err(|e| Error::internal(format!("random source failed: {e}")))
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new opaque id: `prefix` followed by 26 Crockford base32 characters,
/// 48 bits of millisecond time (so ids sort by creation) and 80 random bits
/// (so they cannot be guessed). The ULID layout.
pub fn new_id(prefix: &str, now_ms: i64, ids: &dyn Ids) -> Result<String> {
    let mut random = [0u8; 10];
    ids.fill(&mut random)?;
    let time = (now_ms.max(0) as u128) & ((1u128 << 48) - 1);
    let mut value: u128 = time << 80;
    for (i, b) in random.iter().enumerate() {
        value |= (*b as u128) << (8 * (9 - i));
    }
    let mut out = String::with_capacity(prefix.len() + 26);
    out.push_str(prefix);
    for i in (0..26).rev() {
        let idx = ((value >> (5 * i)) & 0x1f) as usize;
        out.push(CROCKFORD[idx] as char);
    }
    Ok(out)
}

/// A random number in [0, 1] (jitter); 0.5 when randomness fails.
pub fn random_unit(ids: &dyn Ids) -> f64 {
    let mut b = [0u8; 4];
    if ids.fill(&mut b).is_err() {
        return 0.5;
    }
    u32::from_le_bytes(b) as f64 / u32::MAX as f64
}

/// `n` random bytes as lowercase hex (tokens, nonces).
pub fn random_hex(n: usize, ids: &dyn Ids) -> Result<String> {
    let mut buf = vec![0u8; n];
    ids.fill(&mut buf)?;
    Ok(crate::hex(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(u8);
    impl Ids for Fixed {
        fn fill(&self, buf: &mut [u8]) -> Result<()> {
            buf.iter_mut().for_each(|b| *b = self.0);
            Ok(())
        }
    }

    #[test]
    fn ids_sort_by_time_and_have_a_fixed_shape() {
        let a = new_id("job_", 1_700_000_000_000, &Fixed(0xff)).unwrap();
        let b = new_id("job_", 1_700_000_000_001, &Fixed(0x00)).unwrap();
        assert!(a < b, "{a} should sort before {b}");
        assert_eq!(a.len(), 4 + 26);
        assert!(a[4..].chars().all(|c| CROCKFORD.contains(&(c as u8))));
    }

    #[test]
    fn os_random_ids_differ() {
        let a = new_id("", 1, &OsRandom).unwrap();
        let b = new_id("", 1, &OsRandom).unwrap();
        assert_ne!(a, b);
    }
}
