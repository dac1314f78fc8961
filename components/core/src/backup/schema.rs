//! What a backup holds, read from the database itself: every table in
//! `sqlite_master` (so tables added by future migrations are backed up
//! without a change here), how to page through each, and the indexes,
//! views and triggers to recreate after the rows.

use super::dump::ident;
use super::EXCLUDED;
use crate::error::{Error, Result};
use crate::params;
use crate::ports::{Db, DbExt};

/// SQLite's AUTOINCREMENT counters: restored so ids are never reused.
pub const SEQUENCE_TABLE: &str = "sqlite_sequence";

/// Whether a table's rows are in the backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contents {
    /// Schema and rows.
    Rows,
    /// Schema only: the table is in [`EXCLUDED`].
    SchemaOnly,
}

/// One table to dump.
#[derive(Debug, Clone)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// How statements name it: quoted, and qualified by its schema when
    /// that is not `main` (a restore's scratch database).
    pub qualified: String,
    /// Its `CREATE TABLE` statement, as SQLite stored it (empty for
    /// `sqlite_sequence`, which SQLite creates itself).
    pub create_sql: String,
    /// The key that orders its rows for keyset paging, as SQL expressions:
    /// the rowid, or a WITHOUT ROWID table's primary key columns.
    pub key: Vec<String>,
    /// The columns that take a value on INSERT (generated ones do not).
    pub columns: Vec<String>,
    /// Whether some columns are generated: the INSERT then names its columns.
    pub has_generated: bool,
    /// Rows or schema only.
    pub contents: Contents,
}

impl Table {
    /// The columns to name in an INSERT, when they must be named.
    pub fn insert_columns(&self) -> Option<&[String]> {
        self.has_generated.then_some(self.columns.as_slice())
    }
}

/// The database's schema, as a backup writes it.
#[derive(Debug, Clone)]
pub struct Schema {
    /// Ordinary tables, in creation order.
    pub tables: Vec<Table>,
    /// `sqlite_sequence`, when the database has one.
    pub sequence: Option<Table>,
    /// Indexes, then views, then triggers (each after the rows, so triggers
    /// do not fire while rows are restored and indexes are built once).
    pub objects: Vec<String>,
    /// The highest version in `schema_migrations`.
    pub schema_version: i64,
    /// `PRAGMA user_version`.
    pub user_version: i64,
}

/// The reason `table`'s rows are not backed up, if they are not.
pub fn excluded(table: &str) -> Option<&'static str> {
    EXCLUDED
        .iter()
        .find(|(name, _)| *name == table)
        .map(|(_, why)| *why)
}

/// Whether a `CREATE TABLE` statement declares a WITHOUT ROWID table: the
/// words after its column list's closing parenthesis include `WITHOUT
/// ROWID` (table options may also say `STRICT`).
pub fn is_without_rowid(create_sql: &str) -> bool {
    let Some(close) = create_sql.rfind(')') else {
        return false;
    };
    let words: Vec<String> = create_sql[close + 1..]
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_uppercase())
        .collect();
    words
        .windows(2)
        .any(|w| w[0] == "WITHOUT" && w[1] == "ROWID")
}

/// The schema that holds the live database.
pub const MAIN: &str = "main";

/// `name` as statements in `schema` name it.
pub fn qualify(schema: &str, name: &str) -> String {
    if schema == MAIN {
        ident(name)
    } else {
        format!("{}.{}", ident(schema), ident(name))
    }
}

/// Read the live database's schema. Call inside the snapshot's read
/// transaction.
pub fn read(db: &dyn Db) -> Result<Schema> {
    read_in(db, MAIN)
}

/// Read the schema of database `schema` on this connection (`main`, or an
/// attached scratch database).
pub fn read_in(db: &dyn Db, schema: &str) -> Result<Schema> {
    let rows = db.exec(
        &format!(
            "SELECT name, sql FROM {} WHERE type = 'table' ORDER BY rowid",
            qualify(schema, "sqlite_master")
        ),
        &[],
    )?;
    let mut tables = Vec::new();
    let mut sequence = None;
    for row in &rows.rows {
        let name = row.text(0)?;
        let sql = row.opt_text(1)?.unwrap_or_default();
        if name == SEQUENCE_TABLE {
            sequence = Some(table(db, schema, name, String::new(), Contents::Rows)?);
        } else if name.starts_with("sqlite_") {
            // SQLite's internals (sqlite_stat1 and friends): rebuilt by
            // ANALYZE, not data.
            continue;
        } else {
            if sql
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("CREATE VIRTUAL")
            {
                return Err(Error::internal(format!(
                    "backup: virtual table `{name}` cannot be dumped as plain SQL"
                )));
            }
            let contents = match excluded(&name) {
                Some(_) => Contents::SchemaOnly,
                None => Contents::Rows,
            };
            tables.push(table(db, schema, name, sql, contents)?);
        }
    }
    Ok(Schema {
        objects: objects(db, schema)?,
        tables,
        sequence,
        schema_version: db
            .query_one(
                &format!(
                    "SELECT COALESCE(MAX(version), 0) FROM {}",
                    qualify(schema, "schema_migrations")
                ),
                &[],
            )?
            .i64(0)?,
        user_version: db
            .query_one(&format!("PRAGMA {}.user_version", ident(schema)), &[])?
            .i64(0)?,
    })
}

/// One table's columns and paging key.
fn table(
    db: &dyn Db,
    schema: &str,
    name: String,
    create_sql: String,
    contents: Contents,
) -> Result<Table> {
    let info = db.exec(
        "SELECT name, hidden, pk FROM pragma_table_xinfo(?1, ?2) ORDER BY cid",
        params![name.as_str(), schema],
    )?;
    let mut columns = Vec::new();
    let mut all = Vec::new();
    let mut pk: Vec<(i64, String)> = Vec::new();
    let mut has_generated = false;
    for row in &info.rows {
        let column = row.text(0)?;
        match row.i64(1)? {
            0 => columns.push(column.clone()),
            _ => has_generated = true,
        }
        if row.i64(2)? > 0 {
            pk.push((row.i64(2)?, column.clone()));
        }
        all.push(column);
    }
    if columns.is_empty() {
        return Err(Error::internal(format!(
            "backup: table `{name}` has no columns to back up"
        )));
    }
    let key = if is_without_rowid(&create_sql) {
        if pk.is_empty() {
            return Err(Error::internal(format!(
                "backup: WITHOUT ROWID table `{name}` has no primary key columns"
            )));
        }
        pk.sort();
        pk.into_iter().map(|(_, c)| ident(&c)).collect()
    } else {
        // A column may shadow a rowid alias; SQLite offers three.
        let alias = ["rowid", "_rowid_", "oid"]
            .into_iter()
            .find(|a| !all.iter().any(|c| c.eq_ignore_ascii_case(a)))
            .ok_or_else(|| {
                Error::internal(format!(
                    "backup: table `{name}` hides its rowid behind columns named rowid, _rowid_ and oid"
                ))
            })?;
        vec![alias.to_string()]
    };
    Ok(Table {
        qualified: qualify(schema, &name),
        name,
        create_sql,
        key,
        columns,
        has_generated,
        contents,
    })
}

/// The indexes, views and triggers to recreate, in that order. Objects
/// whose `sql` is NULL are SQLite's own (the automatic indexes of UNIQUE
/// and PRIMARY KEY constraints) and come back with their tables.
fn objects(db: &dyn Db, schema: &str) -> Result<Vec<String>> {
    let rows = db.exec(
        &format!(
            "SELECT sql FROM {}
             WHERE type IN ('index', 'view', 'trigger') AND sql IS NOT NULL
             ORDER BY CASE type WHEN 'index' THEN 0 WHEN 'view' THEN 1 ELSE 2 END, rowid",
            qualify(schema, "sqlite_master")
        ),
        &[],
    )?;
    rows.rows.iter().map(|row| row.text(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_rowid_is_read_from_the_table_options() {
        assert!(is_without_rowid(
            "CREATE TABLE t (a PRIMARY KEY) WITHOUT ROWID"
        ));
        assert!(is_without_rowid(
            "CREATE TABLE t (a PRIMARY KEY)\n  without   rowid"
        ));
        assert!(is_without_rowid(
            "CREATE TABLE t (a INT PRIMARY KEY) STRICT, WITHOUT ROWID"
        ));
        assert!(!is_without_rowid("CREATE TABLE t (a PRIMARY KEY)"));
        assert!(!is_without_rowid(
            "CREATE TABLE t (without_rowid INT, rowid_x INT)"
        ));
        assert!(!is_without_rowid(
            "CREATE TABLE t (note TEXT DEFAULT 'WITHOUT ROWID')"
        ));
        assert!(!is_without_rowid(""));
    }

    #[test]
    fn excluded_tables_carry_their_reason() {
        assert!(excluded("request_samples").is_some());
        assert!(excluded("jobs").is_none());
    }
}
