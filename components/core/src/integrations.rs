//! What each integration last reported (`integration_status`), so `/health`
//! can say "not configured", "ok" or what went wrong without reading any
//! integration's secrets.

use crate::error::Result;
use crate::params;
use crate::ports::{Db, DbExt, Env};

/// Record integration `name`'s state.
pub fn record(env: &Env, name: &str, state: &str, detail: &str) -> Result<()> {
    env.db.exec(
        "INSERT INTO integration_status (name, state, detail, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET state = excluded.state, detail = excluded.detail, updated_at = excluded.updated_at",
        params![name, state, detail, env.clock.now_ms()],
    )?;
    Ok(())
}

/// Every integration's last report, as `/health` shows it.
pub fn all(db: &dyn Db) -> Result<serde_json::Value> {
    let rows = db.exec(
        "SELECT name, state, detail, updated_at FROM integration_status ORDER BY name",
        &[],
    )?;
    let mut out = serde_json::Map::new();
    for r in &rows.rows {
        out.insert(
            r.text(0)?,
            serde_json::json!({
                "state": r.text(1)?,
                "detail": r.opt_text(2)?,
                "updated_at": crate::time::rfc3339(r.i64(3)?),
            }),
        );
    }
    Ok(serde_json::Value::Object(out))
}
