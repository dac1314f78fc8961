//! Restoring a backup into a scratch database on the same connection and
//! comparing it with its manifest: the check behind `POST /api/dr/restore`
//! and the DR drill.
//!
//! The scratch database is `ATTACH DATABASE '' AS dr_scratch`: SQLite's
//! private temporary file for this connection, deleted when it is
//! detached. Nothing of the live database is written. The dump is not
//! handed to SQLite as text: schema statements are accepted only in the
//! shapes [`super::dump`] writes and qualified with the scratch schema,
//! rows are parsed strictly ([`super::parse`]) and bound as parameters, and
//! anything else fails the restore. Views and triggers are not recreated
//! in scratch (the rows are already there; they would never fire) and are
//! counted as skipped; indexes are built, so UNIQUE constraints are
//! checked against the restored rows.
//!
//! The comparison reads the scratch tables back in key order and hashes
//! them exactly as the snapshot was hashed ([`super::digest`]): equal row
//! counts and hashes per table mean the restored database holds what the
//! live one held when the backup was taken.

use super::dump::{EPILOGUE, INSERT_PREFIX, PROLOGUE};
use super::model::{RestoreCheck, TableCheck};
use super::scan::Splitter;
use super::schema::{self, qualify};
use super::snapshot;
use super::store::Record;
use crate::db::retry_busy;
use crate::error::Result;
use crate::ports::{Db, DbError, DbExt};

/// The scratch database's schema name.
pub const SCRATCH: &str = "dr_scratch";
/// The longest statement a restore accepts (a row of a 64 MiB value).
const MAX_STATEMENT: usize = 64 * 1024 * 1024;

/// The check of `record` before (or without) a restore: nothing restored,
/// failed with `error` when given.
pub fn unrestored(record: &Record, error: Option<String>) -> RestoreCheck {
    RestoreCheck {
        backup_id: record.id.clone(),
        ok: false,
        schema_version: record.schema_version,
        restored_schema_version: None,
        rows: 0,
        indexes: 0,
        views_and_triggers_skipped: 0,
        hashes_recorded: !record.table_hashes.is_empty(),
        tables: Vec::new(),
        error,
    }
}

/// What loading a dump into scratch did.
#[derive(Debug, Default)]
struct Loaded {
    rows: i64,
    indexes: i64,
    skipped: i64,
}

/// Restore `record`'s verified file `gz` into scratch and compare it with
/// the manifest. Database errors of the live connection are errors; a file
/// that does not restore or does not match is a failed check.
pub fn check(db: &dyn Db, record: &Record, gz: &[u8]) -> Result<RestoreCheck> {
    // A scratch database left attached (a call that died between attach
    // and detach on this connection) is dropped first.
    let _ = db.execute(&format!("DETACH DATABASE {SCRATCH}"), &[]);
    db.exec(&format!("ATTACH DATABASE '' AS {SCRATCH}"), &[])?;
    let outcome = load_and_compare(db, record, gz);
    if let Err(e) = db.execute(&format!("DETACH DATABASE {SCRATCH}"), &[]) {
        crate::log::warn("backup", &format!("detaching the scratch database: {e}"));
    }
    outcome
}

fn load_and_compare(db: &dyn Db, record: &Record, gz: &[u8]) -> Result<RestoreCheck> {
    let mut check = unrestored(record, None);
    db.exec("BEGIN", &[])?;
    let loaded = load(db, gz);
    let loaded = match loaded {
        Ok(loaded) => {
            db.exec("COMMIT", &[])?;
            loaded
        }
        Err(why) => {
            if let Err(e) = db.execute("ROLLBACK", &[]) {
                crate::log::warn("backup", &format!("rolling back scratch: {e}"));
            }
            check.error = Some(why);
            return Ok(check);
        }
    };
    check.rows = loaded.rows;
    check.indexes = loaded.indexes;
    check.views_and_triggers_skipped = loaded.skipped;
    let scratch = match schema::read_in(db, SCRATCH) {
        Ok(s) => s,
        Err(e) => {
            check.error = Some(format!("the restored schema cannot be read: {}", e.message));
            return Ok(check);
        }
    };
    check.restored_schema_version = Some(scratch.schema_version);
    let (rows, hashes) = snapshot::digests(db, &scratch)?;
    for (table, want) in &record.tables {
        let got = rows.get(table).copied();
        let expected_sha256 = record.table_hashes.get(table).cloned();
        let restored_sha256 = hashes.get(table).cloned();
        let ok =
            got == Some(*want) && (expected_sha256.is_none() || expected_sha256 == restored_sha256);
        check.tables.push(TableCheck {
            table: table.clone(),
            expected_rows: *want,
            restored_rows: got,
            expected_sha256,
            restored_sha256,
            ok,
        });
    }
    let mismatched: Vec<&str> = check
        .tables
        .iter()
        .filter(|t| !t.ok)
        .map(|t| t.table.as_str())
        .collect();
    let extra: Vec<&String> = rows
        .iter()
        .filter(|(t, n)| **n > 0 && !record.tables.contains_key(*t))
        .map(|(t, _)| t)
        .collect();
    check.error = if !mismatched.is_empty() {
        Some(format!(
            "restored rows differ from the manifest in {}",
            mismatched.join(", ")
        ))
    } else if let Some(t) = extra.first() {
        Some(format!(
            "the restore holds rows of `{t}`, which the manifest does not list"
        ))
    } else if scratch.schema_version != record.schema_version {
        Some(format!(
            "the restore is at schema version {}, the manifest says {}",
            scratch.schema_version, record.schema_version
        ))
    } else {
        None
    };
    check.ok = check.error.is_none();
    Ok(check)
}

/// Run the dump's statements into scratch; the reason when it does not
/// restore.
fn load(db: &dyn Db, gz: &[u8]) -> std::result::Result<Loaded, String> {
    let mut loaded = Loaded::default();
    let mut problem: Option<String> = None;
    let mut splitter = Splitter::keeping(MAX_STATEMENT);
    let mut count = 0usize;
    // After the first problem the rest is only read through, not run.
    splitter.feed_gzip(gz, &mut |stmt| {
        if problem.is_some() {
            return;
        }
        count += 1;
        if let Err(why) = statement(db, stmt, &mut loaded) {
            let start = String::from_utf8_lossy(&stmt[..stmt.len().min(60)]).into_owned();
            problem = Some(format!("statement {count} ({start}…): {why}"));
        }
    })?;
    if let Some(why) = problem {
        return Err(why);
    }
    splitter.finish()?;
    Ok(loaded)
}

/// One statement of the dump, into scratch.
fn statement(db: &dyn Db, stmt: &[u8], loaded: &mut Loaded) -> std::result::Result<(), String> {
    if stmt.len() >= MAX_STATEMENT {
        return Err(format!("longer than {MAX_STATEMENT} bytes"));
    }
    let text = std::str::from_utf8(stmt).map_err(|_| "not UTF-8".to_string())?;
    let framing = PROLOGUE.contains(&text) || text == EPILOGUE;
    if framing || text.starts_with("PRAGMA user_version=") {
        // The scratch load is its own transaction; the marker is not data.
        return Ok(());
    }
    if text.starts_with(INSERT_PREFIX) {
        let row = super::parse::insert(stmt)?;
        let columns = row.columns.as_ref().map(|cols| {
            let named: Vec<String> = cols.iter().map(|c| super::dump::ident(c)).collect();
            format!("({})", named.join(","))
        });
        let placeholders: Vec<String> = (1..=row.values.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {}{} VALUES({})",
            qualify(SCRATCH, &row.table),
            columns.unwrap_or_default(),
            placeholders.join(",")
        );
        run(db, &sql, &row.values)?;
        loaded.rows += 1;
        return Ok(());
    }
    if text
        == format!(
            "DELETE FROM {};",
            super::dump::ident(schema::SEQUENCE_TABLE)
        )
    {
        return run(
            db,
            &format!("DELETE FROM {}", qualify(SCRATCH, schema::SEQUENCE_TABLE)),
            &[],
        );
    }
    let words: Vec<String> = text
        .split_whitespace()
        .take(3)
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["CREATE", "TABLE", ..] => {
            let sql = qualified_create(text, &["CREATE", "TABLE"], true)?;
            run(db, &sql, &[])
        }
        ["CREATE", "INDEX", ..] | ["CREATE", "UNIQUE", "INDEX"] => {
            let head: &[&str] = if words[1] == "UNIQUE" {
                &["CREATE", "UNIQUE", "INDEX"]
            } else {
                &["CREATE", "INDEX"]
            };
            let sql = qualified_create(text, head, false)?;
            run(db, &sql, &[])?;
            loaded.indexes += 1;
            Ok(())
        }
        ["CREATE", "VIEW" | "TRIGGER", ..] => {
            loaded.skipped += 1;
            Ok(())
        }
        _ => Err("not a statement this format writes".into()),
    }
}

fn run(db: &dyn Db, sql: &str, params: &[crate::ports::Value]) -> std::result::Result<(), String> {
    retry_busy(|| db.execute(sql, params))
        .map(|_| ())
        .map_err(|e: DbError| e.to_string())
}

/// `CREATE TABLE|[UNIQUE] INDEX [IF NOT EXISTS] name …` with the name
/// qualified by the scratch schema. The name must be one identifier (not
/// already qualified); a table must be followed by its column list (no
/// `AS SELECT`).
fn qualified_create(
    text: &str,
    head: &[&str],
    column_list: bool,
) -> std::result::Result<String, String> {
    let mut rest = text;
    for word in head {
        rest = rest.trim_start();
        rest = rest.get(word.len()..).ok_or("cut short")?;
    }
    rest = rest.trim_start();
    let upper = rest.to_ascii_uppercase();
    let mut norm = upper.split_whitespace();
    if norm.next() == Some("IF") && norm.next() == Some("NOT") && norm.next() == Some("EXISTS") {
        for _ in 0..3 {
            rest = rest.trim_start();
            let end = rest.find(char::is_whitespace).ok_or("cut short")?;
            rest = &rest[end..];
        }
        rest = rest.trim_start();
    }
    let name_len = identifier_len(rest).ok_or("the name is not an identifier")?;
    let after = rest[name_len..].trim_start();
    if after.starts_with('.') {
        return Err("the name is already qualified by a schema".into());
    }
    if column_list && !after.starts_with('(') {
        return Err("a table without a column list".into());
    }
    let at = text.len() - rest.len();
    Ok(format!(
        "{}{SCRATCH}.{}",
        &text[..at],
        &text[at..text.len() - 1]
    ))
}

/// The length of the identifier at the start of `s`: quoted (`"…"`,
/// `` `…` ``, `[…]`, with doubled closing quotes) or a bare word.
fn identifier_len(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let close = match bytes.first()? {
        b'"' => b'"',
        b'`' => b'`',
        b'[' => b']',
        b if b.is_ascii_alphabetic() || *b == b'_' || *b >= 0x80 => {
            let n = bytes
                .iter()
                .take_while(|b| {
                    b.is_ascii_alphanumeric() || **b == b'_' || **b == b'$' || **b >= 0x80
                })
                .count();
            return Some(n);
        }
        _ => return None,
    };
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i] == close {
            if close != b']' && bytes.get(i + 1) == Some(&close) {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_statements_are_qualified_with_scratch() {
        let t = |s: &str| qualified_create(s, &["CREATE", "TABLE"], true);
        assert_eq!(
            t("CREATE TABLE jobs (id TEXT);").unwrap(),
            "CREATE TABLE dr_scratch.jobs (id TEXT)"
        );
        assert_eq!(
            t("CREATE TABLE IF NOT EXISTS \"a b\"(x);").unwrap(),
            "CREATE TABLE IF NOT EXISTS dr_scratch.\"a b\"(x)"
        );
        assert_eq!(
            t("create table\n  [t]\n(x);").unwrap(),
            "create table\n  dr_scratch.[t]\n(x)"
        );
        assert!(t("CREATE TABLE main.users (x);").is_err());
        assert!(t("CREATE TABLE \"main\" . users (x);").is_err());
        assert!(t("CREATE TABLE x AS SELECT * FROM users;").is_err());
        let i = |s: &str| qualified_create(s, &["CREATE", "UNIQUE", "INDEX"], false);
        assert_eq!(
            i("CREATE UNIQUE INDEX u ON t (a);").unwrap(),
            "CREATE UNIQUE INDEX dr_scratch.u ON t (a)"
        );
    }
}
