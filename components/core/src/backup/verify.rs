//! Checking a stored backup against its manifest without restoring it.
//!
//! In order, stopping at the first problem: every chunk is there; size and
//! SHA-256 of the file match the manifest (catches any flipped bit); it
//! gunzips (gzip's own CRC-32 agrees); the SQL text has the size the
//! manifest says, this format's header for this backup, the prologue,
//! exactly the manifest's number of rows per table, and ends with
//! `COMMIT;` (so it was not cut short). Statements are split by a lexer
//! that knows this format's strings, quoted identifiers, comments and
//! trigger bodies ([`super::scan`]), so text inside values cannot fake a
//! row.

use super::dump::{Header, EPILOGUE, FORMAT_VERSION, INSERT_PREFIX, PROLOGUE};
use super::scan::Splitter;
use super::store::{Record, Stored};
use crate::time::rfc3339;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What verifying a file found: the rows it holds, or why it is corrupt.
pub fn check(record: &Record, stored: &Stored) -> Result<i64, String> {
    match stored {
        Stored::Damaged(why) => Err(why.clone()),
        Stored::Whole(file) => check_file(record, file),
    }
}

/// What verifying `file` against `record` found (see [`check`]).
pub fn check_file(record: &Record, file: &[u8]) -> Result<i64, String> {
    if file.len() as i64 != record.bytes {
        return Err(format!(
            "the file has {} bytes, the manifest says {}",
            file.len(),
            record.bytes
        ));
    }
    let digest = crate::hex(&Sha256::digest(file));
    if digest != record.sha256 {
        return Err(format!(
            "SHA-256 is {digest}, the manifest says {}",
            record.sha256
        ));
    }
    let mut tally = Tally::default();
    let mut splitter = Splitter::default();
    let raw_bytes = splitter.feed_gzip(file, &mut |s| tally.statement(s))?;
    let preamble = String::from_utf8_lossy(splitter.preamble()).into_owned();
    splitter.finish()?;
    if raw_bytes != record.raw_bytes {
        return Err(format!(
            "the SQL text has {raw_bytes} bytes, the manifest says {}",
            record.raw_bytes
        ));
    }
    check_header(record, &preamble)?;
    tally.check(&record.tables)
}

fn check_header(record: &Record, preamble: &str) -> Result<(), String> {
    if record.format_version > FORMAT_VERSION {
        return Err(format!(
            "written in format version {}, this build reads up to {FORMAT_VERSION}",
            record.format_version
        ));
    }
    let header = Header::parse(preamble)?;
    let expected = Header {
        format_version: record.format_version,
        schema_version: record.schema_version,
        created_at: rfc3339(record.created_ms),
        backup_id: record.id.clone(),
    };
    if header != expected {
        return Err(format!(
            "the header says {header:?}, the manifest says {expected:?}"
        ));
    }
    Ok(())
}

/// What the statements of a dump add up to.
#[derive(Default)]
struct Tally {
    statements: usize,
    /// The first statements, to check the prologue.
    first: Vec<Vec<u8>>,
    /// The last statement seen.
    last: Vec<u8>,
    /// Row statements per table.
    rows: BTreeMap<String, i64>,
    /// The first statement that is not something this format writes.
    problem: Option<String>,
}

impl Tally {
    fn statement(&mut self, stmt: &[u8]) {
        self.statements += 1;
        if self.first.len() < PROLOGUE.len() {
            self.first.push(stmt.to_vec());
        }
        self.last.clear();
        self.last.extend_from_slice(stmt);
        if let Some(rest) = stmt.strip_prefix(INSERT_PREFIX.as_bytes()) {
            match quoted_name(rest) {
                Some(table) => *self.rows.entry(table).or_insert(0) += 1,
                None => self.flag(stmt, "an INSERT whose table name cannot be read"),
            }
        } else if stmt.len() >= 6 && stmt[..6].eq_ignore_ascii_case(b"INSERT") {
            self.flag(stmt, "an INSERT not written by this format");
        }
    }

    fn flag(&mut self, stmt: &[u8], what: &str) {
        if self.problem.is_none() {
            let start = String::from_utf8_lossy(&stmt[..stmt.len().min(60)]).into_owned();
            self.problem = Some(format!("statement {} is {what}: {start}…", self.statements));
        }
    }

    fn check(self, expected: &BTreeMap<String, i64>) -> Result<i64, String> {
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        for (i, want) in PROLOGUE.iter().enumerate() {
            if self.first.get(i).map(Vec::as_slice) != Some(want.as_bytes()) {
                return Err(format!("statement {} is not `{want}`", i + 1));
            }
        }
        if self.last != EPILOGUE.as_bytes() {
            return Err(format!("the dump does not end with `{EPILOGUE}`"));
        }
        for (table, want) in expected {
            let got = self.rows.get(table).copied().unwrap_or(0);
            if got != *want {
                return Err(format!(
                    "`{table}` has {got} rows, the manifest says {want}"
                ));
            }
        }
        if let Some(table) = self.rows.keys().find(|t| !expected.contains_key(*t)) {
            return Err(format!(
                "rows for `{table}`, which the manifest does not list"
            ));
        }
        Ok(self.rows.values().sum())
    }
}

/// The identifier at the start of `rest`, which follows an opening `"`:
/// up to the next lone `"`, with `""` read as `"`.
fn quoted_name(rest: &[u8]) -> Option<String> {
    let mut name = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        match (rest[i], rest.get(i + 1)) {
            (b'"', Some(b'"')) => {
                name.push(b'"');
                i += 2;
            }
            (b'"', _) => return String::from_utf8(name).ok(),
            (b, _) => {
                name.push(b);
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_names_unescape_doubled_quotes() {
        assert_eq!(quoted_name(b"jobs\" VALUES(1);").as_deref(), Some("jobs"));
        assert_eq!(quoted_name(b"a\"\"b\" VALUES(1);").as_deref(), Some("a\"b"));
        assert_eq!(quoted_name(b"never closed"), None);
    }

    #[test]
    fn the_tally_checks_framing_and_counts() {
        let mut t = Tally::default();
        for s in [
            "PRAGMA foreign_keys=OFF;",
            "BEGIN TRANSACTION;",
            "INSERT INTO \"a\" VALUES(1);",
            "INSERT INTO \"a\" VALUES(2);",
            "COMMIT;",
        ] {
            t.statement(s.as_bytes());
        }
        let expected = BTreeMap::from([("a".to_string(), 2), ("b".to_string(), 0)]);
        assert_eq!(t.check(&expected), Ok(2));

        let mut short = Tally::default();
        short.statement(b"PRAGMA foreign_keys=OFF;");
        short.statement(b"BEGIN TRANSACTION;");
        short.statement(b"INSERT INTO \"a\" VALUES(1);");
        assert!(short
            .check(&BTreeMap::from([("a".to_string(), 1)]))
            .is_err());

        let mut foreign = Tally::default();
        foreign.statement(b"insert into a values(1);");
        assert!(foreign.check(&BTreeMap::new()).is_err());
    }
}
