//! The subject access export: every row about a data subject, by email,
//! within the caller's tenant scope.
//!
//! Each section is one query with the email as `?1` and the tenant as `?2`
//! (see [`TenantFilter`]), so a tenant admin's export can only read rows
//! of their tenant. Rows come out as JSON objects named by their columns;
//! integer times (`*_at`, `at`) as RFC 3339. Secrets never appear: no
//! password hashes, no token values, no signing keys.

use super::subject::Subject;
use crate::error::Result;
use crate::params;
use crate::ports::{DbExt, Env, Rows, Value};
use crate::tenancy::Scope;
use crate::time::rfc3339;
use serde_json::{json, Map};

/// Rows returned per section at most; a section with more is listed in
/// `truncated` (ask again per tenant, or read the tables directly).
pub const MAX_ROWS: usize = 1000;

/// The tenant condition of a privacy query: `?2` is the tenant, or NULL
/// for a platform-wide scope.
#[derive(Debug, Clone)]
pub struct TenantFilter {
    tenant: Option<String>,
}

impl TenantFilter {
    /// For a request's scope.
    pub fn new(scope: &Scope) -> Self {
        TenantFilter {
            tenant: scope.tenant().map(|t| t.as_str().to_string()),
        }
    }

    /// The condition on the tenant expression `expr` (a column, or a
    /// subquery naming the row's tenant).
    pub fn on(&self, expr: &str) -> String {
        match self.tenant {
            Some(_) => format!("{expr} = ?2"),
            None => "?2 IS NULL".to_string(),
        }
    }

    /// The parameters `?1` (email), `?2` (tenant) and any more.
    pub fn params(&self, email: &str, more: &[Value]) -> Vec<Value> {
        let mut p = params![email, self.tenant.clone()].to_vec();
        p.extend_from_slice(more);
        p
    }

    /// The tenant, or `None` for every tenant.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }
}

/// One section of the export: a name and its query (`?1` email, `{t}` the
/// tenant condition on `tenant_id`).
struct Section {
    name: &'static str,
    sql: &'static str,
}

const SECTIONS: &[Section] = &[
    Section {
        name: "accounts",
        sql: "SELECT id, tenant_id, email, role, disabled, created_at, updated_at, last_login_at
              FROM users WHERE email = ?1 AND {t} ORDER BY id",
    },
    Section {
        name: "sessions",
        sql: "SELECT r.user_id, r.family, r.issued_at, r.expires_at, r.used_at, r.revoked_at
              FROM refresh_tokens r
              WHERE r.user_id IN (SELECT id FROM users WHERE email = ?1 AND {t})
              ORDER BY r.issued_at",
    },
    Section {
        name: "jobs",
        sql: "SELECT id, tenant_id, source, type, status, title, brief, email, input, output,
                     qa_score, qa_passed, tokens_in, tokens_out, cost_micros, external_ref,
                     created_at, started_at, finished_at
              FROM jobs WHERE email = ?1 AND {t} ORDER BY id",
    },
    Section {
        name: "job_attempts",
        sql: "SELECT job_id, round, status, model, output, feedback, error, qa_score,
                     started_at, finished_at
              FROM job_attempts
              WHERE job_id IN (SELECT id FROM jobs WHERE email = ?1 AND {t})
              ORDER BY job_id, id",
    },
    Section {
        name: "checkout_sessions",
        sql: "SELECT id, job_id, tenant_id, amount, currency, status, email, created_at, paid_at
              FROM checkout_sessions WHERE email = ?1 AND {t} ORDER BY created_at",
    },
    Section {
        name: "receipts",
        sql: "SELECT id, tenant_id, email, charge_id, job_id, invoice_id, description, amount,
                     amount_refunded, currency, paid_at
              FROM receipts WHERE email = ?1 AND {t} ORDER BY paid_at",
    },
    Section {
        name: "payments",
        sql: "SELECT id, tenant_id, customer, payment_intent, amount, amount_refunded, currency,
                     status, description, created_at
              FROM payments
              WHERE id IN (SELECT charge_id FROM receipts WHERE email = ?1 AND {t})
              ORDER BY created_at",
    },
    Section {
        name: "billing_contacts",
        sql: "SELECT tenant_id, billing_email, updated_at
              FROM billing_settings WHERE billing_email = ?1 AND {t}",
    },
    Section {
        name: "referral_codes",
        sql: "SELECT code, tenant_id, referrer_id, referrer_email, campaign, created_at
              FROM referral_codes WHERE referrer_email = ?1 AND {t} ORDER BY created_at",
    },
    Section {
        name: "referral_signups",
        sql: "SELECT tenant_id, email, code, client_addr, created_at
              FROM referral_signups WHERE email = ?1 AND {t}",
    },
    Section {
        name: "referral_refusals",
        sql: "SELECT code, email, reason, client_addr, at FROM referral_refusals
              WHERE email = ?1 AND {t:(SELECT c.tenant_id FROM referral_codes c WHERE c.code = referral_refusals.code)}
              ORDER BY at",
    },
    Section {
        name: "portal_access",
        sql: "SELECT at, kind, email, receipt_id, outcome, client_addr FROM portal_access
              WHERE email = ?1 AND {t:(SELECT r.tenant_id FROM receipts r WHERE r.id = portal_access.receipt_id)}
              ORDER BY at",
    },
    Section {
        name: "consents",
        sql: "SELECT tenant_id, purpose, state, version, source, actor, at
              FROM privacy_consents WHERE email = ?1 AND {t} ORDER BY at, id",
    },
    Section {
        name: "workflow_runs",
        sql: "SELECT id, tenant_id, workflow_id, status, trigger, input, created_at, finished_at
              FROM workflow_runs WHERE instr(lower(input), ?1) > 0 AND {t} ORDER BY created_at",
    },
    Section {
        name: "event_log",
        sql: "SELECT at_ms AS at, level, component, area, message, fields FROM event_log
              WHERE (instr(lower(fields), ?1) > 0 OR instr(lower(message), ?1) > 0) AND {t}
              ORDER BY at_ms",
    },
    Section {
        name: "audit_entries",
        sql: "SELECT seq, ts AS at, tenant_id, actor, action, target, detail FROM audit_log
              WHERE (actor IN (SELECT 'user:' || id FROM users WHERE email = ?1 AND {t})
                     OR target IN (SELECT id FROM users WHERE email = ?1 AND {t}))
                AND {t}
              ORDER BY seq",
    },
];

/// Replace `{t}` and `{t:<expr>}` placeholders with the tenant condition.
pub(crate) fn render(filter: &TenantFilter, sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(i) = rest.find("{t") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 2..];
        if let Some(after) = tail.strip_prefix('}') {
            out.push_str(&filter.on("tenant_id"));
            rest = after;
        } else if let Some(expr_and_more) = tail.strip_prefix(':') {
            // The expression ends at the `}` that balances the placeholder.
            let mut depth = 0usize;
            let mut end = expr_and_more.len();
            for (j, c) in expr_and_more.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    '}' if depth == 0 => {
                        end = j;
                        break;
                    }
                    _ => {}
                }
            }
            out.push_str(&filter.on(&expr_and_more[..end]));
            rest = expr_and_more.get(end + 1..).unwrap_or("");
        } else {
            out.push_str("{t");
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// The leading `args` a statement binds: up to its highest `?N`
/// (SQLite refuses more parameters than a statement declares).
pub(crate) fn bound<'a>(sql: &str, args: &'a [Value]) -> &'a [Value] {
    let mut highest = 0;
    let b = sql.as_bytes();
    for (i, c) in b.iter().enumerate() {
        if *c == b'?' {
            let digits: String = b[i + 1..]
                .iter()
                .take_while(|d| d.is_ascii_digit())
                .map(|d| *d as char)
                .collect();
            highest = highest.max(digits.parse::<usize>().unwrap_or(0));
        }
    }
    &args[..highest.min(args.len())]
}

/// A result set as JSON objects; integer times as RFC 3339.
fn rows_json(rows: &Rows) -> Vec<serde_json::Value> {
    rows.rows
        .iter()
        .map(|r| {
            let mut m = Map::new();
            for (name, v) in rows.columns.iter().zip(&r.values) {
                let is_time = name == "at" || name.ends_with("_at");
                let j = match v {
                    Value::Null => serde_json::Value::Null,
                    Value::Integer(i) if is_time => json!(rfc3339(*i)),
                    Value::Integer(i) => json!(i),
                    Value::Real(f) => json!(f),
                    Value::Text(s) => json!(s),
                    Value::Blob(b) => json!(format!("<{} bytes>", b.len())),
                };
                m.insert(name.clone(), j);
            }
            serde_json::Value::Object(m)
        })
        .collect()
}

/// What the export says about data it does not list.
const NOTES: &[&str] = &[
    "Payment records (receipts, payments) are kept for the statutory bookkeeping period even after erasure.",
    "The audit chain lists who did what; entries name people by user id or by the pseudonym of their email.",
    "Product analytics never store an address or email: visitors are daily-salted hashes and cannot be exported.",
    "Copies held by processors (the LLM provider, Stripe, Notion, Google, Telegram) are governed by their terms; see /legal/privacy/.",
];

/// Everything about `subject` within `scope`.
pub fn export(env: &Env, scope: &Scope, subject: &Subject) -> Result<serde_json::Value> {
    let filter = TenantFilter::new(scope);
    let mut sections = Map::new();
    let mut truncated = Vec::new();
    let mut total = 0usize;
    for s in SECTIONS {
        let sql = format!("{} LIMIT {}", render(&filter, s.sql), MAX_ROWS + 1);
        let mut rows = env.db.exec(&sql, &filter.params(subject.email(), &[]))?;
        if rows.rows.len() > MAX_ROWS {
            rows.rows.truncate(MAX_ROWS);
            truncated.push(s.name);
        }
        total += rows.rows.len();
        sections.insert(s.name.to_string(), json!(rows_json(&rows)));
    }
    Ok(json!({
        "subject": { "email": subject.email(), "pseudonym": subject.pseudonym() },
        "tenant": filter.tenant(),
        "generated_at": rfc3339(env.clock.now_ms()),
        "rows": total,
        "sections": sections,
        "truncated": truncated,
        "notes": NOTES,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::TenantId;

    #[test]
    fn placeholders_become_tenant_conditions() {
        let one = TenantFilter::new(&Scope::Tenant(TenantId::parse("acme").unwrap()));
        assert_eq!(render(&one, "a AND {t}"), "a AND tenant_id = ?2");
        assert_eq!(
            render(&one, "x {t:(SELECT c.t FROM c WHERE (c.k = k))} y"),
            "x (SELECT c.t FROM c WHERE (c.k = k)) = ?2 y"
        );
        let all = TenantFilter::new(&Scope::All);
        assert_eq!(
            render(&all, "a AND {t:(sub)} AND {t}"),
            "a AND ?2 IS NULL AND ?2 IS NULL"
        );
        assert_eq!(all.params("e@x.io", &[]).len(), 2);
    }
}
