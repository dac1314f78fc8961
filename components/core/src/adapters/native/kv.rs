use crate::error::Result;
use crate::ports::Kv;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// An in-memory key-value store.
#[derive(Debug, Default)]
pub struct MemKv(Mutex<BTreeMap<String, Vec<u8>>>);

impl MemKv {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Kv for MemKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.map().get(key).cloned())
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<()> {
        self.map().insert(key.to_string(), value.to_vec());
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.map().remove(key);
        Ok(())
    }
    fn exists(&self, key: &str) -> Result<bool> {
        Ok(self.map().contains_key(key))
    }
    fn keys(&self) -> Result<Vec<String>> {
        Ok(self.map().keys().cloned().collect())
    }
}
