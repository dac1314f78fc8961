//! Benchmark baseline: one SQLite row inserted per request, in WAL mode with
//! `synchronous = NORMAL`, on the connection Spin opens per request. The
//! yardstick for routes that read or write the database: a route that does
//! one write transaction cannot beat it, and a read should cost less.

#[cfg(target_arch = "wasm32")]
mod guest {
    use spin_sdk::http::{Request, Response};
    use spin_sdk::sqlite::{Connection, Value};

    fn insert() -> Result<i64, spin_sdk::sqlite::Error> {
        let db = Connection::open_default()?;
        // WAL is a property of the file (set once, it stays); synchronous
        // is per connection, and every request gets a new connection.
        db.execute("PRAGMA synchronous = NORMAL", &[])?;
        db.execute(
            "CREATE TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, path TEXT NOT NULL)",
            &[],
        )?;
        let rows = db.execute(
            "INSERT INTO hits (at, path) VALUES (unixepoch('subsec') * 1000, ?1) RETURNING id",
            &[Value::Text("/insert".into())],
        )?;
        let id = rows.rows().next().and_then(|r| r.get::<i64>("id"));
        Ok(id.unwrap_or(0))
    }

    #[spin_sdk::http_component]
    fn handle(_req: Request) -> Response {
        let (status, body) = match insert() {
            Ok(id) => (200, format!(r#"{{"ok":true,"data":{{"id":{id}}}}}"#)),
            Err(e) => (
                503,
                format!(r#"{{"ok":false,"error":{{"code":"database","message":"{e}"}}}}"#),
            ),
        };
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(body)
            .build()
    }
}
