use crate::ports::{Db, DbError, Row, Rows, Value};
use spin_sdk::sqlite::{Connection, Error as SqlError, Value as SqlValue};
use std::cell::{Cell, OnceCell};

/// Spin's `default` SQLite database (`fermyon:spin/sqlite@2.0.0`, which
/// every Spin 2+ host provides), opened and prepared on first use.
#[derive(Default)]
pub struct SpinDb {
    conn: OnceCell<Connection>,
    in_tx: Cell<bool>,
}

/// The bare connection: busy statements retried, nothing else.
struct Raw<'a>(&'a Connection);

fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Integer(i) => SqlValue::Integer(*i),
        Value::Real(f) => SqlValue::Real(*f),
        Value::Text(s) => SqlValue::Text(s.clone()),
        Value::Blob(b) => SqlValue::Blob(b.clone()),
    }
}

fn from_sql(v: SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::Integer(i),
        SqlValue::Real(f) => Value::Real(f),
        SqlValue::Text(s) => Value::Text(s),
        SqlValue::Blob(b) => Value::Blob(b),
    }
}

fn err(e: SqlError) -> DbError {
    match e {
        SqlError::AccessDenied => DbError::AccessDenied,
        SqlError::NoSuchDatabase => DbError::NoSuchDatabase,
        SqlError::Io(m) => DbError::from_message(m),
        other => DbError::Other(format!("{other:?}")),
    }
}

fn run(conn: &Connection, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
    let params: Vec<SqlValue> = params.iter().map(to_sql).collect();
    let result = crate::db::retry_busy(|| conn.execute(sql, &params).map_err(err))?;
    Ok(Rows {
        columns: result.columns,
        rows: result
            .rows
            .into_iter()
            .map(|r| Row {
                values: r.values.into_iter().map(from_sql).collect(),
            })
            .collect(),
    })
}

impl Db for Raw<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        run(self.0, sql, params)
    }
}

impl SpinDb {
    fn conn(&self) -> Result<&Connection, DbError> {
        if let Some(c) = self.conn.get() {
            return Ok(c);
        }
        let c = Connection::open_default().map_err(err)?;
        let c = self.conn.get_or_init(|| c);
        crate::db::prepare(&Raw(c));
        Ok(c)
    }
}

impl Db for SpinDb {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        crate::db::guarded_execute(&Raw(self.conn()?), &self.in_tx, sql, params)
    }
}
