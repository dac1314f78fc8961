use crate::error::{Error, Result};
use crate::ports::Kv;
use spin_sdk::key_value::{Error as KvError, Store};
use std::cell::OnceCell;

/// Spin's `default` key-value store, opened on first use.
#[derive(Default)]
pub struct SpinKv {
    store: OnceCell<Store>,
}

fn err(e: KvError) -> Error {
    match e {
        KvError::AccessDenied => Error::internal(
            "key-value store `default` is not declared for this component (add it to key_value_stores)",
        ),
        other => Error::internal(format!("key-value: {other:?}")),
    }
}

impl SpinKv {
    fn store(&self) -> Result<&Store> {
        if let Some(s) = self.store.get() {
            return Ok(s);
        }
        let s = Store::open_default().map_err(err)?;
        Ok(self.store.get_or_init(|| s))
    }
}

impl Kv for SpinKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.store()?.get(key).map_err(err)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<()> {
        self.store()?.set(key, value).map_err(err)
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.store()?.delete(key).map_err(err)
    }
    fn exists(&self, key: &str) -> Result<bool> {
        self.store()?.exists(key).map_err(err)
    }
    fn keys(&self) -> Result<Vec<String>> {
        self.store()?.get_keys().map_err(err)
    }
}
