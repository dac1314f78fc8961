//! Application variables (Spin variables; a map in native tests).

use crate::error::Result;

/// Read-only access to configuration variables.
pub trait Config {
    /// The value of variable `name`, or `None` when it is not defined.
    /// Names are lower snake case, as in spin.toml.
    fn get(&self, name: &str) -> Result<Option<String>>;
}
