//! Schedule triggers: on each worker tick, every workflow whose trigger is
//! a schedule starts one run for its latest due slot (a minute its cron
//! matches, within the last hour, after the workflow was last saved).
//! `workflow_schedule_slots` has one row per (workflow, slot): the insert
//! that creates it is the claim, so each slot runs once however many
//! replicas tick at the same time.

use super::engine::{self, Start};
use super::store;
use super::timing::Cron;
use crate::error::Result;
use crate::params;
use crate::ports::{DbExt, Env};
use serde_json::json;

/// How far back a missed slot still runs (once) after downtime.
pub const CATCH_UP_MS: i64 = 3_600_000;

/// Start the runs that are due; how many started.
pub fn fire_due(env: &Env) -> Result<usize> {
    let now = env.clock.now_ms();
    let mut started = 0;
    for wf in store::with_trigger(env, "schedule")? {
        let Some(trigger) = wf
            .graph
            .get("nodes")
            .and_then(|n| n.as_array())
            .and_then(|nodes| nodes.iter().find(|n| n["type"] == "trigger"))
        else {
            continue;
        };
        if trigger["config"]["kind"] != "schedule" {
            continue;
        }
        let text = trigger["config"]["cron"].as_str().unwrap_or_default();
        let Ok(cron) = Cron::parse(text) else {
            continue;
        };
        let last = env
            .db
            .query_one(
                "SELECT COALESCE(MAX(slot), 0) FROM workflow_schedule_slots WHERE workflow_id = ?1",
                params![wf.id.as_str()],
            )?
            .i64(0)?;
        let after = last.max(wf.updated_at - 1);
        let Some(slot) = cron.latest(now, after, CATCH_UP_MS) else {
            continue;
        };
        let claimed = env.db.exec(
            "INSERT OR IGNORE INTO workflow_schedule_slots (workflow_id, slot, run_id) VALUES (?1, ?2, '')
             RETURNING slot",
            params![wf.id.as_str(), slot],
        )?;
        if claimed.rows.is_empty() {
            continue;
        }
        let input = json!({ "fired_at": crate::time::rfc3339(slot), "schedule": text });
        match engine::start(
            env,
            &wf,
            &Start {
                trigger: "schedule",
                input,
                debug: false,
            },
        ) {
            Ok(run) => {
                env.db.exec(
                    "UPDATE workflow_schedule_slots SET run_id = ?3 WHERE workflow_id = ?1 AND slot = ?2",
                    params![wf.id.as_str(), slot, run.id.as_str()],
                )?;
                started += 1;
            }
            Err(e) => crate::log::warn(
                "workflows",
                &format!("workflow {} could not start its {text} run: {e}", wf.id),
            ),
        }
    }
    Ok(started)
}
