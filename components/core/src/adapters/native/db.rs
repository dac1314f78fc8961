use crate::error::Result;
use crate::ports::{Db, DbError, Row, Rows, Value};
use rusqlite::types::ValueRef;
use std::path::Path;
use std::sync::Mutex;

/// Real SQLite through rusqlite: one connection, prepared like a Spin one
/// (busy timeout, pragmas) when opened, and migrated the same way: when a
/// statement first meets a missing table (or by an explicit
/// `migrate::ensure_current`).
pub struct SqliteDb {
    conn: Mutex<rusqlite::Connection>,
    in_tx: std::sync::Mutex<std::cell::Cell<bool>>,
}

/// The bare connection: busy statements retried, nothing else.
struct Raw<'a>(&'a SqliteDb);

impl Db for Raw<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> std::result::Result<Rows, DbError> {
        crate::db::retry_busy(|| self.0.run(sql, params))
    }
}

impl SqliteDb {
    /// Open (creating if needed) the database file at `path` and bring it up
    /// to date (eagerly: native callers expect the schema right away).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let conn = rusqlite::Connection::open(path)
            .map_err(|e| crate::Error::internal(format!("open database: {e}")))?;
        Self::prepared(conn)
    }

    /// A private in-memory database, brought up to date.
    pub fn open_in_memory() -> Result<Self> {
        let conn = rusqlite::Connection::open_in_memory()
            .map_err(|e| crate::Error::internal(format!("open database: {e}")))?;
        Self::prepared(conn)
    }

    /// Open without preparing (tests of the preparation itself).
    pub fn open_raw(path: impl AsRef<Path>) -> Result<Self> {
        let conn = rusqlite::Connection::open(path)
            .map_err(|e| crate::Error::internal(format!("open database: {e}")))?;
        Ok(SqliteDb {
            conn: Mutex::new(conn),
            in_tx: Default::default(),
        })
    }

    fn prepared(conn: rusqlite::Connection) -> Result<Self> {
        let db = SqliteDb {
            conn: Mutex::new(conn),
            in_tx: Default::default(),
        };
        crate::db::prepare(&db);
        crate::db::migrate::ensure_current(&db)?;
        Ok(db)
    }
}

fn to_sql(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Null => rusqlite::types::Value::Null,
        Value::Integer(i) => rusqlite::types::Value::Integer(*i),
        Value::Real(f) => rusqlite::types::Value::Real(*f),
        Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
        Value::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
    }
}

fn from_sql(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn err(e: rusqlite::Error) -> DbError {
    DbError::from_message(e.to_string())
}

impl Db for SqliteDb {
    fn execute(&self, sql: &str, params: &[Value]) -> std::result::Result<Rows, DbError> {
        let in_tx = self.in_tx.lock().unwrap_or_else(|p| p.into_inner());
        crate::db::guarded_execute(&Raw(self), &in_tx, sql, params)
    }
}

impl SqliteDb {
    fn run(&self, sql: &str, params: &[Value]) -> std::result::Result<Rows, DbError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn.prepare_cached(sql).map_err(err)?;
        let columns: Vec<String> = stmt.column_names().map(String::from).collect();
        let n = columns.len();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter().map(to_sql)))
            .map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(from_sql(row.get_ref(i).map_err(err)?));
            }
            out.push(Row { values });
        }
        Ok(Rows { columns, rows: out })
    }
}
