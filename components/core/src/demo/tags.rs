//! The demo tag: `demo_rows` lists every row the seeder created or added
//! to, so removal can undo exactly that and nothing else.
//!
//! Each table the seeder touches has a [`Table`] here: its key columns, the
//! counters the seeder may add to an existing row, the rows that hang off
//! it (an attempt off its job), and when a row the seeder created must
//! stay because real data now uses it. Table and column names only ever
//! come from [`TABLES`], never from the database.

use crate::error::{Error, Result};
use crate::ports::{Db, DbExt, Value};
use serde_json::{Map, Value as Json};

/// How one table's demo rows are undone.
pub struct Table {
    /// The table.
    pub name: &'static str,
    /// Its key columns, in the order keys are stored.
    pub key: &'static [&'static str],
    /// Counters: the seeder adds to them; removal subtracts what it added,
    /// and deletes a created row only once they are all zero again.
    pub counters: &'static [&'static str],
    /// `(table, column)` of rows that belong to a row of this table and go
    /// with it.
    pub children: &'static [(&'static str, &'static str)],
    /// A created row is kept while this SQL condition holds for it (real
    /// data came to use it after seeding).
    pub keep_if: Option<&'static str>,
}

/// Every table the seeder writes, in the order removal undoes them
/// (children before parents, counters kept by triggers after the rows
/// whose deletion updates them).
pub const TABLES: &[Table] = &[
    Table {
        name: "jobs",
        key: &["id"],
        counters: &[],
        children: &[
            ("job_attempts", "job_id"),
            ("qa_consistency", "job_id"),
            ("cost_downgrades", "job_id"),
        ],
        keep_if: None,
    },
    // Kept exact by the jobs triggers: deleting the jobs subtracts them.
    Table {
        name: "job_counts",
        key: &["tenant_id", "status", "type", "priority"],
        counters: &["n"],
        children: &[],
        keep_if: None,
    },
    Table {
        name: "queue_tenants",
        key: &["tenant_id"],
        counters: &[],
        children: &[],
        keep_if: Some("EXISTS (SELECT 1 FROM jobs j WHERE j.tenant_id = queue_tenants.tenant_id)"),
    },
    Table {
        name: "incidents",
        key: &["id"],
        counters: &[],
        children: &[("incident_deliveries", "incident_id")],
        keep_if: None,
    },
    Table {
        name: "api_keys",
        key: &["id"],
        counters: &[],
        children: &[("api_key_usage", "key_id")],
        keep_if: None,
    },
    Table {
        name: "llm_usage_days",
        key: &["day", "model", "role"],
        counters: &[
            "calls",
            "tokens_in",
            "tokens_out",
            "cost_micros",
            "qa_passed",
            "qa_failed",
        ],
        children: &[],
        keep_if: None,
    },
    Table {
        name: "analytics_days",
        key: &["tenant_id", "day"],
        counters: &["visitors", "events"],
        children: &[],
        keep_if: None,
    },
    Table {
        name: "analytics_day_events",
        key: &["tenant_id", "day", "name"],
        counters: &["count"],
        children: &[],
        keep_if: None,
    },
    Table {
        name: "tenants",
        key: &["id"],
        counters: &[],
        children: &[],
        keep_if: Some(
            "EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = tenants.id)
             OR EXISTS (SELECT 1 FROM jobs j WHERE j.tenant_id = tenants.id)
             OR EXISTS (SELECT 1 FROM api_keys k WHERE k.tenant_id = tenants.id)",
        ),
    },
    // The seed marker.
    Table {
        name: "app_meta",
        key: &["key"],
        counters: &[],
        children: &[],
        keep_if: None,
    },
];

/// The AUTOINCREMENT tables the seeder inserts into: their `sqlite_sequence`
/// entry is put back as it was (or as far as real rows since need).
pub const SEQUENCES: &[(&str, &str)] = &[("job_attempts", "id")];

/// The spec of `name`.
pub fn table(name: &str) -> Result<&'static Table> {
    TABLES
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| Error::internal(format!("`{name}` is not a demo table")))
}

/// `a = ?n AND b = ?n+1 ...` for `t`'s key, parameters from `first`.
pub fn key_condition(t: &Table, first: usize) -> String {
    t.key
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", first + i))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn key_text(key: &[Value]) -> Result<String> {
    let parts: Vec<Json> = key
        .iter()
        .map(|v| match v {
            Value::Integer(n) => Ok(Json::from(*n)),
            Value::Text(s) => Ok(Json::from(s.as_str())),
            other => Err(Error::internal(format!(
                "a demo row key is text or integers, not {other:?}"
            ))),
        })
        .collect::<Result<_>>()?;
    Ok(Json::Array(parts).to_string())
}

/// A stored key back as parameters.
pub fn key_values(text: &str) -> Result<Vec<Value>> {
    let parsed: Vec<Json> = serde_json::from_str(text)?;
    parsed
        .into_iter()
        .map(|v| match v {
            Json::Number(n) => n
                .as_i64()
                .map(Value::Integer)
                .ok_or_else(|| Error::internal("a demo row key number is not an integer")),
            Json::String(s) => Ok(Value::Text(s)),
            other => Err(Error::internal(format!("bad demo row key part {other}"))),
        })
        .collect()
}

/// Whether `t` has a row with `key`.
pub fn exists(db: &dyn Db, t: &Table, key: &[Value]) -> Result<bool> {
    Ok(db
        .query_opt(
            &format!("SELECT 1 FROM {} WHERE {}", t.name, key_condition(t, 1)),
            key,
        )?
        .is_some())
}

/// Tag a row the seeder created.
pub fn created(db: &dyn Db, t: &Table, key: &[Value]) -> Result<()> {
    db.exec(
        "INSERT INTO demo_rows (tbl, key, created, added) VALUES (?1, ?2, 1, NULL)
         ON CONFLICT (tbl, key) DO NOTHING",
        crate::params![t.name, key_text(key)?],
    )?;
    Ok(())
}

/// Add `amounts` (one per counter of `t`) to the row with `key`, creating
/// it when missing, and tag it with what was added.
pub fn add(db: &dyn Db, t: &Table, key: &[Value], amounts: &[i64]) -> Result<()> {
    if amounts.len() != t.counters.len() {
        return Err(Error::internal(format!(
            "{} has {} counters",
            t.name,
            t.counters.len()
        )));
    }
    let was_there = exists(db, t, key)?;
    let columns: Vec<&str> = t.key.iter().chain(t.counters).copied().collect();
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    let updates: Vec<String> = t
        .counters
        .iter()
        .map(|c| format!("{c} = {c} + excluded.{c}"))
        .collect();
    let mut params: Vec<Value> = key.to_vec();
    params.extend(amounts.iter().map(|a| Value::Integer(*a)));
    db.exec(
        &format!(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
            t.name,
            columns.join(", "),
            placeholders.join(", "),
            t.key.join(", "),
            updates.join(", ")
        ),
        &params,
    )?;
    // A row tagged twice adds up what both additions added.
    let key_text = key_text(key)?;
    let before = db
        .query_opt(
            "SELECT created, added FROM demo_rows WHERE tbl = ?1 AND key = ?2",
            crate::params![t.name, key_text.as_str()],
        )?
        .map(|r| Ok::<_, Error>((r.bool(0)?, r.opt_text(1)?)))
        .transpose()?;
    let mut added: Map<String, Json> = match before.as_ref().and_then(|(_, a)| a.as_deref()) {
        Some(text) => serde_json::from_str(text)?,
        None => Map::new(),
    };
    for (c, a) in t.counters.iter().zip(amounts) {
        let sum = added.get(*c).and_then(Json::as_i64).unwrap_or(0) + a;
        added.insert((*c).to_string(), Json::from(sum));
    }
    let created = before.map(|(c, _)| c).unwrap_or(!was_there);
    db.exec(
        "INSERT INTO demo_rows (tbl, key, created, added) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tbl, key) DO UPDATE SET added = excluded.added",
        crate::params![t.name, key_text, created, Json::Object(added).to_string()],
    )?;
    Ok(())
}

/// Before inserting rows into `table` (an AUTOINCREMENT table in
/// [`SEQUENCES`]): remember its `sqlite_sequence` entry as it is.
pub fn remember_sequence(db: &dyn Db, table: &str) -> Result<()> {
    let seq = db
        .query_opt(
            "SELECT seq FROM sqlite_sequence WHERE name = ?1",
            crate::params![table],
        )?
        .map(|r| r.i64(0))
        .transpose()?;
    db.exec(
        "INSERT INTO demo_rows (tbl, key, created, added) VALUES ('sqlite_sequence', ?1, ?2, ?3)
         ON CONFLICT (tbl, key) DO NOTHING",
        crate::params![
            key_text(&[Value::from(table)])?,
            seq.is_none(),
            serde_json::json!({ "seq": seq }).to_string()
        ],
    )?;
    Ok(())
}
