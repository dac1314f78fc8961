//! The key-value port: hot, disposable state. Losing it must never lose
//! business data, so nothing that matters lives only here.

use crate::error::Result;

/// A key-value store (Spin's `default` store; in memory in native tests).
pub trait Kv {
    /// The value under `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Store `value` under `key`, replacing any previous value.
    fn set(&self, key: &str, value: &[u8]) -> Result<()>;
    /// Remove `key`; removing a missing key is not an error.
    fn delete(&self, key: &str) -> Result<()>;
    /// Whether `key` exists.
    fn exists(&self, key: &str) -> Result<bool>;
    /// Every key in the store (use sparingly: it is a full listing).
    fn keys(&self) -> Result<Vec<String>>;
}
