//! The SQL port: SQLite (Spin's `default` database; rusqlite natively).
//!
//! One statement per call, positional parameters (`?1`, `?2`, ...), rows of
//! dynamically typed values, exactly like Spin's `sqlite` interface. A
//! connection is a connection: `BEGIN IMMEDIATE` ... `COMMIT` through
//! [`crate::db::transaction`] is a real transaction.

use crate::error::{Error, Result};
use std::fmt;

/// A SQLite value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// NULL.
    Null,
    /// INTEGER.
    Integer(i64),
    /// REAL.
    Real(f64),
    /// TEXT.
    Text(String),
    /// BLOB.
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Integer(v as i64)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Integer(v as i64)
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::Integer(v as i64)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Integer(v as i64)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(Value::Null)
    }
}

/// Build a parameter slice: `params![id, "queued", 3]`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[$crate::ports::db::Value] };
    ($($v:expr),+ $(,)?) => { &[$($crate::ports::db::Value::from($v)),+] as &[$crate::ports::db::Value] };
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The values, in column order.
    pub values: Vec<Value>,
}

impl Row {
    fn at(&self, idx: usize) -> Result<&Value> {
        self.values
            .get(idx)
            .ok_or_else(|| Error::internal(format!("row has no column {idx}")))
    }

    /// Column `idx` as an integer.
    pub fn i64(&self, idx: usize) -> Result<i64> {
        match self.at(idx)? {
            Value::Integer(v) => Ok(*v),
            other => Err(type_error(idx, "integer", other)),
        }
    }

    /// Column `idx` as an integer, NULL as `None`.
    pub fn opt_i64(&self, idx: usize) -> Result<Option<i64>> {
        match self.at(idx)? {
            Value::Null => Ok(None),
            Value::Integer(v) => Ok(Some(*v)),
            other => Err(type_error(idx, "integer or null", other)),
        }
    }

    /// Column `idx` as a float (integers widen).
    pub fn f64(&self, idx: usize) -> Result<f64> {
        match self.at(idx)? {
            Value::Real(v) => Ok(*v),
            Value::Integer(v) => Ok(*v as f64),
            other => Err(type_error(idx, "real", other)),
        }
    }

    /// Column `idx` as text.
    pub fn text(&self, idx: usize) -> Result<String> {
        match self.at(idx)? {
            Value::Text(v) => Ok(v.clone()),
            other => Err(type_error(idx, "text", other)),
        }
    }

    /// Column `idx` as text, NULL as `None`.
    pub fn opt_text(&self, idx: usize) -> Result<Option<String>> {
        match self.at(idx)? {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v.clone())),
            other => Err(type_error(idx, "text or null", other)),
        }
    }

    /// Column `idx` as a boolean stored as 0/1.
    pub fn bool(&self, idx: usize) -> Result<bool> {
        Ok(self.i64(idx)? != 0)
    }
}

fn type_error(idx: usize, want: &str, got: &Value) -> Error {
    Error::internal(format!("column {idx}: expected {want}, found {got:?}"))
}

/// The result of one statement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    /// Column names.
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<Row>,
}

impl Rows {
    /// The first row, if any.
    pub fn first(&self) -> Option<&Row> {
        self.rows.first()
    }
}

/// A database failure, classified so callers can react (retry on busy,
/// conflict on a constraint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbError {
    /// Another connection holds the lock (SQLITE_BUSY / "database is locked").
    Busy(String),
    /// A UNIQUE, CHECK, NOT NULL or FOREIGN KEY constraint failed.
    Constraint(String),
    /// The component may not use this database (not in `sqlite_databases`).
    AccessDenied,
    /// No such database is configured.
    NoSuchDatabase,
    /// A table or column is missing inside a transaction: the schema is
    /// behind this build (the transaction is retried after migrating).
    SchemaOutdated(String),
    /// Anything else.
    Other(String),
}

impl DbError {
    /// Whether this error means a table or column this build expects is
    /// missing (the schema is behind).
    pub fn is_missing_schema(&self) -> bool {
        match self {
            DbError::Other(m) | DbError::SchemaOutdated(m) => {
                m.contains("no such table") || m.contains("no such column")
            }
            _ => false,
        }
    }

    /// Classify a SQLite error message. Spin passes errors as text, so both
    /// adapters classify by SQLite's own wording.
    pub fn from_message(message: String) -> Self {
        let m = message.to_ascii_lowercase();
        if m.contains("database is locked")
            || m.contains("database table is locked")
            || m.contains("sqlite_busy")
        {
            DbError::Busy(message)
        } else if m.contains("constraint failed") {
            DbError::Constraint(message)
        } else {
            DbError::Other(message)
        }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Busy(m) => write!(f, "database busy: {m}"),
            DbError::Constraint(m) => write!(f, "constraint: {m}"),
            DbError::AccessDenied => f.write_str("access to the database was denied"),
            DbError::NoSuchDatabase => f.write_str("no such database"),
            DbError::SchemaOutdated(m) => write!(f, "schema behind this build: {m}"),
            DbError::Other(m) => f.write_str(m),
        }
    }
}

impl From<DbError> for Error {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Busy(_) => {
                let mut err =
                    Error::unavailable("database_busy", "the database is busy; retry shortly");
                err.retry_after = Some(1);
                err
            }
            DbError::SchemaOutdated(m) => {
                let mut err = Error::unavailable(
                    "schema_outdated",
                    format!("the database schema is being updated ({m}); retry"),
                );
                err.retry_after = Some(1);
                err
            }
            other => Error::internal(format!("database: {other}")),
        }
    }
}

/// A SQL connection.
pub trait Db {
    /// Run one statement with positional parameters and return its rows.
    fn execute(&self, sql: &str, params: &[Value]) -> std::result::Result<Rows, DbError>;
}

/// Conveniences every [`Db`] gets.
pub trait DbExt: Db {
    /// Run a statement, mapping errors to [`Error`].
    fn exec(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        Ok(self.execute(sql, params)?)
    }
    /// The first row of a statement, if any.
    fn query_opt(&self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        Ok(self.execute(sql, params)?.rows.into_iter().next())
    }
    /// The first row of a statement, which must exist.
    fn query_one(&self, sql: &str, params: &[Value]) -> Result<Row> {
        self.query_opt(sql, params)?
            .ok_or_else(|| Error::internal(format!("expected a row from: {sql}")))
    }
}

impl<T: Db + ?Sized> DbExt for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_messages_are_classified() {
        assert!(matches!(
            DbError::from_message("database is locked".into()),
            DbError::Busy(_)
        ));
        assert!(matches!(
            DbError::from_message("UNIQUE constraint failed: jobs.id".into()),
            DbError::Constraint(_)
        ));
        assert!(matches!(
            DbError::from_message("no such table: x".into()),
            DbError::Other(_)
        ));
    }

    #[test]
    fn busy_maps_to_503_with_retry_after() {
        let e: Error = DbError::Busy("database is locked".into()).into();
        assert_eq!(e.status(), 503);
        assert_eq!(e.retry_after, Some(1));
    }

    #[test]
    fn rows_are_typed() {
        let row = Row {
            values: vec![Value::Integer(3), Value::Text("a".into()), Value::Null],
        };
        assert_eq!(row.i64(0).unwrap(), 3);
        assert_eq!(row.text(1).unwrap(), "a");
        assert_eq!(row.opt_text(2).unwrap(), None);
        assert!(row.text(0).is_err());
        assert!(row.i64(9).is_err());
    }
}
