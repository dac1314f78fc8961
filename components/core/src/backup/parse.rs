//! Reading a dump's row statements back into values, strictly.
//!
//! A restore into scratch does not hand a backup's text to SQLite: a file
//! fetched from an object store may have been written by anyone who can
//! write there. Row statements are parsed here instead, accepting only
//! what [`super::dump`] writes (`INSERT INTO "t"["(cols)"] VALUES(…);` with
//! NULL, integer, real, `'text'`, `X'…'` and `CAST(X'…' AS TEXT)`
//! literals), and bound as parameters.

use crate::ports::Value;

/// One row statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    /// The table.
    pub table: String,
    /// The columns it names (tables with generated columns), if any.
    pub columns: Option<Vec<String>>,
    /// The values, in order.
    pub values: Vec<Value>,
}

struct Cursor<'a> {
    s: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn eat(&mut self, text: &str) -> bool {
        let end = self.at + text.len();
        match self.s.get(self.at..end) {
            Some(got) if got.eq_ignore_ascii_case(text.as_bytes()) => {
                self.at = end;
                true
            }
            _ => false,
        }
    }

    fn expect(&mut self, text: &str) -> Result<(), String> {
        if self.eat(text) {
            Ok(())
        } else {
            Err(format!("expected `{text}` at byte {}", self.at))
        }
    }

    /// A `"…"` identifier, `""` read as `"`.
    fn ident(&mut self) -> Result<String, String> {
        self.expect("\"")?;
        let mut out = Vec::new();
        loop {
            match (self.peek(), self.s.get(self.at + 1)) {
                (Some(b'"'), Some(b'"')) => {
                    out.push(b'"');
                    self.at += 2;
                }
                (Some(b'"'), _) => {
                    self.at += 1;
                    return String::from_utf8(out).map_err(|_| "an identifier is not UTF-8".into());
                }
                (Some(b), _) => {
                    out.push(b);
                    self.at += 1;
                }
                (None, _) => return Err("an identifier is not closed".into()),
            }
        }
    }

    /// The bytes of `'…'`, `''` read as `'`.
    fn quoted(&mut self) -> Result<Vec<u8>, String> {
        self.expect("'")?;
        let mut out = Vec::new();
        loop {
            match (self.peek(), self.s.get(self.at + 1)) {
                (Some(b'\''), Some(b'\'')) => {
                    out.push(b'\'');
                    self.at += 2;
                }
                (Some(b'\''), _) => {
                    self.at += 1;
                    return Ok(out);
                }
                (Some(b), _) => {
                    out.push(b);
                    self.at += 1;
                }
                (None, _) => return Err("a string is not closed".into()),
            }
        }
    }

    /// `X'…'` after the `X`.
    fn hex(&mut self) -> Result<Vec<u8>, String> {
        let digits = self.quoted()?;
        if digits.len() % 2 != 0 {
            return Err("a blob literal has an odd number of hex digits".into());
        }
        digits
            .chunks(2)
            .map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|p| u8::from_str_radix(p, 16).ok())
                    .ok_or_else(|| "a blob literal holds a non-hex digit".to_string())
            })
            .collect()
    }

    fn literal(&mut self) -> Result<Value, String> {
        if self.eat("NULL") {
            return Ok(Value::Null);
        }
        if self.eat("CAST(X") {
            let bytes = self.hex()?;
            self.expect(" AS TEXT)")?;
            return String::from_utf8(bytes)
                .map(Value::Text)
                .map_err(|_| "a text literal is not UTF-8".into());
        }
        if self.eat("X") {
            return self.hex().map(Value::Blob);
        }
        if self.peek() == Some(b'\'') {
            return String::from_utf8(self.quoted()?)
                .map(Value::Text)
                .map_err(|_| "a text literal is not UTF-8".into());
        }
        let start = self.at;
        while let Some(b) = self.peek() {
            if b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E') {
                self.at += 1;
            } else {
                break;
            }
        }
        let number = std::str::from_utf8(&self.s[start..self.at]).unwrap_or("");
        if number.is_empty() {
            return Err(format!("byte {start} starts no literal this format writes"));
        }
        if number.contains(['.', 'e', 'E']) {
            number.parse::<f64>().map(Value::Real)
        } else {
            return number
                .parse::<i64>()
                .map(Value::Integer)
                .map_err(|_| format!("`{number}` is not an integer"));
        }
        .map_err(|_| format!("`{number}` is not a number"))
    }
}

/// Parse one row statement (with its `;`).
pub fn insert(stmt: &[u8]) -> Result<Insert, String> {
    let mut c = Cursor { s: stmt, at: 0 };
    c.expect("INSERT INTO ")?;
    let table = c.ident()?;
    let columns = if c.eat("(") {
        let mut columns = vec![c.ident()?];
        while c.eat(",") {
            columns.push(c.ident()?);
        }
        c.expect(")")?;
        Some(columns)
    } else {
        None
    };
    c.expect(" VALUES(")?;
    let mut values = vec![c.literal()?];
    while c.eat(",") {
        values.push(c.literal()?);
    }
    c.expect(");")?;
    if c.at != stmt.len() {
        return Err("text follows the row statement".into());
    }
    if columns
        .as_ref()
        .is_some_and(|cols| cols.len() != values.len())
    {
        return Err("a row names more or fewer columns than it has values".into());
    }
    Ok(Insert {
        table,
        columns,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::dump::DumpWriter;

    /// What the dump writes for `values` parses back to them.
    fn round_trip(columns: Option<&[String]>, values: Vec<Value>) {
        let mut w = DumpWriter::new(Vec::new());
        w.insert("we\"ird t", columns, &values).unwrap();
        let (out, _) = w.finish();
        let line = out.strip_suffix(b"\n").unwrap();
        let parsed = insert(line).unwrap();
        assert_eq!(parsed.table, "we\"ird t");
        assert_eq!(parsed.columns.as_deref(), columns);
        assert_eq!(parsed.values.len(), values.len());
        for (got, want) in parsed.values.iter().zip(&values) {
            match (got, want) {
                (Value::Real(a), Value::Real(b)) => assert_eq!(a.to_bits(), b.to_bits()),
                _ => assert_eq!(got, want),
            }
        }
    }

    #[test]
    fn every_literal_the_dump_writes_reads_back() {
        round_trip(
            None,
            vec![
                Value::Null,
                Value::Integer(i64::MIN),
                Value::Integer(i64::MAX),
                Value::Integer(0),
                Value::Real(0.1 + 0.2),
                Value::Real(-2.5e-300),
                Value::Real(f64::INFINITY),
                Value::Real(f64::NEG_INFINITY),
                Value::Real(-0.0),
                Value::Text(String::new()),
                Value::Text("it's; ) , 'x' \"q\" \n héllo 🚀".into()),
                Value::Text("a\0b\r\n".into()),
                Value::Blob(vec![]),
                Value::Blob(vec![0, 0xff, 0x10]),
            ],
        );
        round_trip(
            Some(&["a".to_string(), "b\"c".to_string()]),
            vec![Value::Integer(1), Value::Text("x".into())],
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "INSERT INTO \"t\" VALUES(1);DROP TABLE users;",
            "INSERT INTO \"t\" VALUES(1) ;",
            "INSERT INTO \"t\" VALUES((SELECT secret FROM users));",
            "INSERT INTO \"t\" SELECT * FROM users;",
            "INSERT INTO t VALUES(1);",
            "INSERT INTO \"t\" VALUES(X'abc');",
            "INSERT INTO \"t\" VALUES(X'zz');",
            "INSERT INTO \"t\" VALUES('open);",
            "INSERT INTO \"t\" VALUES(99999999999999999999);",
            "INSERT INTO \"t\" VALUES(1,);",
            "INSERT INTO \"t\"(\"a\") VALUES(1,2);",
            "INSERT INTO \"t\" VALUES(abs(1));",
            "INSERT INTO \"t\" VALUES(1)",
        ] {
            assert!(insert(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
