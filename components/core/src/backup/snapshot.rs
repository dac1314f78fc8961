//! One consistent read of the whole database, streamed into a compressed
//! dump.
//!
//! Everything is read inside one read transaction (`BEGIN` … `COMMIT` on
//! the env's connection): in WAL mode that pins one snapshot of the
//! database for every statement until the commit, while writers on other
//! connections carry on. Tables are read in pages of [`PAGE_ROWS`] rows by
//! keyset (`WHERE key > last ORDER BY key`), never by OFFSET, so each page
//! costs the same however deep into a large table it is.

use super::digest::TableDigest;
use super::dump::{ident, DumpWriter, Header, FORMAT_VERSION};
use super::schema::{self, Schema, Table, SEQUENCE_TABLE};
use crate::db::read_transaction;
use crate::error::{Error, Result};
use crate::ports::{Db, DbExt, Value};
use crate::time::rfc3339;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::collections::BTreeMap;

/// Rows read per statement.
pub const PAGE_ROWS: usize = 500;

/// The rows of each backed-up table, counted (the plan of a backup).
pub fn counts(db: &dyn Db, schema: &Schema) -> Result<BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for table in schema
        .tables
        .iter()
        .filter(|t| t.contents == schema::Contents::Rows)
    {
        out.insert(table.name.clone(), count(db, table)?);
    }
    if let Some(seq) = &schema.sequence {
        let n = count(db, seq)?;
        if n > 0 {
            out.insert(seq.name.clone(), n);
        }
    }
    Ok(out)
}

fn count(db: &dyn Db, table: &Table) -> Result<i64> {
    db.query_one(&format!("SELECT COUNT(*) FROM {}", table.qualified), &[])?
        .i64(0)
}

/// Call `f` with every row of `table` (its insertable columns, in order),
/// page by page in key order; returns how many rows there were.
pub fn each_row(
    db: &dyn Db,
    table: &Table,
    mut f: impl FnMut(&[Value]) -> Result<()>,
) -> Result<i64> {
    let keys = table.key.join(", ");
    let columns = table
        .columns
        .iter()
        .map(|c| ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let from = &table.qualified;
    let placeholders = (1..=table.key.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let first = format!("SELECT {keys}, {columns} FROM {from} ORDER BY {keys} LIMIT {PAGE_ROWS}");
    let next = format!(
        "SELECT {keys}, {columns} FROM {from} WHERE ({keys}) > ({placeholders}) ORDER BY {keys} LIMIT {PAGE_ROWS}"
    );
    let width = table.key.len() + table.columns.len();
    let mut after: Option<Vec<Value>> = None;
    let mut total = 0i64;
    loop {
        let page = match &after {
            None => db.exec(&first, &[])?,
            Some(key) => db.exec(&next, key)?,
        };
        for row in &page.rows {
            if row.values.len() != width {
                return Err(Error::internal(format!(
                    "backup: `{}` returned {} columns, expected {width}",
                    table.name,
                    row.values.len()
                )));
            }
            f(&row.values[table.key.len()..])?;
        }
        total += page.rows.len() as i64;
        match page.rows.last() {
            Some(last) if page.rows.len() == PAGE_ROWS => {
                after = Some(last.values[..table.key.len()].to_vec());
            }
            _ => return Ok(total),
        }
    }
}

/// A dump, compressed, with what it holds.
#[derive(Debug, Clone)]
pub struct Dumped {
    /// The `.sql.gz` file.
    pub gz: Vec<u8>,
    /// Its size uncompressed.
    pub raw_bytes: i64,
    /// Rows per backed-up table.
    pub tables: BTreeMap<String, i64>,
    /// Content hash per backed-up table ([`super::digest`]).
    pub hashes: BTreeMap<String, String>,
    /// The snapshot's schema version.
    pub schema_version: i64,
}

/// Dump the database as backup `backup_id` started at `created_ms`: one
/// read transaction, rows streamed into a gzip encoder so memory holds the
/// compressed output and one page of rows, not the raw dump.
pub fn dump(db: &dyn Db, backup_id: &str, created_ms: i64) -> Result<Dumped> {
    let (gz, raw_bytes, (tables, hashes), schema_version) = read_transaction(db, |db| {
        let schema = schema::read(db)?;
        let mut w = DumpWriter::new(GzEncoder::new(Vec::new(), Compression::default()));
        w.begin(&Header {
            format_version: FORMAT_VERSION,
            schema_version: schema.schema_version,
            created_at: rfc3339(created_ms),
            backup_id: backup_id.to_string(),
        })?;
        let contents = write_tables(db, &schema, &mut w)?;
        for sql in &schema.objects {
            w.schema(sql)?;
        }
        w.commit(schema.user_version)?;
        let (encoder, raw_bytes) = w.finish();
        Ok((encoder, raw_bytes, contents, schema.schema_version))
    })?;
    let gz = gz
        .finish()
        .map_err(|e| Error::internal(format!("backup: compressing the dump failed: {e}")))?;
    Ok(Dumped {
        gz,
        raw_bytes: raw_bytes as i64,
        tables,
        hashes,
        schema_version,
    })
}

/// Rows and content hash per table.
pub type TableContents = (BTreeMap<String, i64>, BTreeMap<String, String>);

/// Every table's `CREATE TABLE` and rows, then the AUTOINCREMENT counters
/// (after the rows, whose inserts move them, as `sqlite3 .dump` does).
/// Returns rows and content hash per table.
fn write_tables<W: std::io::Write>(
    db: &dyn Db,
    schema: &Schema,
    w: &mut DumpWriter<W>,
) -> Result<TableContents> {
    let mut tables = BTreeMap::new();
    let mut hashes = BTreeMap::new();
    for table in &schema.tables {
        w.schema(&table.create_sql)?;
        if table.contents == schema::Contents::Rows {
            let columns = table.insert_columns();
            let mut digest = TableDigest::default();
            let n = each_row(db, table, |values| {
                digest.add(values);
                w.insert(&table.name, columns, values)
            })?;
            tables.insert(table.name.clone(), n);
            hashes.insert(table.name.clone(), digest.finish());
        }
    }
    if let Some(seq) = &schema.sequence {
        let mut cleared = false;
        let mut digest = TableDigest::default();
        let n = each_row(db, seq, |values| {
            if !cleared {
                w.statement(&format!("DELETE FROM {}", ident(SEQUENCE_TABLE)))?;
                cleared = true;
            }
            digest.add(values);
            w.insert(SEQUENCE_TABLE, None, values)
        })?;
        if n > 0 {
            tables.insert(SEQUENCE_TABLE.to_string(), n);
            hashes.insert(SEQUENCE_TABLE.to_string(), digest.finish());
        }
    }
    Ok((tables, hashes))
}

/// Rows and content hash of each table of `schema` whose rows a backup
/// holds (as [`write_tables`] computes them while dumping): what a restored
/// copy is compared with.
pub fn digests(db: &dyn Db, schema: &Schema) -> Result<TableContents> {
    let mut tables = BTreeMap::new();
    let mut hashes = BTreeMap::new();
    let rows = schema
        .tables
        .iter()
        .filter(|t| t.contents == schema::Contents::Rows);
    for table in rows.chain(schema.sequence.iter()) {
        let mut digest = TableDigest::default();
        let n = each_row(db, table, |values| {
            digest.add(values);
            Ok(())
        })?;
        if n > 0 || table.name != SEQUENCE_TABLE {
            tables.insert(table.name.clone(), n);
            hashes.insert(table.name.clone(), digest.finish());
        }
    }
    Ok((tables, hashes))
}
