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
//! from some entry on was rewritten with fresh hashes. So the `audit` job
//! anchors the head every minute with a signature the database cannot
//! forge (see [`anchors`]), and `verify` checks the chain against its
//! anchors.

pub mod anchors;
pub mod business;
pub mod export;

pub use anchors::{APP, JOB};
pub use business::{record_business, Change, Who};

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
    client: Option<String>,
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
            client: None,
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
    /// The client address the request came from, kept in the entry's
    /// details as `client` (an empty address is left out).
    pub fn client(mut self, address: &str) -> Self {
        self.client = (!address.is_empty()).then(|| address.to_string());
        self
    }
    /// The event for a request: its tenant, actor, id and client address.
    pub fn for_request(ctx: &Ctx, action: &str) -> Self {
        Event::new(
            ctx.principal.tenant.as_str(),
            &ctx.principal.actor(),
            action,
        )
        .request(&ctx.request_id)
        .client(&ctx.client)
    }

    /// The stored details: a JSON object (a non-object is wrapped as
    /// `value`), with the client address when known.
    fn stored_detail(&self) -> String {
        let mut detail = match &self.detail {
            serde_json::Value::Object(_) => self.detail.clone(),
            other => serde_json::json!({ "value": other }),
        };
        if let (Some(c), Some(map)) = (&self.client, detail.as_object_mut()) {
            map.entry("client")
                .or_insert_with(|| serde_json::Value::from(c.as_str()));
        }
        detail.to_string()
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
    let detail = event.stored_detail();
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

/// How often a caller who proved nothing gets an entry in the chain: one
/// per action and source (client address) per this many minutes...
pub const SAMPLE_MINUTES_PER_SOURCE: f64 = 10.0;
/// ...and this many per action and hour over all sources.
pub const SAMPLES_PER_HOUR: f64 = 30.0;

/// Record an event caused by a caller who proved nothing (a wrong
/// dashboard key): always in the event log, and in the chain only as a
/// sample, one per action and `source` per [`SAMPLE_MINUTES_PER_SOURCE`]
/// and at most [`SAMPLES_PER_HOUR`] per action, so anonymous traffic
/// cannot grow the chain at will while a flood still leaves its mark.
/// The budgets are token buckets in SQLite (exact across instances).
pub fn record_sampled(env: &Env, event: &Event, source: &str) {
    use crate::guard::rate_limit::{allows, Limit};
    let sampled = allows(
        env,
        &[
            (
                format!("audit:{}:{source}", event.action).as_str(),
                Limit::once_every(SAMPLE_MINUTES_PER_SOURCE),
            ),
            (
                format!("audit:{}", event.action).as_str(),
                Limit::per_hour(SAMPLES_PER_HOUR),
            ),
        ],
    );
    if sampled {
        record(env, event);
    }
    let message = format!("{} by {} ({source})", event.action, event.actor);
    let fields = serde_json::json!({
        "action": event.action, "target": event.target, "detail": event.detail,
        "in_audit_chain": sampled,
    });
    let mut logged =
        crate::events::Event::new(crate::events::Level::Warn, "guard", "security", &message)
            .tenant(&event.tenant)
            .fields(fields);
    if let Some(r) = &event.request_id {
        logged = logged.request(r);
    }
    crate::events::emit(env, &logged);
}

/// The result of a verification.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verification {
    /// Whether every link and every anchor holds.
    pub valid: bool,
    /// Entries that hold, counted from the first (all of them when valid).
    pub entries: i64,
    /// The first broken link or anchor: its sequence number and what is
    /// wrong.
    pub first_broken: Option<serde_json::Value>,
    /// The signed anchors and what they found.
    pub anchors: Option<anchors::Report>,
}

/// Recompute the whole chain in sequence order, 500 entries at a time, and
/// check it against its signed anchors; report the earliest problem.
pub fn verify(env: &Env) -> Result<Verification> {
    let walked = walk(env, 0, GENESIS)?;
    let anchors = anchors::check(env)?;
    let walk_seq = walked
        .verification
        .first_broken
        .as_ref()
        .and_then(|b| b["seq"].as_i64());
    let mut out = walked.verification;
    match anchors
        .first_broken
        .as_ref()
        .and_then(|b| b["seq"].as_i64())
    {
        Some(seq) if walk_seq.is_none_or(|w| seq < w) => {
            out.valid = false;
            out.entries = out.entries.min(seq - 1);
            out.first_broken = anchors.first_broken.clone();
        }
        _ => {}
    }
    out.anchors = Some(anchors);
    Ok(out)
}

/// What a walk found, and the last entry that held.
pub(crate) struct Walked {
    /// What held, and the first broken link.
    pub verification: Verification,
    /// The last entry that held (`from` when none did).
    pub head: (i64, String),
}

/// Walk the entries after `from_seq`, whose hash is `from_hash` (0 and
/// [`GENESIS`] for the whole chain), 500 at a time.
pub(crate) fn walk(env: &Env, from_seq: i64, from_hash: &str) -> Result<Walked> {
    let mut prev_seq = from_seq;
    let mut prev_hash = from_hash.to_string();
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
            let why = if e.seq != prev_seq + 1 {
                Some(format!("gap: expected sequence {}", prev_seq + 1))
            } else if e.prev_hash != prev_hash {
                Some("prev_hash does not match the previous entry's hash".to_string())
            } else if e.compute_hash() != e.hash {
                Some("hash does not match the entry's content".to_string())
            } else {
                None
            };
            if let Some(why) = why {
                return Ok(Walked {
                    verification: Verification {
                        valid: false,
                        entries: from_seq + checked,
                        first_broken: Some(serde_json::json!({ "seq": e.seq, "reason": why })),
                        anchors: None,
                    },
                    head: (prev_seq, prev_hash),
                });
            }
            prev_seq = e.seq;
            prev_hash = e.hash;
            checked += 1;
        }
    }
    Ok(Walked {
        verification: Verification {
            valid: true,
            entries: from_seq + checked,
            first_broken: None,
            anchors: None,
        },
        head: (prev_seq, prev_hash),
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

/// `GET /api/audit/verify`: the chain holds every tenant's entries, so only
/// the platform's admins verify it (a tenant's admin would learn how many
/// entries other tenants have, and where one broke).
pub fn verify_route(ctx: &Ctx, _req: &Request) -> Result<Response> {
    crate::tenancy::require_platform(
        &ctx.principal,
        "the audit chain holds every tenant's entries: only the platform's admins verify it",
    )?;
    Ok(Response::ok(&verify(ctx.env)?))
}
