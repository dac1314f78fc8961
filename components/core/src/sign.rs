//! HMAC-SHA256 in hex: the one way EchoPilot signs the tokens and records
//! it hands out without storing them (history links, known-device tokens,
//! audit anchors), and checks them in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

fn mac(key: &[u8], message: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(message.as_bytes());
    m
}

/// A key for one `purpose`, derived from `secret`, so that no key serves
/// two purposes (and none is ever stored).
pub fn derive_key(secret: &str, purpose: &str) -> Vec<u8> {
    mac(secret.as_bytes(), &format!("echopilot-key|{purpose}"))
        .finalize()
        .into_bytes()
        .to_vec()
}

/// The signature of `message` under `key`: 64 lower-case hex digits.
pub fn signature(key: &[u8], message: &str) -> String {
    crate::hex(&mac(key, message).finalize().into_bytes())
}

/// Whether `given` is the signature of `message` under `key`, compared in
/// constant time; `false` for anything malformed.
pub fn verify(key: &[u8], message: &str, given: &str) -> bool {
    if given.len() != 64 {
        return false;
    }
    let bytes: Option<Vec<u8>> = (0..32)
        .map(|i| u8::from_str_radix(given.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    bytes.is_some_and(|b| mac(key, message).verify_slice(&b).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_their_key_and_message() {
        let s = signature(b"k", "m");
        assert_eq!(s.len(), 64);
        assert!(verify(b"k", "m", &s));
        assert!(!verify(b"k2", "m", &s));
        assert!(!verify(b"k", "m2", &s));
        assert!(!verify(b"k", "m", &s[..63]));
        assert!(!verify(b"k", "m", &"zz".repeat(32)));
        assert!(!verify(b"k", "m", "é".repeat(32).as_str()));
        assert_ne!(derive_key("s", "a"), derive_key("s", "b"));
    }
}
