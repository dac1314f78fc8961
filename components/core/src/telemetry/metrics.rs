//! `GET /metrics`: what operators scrape, gathered from counters the app
//! keeps as it works (request totals, job counts, LLM usage by day), so a
//! scrape never counts a large table.

use super::histogram::{BOUNDS_MS, BUCKETS};
use super::prometheus::{Exposition, Kind};
use crate::build_info;
use crate::error::Result;
use crate::jobs::store::queue_status;
use crate::params;
use crate::ports::{DbExt, Env};
use crate::tenancy::Scope;
use std::collections::BTreeMap;

/// Render every metric family. Folds pending request samples first.
pub fn render(env: &Env) -> Result<String> {
    super::compact(env)?;
    let mut e = Exposition::new();
    build(env, &mut e);
    requests(env, &mut e)?;
    jobs(env, &mut e)?;
    llm(env, &mut e)?;
    heartbeat(env, &mut e)?;
    Ok(e.finish())
}

fn build(_env: &Env, e: &mut Exposition) {
    let info = build_info::get();
    e.family(
        "echopilot_build_info",
        Kind::Gauge,
        "The build serving this scrape (always 1).",
    );
    e.sample(
        "echopilot_build_info",
        &[
            ("version", info.version),
            ("git_sha", info.git_sha),
            ("dirty", if info.dirty { "true" } else { "false" }),
        ],
        1.0,
    );
}

type RouteKey = (String, String, String);

fn requests(env: &Env, e: &mut Exposition) -> Result<()> {
    let buckets = (0..BUCKETS)
        .map(|i| format!("b{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = env.db.exec(
        &format!(
            "SELECT component, route, method, status, n, sum_us, {buckets}
             FROM request_totals ORDER BY component, route, method, status"
        ),
        &[],
    )?;
    e.family(
        "echopilot_http_requests_total",
        Kind::Counter,
        "HTTP requests served, by component, route template, method and status.",
    );
    let mut hist: BTreeMap<RouteKey, (Vec<i64>, i64, i64)> = BTreeMap::new();
    for r in &rows.rows {
        let (component, route, method) = (r.text(0)?, r.text(1)?, r.text(2)?);
        let status = r.i64(3)?.to_string();
        let n = r.i64(4)?;
        e.sample(
            "echopilot_http_requests_total",
            &[
                ("component", &component),
                ("route", &route),
                ("method", &method),
                ("status", &status),
            ],
            n as f64,
        );
        let h = hist
            .entry((component, route, method))
            .or_insert_with(|| (vec![0; BUCKETS], 0, 0));
        for (i, b) in h.0.iter_mut().enumerate() {
            *b += r.i64(6 + i)?;
        }
        h.1 += n;
        h.2 += r.i64(5)?;
    }
    e.family(
        "echopilot_http_request_duration_seconds",
        Kind::Histogram,
        "Time from routing a request to sending its response.",
    );
    for ((component, route, method), (buckets, count, sum_us)) in &hist {
        let labels = [
            ("component", component.as_str()),
            ("route", route.as_str()),
            ("method", method.as_str()),
        ];
        let mut cumulative = 0;
        for (i, n) in buckets.iter().enumerate() {
            cumulative += n;
            let le = BOUNDS_MS
                .get(i)
                .map(|b| format!("{}", b / 1000.0))
                .unwrap_or_else(|| "+Inf".into());
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            e.sample(
                "echopilot_http_request_duration_seconds_bucket",
                &with_le,
                cumulative as f64,
            );
        }
        e.sample(
            "echopilot_http_request_duration_seconds_sum",
            &labels,
            *sum_us as f64 / 1e6,
        );
        e.sample(
            "echopilot_http_request_duration_seconds_count",
            &labels,
            *count as f64,
        );
    }
    Ok(())
}

fn jobs(env: &Env, e: &mut Exposition) -> Result<()> {
    let rows = env.db.exec(
        "SELECT status, type, SUM(n) FROM job_counts GROUP BY status, type ORDER BY status, type",
        &[],
    )?;
    e.family(
        "echopilot_jobs",
        Kind::Gauge,
        "Jobs by status and type, all tenants.",
    );
    for r in &rows.rows {
        e.sample(
            "echopilot_jobs",
            &[("status", &r.text(0)?), ("type", &r.text(1)?)],
            r.i64(2)? as f64,
        );
    }
    let q = queue_status(env, &Scope::All)?;
    let depth = q["by_status"]["queued"].as_i64().unwrap_or(0);
    e.family(
        "echopilot_queue_depth",
        Kind::Gauge,
        "Jobs waiting in the queue.",
    );
    e.sample("echopilot_queue_depth", &[], depth as f64);
    e.family(
        "echopilot_queue_oldest_age_seconds",
        Kind::Gauge,
        "Age of the oldest queued job (0 when the queue is empty).",
    );
    e.sample(
        "echopilot_queue_oldest_age_seconds",
        &[],
        q["oldest_queued_age_seconds"].as_i64().unwrap_or(0) as f64,
    );
    Ok(())
}

fn llm(env: &Env, e: &mut Exposition) -> Result<()> {
    let rows = env.db.exec(
        "SELECT model, role, SUM(calls), SUM(tokens_in), SUM(tokens_out), SUM(cost_micros),
                SUM(qa_passed), SUM(qa_failed)
         FROM llm_usage_days GROUP BY model, role ORDER BY model, role",
        &[],
    )?;
    e.family(
        "echopilot_llm_calls_total",
        Kind::Counter,
        "LLM calls by model and role (work or qa).",
    );
    for r in &rows.rows {
        e.sample(
            "echopilot_llm_calls_total",
            &[("model", &r.text(0)?), ("role", &r.text(1)?)],
            r.i64(2)? as f64,
        );
    }
    e.family(
        "echopilot_llm_tokens_total",
        Kind::Counter,
        "LLM tokens by model, role and direction, as the provider reported them.",
    );
    for r in &rows.rows {
        let (model, role) = (r.text(0)?, r.text(1)?);
        for (direction, col) in [("in", 3), ("out", 4)] {
            e.sample(
                "echopilot_llm_tokens_total",
                &[("model", &model), ("role", &role), ("direction", direction)],
                r.i64(col)? as f64,
            );
        }
    }
    e.family(
        "echopilot_llm_cost_usd_total",
        Kind::Counter,
        "LLM spend in US dollars by model and role (from integer micro-dollars).",
    );
    for r in &rows.rows {
        e.sample(
            "echopilot_llm_cost_usd_total",
            &[("model", &r.text(0)?), ("role", &r.text(1)?)],
            r.i64(5)? as f64 / 1e6,
        );
    }
    e.family(
        "echopilot_qa_graded_total",
        Kind::Counter,
        "Graded outputs by the model that wrote them and the result.",
    );
    let day = env.clock.now_ms().div_euclid(86_400_000);
    for r in rows
        .rows
        .iter()
        .filter(|r| r.text(1).is_ok_and(|x| x == "work"))
    {
        let model = r.text(0)?;
        e.sample(
            "echopilot_qa_graded_total",
            &[("model", &model), ("result", "passed")],
            r.i64(6)? as f64,
        );
        e.sample(
            "echopilot_qa_graded_total",
            &[("model", &model), ("result", "failed")],
            r.i64(7)? as f64,
        );
    }
    let today = env.db.query_one(
        "SELECT COALESCE(SUM(qa_passed), 0), COALESCE(SUM(qa_failed), 0)
         FROM llm_usage_days WHERE role = 'work' AND day = ?1",
        params![day],
    )?;
    let (passed, failed) = (today.i64(0)?, today.i64(1)?);
    e.family(
        "echopilot_qa_pass_ratio",
        Kind::Gauge,
        "Share of outputs graded today (UTC) that passed QA (NaN before the first).",
    );
    let ratio = if passed + failed == 0 {
        f64::NAN
    } else {
        passed as f64 / (passed + failed) as f64
    };
    e.sample("echopilot_qa_pass_ratio", &[], ratio);
    Ok(())
}

fn heartbeat(env: &Env, e: &mut Exposition) -> Result<()> {
    let hb = crate::heartbeat::status(env.db.as_ref(), env.clock.now_ms())?;
    e.family(
        "echopilot_heartbeat_age_seconds",
        Kind::Gauge,
        "Seconds since the heartbeat job last ran (NaN if it never has).",
    );
    e.sample(
        "echopilot_heartbeat_age_seconds",
        &[],
        hb.age_seconds.map(|a| a as f64).unwrap_or(f64::NAN),
    );
    let up = crate::heartbeat::uptime(env.db.as_ref(), env.clock.now_ms())?;
    e.family(
        "echopilot_uptime_ratio_30d",
        Kind::Gauge,
        "Share of the whole minutes of the last 30 days (since the first heartbeat, if later) with a heartbeat (NaN before the first whole minute).",
    );
    e.sample(
        "echopilot_uptime_ratio_30d",
        &[],
        up.ratio.unwrap_or(f64::NAN),
    );
    Ok(())
}
