//! Content hashes per table: what a restore is compared with.
//!
//! A table's hash is the SHA-256 of its rows in key order (rowid, or a
//! WITHOUT ROWID table's primary key), each row written as the values of
//! its `INSERT` in the dump ([`super::dump::push_literal`], joined by `,`)
//! and ended by a newline. The literals read back to the same values and
//! types, so a database restored from the dump hashes to the same value as
//! the snapshot the dump was taken from, and a changed, missing, extra or
//! reordered-by-key row changes it.

use super::dump::push_literal;
use crate::ports::Value;
use sha2::{Digest, Sha256};

/// A table's hash, fed row by row.
#[derive(Default)]
pub struct TableDigest {
    sha: Sha256,
    line: String,
}

impl TableDigest {
    /// Add the next row (its insertable columns, in order).
    pub fn add(&mut self, values: &[Value]) {
        self.line.clear();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.line.push(',');
            }
            push_literal(&mut self.line, v);
        }
        self.line.push('\n');
        self.sha.update(self.line.as_bytes());
    }

    /// The hash, lowercase hex.
    pub fn finish(self) -> String {
        crate::hex(&self.sha.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(rows: &[&[Value]]) -> String {
        let mut d = TableDigest::default();
        for r in rows {
            d.add(r);
        }
        d.finish()
    }

    #[test]
    fn values_types_and_order_change_the_hash() {
        let a = [Value::Integer(1), Value::Text("x".into())];
        let b = [Value::Integer(2), Value::Null];
        let base = hash(&[&a, &b]);
        assert_eq!(base, hash(&[&a, &b]));
        assert_ne!(base, hash(&[&b, &a]));
        assert_ne!(base, hash(&[&a]));
        assert_ne!(hash(&[&[Value::Integer(1)]]), hash(&[&[Value::Real(1.0)]]));
        assert_ne!(
            hash(&[&[Value::Text("1".into())]]),
            hash(&[&[Value::Integer(1)]])
        );
        // An empty table hashes to SHA-256 of nothing.
        assert_eq!(
            hash(&[]),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
