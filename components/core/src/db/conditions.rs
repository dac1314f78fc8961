//! A `WHERE` clause built from optional filters, with numbered parameters,
//! for list endpoints: each filter that is set adds one condition and its
//! value; none set is `1 = 1`.

use crate::ports::Value;

/// Conditions joined by `AND`, and their parameters in order.
#[derive(Debug, Default)]
pub struct Conditions {
    conds: Vec<String>,
    params: Vec<Value>,
}

impl Conditions {
    /// No conditions yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `sql`, whose one `?` is bound to `value`.
    pub fn add(&mut self, sql: &str, value: impl Into<Value>) -> &mut Self {
        self.params.push(value.into());
        self.conds
            .push(sql.replace('?', &format!("?{}", self.params.len())));
        self
    }

    /// Add `sql` when `value` is set.
    pub fn add_opt<V: Into<Value>>(&mut self, sql: &str, value: Option<V>) -> &mut Self {
        if let Some(v) = value {
            self.add(sql, v);
        }
        self
    }

    /// Add a condition without parameters (built from trusted constants).
    pub fn add_sql(&mut self, sql: String) -> &mut Self {
        self.conds.push(sql);
        self
    }

    /// The placeholder (`?N`) a value appended after these parameters gets.
    pub fn next_placeholder(&self) -> String {
        format!("?{}", self.params.len() + 1)
    }

    /// The clause (`1 = 1` when empty).
    pub fn sql(&self) -> String {
        if self.conds.is_empty() {
            "1 = 1".into()
        } else {
            self.conds.join(" AND ")
        }
    }

    /// The parameters, with `extra` appended (e.g. a `LIMIT`).
    pub fn params_with(&self, extra: impl IntoIterator<Item = Value>) -> Vec<Value> {
        let mut p = self.params.clone();
        p.extend(extra);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parameters_in_order_and_skips_unset_filters() {
        let mut c = Conditions::new();
        c.add("a = ?", 1i64)
            .add_opt("b = ?", None::<i64>)
            .add_opt("c > ?", Some("x"));
        assert_eq!(c.sql(), "a = ?1 AND c > ?2");
        assert_eq!(c.next_placeholder(), "?3");
        assert_eq!(c.params_with([Value::from(5i64)]).len(), 3);
        assert_eq!(Conditions::new().sql(), "1 = 1");
    }
}
