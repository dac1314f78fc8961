//! Signed anchors: what makes a cut or a rewritten audit chain visible.
//!
//! A hash chain shows an edit, but not a chain cut short, nor one rewritten
//! from some entry on with fresh hashes: both verify. So every minute the
//! `audit` job (`cron-audit`, or `POST /api/internal/cron/audit`) checks the
//! entries added since the last anchor against it, then anchors the head:
//!
//! - a row of `audit_signed_anchors`: the head's (seq, hash), the time, the
//!   signing key's id, the previous anchor's signature, and an
//!   HMAC-SHA256 over all of them with a key derived from the
//!   `audit_signing_secret` variable. The database does not hold that
//!   secret, so whoever can write to it cannot make or edit an anchor, and
//!   each anchor names the one before it, so none can be dropped from the
//!   middle;
//! - a copy of that newest anchor in the key-value store (Redis on
//!   SpinKube: another system than the database), so anchors deleted from
//!   the end of the table are missed;
//! - an `anchor seq=… hash=…` line in the log (keep logs elsewhere).
//!
//! [`check`] then finds: an anchored entry that is gone (the chain was
//! cut), or that differs from its anchor (rewritten, even with fresh
//! hashes); an anchor edited, forged or signed with another key; anchors
//! missing in the middle or at the end. A segment that does not verify is
//! never anchored: the job fails and raises a CRITICAL incident instead.
//!
//! Without `audit_signing_secret` nothing is anchored or checked, and
//! [`Report::status`] says `not_configured`.

use super::{walk, GENESIS};
use crate::config;
use crate::db::transaction;
use crate::error::{Error, Kind, Result};
use crate::incidents::{self, NewIncident, Severity};
use crate::params;
use crate::ports::{DbExt, Env, Row};
use crate::scheduler::{self, Job, JobFn, RunContext};
use crate::sign;
use crate::time::rfc3339;
use serde::{Deserialize, Serialize};

/// The `prev_signature` of the first anchor.
pub const FIRST: &str = "genesis";
/// Where the newest anchor's copy lives in key-value.
pub const KV_KEY: &str = "audit:anchor:newest";

/// The audit job: every minute, at second 20.
pub const JOB: Job = Job {
    name: "audit",
    component: "cron-audit",
    schedule: "20 * * * * *",
    period_secs: 60,
    lease_secs: 50,
    max_attempts: 3,
    exclusive: true,
    body: JobFn::Sync(run),
};

scheduler::cron_http_app!("cron-audit", "/api/internal/cron/audit", JOB);

/// The signing key and its public id.
pub struct Key {
    bytes: Vec<u8>,
    /// A fingerprint of the key (not the key): which key signed an anchor.
    pub id: String,
}

/// The key from `audit_signing_secret` (`None`: anchoring is off).
pub fn key(env: &Env) -> Result<Option<Key>> {
    let Some(secret) = config::secret(env.config.as_ref(), "audit_signing_secret")? else {
        return Ok(None);
    };
    let bytes = sign::derive_key(&secret, "audit-anchor-v1");
    let id = sign::signature(&bytes, "audit-key-id")[..16].to_string();
    Ok(Some(Key { bytes, id }))
}

/// One anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The anchored entry.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
    /// When, Unix ms.
    pub anchored_at: i64,
    /// The signing key's id.
    pub key_id: String,
    /// The previous anchor's signature ([`FIRST`] for the first).
    pub prev_signature: String,
    /// HMAC-SHA256 over all of the above.
    pub signature: String,
}

impl Anchor {
    pub(super) fn from_row(r: &Row) -> Result<Self> {
        Ok(Anchor {
            seq: r.i64(0)?,
            hash: r.text(1)?,
            anchored_at: r.i64(2)?,
            key_id: r.text(3)?,
            prev_signature: r.text(4)?,
            signature: r.text(5)?,
        })
    }

    fn message(&self) -> String {
        format!(
            "audit-anchor|v1|{}|{}|{}|{}|{}",
            self.seq, self.hash, self.anchored_at, self.key_id, self.prev_signature
        )
    }

    /// Why this anchor cannot be believed under `key`, if it cannot.
    fn forged(&self, key: &Key) -> Option<String> {
        if self.key_id != key.id {
            return Some(format!(
                "the anchor of entry {} was signed with another key ({}, not {}): `audit_signing_secret` changed, or the anchor was forged",
                self.seq, self.key_id, key.id
            ));
        }
        (!sign::verify(&key.bytes, &self.message(), &self.signature)).then(|| {
            format!(
                "the anchor of entry {} does not match its signature: it was edited or forged",
                self.seq
            )
        })
    }
}

pub(super) const COLUMNS: &str = "seq, hash, anchored_at, key_id, prev_signature, signature";

fn newest(env: &Env) -> Result<Option<Anchor>> {
    env.db
        .query_opt(
            &format!("SELECT {COLUMNS} FROM audit_signed_anchors ORDER BY seq DESC LIMIT 1"),
            &[],
        )?
        .map(|r| Anchor::from_row(&r))
        .transpose()
}

/// What one run of the job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No `audit_signing_secret`: nothing anchored.
    NotConfigured,
    /// The head is the newest anchor already.
    Unchanged(i64),
    /// The head was anchored after `verified` new entries checked out.
    Anchored {
        /// The anchored entry.
        seq: i64,
        /// Entries checked since the previous anchor.
        verified: i64,
    },
}

/// Check what was appended since the newest anchor, then anchor the head.
/// A segment that does not hold (or an anchor that no longer matches) is
/// not anchored: 409 `audit_chain_broken` and a CRITICAL incident.
pub fn anchor(env: &Env) -> Result<Outcome> {
    let Some(key) = key(env)? else {
        return Ok(Outcome::NotConfigured);
    };
    let last = newest(env)?;
    if let Some((seq, why)) = kv_mismatch(env, &key, last.as_ref())? {
        return Err(broken(env, seq, &why));
    }
    let (from_seq, from_hash, prev_signature) = match &last {
        Some(a) => {
            if let Some(why) = a.forged(&key) {
                return Err(broken(env, a.seq, &why));
            }
            let entry = env
                .db
                .query_opt("SELECT hash FROM audit_log WHERE seq = ?1", params![a.seq])?;
            match entry {
                None => return Err(broken(env, a.seq, &cut(a))),
                Some(r) if r.text(0)? != a.hash => return Err(broken(env, a.seq, &rewritten(a))),
                Some(_) => {}
            }
            (a.seq, a.hash.clone(), a.signature.clone())
        }
        None => (0, GENESIS.to_string(), FIRST.to_string()),
    };
    let walked = walk(env, from_seq, &from_hash)?;
    if let Some(b) = walked.verification.first_broken {
        let seq = b["seq"].as_i64().unwrap_or(from_seq + 1);
        let why = b["reason"].as_str().unwrap_or("the chain does not verify");
        return Err(broken(env, seq, why));
    }
    let (seq, hash) = walked.head;
    if seq == from_seq {
        if let Some(a) = &last {
            keep_copy(env, a)?;
        }
        return Ok(Outcome::Unchanged(seq));
    }
    let mut a = Anchor {
        seq,
        hash,
        anchored_at: env.clock.now_ms(),
        key_id: key.id.clone(),
        prev_signature,
        signature: String::new(),
    };
    a.signature = sign::signature(&key.bytes, &a.message());
    // The newest anchor is re-read under the write lock: a run that lost a
    // race to another (a cron tick and an external call) adds nothing.
    let added = transaction(env.db.as_ref(), |db| {
        let still = db
            .query_opt("SELECT MAX(seq) FROM audit_signed_anchors", &[])?
            .and_then(|r| r.opt_i64(0).ok().flatten())
            .unwrap_or(0);
        if still != from_seq {
            return Ok(false);
        }
        db.exec(
            &format!(
                "INSERT INTO audit_signed_anchors ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ),
            params![
                a.seq,
                a.hash.as_str(),
                a.anchored_at,
                a.key_id.as_str(),
                a.prev_signature.as_str(),
                a.signature.as_str()
            ],
        )?;
        Ok(true)
    })?;
    if !added {
        return Ok(Outcome::Unchanged(from_seq));
    }
    keep_copy(env, &a)?;
    crate::log::info(
        "audit",
        &format!(
            "anchor seq={} hash={} signature={}",
            a.seq, a.hash, a.signature
        ),
    );
    Ok(Outcome::Anchored {
        seq: a.seq,
        verified: seq - from_seq,
    })
}

fn keep_copy(env: &Env, a: &Anchor) -> Result<()> {
    env.kv.set(KV_KEY, &serde_json::to_vec(a)?)
}

fn cut(a: &Anchor) -> String {
    format!(
        "entry {}, anchored at {}, is missing: the chain was cut",
        a.seq,
        rfc3339(a.anchored_at)
    )
}

fn rewritten(a: &Anchor) -> String {
    format!(
        "entry {} differs from its anchor of {}: the chain was rewritten",
        a.seq,
        rfc3339(a.anchored_at)
    )
}

/// A tampered chain: a CRITICAL incident (raised once, then counted as
/// repeats), and the error that fails the run.
fn broken(env: &Env, seq: i64, why: &str) -> Error {
    let raised = incidents::raise(
        env,
        NewIncident {
            severity: Severity::Critical,
            source: "audit".into(),
            message: "the audit chain failed verification; it is no longer anchored".into(),
            links: serde_json::json!({ "seq": seq, "reason": why }),
        },
    );
    if let Err(e) = raised {
        crate::log::error("audit", &format!("incident not raised: {e}"));
    }
    Error::new(
        Kind::Conflict,
        "audit_chain_broken",
        format!("entry {seq}: {why}"),
    )
}

fn run(env: &Env, _run: &RunContext) -> Result<String> {
    Ok(match anchor(env)? {
        Outcome::NotConfigured => {
            "anchoring is off: set `audit_signing_secret` (32 characters or more)".to_string()
        }
        Outcome::Unchanged(seq) => format!("the head is still entry {seq}, anchored before"),
        Outcome::Anchored { seq, verified } => {
            format!("checked {verified} new entries and anchored entry {seq}")
        }
    })
}

/// Whether the key-value copy of the newest anchor contradicts the table,
/// whose newest anchor is `newest`: (seq, why). No copy (an emptied store)
/// contradicts nothing.
fn kv_mismatch(env: &Env, key: &Key, newest: Option<&Anchor>) -> Result<Option<(i64, String)>> {
    let Some(copy) = env.kv.get(KV_KEY)? else {
        return Ok(None);
    };
    let Ok(c) = serde_json::from_slice::<Anchor>(&copy) else {
        let at = newest.map(|n| n.seq + 1).unwrap_or(1);
        return Ok(Some((
            at,
            "the key-value copy of the newest anchor is unreadable".into(),
        )));
    };
    if let Some(why) = c.forged(key) {
        return Ok(Some((c.seq, format!("key-value copy: {why}"))));
    }
    if newest == Some(&c) {
        return Ok(None);
    }
    if newest.is_some_and(|n| n.seq > c.seq) {
        // The job writes the copy after the row: an older copy only means
        // the last write did not land. It must still be one of the anchors.
        let row = env.db.query_opt(
            "SELECT signature FROM audit_signed_anchors WHERE seq = ?1",
            params![c.seq],
        )?;
        if row.map(|r| r.text(0)).transpose()?.as_deref() == Some(c.signature.as_str()) {
            return Ok(None);
        }
        return Ok(Some((
            c.seq,
            format!(
                "the anchor of entry {} (kept in key-value) is not in the database: anchors were replaced",
                c.seq
            ),
        )));
    }
    Ok(Some((
        c.seq,
        format!(
            "the newest anchor (entry {}, {}, kept in key-value) is missing from the database: the chain and its anchors were cut back",
            c.seq,
            rfc3339(c.anchored_at)
        ),
    )))
}

/// The anchors' side of a verification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `ok`, `broken`, or `not_configured` (no `audit_signing_secret`:
    /// anchors are neither written nor checked).
    pub status: &'static str,
    /// Anchors checked.
    pub anchors: i64,
    /// The newest anchored entry.
    pub newest_seq: Option<i64>,
    /// When it was anchored, RFC 3339.
    pub newest_at: Option<String>,
    /// The newest anchor's copy in key-value: `matches`, or `absent` (the
    /// store was emptied: nothing to compare with).
    pub kv_copy: &'static str,
    /// The first anchor that does not hold: its entry's seq and why.
    pub first_broken: Option<serde_json::Value>,
}

/// Check every anchor, in order, against its signature, the one before it
/// and its entry, then the newest one against its key-value copy.
pub fn check(env: &Env) -> Result<Report> {
    let mut report = Report {
        status: "not_configured",
        anchors: 0,
        newest_seq: None,
        newest_at: None,
        kv_copy: "absent",
        first_broken: None,
    };
    let Some(key) = key(env)? else {
        return Ok(report);
    };
    report.status = "ok";
    let fail = |report: &mut Report, seq: i64, why: String| {
        report.status = "broken";
        report.first_broken = Some(serde_json::json!({ "seq": seq, "reason": why }));
    };
    let mut prev = FIRST.to_string();
    let mut after = 0i64;
    let mut newest: Option<Anchor> = None;
    'pages: loop {
        let rows = env.db.exec(
            "SELECT a.seq, a.hash, a.anchored_at, a.key_id, a.prev_signature, a.signature, l.hash
             FROM audit_signed_anchors a LEFT JOIN audit_log l ON l.seq = a.seq
             WHERE a.seq > ?1 ORDER BY a.seq LIMIT 500",
            params![after],
        )?;
        if rows.rows.is_empty() {
            break;
        }
        for r in &rows.rows {
            let a = Anchor::from_row(r)?;
            let entry_hash = r.opt_text(6)?;
            let why = if let Some(why) = a.forged(&key) {
                Some(why)
            } else if a.prev_signature != prev {
                Some(format!(
                    "the anchor before entry {}'s is missing: anchors were deleted",
                    a.seq
                ))
            } else {
                match entry_hash {
                    None => Some(cut(&a)),
                    Some(h) if h != a.hash => Some(rewritten(&a)),
                    Some(_) => None,
                }
            };
            if let Some(why) = why {
                fail(&mut report, a.seq, why);
                break 'pages;
            }
            report.anchors += 1;
            after = a.seq;
            prev = a.signature.clone();
            newest = Some(a);
        }
    }
    report.newest_seq = newest.as_ref().map(|a| a.seq);
    report.newest_at = newest.as_ref().map(|a| rfc3339(a.anchored_at));
    if report.first_broken.is_some() {
        return Ok(report);
    }
    match kv_mismatch(env, &key, newest.as_ref())? {
        Some((seq, why)) => fail(&mut report, seq, why),
        None => {
            if env.kv.get(KV_KEY)?.is_some() {
                report.kv_copy = "matches";
            }
        }
    }
    Ok(report)
}
