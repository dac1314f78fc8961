use crate::ports::{Db, DbError, Row, Rows, Value};
use spin_sdk::sqlite::{Connection, Error as SqlError, Value as SqlValue};
use std::cell::{Cell, OnceCell};

/// Spin's `default` SQLite database (`fermyon:spin/sqlite@2.0.0`, which
/// every Spin 2+ host provides), opened and prepared on first use.
#[derive(Default)]
pub struct SpinDb {
    conn: OnceCell<Connection>,
    ready: Cell<bool>,
}

/// The bare connection, for preparing it.
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
    let result = conn.execute(sql, &params).map_err(err)?;
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
        let conn = match self.conn.get() {
            Some(c) => c,
            None => {
                let c = Connection::open_default().map_err(err)?;
                self.conn.get_or_init(|| c)
            }
        };
        if !self.ready.get() {
            crate::db::prepare(&Raw(conn)).map_err(|e| DbError::Other(e.message))?;
            self.ready.set(true);
        }
        Ok(conn)
    }
}

impl Db for SpinDb {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        run(self.conn()?, sql, params)
    }
}
