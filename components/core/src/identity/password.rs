//! Passwords: Argon2id (memory-hard), PHC strings, constant-time verify.

use crate::error::{Error, Result};
use crate::ports::Ids;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// OWASP's Argon2id baseline: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The shortest password accepted.
pub const MIN_LENGTH: usize = 12;
/// The longest (bounds the hashing work an attacker can ask for).
pub const MAX_LENGTH: usize = 256;

/// Check a new password's length.
pub fn validate(password: &str) -> Result<()> {
    let n = password.chars().count();
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&n) {
        return Err(Error::unprocessable(
            "weak_password",
            format!("a password is {MIN_LENGTH} to {MAX_LENGTH} characters"),
        ));
    }
    Ok(())
}

/// Hash `password` with a fresh random salt.
pub fn hash(password: &str, rng: &dyn Ids) -> Result<String> {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::internal(format!("salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("argon2: {e}")))
}

/// Whether `password` matches the PHC string `stored`.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.chars().count() > MAX_LENGTH {
        return false;
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the account does not exist, so a login
/// for an unknown email costs the same as one for a known email.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0Y0Zf5x8a5Hc7p3c1p8c5d3r7m6m4t0u9q0w1e2r3t4";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::OsRandom;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash("correct horse battery", &OsRandom).unwrap();
        let b = hash("correct horse battery", &OsRandom).unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_ne!(a, b);
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterY", &a));
        assert!(!verify("x", "not a hash"));
        assert!(!verify("x", DUMMY_HASH));
    }

    #[test]
    fn length_rules() {
        assert!(validate("short").is_err());
        assert!(validate(&"x".repeat(12)).is_ok());
        assert!(validate(&"x".repeat(257)).is_err());
    }
}
