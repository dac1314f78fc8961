//! The dump format: SQL literals and identifiers, the header, and the
//! writer that streams statements into the (compressing) output.
//!
//! Everything here is text that `sqlite3` must read back to the same
//! values, so each encoding is chosen for exactness over looks: reals are
//! written in Rust's shortest round-trip form, text that SQL cannot carry
//! (a NUL byte ends a line-reading shell's input) goes as hex cast back to
//! text, and identifiers are always quoted so any table name works.

use crate::error::{Error, Result};
use crate::ports::Value;
use std::fmt::Write as _;
use std::io::Write;

/// The format's name, the first header line.
pub const FORMAT: &str = "echopilot-backup";
/// The format's version: bumped when a reader of version N could not read
/// the output of N+1.
pub const FORMAT_VERSION: i64 = 1;

/// The first statements of every dump, in order.
pub const PROLOGUE: [&str; 2] = ["PRAGMA foreign_keys=OFF;", "BEGIN TRANSACTION;"];
/// The last statement of every dump.
pub const EPILOGUE: &str = "COMMIT;";
/// How every row statement starts (followed by the quoted table name).
pub const INSERT_PREFIX: &str = "INSERT INTO \"";

/// `name` as an SQL identifier: double-quoted, inner `"` doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Append `value` to `out` as an SQL literal that reads back as the same
/// value and type.
pub fn push_literal(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("NULL"),
        Value::Integer(i) => {
            // `write!` to a String cannot fail.
            let _ = write!(out, "{i}");
        }
        Value::Real(f) => push_real(out, *f),
        Value::Text(s) => push_text(out, s),
        Value::Blob(b) => push_blob(out, b),
    }
}

/// A REAL literal. `{:?}` is the shortest text that parses back to the same
/// bits; it always has a `.` or an exponent, so SQLite reads a REAL, not an
/// INTEGER (checked anyway). Infinities are out-of-range literals, which
/// SQLite reads as ±Inf (as `sqlite3 .dump` writes them). NaN never comes
/// out of SQLite (it stores NULL instead), but is written as NULL for
/// completeness.
fn push_real(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NULL");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "9e999" } else { "-9e999" });
    } else {
        let start = out.len();
        let _ = write!(out, "{f:?}");
        if !out[start..].contains(['.', 'e', 'E']) {
            out.push_str(".0");
        }
    }
}

/// A TEXT literal: single-quoted with `'` doubled. Text holding a control
/// character other than newline and tab is written as `CAST(X'…' AS TEXT)`
/// instead: the bytes survive exactly and the value is still TEXT. A
/// literal could not carry them through the `sqlite3` shell, which reads
/// its input line by line: a NUL ends the line, and a carriage return
/// before a newline is dropped as a Windows line ending.
fn push_text(out: &mut String, s: &str) {
    if s.bytes().any(|b| b < 0x20 && b != b'\n' && b != b'\t') {
        out.push_str("CAST(");
        push_blob(out, s.as_bytes());
        out.push_str(" AS TEXT)");
        return;
    }
    out.reserve(s.len() + 2);
    out.push('\'');
    for (i, part) in s.split('\'').enumerate() {
        if i > 0 {
            out.push_str("''");
        }
        out.push_str(part);
    }
    out.push('\'');
}

/// A BLOB literal: `X'…'` in lowercase hex.
fn push_blob(out: &mut String, b: &[u8]) {
    out.push_str("X'");
    out.push_str(&crate::hex(b));
    out.push('\'');
}

/// End a statement taken from `sqlite_master`. Its text never carries the
/// `;`; when its last line holds a `--` comment the `;` goes on a line of
/// its own so the comment cannot swallow it.
fn terminated(sql: &str) -> String {
    let last_line = sql.rsplit('\n').next().unwrap_or(sql);
    if last_line.contains("--") {
        format!("{sql}\n;")
    } else {
        format!("{sql};")
    }
}

/// The comment block that opens a dump: who, what and how to restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The dump format's version ([`FORMAT_VERSION`] when written).
    pub format_version: i64,
    /// The highest version in `schema_migrations` of the snapshot.
    pub schema_version: i64,
    /// When the backup started, RFC 3339.
    pub created_at: String,
    /// The backup's id.
    pub backup_id: String,
}

impl Header {
    /// The header lines, each a `--` comment (no statement).
    fn text(&self) -> String {
        format!(
            "-- {FORMAT}\n\
             -- format_version: {}\n\
             -- schema_version: {}\n\
             -- created_at: {}\n\
             -- backup_id: {}\n\
             -- restore into a new, empty file: gunzip -c FILE.sql.gz | sqlite3 restored.db\n",
            self.format_version, self.schema_version, self.created_at, self.backup_id
        )
    }

    /// Read a header back from the text before the first statement; the
    /// reason when it is not one this format writes.
    pub fn parse(preamble: &str) -> std::result::Result<Header, String> {
        let mut lines = preamble.lines();
        if lines.next() != Some(&format!("-- {FORMAT}")) {
            return Err(format!("the file does not start with `-- {FORMAT}`"));
        }
        let mut fields = std::collections::BTreeMap::new();
        for line in lines {
            let Some(rest) = line.strip_prefix("-- ") else {
                continue;
            };
            if let Some((key, value)) = rest.split_once(": ") {
                fields.insert(key, value);
            }
        }
        let field = |key: &str| {
            fields
                .get(key)
                .map(|v| v.to_string())
                .ok_or_else(|| format!("the header has no `{key}`"))
        };
        let number = |key: &str| {
            field(key)?
                .parse::<i64>()
                .map_err(|_| format!("the header's `{key}` is not a number"))
        };
        Ok(Header {
            format_version: number("format_version")?,
            schema_version: number("schema_version")?,
            created_at: field("created_at")?,
            backup_id: field("backup_id")?,
        })
    }
}

/// Writes a dump statement by statement into `out` (a gzip encoder in
/// practice), counting the uncompressed bytes.
pub struct DumpWriter<W: Write> {
    out: W,
    raw_bytes: u64,
    line: String,
}

impl<W: Write> DumpWriter<W> {
    /// A writer into `out`.
    pub fn new(out: W) -> Self {
        DumpWriter {
            out,
            raw_bytes: 0,
            line: String::new(),
        }
    }

    fn emit(&mut self, text: &str) -> Result<()> {
        self.out
            .write_all(text.as_bytes())
            .map_err(|e| Error::internal(format!("backup: writing the dump failed: {e}")))?;
        self.raw_bytes += text.len() as u64;
        Ok(())
    }

    /// The header, then the prologue that opens the restore transaction.
    pub fn begin(&mut self, header: &Header) -> Result<()> {
        self.emit(&header.text())?;
        for statement in PROLOGUE {
            self.emit(statement)?;
            self.emit("\n")?;
        }
        Ok(())
    }

    /// A schema statement from `sqlite_master`, as SQLite stored it.
    pub fn schema(&mut self, sql: &str) -> Result<()> {
        let statement = terminated(sql);
        self.emit(&statement)?;
        self.emit("\n")
    }

    /// A statement of our own (no `sqlite_master` text).
    pub fn statement(&mut self, sql: &str) -> Result<()> {
        self.emit(sql)?;
        self.emit(";\n")
    }

    /// One row: `INSERT INTO "table" VALUES(…);`, naming the columns when
    /// `columns` is given (tables with generated columns, which take no
    /// value).
    pub fn insert(
        &mut self,
        table: &str,
        columns: Option<&[String]>,
        values: &[Value],
    ) -> Result<()> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        line.push_str("INSERT INTO ");
        line.push_str(&ident(table));
        if let Some(columns) = columns {
            line.push('(');
            for (i, c) in columns.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                line.push_str(&ident(c));
            }
            line.push(')');
        }
        line.push_str(" VALUES(");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            push_literal(&mut line, v);
        }
        line.push_str(");\n");
        let written = self.emit(&line);
        self.line = line;
        written
    }

    /// The epilogue: the schema version marker SQLite keeps in the file
    /// header (so a restored database is recognised as current without a
    /// migration pass), then `COMMIT;`.
    pub fn commit(&mut self, user_version: i64) -> Result<()> {
        self.statement(&format!("PRAGMA user_version={user_version}"))?;
        self.emit(EPILOGUE)?;
        self.emit("\n")
    }

    /// The output and the number of uncompressed bytes written.
    pub fn finish(self) -> (W, u64) {
        (self.out, self.raw_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(v: Value) -> String {
        let mut s = String::new();
        push_literal(&mut s, &v);
        s
    }

    #[test]
    fn null_integers_and_extremes() {
        assert_eq!(lit(Value::Null), "NULL");
        assert_eq!(lit(Value::Integer(0)), "0");
        assert_eq!(lit(Value::Integer(-42)), "-42");
        assert_eq!(lit(Value::Integer(i64::MAX)), "9223372036854775807");
        assert_eq!(lit(Value::Integer(i64::MIN)), "-9223372036854775808");
    }

    #[test]
    fn reals_round_trip_and_never_look_like_integers() {
        assert_eq!(lit(Value::Real(1.0)), "1.0");
        assert_eq!(lit(Value::Real(-0.5)), "-0.5");
        assert_eq!(lit(Value::Real(0.1)), "0.1");
        assert_eq!(lit(Value::Real(1e300)), "1e300");
        assert_eq!(lit(Value::Real(-2.5e-300)), "-2.5e-300");
        assert_eq!(lit(Value::Real(f64::INFINITY)), "9e999");
        assert_eq!(lit(Value::Real(f64::NEG_INFINITY)), "-9e999");
        assert_eq!(lit(Value::Real(f64::NAN)), "NULL");
        for f in [
            0.1 + 0.2,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            123_456_789.123_456_78,
            1e15,
            1e16,
            -0.0,
        ] {
            let s = lit(Value::Real(f));
            assert!(s.contains(['.', 'e']), "{s} reads as a REAL");
            assert_eq!(s.parse::<f64>().unwrap().to_bits(), f.to_bits(), "{s}");
        }
    }

    #[test]
    fn text_is_quoted_with_quotes_doubled() {
        assert_eq!(lit(Value::Text(String::new())), "''");
        assert_eq!(lit(Value::Text("it's".into())), "'it''s'");
        assert_eq!(lit(Value::Text("''".into())), "''''''");
        assert_eq!(lit(Value::Text("a\nb; --c".into())), "'a\nb; --c'");
        assert_eq!(lit(Value::Text("tab\there".into())), "'tab\there'");
        assert_eq!(lit(Value::Text("héllo 🚀".into())), "'héllo 🚀'");
        assert_eq!(lit(Value::Text("\"q\"".into())), "'\"q\"'");
    }

    #[test]
    fn text_with_control_characters_is_hex_cast_to_text() {
        assert_eq!(lit(Value::Text("a\0b".into())), "CAST(X'610062' AS TEXT)");
        assert_eq!(lit(Value::Text("a\r\n".into())), "CAST(X'610d0a' AS TEXT)");
        assert_eq!(
            lit(Value::Text("\u{1b}[0m".into())),
            "CAST(X'1b5b306d' AS TEXT)"
        );
    }

    #[test]
    fn blobs_are_hex() {
        assert_eq!(lit(Value::Blob(vec![])), "X''");
        assert_eq!(lit(Value::Blob(vec![0, 0xff, 0x10])), "X'00ff10'");
    }

    #[test]
    fn identifiers_are_double_quoted() {
        assert_eq!(ident("jobs"), "\"jobs\"");
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(ident("select"), "\"select\"");
    }

    #[test]
    fn schema_text_ending_in_a_comment_keeps_its_semicolon() {
        assert_eq!(terminated("CREATE TABLE t (a)"), "CREATE TABLE t (a);");
        assert_eq!(
            terminated("CREATE TABLE t (\n a -- note\n)"),
            "CREATE TABLE t (\n a -- note\n);"
        );
        assert_eq!(
            terminated("CREATE VIEW v AS SELECT 1 -- x"),
            "CREATE VIEW v AS SELECT 1 -- x\n;"
        );
    }

    #[test]
    fn rows_and_framing() {
        let mut w = DumpWriter::new(Vec::new());
        let header = Header {
            format_version: FORMAT_VERSION,
            schema_version: 12,
            created_at: "2027-01-15T08:00:00.000Z".into(),
            backup_id: "bak_1".into(),
        };
        w.begin(&header).unwrap();
        w.schema("CREATE TABLE \"t\" (a, b)").unwrap();
        w.insert("t", None, &[Value::Integer(1), Value::Text("x".into())])
            .unwrap();
        w.insert(
            "t",
            Some(&["a".to_string(), "b".to_string()]),
            &[Value::Null, Value::Real(2.5)],
        )
        .unwrap();
        w.commit(12).unwrap();
        let (out, raw) = w.finish();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(raw as usize, text.len());
        assert!(text.starts_with("-- echopilot-backup\n"));
        assert!(text.contains(
            "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE \"t\" (a, b);\n\
             INSERT INTO \"t\" VALUES(1,'x');\n\
             INSERT INTO \"t\"(\"a\",\"b\") VALUES(NULL,2.5);\n\
             PRAGMA user_version=12;\nCOMMIT;\n"
        ));
        let preamble = text.split("PRAGMA").next().unwrap();
        assert_eq!(Header::parse(preamble).unwrap(), header);
    }

    #[test]
    fn a_foreign_header_is_refused() {
        assert!(Header::parse("-- something else\n").is_err());
        assert!(Header::parse("-- echopilot-backup\n-- format_version: x\n").is_err());
        assert!(Header::parse("").is_err());
    }
}
