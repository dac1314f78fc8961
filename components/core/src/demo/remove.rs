//! Removing the demo data: the console's `remove_demo_data` command.
//!
//! Every row listed in `demo_rows` is undone, table by table in
//! [`super::tags::TABLES`] order, in one transaction: rows the seeder
//! created are deleted with the rows hanging off them (unless real data has
//! come to use them since, like a real user in a demo tenant); counters it
//! added to are brought back down, and a row it created is deleted once
//! they are zero; the `job_attempts` id sequence goes back to where it was
//! (or to the newest real attempt). The jobs triggers bring `job_counts`
//! back themselves. Then `demo_rows` is emptied. Afterwards every table
//! has the rows it had before seeding, plus whatever real work happened.
//!
//! Demo mode refuses every write, this command's route included: switch
//! `demo_mode` off first (which also stops the seeder), then remove.

use super::tags::{self, Table, SEQUENCES, TABLES};
use crate::error::Result;
use crate::params;
use crate::ports::{Db, DbExt, Env, Value};
use serde_json::{json, Map, Value as Json};
use std::collections::BTreeMap;

/// One tagged row.
struct Tagged {
    key: Vec<Value>,
    created: bool,
    added: Option<Map<String, Json>>,
}

fn tagged(db: &dyn Db) -> Result<BTreeMap<String, Vec<Tagged>>> {
    let rows = db.exec("SELECT tbl, key, created, added FROM demo_rows", &[])?;
    let mut out: BTreeMap<String, Vec<Tagged>> = BTreeMap::new();
    for r in rows.rows {
        let added = r
            .opt_text(3)?
            .map(|t| serde_json::from_str::<Map<String, Json>>(&t))
            .transpose()?;
        out.entry(r.text(0)?).or_default().push(Tagged {
            key: tags::key_values(&r.text(1)?)?,
            created: r.bool(2)?,
            added,
        });
    }
    Ok(out)
}

/// What removal would touch: tagged rows per table, and the rows hanging
/// off them.
pub fn plan(env: &Env) -> Result<serde_json::Value> {
    let db = env.db.as_ref();
    let all = tagged(db)?;
    let mut rows = Map::new();
    for t in TABLES {
        let Some(list) = all.get(t.name) else {
            continue;
        };
        rows.insert(t.name.into(), json!(list.len()));
        for (child, column) in t.children {
            let mut n = 0;
            for row in list {
                n += db
                    .query_one(
                        &format!("SELECT COUNT(*) FROM {child} WHERE {column} = ?1"),
                        &row.key[..1],
                    )?
                    .i64(0)?;
            }
            if n > 0 {
                rows.insert((*child).into(), json!(n));
            }
        }
    }
    let seeded_at = crate::db::meta::get_i64(db, super::seed::MARKER)?.map(crate::time::rfc3339);
    Ok(json!({ "seeded_at": seeded_at, "rows": rows }))
}

/// Undo one tagged row of `t`, counting deleted rows per table.
fn undo(
    db: &dyn Db,
    t: &Table,
    row: &Tagged,
    removed: &mut BTreeMap<&'static str, usize>,
) -> Result<()> {
    let at = tags::key_condition(t, 1);
    if let Some(added) = &row.added {
        for c in t.counters {
            if let Some(n) = added.get(*c).and_then(Json::as_i64) {
                let mut p = row.key.clone();
                p.push(Value::from(n));
                db.exec(
                    &format!(
                        "UPDATE {} SET {c} = {c} - ?{} WHERE {at}",
                        t.name,
                        row.key.len() + 1
                    ),
                    &p,
                )?;
            }
        }
    }
    for (child, column) in t.children {
        *removed.entry(child).or_default() += db
            .exec(
                &format!("DELETE FROM {child} WHERE {column} = ?1 RETURNING 1"),
                &row.key[..1],
            )?
            .rows
            .len();
    }
    if row.created {
        let mut cond = at;
        for c in t.counters {
            cond.push_str(&format!(" AND {c} = 0"));
        }
        if let Some(keep) = t.keep_if {
            cond.push_str(&format!(" AND NOT ({keep})"));
        }
        *removed.entry(t.name).or_default() += db
            .exec(
                &format!("DELETE FROM {} WHERE {cond} RETURNING 1", t.name),
                &row.key,
            )?
            .rows
            .len();
    }
    Ok(())
}

/// Put each remembered `sqlite_sequence` entry back.
fn restore_sequences(db: &dyn Db, list: &[Tagged]) -> Result<()> {
    for row in list {
        let Some(Value::Text(table)) = row.key.first() else {
            continue;
        };
        let Some((_, id)) = SEQUENCES.iter().find(|(t, _)| t == table) else {
            continue;
        };
        let before = row
            .added
            .as_ref()
            .and_then(|a| a.get("seq"))
            .and_then(Json::as_i64);
        let newest = db
            .query_one(&format!("SELECT MAX({id}) FROM {table}"), &[])?
            .opt_i64(0)?;
        match (before, newest) {
            (None, None) => {
                db.exec(
                    "DELETE FROM sqlite_sequence WHERE name = ?1",
                    params![table.as_str()],
                )?;
            }
            (b, n) => {
                db.exec(
                    "UPDATE sqlite_sequence SET seq = ?2 WHERE name = ?1",
                    params![table.as_str(), b.unwrap_or(0).max(n.unwrap_or(0))],
                )?;
            }
        }
    }
    Ok(())
}

/// Remove every demo row; rows deleted per table (counters brought back
/// down are not counted).
pub fn remove(env: &Env) -> Result<serde_json::Value> {
    crate::db::transaction(env.db.as_ref(), |db| {
        let all = tagged(db)?;
        let mut removed = BTreeMap::new();
        for t in TABLES {
            for row in all.get(t.name).into_iter().flatten() {
                undo(db, t, row, &mut removed)?;
            }
        }
        if let Some(list) = all.get("sqlite_sequence") {
            restore_sequences(db, list)?;
        }
        db.exec("DELETE FROM demo_rows", &[])?;
        Ok(json!({ "removed": removed }))
    })
}
