use crate::error::{Error, Result};
use crate::ports::Config;
use spin_sdk::variables;

/// Spin application variables (each must be listed in the component's
/// `variables` in spin.toml).
pub struct SpinConfig;

impl Config for SpinConfig {
    fn get(&self, name: &str) -> Result<Option<String>> {
        match variables::get(name) {
            Ok(v) => Ok(Some(v)),
            Err(variables::Error::Undefined(_)) => Ok(None),
            Err(e) => Err(Error::internal(format!("variable `{name}`: {e:?}"))),
        }
    }
}
