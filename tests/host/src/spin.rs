//! Spin's host interfaces with Spin 4.0's semantics:
//! `fermyon:spin/key-value@2.0.0`, `fermyon:spin/sqlite@2.0.0`,
//! `spin:sqlite/sqlite@3.0.0`, `fermyon:spin/variables@2.0.0` and
//! `fermyon:spin/llm@2.0.0`.
//!
//! - Key-value: the `default` store lives in `<data_dir>/sqlite_key_value.db`,
//!   table `spin_key_value(store, key, value)`; one connection per host (per
//!   "process"), shared by its instances behind a mutex, as Spin's
//!   `key-value-spin` does. An undeclared label is `access-denied`.
//! - SQLite: the `default` database is `<data_dir>/sqlite_db.db`; every guest
//!   `open` makes a new connection (opened on first use, rusqlite defaults),
//!   statements are prepared, bound and collected as Spin's
//!   `sqlite-inproc` does; errors are `io(<SQLite's message>)`. An undeclared
//!   database is `access-denied`.
//! - Variables: the component's `variables` map, templates resolved against
//!   the application variables (overrides first, then defaults). Invalid
//!   names are `invalid-name`, names the component does not declare are
//!   `undefined`, with Spin's messages.
//! - LLM: a model not in the component's `ai_models` is `invalid-input` with
//!   Spin's message; the host has no local models, so an allowed one is a
//!   `runtime-error` (as `spin up` answers without model files).
//! - Process set-up: SQLite's memory statistics are switched off (see
//!   [`configure_sqlite_process`]), the one place the host's SQLite differs
//!   from Spin's.

use crate::state::StoreData;
use rusqlite::types::{Value as SqlValue, ValueRef};
use std::sync::{Arc, Mutex, OnceLock};
use wasmtime::component::{HasSelf, Linker, Resource};
use wasmtime::Result;

wasmtime::component::bindgen!({
    path: "wit",
    world: "echopilot:e2e-host/host",
    imports: { default: async | trappable },
    with: {
        "fermyon:spin/key-value.store": KvStore,
        "fermyon:spin/sqlite.connection": SqlConnection,
        "spin:sqlite/sqlite.connection": SqlConnection,
    },
});

use fermyon::spin::key_value as kv;
use fermyon::spin::llm;
use fermyon::spin::sqlite as sq2;
use fermyon::spin::variables as vars;
use spin::sqlite::sqlite as sq3;

/// Spin's limit on a host-buffered result (`MAX_HOST_BUFFERED_BYTES`).
pub const MAX_HOST_BUFFERED_BYTES: usize = 128 << 20;
/// Spin's per-instance resource table capacity for stores and connections.
const TABLE_CAPACITY: usize = 256;

/// Register every Spin interface.
pub fn add_to_linker(linker: &mut Linker<StoreData>) -> Result<()> {
    Host_::add_to_linker::<_, HasSelf<StoreData>>(linker, |s| s)?;
    Ok(())
}

/// Switch off SQLite's memory statistics (`SQLITE_CONFIG_MEMSTATUS`) for
/// this process, once, before its first connection.
///
/// With statistics on (SQLite's default, which Spin 4.0 keeps), every
/// allocation SQLite makes takes one process-wide mutex; a fresh connection
/// per request parses the schema through thousands of allocations, so under
/// 32 concurrent requests that mutex was the host's largest cost (about a
/// third of CPU time in futex wake-ups). Statistics change no result the app
/// can observe. `E2E_SQLITE_MEMSTATUS=1` keeps Spin's default, to measure
/// the difference (docs/PERFORMANCE.md).
pub fn configure_sqlite_process() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("E2E_SQLITE_MEMSTATUS").is_some_and(|v| v == "1") {
            return;
        }
        // SAFETY: `sqlite3_config` is only valid before SQLite initialises;
        // called later it returns SQLITE_MISUSE and changes nothing, which is
        // harmless (statistics simply stay on). No connection is open here
        // from this crate's side, and `Once` keeps it to one call.
        let rc =
            unsafe { rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0) };
        if rc != rusqlite::ffi::SQLITE_OK {
            eprintln!("e2e host: SQLite already initialised; memory statistics stay on");
        }
    });
}

/// An open key-value store.
pub struct KvStore {
    name: String,
    conn: Arc<Mutex<rusqlite::Connection>>,
}

/// An open SQLite connection (its rusqlite connection is made on first use).
pub struct SqlConnection {
    path: std::path::PathBuf,
    conn: OnceLock<Arc<Mutex<rusqlite::Connection>>>,
}

impl SqlConnection {
    fn db(&self) -> Result<Arc<Mutex<rusqlite::Connection>>, String> {
        if let Some(c) = self.conn.get() {
            return Ok(c.clone());
        }
        let c = rusqlite::Connection::open(&self.path).map_err(|e| e.to_string())?;
        Ok(self.conn.get_or_init(|| Arc::new(Mutex::new(c))).clone())
    }
}

/// The key-value connection of a host: `<data_dir>/sqlite_key_value.db`.
pub fn open_kv_db(path: &std::path::Path) -> Result<rusqlite::Connection, String> {
    let c = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
    c.execute(
        "CREATE TABLE IF NOT EXISTS spin_key_value (
                           store TEXT NOT NULL,
                           key   TEXT NOT NULL,
                           value BLOB NOT NULL,

                           PRIMARY KEY (store, key)
                        )",
        [],
    )
    .map_err(|e| e.to_string())?;
    Ok(c)
}

fn kv_other(e: impl std::fmt::Display) -> kv::Error {
    kv::Error::Other(e.to_string())
}

impl StoreData {
    fn kv_store(
        &self,
        r: &Resource<KvStore>,
    ) -> Result<(String, Arc<Mutex<rusqlite::Connection>>)> {
        let s = self.table.get(r)?;
        Ok((s.name.clone(), s.conn.clone()))
    }

    fn sql_conn(&self, r: u32) -> Result<Arc<SqlConnection>, sq3::Error> {
        self.sql_conns
            .get(&r)
            .cloned()
            .ok_or(sq3::Error::InvalidConnection)
    }

    fn sql_open(&mut self, database: String) -> Result<u32, sq3::Error> {
        if !self.component.sqlite_databases.contains(&database) {
            return Err(sq3::Error::AccessDenied);
        }
        if database != "default" {
            return Err(sq3::Error::NoSuchDatabase);
        }
        if self.sql_conns.len() >= TABLE_CAPACITY {
            return Err(sq3::Error::Io("too many connections opened".to_string()));
        }
        self.next_conn += 1;
        let rep = self.next_conn;
        self.sql_conns.insert(
            rep,
            Arc::new(SqlConnection {
                path: self.shared.sqlite_path(),
                conn: OnceLock::new(),
            }),
        );
        Ok(rep)
    }
}

fn to_sql(v: sq3::Value) -> SqlValue {
    match v {
        sq3::Value::Null => SqlValue::Null,
        sq3::Value::Integer(i) => SqlValue::Integer(i),
        sq3::Value::Real(r) => SqlValue::Real(r),
        sq3::Value::Text(t) => SqlValue::Text(t),
        sq3::Value::Blob(b) => SqlValue::Blob(b),
    }
}

fn value_size(v: &sq3::Value) -> usize {
    std::mem::size_of::<sq3::Value>()
        + match v {
            sq3::Value::Text(t) => t.len(),
            sq3::Value::Blob(b) => b.len(),
            _ => 0,
        }
}

/// Prepare, bind, collect: what Spin's in-process SQLite does per statement.
fn run_query(
    conn: &Mutex<rusqlite::Connection>,
    query: &str,
    params: Vec<sq3::Value>,
) -> Result<sq3::QueryResult, sq3::Error> {
    let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
    let io = |e: rusqlite::Error| sq3::Error::Io(e.to_string());
    let mut stmt = conn.prepare_cached(query).map_err(io)?;
    let columns: Vec<String> = stmt.column_names().map(String::from).collect();
    let ncols = columns.len();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params.into_iter().map(to_sql)))
        .map_err(io)?;
    let mut out = Vec::new();
    let mut bytes = std::mem::size_of::<sq3::QueryResult>();
    while let Some(row) = rows.next().map_err(io)? {
        let mut values = Vec::with_capacity(ncols);
        for i in 0..ncols {
            let v = match row.get_ref(i).map_err(io)? {
                ValueRef::Null => sq3::Value::Null,
                ValueRef::Integer(i) => sq3::Value::Integer(i),
                ValueRef::Real(f) => sq3::Value::Real(f),
                ValueRef::Text(t) => sq3::Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => sq3::Value::Blob(b.to_vec()),
            };
            values.push(v);
        }
        bytes += values.iter().map(value_size).sum::<usize>();
        if bytes > MAX_HOST_BUFFERED_BYTES {
            return Err(sq3::Error::Io(format!(
                "query result exceeds limit of {MAX_HOST_BUFFERED_BYTES} bytes"
            )));
        }
        out.push(sq3::RowResult { values });
    }
    Ok(sq3::QueryResult { columns, rows: out })
}

async fn execute(
    conn: Arc<SqlConnection>,
    query: String,
    params: Vec<sq3::Value>,
) -> Result<sq3::QueryResult, sq3::Error> {
    tokio::task::spawn_blocking(move || {
        let db = conn.db().map_err(sq3::Error::Io)?;
        run_query(&db, &query, params)
    })
    .await
    .map_err(|e| sq3::Error::Io(format!("internal runtime error: {e}")))?
}

// ------------------------------------------------------------ key-value --

impl kv::Host for StoreData {}

impl kv::HostStore for StoreData {
    async fn open(&mut self, label: String) -> Result<Result<Resource<KvStore>, kv::Error>> {
        if !self.component.key_value_stores.contains(&label) {
            return Ok(Err(kv::Error::AccessDenied));
        }
        if self.kv_open >= TABLE_CAPACITY {
            return Ok(Err(kv::Error::StoreTableFull));
        }
        let conn = match self.shared.kv_connection() {
            Ok(c) => c,
            Err(e) => return Ok(Err(kv_other(e))),
        };
        self.kv_open += 1;
        let r = self.table.push(KvStore { name: label, conn })?;
        Ok(Ok(r))
    }

    async fn get(
        &mut self,
        store: Resource<KvStore>,
        key: String,
    ) -> Result<Result<Option<Vec<u8>>, kv::Error>> {
        let (name, conn) = self.kv_store(&store)?;
        Ok(tokio::task::block_in_place(|| {
            let c = conn.lock().unwrap_or_else(|p| p.into_inner());
            let mut stmt = c
                .prepare_cached("SELECT value FROM spin_key_value WHERE store=$1 AND key=$2")
                .map_err(kv_other)?;
            let v = stmt
                .query_map([&name, &key], |row| row.get::<_, Vec<u8>>(0))
                .map_err(kv_other)?
                .next()
                .transpose()
                .map_err(kv_other)?;
            let size = std::mem::size_of::<Option<Vec<u8>>>() + v.as_ref().map_or(0, Vec::len);
            if size > MAX_HOST_BUFFERED_BYTES {
                return Err(kv::Error::Other(format!(
                    "query result exceeds limit of {MAX_HOST_BUFFERED_BYTES} bytes"
                )));
            }
            Ok(v)
        }))
    }

    async fn set(
        &mut self,
        store: Resource<KvStore>,
        key: String,
        value: Vec<u8>,
    ) -> Result<Result<(), kv::Error>> {
        let (name, conn) = self.kv_store(&store)?;
        Ok(tokio::task::block_in_place(|| {
            let c = conn.lock().unwrap_or_else(|p| p.into_inner());
            let mut stmt = c
                .prepare_cached(
                    "INSERT INTO spin_key_value (store, key, value) VALUES ($1, $2, $3)
                     ON CONFLICT(store, key) DO UPDATE SET value=$3",
                )
                .map_err(kv_other)?;
            stmt.execute(rusqlite::params![name, key, value])
                .map_err(kv_other)
                .map(drop)
        }))
    }

    async fn delete(
        &mut self,
        store: Resource<KvStore>,
        key: String,
    ) -> Result<Result<(), kv::Error>> {
        let (name, conn) = self.kv_store(&store)?;
        Ok(tokio::task::block_in_place(|| {
            let c = conn.lock().unwrap_or_else(|p| p.into_inner());
            let mut stmt = c
                .prepare_cached("DELETE FROM spin_key_value WHERE store=$1 AND key=$2")
                .map_err(kv_other)?;
            stmt.execute([&name, &key]).map_err(kv_other).map(drop)
        }))
    }

    async fn exists(
        &mut self,
        store: Resource<KvStore>,
        key: String,
    ) -> Result<Result<bool, kv::Error>> {
        Ok(kv::HostStore::get(self, store, key)
            .await?
            .map(|v| v.is_some()))
    }

    async fn get_keys(
        &mut self,
        store: Resource<KvStore>,
    ) -> Result<Result<Vec<String>, kv::Error>> {
        let (name, conn) = self.kv_store(&store)?;
        Ok(tokio::task::block_in_place(|| {
            let c = conn.lock().unwrap_or_else(|p| p.into_inner());
            let mut stmt = c
                .prepare_cached("SELECT key FROM spin_key_value WHERE store=$1")
                .map_err(kv_other)?;
            let mut bytes = std::mem::size_of::<Vec<String>>();
            let keys = stmt
                .query_map([&name], |row| row.get::<_, String>(0))
                .map_err(kv_other)?;
            let mut out = Vec::new();
            for k in keys {
                let k = k.map_err(kv_other)?;
                bytes += std::mem::size_of::<String>() + k.len();
                if bytes > MAX_HOST_BUFFERED_BYTES {
                    return Err(kv::Error::Other(format!(
                        "query result exceeds limit of {MAX_HOST_BUFFERED_BYTES} bytes"
                    )));
                }
                out.push(k);
            }
            Ok(out)
        }))
    }

    async fn drop(&mut self, store: Resource<KvStore>) -> Result<()> {
        self.table.delete(store)?;
        self.kv_open = self.kv_open.saturating_sub(1);
        Ok(())
    }
}

// ------------------------------------------------------- sqlite (v2, v3) --

fn v2_err(e: sq3::Error) -> sq2::Error {
    match e {
        sq3::Error::NoSuchDatabase => sq2::Error::NoSuchDatabase,
        sq3::Error::AccessDenied => sq2::Error::AccessDenied,
        sq3::Error::InvalidConnection => sq2::Error::InvalidConnection,
        sq3::Error::DatabaseFull => sq2::Error::DatabaseFull,
        sq3::Error::Io(s) => sq2::Error::Io(s),
    }
}

fn from_v2(v: sq2::Value) -> sq3::Value {
    match v {
        sq2::Value::Integer(i) => sq3::Value::Integer(i),
        sq2::Value::Real(r) => sq3::Value::Real(r),
        sq2::Value::Text(t) => sq3::Value::Text(t),
        sq2::Value::Blob(b) => sq3::Value::Blob(b),
        sq2::Value::Null => sq3::Value::Null,
    }
}

fn to_v2(v: sq3::Value) -> sq2::Value {
    match v {
        sq3::Value::Integer(i) => sq2::Value::Integer(i),
        sq3::Value::Real(r) => sq2::Value::Real(r),
        sq3::Value::Text(t) => sq2::Value::Text(t),
        sq3::Value::Blob(b) => sq2::Value::Blob(b),
        sq3::Value::Null => sq2::Value::Null,
    }
}

impl sq2::Host for StoreData {}

impl sq2::HostConnection for StoreData {
    async fn open(
        &mut self,
        database: String,
    ) -> Result<Result<Resource<SqlConnection>, sq2::Error>> {
        Ok(self
            .sql_open(database)
            .map(Resource::new_own)
            .map_err(v2_err))
    }

    async fn execute(
        &mut self,
        conn: Resource<SqlConnection>,
        statement: String,
        parameters: Vec<sq2::Value>,
    ) -> Result<Result<sq2::QueryResult, sq2::Error>> {
        let c = match self.sql_conn(conn.rep()) {
            Ok(c) => c,
            Err(e) => return Ok(Err(v2_err(e))),
        };
        let r = execute(c, statement, parameters.into_iter().map(from_v2).collect()).await;
        Ok(r.map(|q| sq2::QueryResult {
            columns: q.columns,
            rows: q
                .rows
                .into_iter()
                .map(|r| sq2::RowResult {
                    values: r.values.into_iter().map(to_v2).collect(),
                })
                .collect(),
        })
        .map_err(v2_err))
    }

    async fn drop(&mut self, conn: Resource<SqlConnection>) -> Result<()> {
        self.sql_conns.remove(&conn.rep());
        Ok(())
    }
}

impl sq3::Host for StoreData {}

impl sq3::HostConnection for StoreData {
    async fn open(
        &mut self,
        database: String,
    ) -> Result<Result<Resource<SqlConnection>, sq3::Error>> {
        Ok(self.sql_open(database).map(Resource::new_own))
    }

    async fn execute(
        &mut self,
        conn: Resource<SqlConnection>,
        statement: String,
        parameters: Vec<sq3::Value>,
    ) -> Result<Result<sq3::QueryResult, sq3::Error>> {
        let c = match self.sql_conn(conn.rep()) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        Ok(execute(c, statement, parameters).await)
    }

    async fn last_insert_rowid(&mut self, conn: Resource<SqlConnection>) -> Result<i64> {
        let c = self
            .sql_conn(conn.rep())
            .map_err(|e| wasmtime::format_err!("{e:?}"))?;
        let db = c.db().map_err(wasmtime::Error::msg)?;
        let id = db
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_insert_rowid();
        Ok(id)
    }

    async fn changes(&mut self, conn: Resource<SqlConnection>) -> Result<u64> {
        let c = self
            .sql_conn(conn.rep())
            .map_err(|e| wasmtime::format_err!("{e:?}"))?;
        let db = c.db().map_err(wasmtime::Error::msg)?;
        let n = db.lock().unwrap_or_else(|p| p.into_inner()).changes();
        Ok(n)
    }

    async fn drop(&mut self, conn: Resource<SqlConnection>) -> Result<()> {
        self.sql_conns.remove(&conn.rep());
        Ok(())
    }
}

// ------------------------------------------------------------ variables --

impl vars::Host for StoreData {
    async fn get(&mut self, name: String) -> Result<Result<String, vars::Error>> {
        if let Err(e) = crate::manifest::validate_variable_name(&name) {
            return Ok(Err(vars::Error::InvalidName(e)));
        }
        Ok(match self.component.variables.get(&name) {
            Some(v) => Ok(v.clone()),
            None => Err(vars::Error::Undefined(format!(
                "no variable for {:?}.{:?}",
                self.component.id, name
            ))),
        })
    }
}

// ------------------------------------------------------------------ llm --

impl llm::Host for StoreData {
    async fn infer(
        &mut self,
        model: String,
        _prompt: String,
        _params: Option<llm::InferencingParams>,
    ) -> Result<Result<llm::InferencingResult, llm::Error>> {
        Ok(Err(self.llm_refusal(&model)))
    }

    async fn generate_embeddings(
        &mut self,
        model: String,
        _data: Vec<String>,
    ) -> Result<Result<llm::EmbeddingsResult, llm::Error>> {
        Ok(Err(self.llm_refusal(&model)))
    }
}

impl StoreData {
    fn llm_refusal(&self, model: &str) -> llm::Error {
        if !self.component.ai_models.contains(model) {
            llm::Error::InvalidInput(format!(
                "The component does not have access to use '{model}'. To give the component access, add '{model}' to the 'ai_models' key for the component in your spin.toml manifest"
            ))
        } else {
            llm::Error::RuntimeError(format!(
                "model '{model}' is not available: the end-to-end host has no local models"
            ))
        }
    }
}
