use crate::error::Result;
use crate::ports::Config;
use std::collections::HashMap;

/// Variables from a map.
#[derive(Debug, Clone, Default)]
pub struct MapConfig(HashMap<String, String>);

impl MapConfig {
    /// From name/value pairs.
    pub fn new(vars: &[(&str, &str)]) -> Self {
        MapConfig(
            vars.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

impl Config for MapConfig {
    fn get(&self, name: &str) -> Result<Option<String>> {
        Ok(self.0.get(name).cloned())
    }
}
