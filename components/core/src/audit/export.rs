//! `GET /api/audit/export?from=&to=`: a stretch of the chain with what an
//! auditor needs to verify it offline with `tools/verify_audit_export.py`
//! (docs/SECURITY.md, "Exporting and verifying offline").
//!
//! The export holds every entry appended from `from` (inclusive) to `to`
//! (exclusive): a contiguous run of sequence numbers, each entry exactly as
//! hashed (its `detail` is the stored JSON text), the hash the run starts
//! from, the signed anchors inside the run and the one just before it (so
//! their chain of signatures can be followed), and a manifest signature
//! over the run's bounds, count and end hashes. The verifier recomputes
//! every hash and link, so an edited payload, a forged hash, reordered or
//! duplicated (forked) rows are found with the file alone; with the
//! `audit_signing_secret` it also checks every anchor's signature and the
//! manifest's, which finds a run rewritten with fresh hashes or cut short.
//!
//! Anchors are HMAC-SHA256, a symmetric signature: checking one takes the
//! same key that makes one, so the secret goes only to an auditor trusted
//! with it (or the operator runs the verifier in front of the auditor).
//! The anchor log lines (`anchor seq=… hash=… signature=…`, kept outside
//! the database) are a witness that needs no key: each in-range anchor's
//! line must match the export.
//!
//! Platform only. A tenant's entries are interleaved with every other
//! tenant's in one chain: entry n+1 links to entry n whoever owns it, so a
//! subset cannot be verified without the hashes of the entries between,
//! and those reveal how much other tenants did and when. Tenants' admins
//! read their own entries through `GET /api/audit/chain`; the platform's
//! admins export and verify the whole chain for an audit.

use super::anchors::{self, Anchor};
use super::{Entry, COLUMNS, GENESIS};
use crate::app::Ctx;
use crate::config;
use crate::error::{Error, Result};
use crate::http::{Request, Response};
use crate::params;
use crate::ports::{DbExt, Env};
use crate::sign;
use crate::time::{parse_rfc3339, rfc3339};
use serde_json::{json, Value};

/// The export's format name; the verifier refuses others.
pub const FORMAT: &str = "echopilot-audit-export/1";
/// The most entries one export holds; a wider range is refused (422
/// `export_too_large`) with the count, so the auditor narrows it.
pub const MAX_ENTRIES: i64 = 20_000;
/// The key purpose of the manifest signature.
const MANIFEST_PURPOSE: &str = "audit-export-v1";

/// The range asked for, in Unix ms: `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Start (inclusive).
    pub from: i64,
    /// End (exclusive).
    pub to: i64,
}

impl Range {
    /// From the query: `from` defaults to the beginning, `to` to now; 400
    /// for a bad timestamp, 422 `invalid_range` when `to` is not after
    /// `from`.
    pub fn parse(req: &Request, now_ms: i64) -> Result<Range> {
        let at = |name: &str, default: i64| -> Result<i64> {
            req.query_param(name)
                .map(|s| parse_rfc3339(&s))
                .transpose()
                .map(|v| v.unwrap_or(default))
        };
        let range = Range {
            from: at("from", 0)?,
            to: at("to", now_ms + 1)?,
        };
        if range.to <= range.from {
            return Err(Error::unprocessable(
                "invalid_range",
                "`to` must be later than `from`",
            ));
        }
        Ok(range)
    }
}

/// The message the manifest signature covers.
pub fn manifest_message(
    first_seq: i64,
    last_seq: i64,
    count: i64,
    start_hash: &str,
    last_hash: &str,
    exported_at: i64,
) -> String {
    format!("audit-export|v1|{first_seq}|{last_seq}|{count}|{start_hash}|{last_hash}|{exported_at}")
}

fn seq_bounds(env: &Env, range: Range) -> Result<Option<(i64, i64, i64)>> {
    let row = env.db.query_one(
        "SELECT MIN(seq), MAX(seq), COUNT(*) FROM audit_log WHERE ts >= ?1 AND ts < ?2",
        params![range.from, range.to],
    )?;
    Ok(match (row.opt_i64(0)?, row.opt_i64(1)?) {
        (Some(first), Some(last)) => Some((first, last, last - first + 1)),
        _ => None,
    })
}

fn entry_json(e: &Entry) -> Value {
    json!({
        "seq": e.seq, "ts": e.ts, "tenant": e.tenant, "actor": e.actor, "action": e.action,
        "target": e.target, "detail": e.detail, "request_id": e.request_id,
        "build_sha": e.build_sha, "prev_hash": e.prev_hash, "hash": e.hash,
    })
}

fn anchors_between(
    env: &Env,
    first_seq: i64,
    last_seq: i64,
) -> Result<(Option<Anchor>, Vec<Anchor>)> {
    let cols = anchors::COLUMNS;
    let previous = env
        .db
        .query_opt(
            &format!(
                "SELECT {cols} FROM audit_signed_anchors WHERE seq < ?1 ORDER BY seq DESC LIMIT 1"
            ),
            params![first_seq],
        )?
        .map(|r| Anchor::from_row(&r))
        .transpose()?;
    let inside = env
        .db
        .exec(
            &format!("SELECT {cols} FROM audit_signed_anchors WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq"),
            params![first_seq, last_seq],
        )?
        .rows
        .iter()
        .map(Anchor::from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok((previous, inside))
}

/// Build the export of `range`, made by `actor`.
pub fn build(env: &Env, range: Range, actor: &str) -> Result<Value> {
    let exported_at = env.clock.now_ms();
    let (first_seq, last_seq, count) = match seq_bounds(env, range)? {
        Some((first, last, span)) if span > MAX_ENTRIES => {
            return Err(Error::unprocessable(
                "export_too_large",
                format!(
                    "the range holds {span} entries (from {first} to {last}); an export holds at most {MAX_ENTRIES}: narrow `from` and `to`"
                ),
            ))
        }
        Some(b) => b,
        None => (0, 0, 0),
    };
    let entries = if count == 0 {
        Vec::new()
    } else {
        env.db
            .exec(
                &format!(
                    "SELECT {COLUMNS} FROM audit_log WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq"
                ),
                params![first_seq, last_seq],
            )?
            .rows
            .iter()
            .map(Entry::from_row)
            .collect::<Result<Vec<_>>>()?
    };
    let start_hash = entries
        .first()
        .map(|e| e.prev_hash.clone())
        .unwrap_or_else(|| GENESIS.to_string());
    let last_hash = entries
        .last()
        .map(|e| e.hash.clone())
        .unwrap_or_else(|| start_hash.clone());
    let stored = entries.len() as i64;
    let (previous, inside) = if count == 0 {
        (None, Vec::new())
    } else {
        anchors_between(env, first_seq, last_seq)?
    };
    let key = anchors::key(env)?;
    let manifest_signature =
        config::secret(env.config.as_ref(), "audit_signing_secret")?.map(|secret| {
            sign::signature(
                &sign::derive_key(&secret, MANIFEST_PURPOSE),
                &manifest_message(
                    first_seq,
                    last_seq,
                    stored,
                    &start_hash,
                    &last_hash,
                    exported_at,
                ),
            )
        });
    let head = env
        .db
        .query_opt(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )?
        .map(|r| -> Result<Value> { Ok(json!({ "seq": r.i64(0)?, "hash": r.text(1)? })) })
        .transpose()?;
    Ok(json!({
        "format": FORMAT,
        "exported_at": exported_at,
        "exported_at_rfc3339": rfc3339(exported_at),
        "exported_by": actor,
        "range": { "from": rfc3339(range.from), "to": rfc3339(range.to) },
        "first_seq": first_seq,
        "last_seq": last_seq,
        "count": stored,
        "start_hash": start_hash,
        "last_hash": last_hash,
        "head_at_export": head,
        "hashing": "hash = hex(SHA-256(prev_hash + \"\\n\" + canonical)); canonical = compact JSON with sorted keys of action, actor, build_sha, detail (the stored text, a JSON string), request_id, seq, target, tenant, ts (Unix ms)",
        "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
        "anchors": {
            "status": if key.is_some() { "configured" } else { "not_configured" },
            "key_id": key.as_ref().map(|k| k.id.clone()),
            "scheme": "HMAC-SHA256 in hex; key = HMAC-SHA256(key = audit_signing_secret, message = \"echopilot-key|audit-anchor-v1\"); key_id = first 16 hex digits of HMAC(key, \"audit-key-id\")",
            "message": "audit-anchor|v1|{seq}|{hash}|{anchored_at}|{key_id}|{prev_signature}",
            "first_prev_signature": anchors::FIRST,
            "previous": previous,
            "in_range": inside,
        },
        "manifest": {
            "scheme": "HMAC-SHA256 in hex; key = HMAC-SHA256(key = audit_signing_secret, message = \"echopilot-key|audit-export-v1\")",
            "message": "audit-export|v1|{first_seq}|{last_seq}|{count}|{start_hash}|{last_hash}|{exported_at}",
            "signature": manifest_signature,
        },
    }))
}

/// `GET /api/audit/export?from=&to=` (platform admins): the export,
/// itself recorded in the chain (`audit.exported`) after it is built.
pub fn route(ctx: &Ctx, req: &Request) -> Result<Response> {
    crate::tenancy::require_platform(
        &ctx.principal,
        "the audit chain links every tenant's entries: only the platform's admins export it",
    )?;
    let range = Range::parse(req, ctx.env.clock.now_ms())?;
    let export = build(ctx.env, range, &ctx.principal.actor())?;
    super::business::record_business(
        ctx.env,
        &super::Who::of(ctx),
        "audit.exported",
        super::Change::untargeted().detail(json!({
            "from": export["range"]["from"], "to": export["range"]["to"],
            "first_seq": export["first_seq"], "last_seq": export["last_seq"], "count": export["count"],
        })),
    )?;
    Ok(Response::ok(&export))
}
