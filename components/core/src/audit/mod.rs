//! The audit chain: one append-only, hash-chained log of security and
//! business events in SQLite.
//!
//! Each entry stores `hash = SHA-256(prev_hash || "\n" || canonical JSON of
//! its content)`, where the content includes its sequence number. Appends
//! take the write lock (`BEGIN IMMEDIATE`), read the last entry and insert
//! the next sequence number (a primary key), so concurrent instances and
//! processes extend one linear chain: no fork (one row per number), no gap
//! (always last + 1). `verify` recomputes the chain and reports the first
//! broken link.
//!
//! A chain alone cannot show that its tail was cut off, or that everything
//! from some entry on was rewritten with fresh hashes. So the heartbeat
//! anchors the head every minute: `audit_anchors` keeps (seq, hash) and the
//! same pair goes to the log, out of the database's reach. `verify` checks
//! that every anchored entry still exists with its anchored hash.

use crate::app::Ctx;
use crate::build_info;
use crate::db::transaction;
use crate::error::{Error, Result};
use crate::http::{Request, Response};
use crate::params;
use crate::ports::{DbExt, Env, Row, Value};
use crate::tenancy::Scope;
use crate::time::rfc3339;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "genesis";

/// An event to append.
#[derive(Debug, Clone)]
pub struct Event {
    tenant: String,
    actor: String,
    action: String,
    target: Option<String>,
    detail: serde_json::Value,
    request_id: Option<String>,
}

impl Event {
    /// `actor` did `action` (dotted, e.g. `auth.login`) in `tenant`.
    pub fn new(tenant: &str, actor: &str, action: &str) -> Self {
        Event {
            tenant: tenant.into(),
            actor: actor.into(),
            action: action.into(),
            target: None,
            detail: serde_json::json!({}),
            request_id: None,
        }
    }
    /// What it was done to.
    pub fn target(mut self, t: &str) -> Self {
        self.target = Some(t.into());
        self
    }
    /// Details (a JSON object).
    pub fn detail(mut self, d: serde_json::Value) -> Self {
        self.detail = d;
        self
    }
    /// The request that caused it.
    pub fn request(mut self, id: &str) -> Self {
        self.request_id = Some(id.into());
        self
    }
    /// The event for a request: its tenant, actor and id.
    pub fn for_request(ctx: &Ctx, action: &str) -> Self {
        Event::new(
            ctx.principal.tenant.as_str(),
            &ctx.principal.actor(),
            action,
        )
        .request(&ctx.request_id)
    }
}

/// One stored entry.
#[derive(Debug, Clone)]
struct Entry {
    seq: i64,
    ts: i64,
    tenant: String,
    actor: String,
    action: String,
    target: Option<String>,
    detail: String,
    request_id: Option<String>,
    build_sha: String,
    prev_hash: String,
    hash: String,
}

const COLUMNS: &str =
    "seq, ts, tenant_id, actor, action, target, detail, request_id, build_sha, prev_hash, hash";

impl Entry {
    fn from_row(r: &Row) -> Result<Self> {
        Ok(Entry {
            seq: r.i64(0)?,
            ts: r.i64(1)?,
            tenant: r.text(2)?,
            actor: r.text(3)?,
            action: r.text(4)?,
            target: r.opt_text(5)?,
            detail: r.text(6)?,
            request_id: r.opt_text(7)?,
            build_sha: r.text(8)?,
            prev_hash: r.text(9)?,
            hash: r.text(10)?,
        })
    }

    /// The canonical content: a JSON object with keys in a fixed order.
    fn canonical(&self) -> String {
        // serde_json's Map keeps keys sorted (no preserve_order feature).
        serde_json::json!({
            "action": self.action,
            "actor": self.actor,
            "build_sha": self.build_sha,
            "detail": self.detail,
            "request_id": self.request_id,
            "seq": self.seq,
            "target": self.target,
            "tenant": self.tenant,
            "ts": self.ts,
        })
        .to_string()
    }

    fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(b"\n");
        h.update(self.canonical().as_bytes());
        crate::hex(&h.finalize())
    }

    fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "seq": self.seq, "ts": rfc3339(self.ts), "tenant_id": self.tenant, "actor": self.actor,
            "action": self.action, "target": self.target,
            "detail": serde_json::from_str::<serde_json::Value>(&self.detail).unwrap_or(serde_json::Value::Null),
            "request_id": self.request_id, "build_sha": self.build_sha,
            "prev_hash": self.prev_hash, "hash": self.hash,
        })
    }
}

/// Append `event`; returns its sequence number.
pub fn append(env: &Env, event: &Event) -> Result<i64> {
    let detail = if event.detail.is_object() {
        event.detail.to_string()
    } else {
        serde_json::json!({ "value": event.detail }).to_string()
    };
    transaction(env.db.as_ref(), |db| {
        let last = db.query_opt(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )?;
        let (seq, prev_hash) = match last {
            Some(r) => (r.i64(0)? + 1, r.text(1)?),
            None => (1, GENESIS.to_string()),
        };
        let mut entry = Entry {
            seq,
            ts: env.clock.now_ms(),
            tenant: event.tenant.clone(),
            actor: event.actor.clone(),
            action: event.action.clone(),
            target: event.target.clone(),
            detail: detail.clone(),
            request_id: event.request_id.clone(),
            build_sha: build_info::GIT_SHA.to_string(),
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        db.exec(
            &format!("INSERT INTO audit_log ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
            params![
                entry.seq,
                entry.ts,
                entry.tenant.as_str(),
                entry.actor.as_str(),
                entry.action.as_str(),
                entry.target.as_deref(),
                entry.detail.as_str(),
                entry.request_id.as_deref(),
                entry.build_sha.as_str(),
                entry.prev_hash.as_str(),
                entry.hash.as_str()
            ],
        )?;
        Ok(seq)
    })
}

/// Append, logging instead of failing: for events recorded on the way to
/// refusing a request, whose refusal must not turn into a 500.
pub fn record(env: &Env, event: &Event) {
    if let Err(e) = append(env, event) {
        crate::log::error("audit", &format!("could not append {}: {e}", event.action));
    }
}

/// The result of a verification.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verification {
    /// Whether every link holds.
    pub valid: bool,
    /// Entries checked.
    pub entries: i64,
    /// The first broken link: its sequence number and what is wrong.
    pub first_broken: Option<serde_json::Value>,
}

/// Anchor the chain's head (once per new head): a row in `audit_anchors`
/// and a log line. Returns the anchored (seq, hash), if the chain has any.
pub fn anchor(env: &Env) -> Result<Option<(i64, String)>> {
    let Some(head) = env.db.query_opt(
        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
        &[],
    )?
    else {
        return Ok(None);
    };
    let (seq, hash) = (head.i64(0)?, head.text(1)?);
    let added = env.db.query_opt(
        "INSERT INTO audit_anchors (seq, hash, anchored_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (seq) DO NOTHING RETURNING seq",
        params![seq, hash.as_str(), env.clock.now_ms()],
    )?;
    if added.is_some() {
        crate::log::info("audit", &format!("anchor seq={seq} hash={hash}"));
    }
    Ok(Some((seq, hash)))
}

/// The first anchor the chain no longer matches: (seq, reason).
fn anchor_mismatch(env: &Env) -> Result<Option<(i64, String)>> {
    let row = env.db.query_opt(
        "SELECT a.seq, l.hash IS NULL, a.anchored_at FROM audit_anchors a
         LEFT JOIN audit_log l ON l.seq = a.seq
         WHERE l.hash IS NULL OR l.hash <> a.hash ORDER BY a.seq LIMIT 1",
        &[],
    )?;
    row.map(|r| {
        let (seq, missing, at) = (r.i64(0)?, r.bool(1)?, r.i64(2)?);
        let when = rfc3339(at);
        Ok((
            seq,
            if missing {
                format!("entry {seq}, anchored at {when}, is missing: the chain was cut")
            } else {
                format!("entry {seq} differs from its anchor of {when}: the chain was rewritten")
            },
        ))
    })
    .transpose()
}

/// Recompute the whole chain in sequence order, 500 entries at a time, and
/// check it against its anchors; report the earliest problem.
pub fn verify(env: &Env) -> Result<Verification> {
    let walked = walk(env)?;
    let anchored = anchor_mismatch(env)?;
    let walk_seq = walked.first_broken.as_ref().and_then(|b| b["seq"].as_i64());
    match anchored {
        Some((seq, reason)) if walk_seq.is_none_or(|w| seq < w) => Ok(Verification {
            valid: false,
            entries: walked.entries.min(seq - 1),
            first_broken: Some(serde_json::json!({ "seq": seq, "reason": reason })),
        }),
        _ => Ok(walked),
    }
}

fn walk(env: &Env) -> Result<Verification> {
    let mut prev_seq = 0i64;
    let mut prev_hash = GENESIS.to_string();
    let mut checked = 0i64;
    loop {
        let rows = env.db.exec(
            &format!("SELECT {COLUMNS} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT 500"),
            params![prev_seq],
        )?;
        if rows.rows.is_empty() {
            break;
        }
        for r in &rows.rows {
            let e = Entry::from_row(r)?;
            let broken = |why: &str| Verification {
                valid: false,
                entries: checked,
                first_broken: Some(serde_json::json!({ "seq": e.seq, "reason": why })),
            };
            if e.seq != prev_seq + 1 {
                return Ok(broken(&format!("gap: expected sequence {}", prev_seq + 1)));
            }
            if e.prev_hash != prev_hash {
                return Ok(broken("prev_hash does not match the previous entry's hash"));
            }
            if e.compute_hash() != e.hash {
                return Ok(broken("hash does not match the entry's content"));
            }
            prev_seq = e.seq;
            prev_hash = e.hash;
            checked += 1;
        }
    }
    Ok(Verification {
        valid: true,
        entries: checked,
        first_broken: None,
    })
}

/// `GET /api/audit/chain`: entries newest first; filters `action`, `actor`,
/// `tenant_id` (within the caller's scope), `since`; `cursor` (a sequence
/// number) and `limit`.
pub fn chain(ctx: &Ctx, req: &Request) -> Result<Response> {
    let mut conds: Vec<String> = Vec::new();
    let mut p: Vec<Value> = Vec::new();
    let mut add = |cond: &str, v: Value, p: &mut Vec<Value>| {
        p.push(v);
        conds.push(cond.replace('?', &format!("?{}", p.len())));
    };
    if let Scope::Tenant(t) = &ctx.scope {
        add("tenant_id = ?", Value::from(t.as_str()), &mut p);
    }
    if let Some(a) = req.query_param("action") {
        add("action = ?", Value::from(a), &mut p);
    }
    if let Some(a) = req.query_param("actor") {
        add("actor = ?", Value::from(a), &mut p);
    }
    if let Some(s) = req.query_param("since") {
        let ms = crate::time::parse_rfc3339(&s)?;
        add("ts >= ?", Value::from(ms), &mut p);
    }
    if let Some(c) = req.query_param("cursor") {
        let c: i64 = c
            .parse()
            .map_err(|_| Error::bad_request("invalid_cursor", "cursor is a sequence number"))?;
        add("seq < ?", Value::from(c), &mut p);
    }
    let limit: i64 = match req.query_param("limit") {
        None => 50,
        Some(l) => l
            .parse()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| {
                Error::bad_request("invalid_limit", "limit must be an integer from 1 to 500")
            })?,
    };
    p.push(Value::from(limit + 1));
    let filter = if conds.is_empty() {
        "1 = 1".to_string()
    } else {
        conds.join(" AND ")
    };
    let rows = ctx.env.db.exec(
        &format!(
            "SELECT {COLUMNS} FROM audit_log WHERE {filter} ORDER BY seq DESC LIMIT ?{}",
            p.len()
        ),
        &p,
    )?;
    let mut entries = rows
        .rows
        .iter()
        .map(Entry::from_row)
        .collect::<Result<Vec<_>>>()?;
    let next = if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        entries.last().map(|e| e.seq.to_string())
    } else {
        None
    };
    Ok(Response::ok(&serde_json::json!({
        "entries": entries.iter().map(Entry::view).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

/// `GET /api/audit/verify`.
pub fn verify_route(ctx: &Ctx, _req: &Request) -> Result<Response> {
    Ok(Response::ok(&verify(ctx.env)?))
}
