//! Known devices: after a successful sign-in the client gets a device
//! token (the `ep_device` cookie, and `device_token` in the answer for API
//! clients). A later sign-in that presents it for the same account is
//! checked against that device's own failure counter instead of the
//! account's (see [`super::throttle`]), so an attack on the account from
//! elsewhere never locks out a device that signed in before.
//!
//! Format: `dv1.<device id>.<user id>.<expiry unix seconds>.<hex
//! HMAC-SHA256>` over `device|v1|<device id>|<user id>|<expiry>`, keyed by
//! a key derived from `jwt_secret` for this purpose only. Nothing is
//! stored: changing `jwt_secret` forgets every device.

use super::keys;
use crate::error::Result;
use crate::ports::{ids, Env};
use crate::sign;

/// How long a device stays known after its last successful sign-in.
pub const DEVICE_TTL_SECS: i64 = 30 * 86_400;
/// The cookie that carries the device token (path `/api/auth/login`).
pub const DEVICE_COOKIE: &str = "ep_device";

fn message(device: &str, user_id: &str, expiry: i64) -> String {
    format!("device|v1|{device}|{user_id}|{expiry}")
}

fn key(env: &Env) -> Result<Vec<u8>> {
    Ok(sign::derive_key(&keys::secret(env)?, "device-token-v1"))
}

/// A new device token for `user_id`, valid [`DEVICE_TTL_SECS`].
pub fn issue(env: &Env, user_id: &str) -> Result<String> {
    let device = ids::random_hex(16, env.ids.as_ref())?;
    let expiry = env.clock.now_ms() / 1000 + DEVICE_TTL_SECS;
    let sig = sign::signature(&key(env)?, &message(&device, user_id, expiry));
    Ok(format!("dv1.{device}.{user_id}.{expiry}.{sig}"))
}

/// The device id of `token` when it is a valid, unexpired device token of
/// `user_id`; `None` for anything else (an unknown device, not an error).
pub fn recognise(env: &Env, token: &str, user_id: &str) -> Option<String> {
    if token.len() > 256 {
        return None;
    }
    let parts: Vec<&str> = token.split('.').collect();
    let ["dv1", device, user, expiry, sig] = parts.as_slice() else {
        return None;
    };
    if *user != user_id || device.len() != 32 {
        return None;
    }
    let expiry: i64 = expiry.parse().ok()?;
    let now = env.clock.now_ms() / 1000;
    if expiry <= now || expiry > now + DEVICE_TTL_SECS {
        return None;
    }
    sign::verify(&key(env).ok()?, &message(device, user, expiry), sig).then(|| device.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native::{self, ManualClock, SqliteDb};

    fn env() -> (Env, ManualClock) {
        let clock = ManualClock::new(1_800_000_000_000);
        let mut env = native::env(
            SqliteDb::open_in_memory().unwrap(),
            &[("jwt_secret", "a-jwt-secret-that-is-long-enough-0123456789")],
        );
        env.clock = Box::new(clock.clone());
        (env, clock)
    }

    #[test]
    fn a_device_token_names_its_account_and_expires() {
        let (env, clock) = env();
        let t = issue(&env, "usr_a").unwrap();
        let id = recognise(&env, &t, "usr_a").unwrap();
        assert_eq!(id.len(), 32);
        assert_eq!(recognise(&env, &t, "usr_b"), None, "another account");
        let forged = t.replacen("usr_a", "usr_b", 1);
        assert_eq!(recognise(&env, &forged, "usr_b"), None, "re-addressed");
        let mut bytes = t.clone().into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(recognise(&env, &tampered, "usr_a"), None, "tampered");
        clock.advance(DEVICE_TTL_SECS * 1000 + 1000);
        assert_eq!(recognise(&env, &t, "usr_a"), None, "expired");
        for junk in ["", "dv1", "dv1.a.usr_a.1.b", &"x".repeat(300)] {
            assert_eq!(recognise(&env, junk, "usr_a"), None);
        }
    }
}
