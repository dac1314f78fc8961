//! Routing by severity, and the messages sent.
//!
//! CRITICAL pages at once: one delivery per channel, enqueued in the same
//! transaction that records the incident (so a page is never lost between
//! the two). WARNING waits for [`digest`], which folds every undigested
//! warning into one message per channel. INFO is recorded only.

use super::channels::Channel;
use super::model::{Incident, Severity};
use super::outbox::{self, Delivery};
use crate::db::transaction;
use crate::error::Result;
use crate::params;
use crate::ports::{Db, DbExt, Env};
use crate::time::rfc3339;
use serde::Serialize;
use serde_json::Value;

/// Warnings taken per digest (the rest wait for the next one).
pub const DIGEST_MAX_INCIDENTS: usize = 500;
/// Warnings listed one by one in a digest message.
pub const DIGEST_LISTED: usize = 20;

fn prefix(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

/// The text of a page:
///
/// ```text
/// 🚨 CRITICAL INCIDENT
///
/// {message}
///
/// Source: {source}
/// Fingerprint: {fingerprint}
/// Repeats: {n} (first seen {time}, last seen {time})
/// Incident: {id}
/// Links: {links}
/// ```
pub fn page_text(i: &Incident) -> String {
    let mut text = format!(
        "{} INCIDENT\n\n{}\n\nSource: {}\nFingerprint: {}\nRepeats: {} (first seen {}, last seen {})\nIncident: {}",
        i.severity.label(),
        i.message,
        i.source,
        i.fingerprint,
        i.repeat_count,
        rfc3339(i.created_at),
        rfc3339(i.last_seen_at),
        i.id,
    );
    if i.links.as_object().is_some_and(|o| !o.is_empty()) {
        text.push_str(&format!("\nLinks: {}", prefix(&i.links.to_string(), 500)));
    }
    text
}

/// The email subject of a page.
pub fn page_subject(i: &Incident) -> String {
    format!(
        "[EchoPilot] {}: {}: {}",
        i.severity.as_str(),
        i.source,
        prefix(&i.message, 80)
    )
}

/// The payload of a page on `channel`.
pub fn page_payload(channel: Channel, i: &Incident) -> Value {
    match channel {
        Channel::Telegram => serde_json::json!({ "kind": "page", "text": page_text(i) }),
        // Webhook (compliance forwards) is not an alert channel, never in
        // `Channel::ALL`; it would get the email shape.
        Channel::Email | Channel::Webhook => serde_json::json!({
            "kind": "page", "subject": page_subject(i), "text": page_text(i),
        }),
    }
}

/// Enqueue a page for `incident` on every channel (inside the caller's
/// transaction).
pub(crate) fn page(db: &dyn Db, env: &Env, incident: &Incident) -> Result<Vec<Delivery>> {
    Channel::ALL
        .into_iter()
        .map(|c| outbox::insert(db, env, c, &page_payload(c, incident), Some(&incident.id)))
        .collect()
}

/// The text of a digest of `warnings` (oldest first).
pub fn digest_text(warnings: &[Incident]) -> String {
    let mut text = format!(
        "{} digest: {} incident{}\n",
        Severity::Warning.label(),
        warnings.len(),
        if warnings.len() == 1 { "" } else { "s" }
    );
    for i in warnings.iter().take(DIGEST_LISTED) {
        text.push_str(&format!(
            "\n• [{}] {}\n  Fingerprint: {} · repeats {} · last seen {} · {} · {}",
            i.source,
            prefix(&i.message, 200),
            i.fingerprint,
            i.repeat_count,
            rfc3339(i.last_seen_at),
            i.status.as_str(),
            i.id
        ));
    }
    if warnings.len() > DIGEST_LISTED {
        text.push_str(&format!(
            "\n\n…and {} more.",
            warnings.len() - DIGEST_LISTED
        ));
    }
    text
}

/// What a [`digest`] run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DigestReport {
    /// Warnings folded into this digest.
    pub incidents: usize,
    /// The deliveries enqueued (one per channel; none when no warnings).
    #[serde(skip)]
    pub deliveries: Vec<Delivery>,
}

impl DigestReport {
    /// One line, for the scheduler's run record.
    pub fn summary(&self) -> String {
        format!(
            "{} warning(s) digested into {} deliver{}",
            self.incidents,
            self.deliveries.len(),
            if self.deliveries.len() == 1 {
                "y"
            } else {
                "ies"
            }
        )
    }
}

/// Fold every undigested WARNING (up to [`DIGEST_MAX_INCIDENTS`]) into one
/// outbox message per channel and mark them digested, in one transaction:
/// concurrent runs digest each warning once.
pub fn digest(env: &Env) -> Result<DigestReport> {
    let now = env.clock.now_ms();
    transaction(env.db.as_ref(), |db| {
        let rows = db.exec(
            &format!(
                "UPDATE incidents SET digest_state = 'digested', digested_at = ?1
                 WHERE id IN (SELECT id FROM incidents WHERE digest_state = 'pending' ORDER BY id LIMIT ?2)
                 RETURNING {}",
                super::model::INCIDENT_COLUMNS
            ),
            params![now, DIGEST_MAX_INCIDENTS],
        )?;
        let mut warnings = rows
            .rows
            .iter()
            .map(Incident::from_row)
            .collect::<Result<Vec<_>>>()?;
        if warnings.is_empty() {
            return Ok(DigestReport::default());
        }
        warnings.sort_by(|a, b| a.id.cmp(&b.id));
        let text = digest_text(&warnings);
        let subject = format!(
            "[EchoPilot] {} warning{} since the last digest",
            warnings.len(),
            if warnings.len() == 1 { "" } else { "s" }
        );
        let ids: Vec<&str> = warnings.iter().map(|i| i.id.as_str()).collect();
        let deliveries = Channel::ALL
            .into_iter()
            .map(|c| {
                let payload = match c {
                    Channel::Telegram => {
                        serde_json::json!({ "kind": "digest", "text": text, "incident_ids": ids })
                    }
                    Channel::Email | Channel::Webhook => serde_json::json!({
                        "kind": "digest", "subject": subject, "text": text, "incident_ids": ids,
                    }),
                };
                outbox::insert(db, env, c, &payload, None)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(DigestReport {
            incidents: warnings.len(),
            deliveries,
        })
    })
}
