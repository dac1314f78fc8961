//! Erasure (right to be forgotten): a data subject's personal data removed
//! within the caller's tenant scope, in one transaction.
//!
//! | data | what happens |
//! |---|---|
//! | jobs | queued or running ones cancelled; brief, title, input, output, error and email erased (the row, its figures and costs stay for metrics and billing) |
//! | job attempts | outputs, grader feedback and errors erased |
//! | user accounts | email replaced by a placeholder, password unusable, disabled; every session revoked |
//! | checkout sessions, billing contact | email cleared |
//! | referrals | email replaced by the placeholder, client address cleared |
//! | customer-portal access log | email and client address cleared |
//! | consents | email replaced by the placeholder (the record of what was consented stays) |
//! | workflow runs and steps that mention the email | inputs and outputs erased |
//! | event log entries that mention the email | message and fields erased |
//! | receipts and payments | **kept** (bookkeeping law: amount, currency, date, description and the billed email, for `retention_payment_records_days`) |
//! | audit chain | kept (it cannot be rewritten); it names people by user id and the email's pseudonym only |
//!
//! Erasing again finds nothing left and changes nothing.

use super::export::{bound, render, TenantFilter};
use super::subject::Subject;
use crate::db;
use crate::error::Result;
use crate::identity::sessions;
use crate::params;
use crate::ports::{Db, DbExt, Env, Value};
use crate::tenancy::Scope;
use serde::Serialize;

/// What an erasure did, per kind of data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    /// Jobs cancelled because they had not finished.
    pub jobs_cancelled: i64,
    /// Jobs whose content was erased.
    pub jobs: i64,
    /// Attempts whose outputs were erased.
    pub job_attempts: i64,
    /// User accounts anonymised and disabled.
    pub accounts: i64,
    /// Sessions (refresh-token families) revoked.
    pub sessions_revoked: i64,
    /// Checkout sessions whose email was cleared.
    pub checkout_sessions: i64,
    /// Billing contacts cleared.
    pub billing_contacts: i64,
    /// Referral codes, signups and refusals anonymised.
    pub referrals: i64,
    /// Customer-portal access records cleared.
    pub portal_access: i64,
    /// Consent records anonymised.
    pub consents: i64,
    /// Workflow runs and steps erased.
    pub workflow_records: i64,
    /// Event log entries erased.
    pub event_log: i64,
    /// Receipts kept (statutory bookkeeping).
    pub receipts_kept: i64,
}

/// One statement of the erasure: `?1` email, `?2` tenant, `?3` now,
/// `?4` the placeholder email; `{t}` the tenant condition.
struct Step {
    sql: &'static str,
    count: fn(&mut Erased) -> &mut i64,
}

const JOB_CANCEL_REASON: &str = "cancelled: the data subject's data was erased";

const STEPS: &[Step] = &[
    Step {
        sql: "UPDATE jobs SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL,
                  finished_at = ?3, updated_at = ?3
              WHERE email = ?1 AND status IN ('queued', 'processing') AND {t} RETURNING 1",
        count: |e| &mut e.jobs_cancelled,
    },
    Step {
        sql: "UPDATE job_attempts SET output = NULL, feedback = NULL, error = NULL
              WHERE job_id IN (SELECT id FROM jobs WHERE email = ?1 AND {t}) RETURNING 1",
        count: |e| &mut e.job_attempts,
    },
    Step {
        sql: "UPDATE jobs SET title = NULL, brief = '[erased]', email = NULL,
                  input = '{\"context\":null}', output = NULL, dead_reason = NULL,
                  last_error = CASE WHEN status = 'cancelled' AND finished_at = ?3
                                    THEN ?5 ELSE NULL END,
                  sync_state = NULL, updated_at = ?3
              WHERE email = ?1 AND {t} RETURNING 1",
        count: |e| &mut e.jobs,
    },
    Step {
        sql: "UPDATE checkout_sessions SET email = NULL, updated_at = ?3
              WHERE email = ?1 AND {t} RETURNING 1",
        count: |e| &mut e.checkout_sessions,
    },
    Step {
        sql: "UPDATE billing_settings SET billing_email = NULL, updated_at = ?3
              WHERE billing_email = ?1 AND {t} RETURNING 1",
        count: |e| &mut e.billing_contacts,
    },
    Step {
        sql: "UPDATE referral_codes SET referrer_email = ?4
              WHERE referrer_email = ?1 AND {t} RETURNING 1",
        count: |e| &mut e.referrals,
    },
    Step {
        sql: "UPDATE referral_signups SET email = ?4, client_addr = NULL
              WHERE email = ?1 AND {t} RETURNING 1",
        count: |e| &mut e.referrals,
    },
    Step {
        sql: "UPDATE referral_refusals SET email = ?4, client_addr = NULL
              WHERE email = ?1
                AND {t:(SELECT c.tenant_id FROM referral_codes c WHERE c.code = referral_refusals.code)}
              RETURNING 1",
        count: |e| &mut e.referrals,
    },
    Step {
        sql: "UPDATE portal_access SET email = NULL, client_addr = 'erased'
              WHERE email = ?1
                AND {t:(SELECT r.tenant_id FROM receipts r WHERE r.id = portal_access.receipt_id)}
              RETURNING 1",
        count: |e| &mut e.portal_access,
    },
    Step {
        sql: "UPDATE privacy_consents SET email = ?4 WHERE email = ?1 AND {t} RETURNING 1",
        count: |e| &mut e.consents,
    },
    Step {
        sql: "UPDATE workflow_steps SET input = NULL, output = NULL, error = NULL
              WHERE (instr(lower(COALESCE(input, '')), ?1) > 0
                     OR instr(lower(COALESCE(output, '')), ?1) > 0
                     OR run_id IN (SELECT id FROM workflow_runs WHERE instr(lower(input), ?1) > 0 AND {t}))
                AND {t} RETURNING 1",
        count: |e| &mut e.workflow_records,
    },
    Step {
        sql: "UPDATE workflow_runs SET input = '{}', error = NULL, updated_at = ?3
              WHERE instr(lower(input), ?1) > 0 AND {t} RETURNING 1",
        count: |e| &mut e.workflow_records,
    },
    Step {
        sql: "UPDATE event_log SET message = '[erased]', fields = '{}'
              WHERE (instr(lower(fields), ?1) > 0 OR instr(lower(message), ?1) > 0) AND {t}
              RETURNING 1",
        count: |e| &mut e.event_log,
    },
];

/// Erase `subject`'s personal data within `scope`. Accounts are
/// anonymised last, in the same transaction; their sessions are revoked
/// once it commits.
pub fn erase(env: &Env, scope: &Scope, subject: &Subject) -> Result<Erased> {
    let filter = TenantFilter::new(scope);
    let now = env.clock.now_ms();
    let placeholder = subject.placeholder_email();
    let more = params![now, placeholder.as_str(), JOB_CANCEL_REASON];
    let args = filter.params(subject.email(), more);
    let (mut out, users) = db::transaction(env.db.as_ref(), |db: &dyn Db| {
        let mut out = Erased::default();
        for step in STEPS {
            let sql = render(&filter, step.sql);
            let n = db.exec(&sql, bound(&sql, &args))?.rows.len() as i64;
            *(step.count)(&mut out) += n;
        }
        out.receipts_kept = db
            .query_one(
                &render(
                    &filter,
                    "SELECT COUNT(*) FROM receipts WHERE email = ?1 AND {t}",
                ),
                &args[..2],
            )?
            .i64(0)?;
        let users: Vec<String> = db
            .exec(
                &render(
                    &filter,
                    "UPDATE users SET email = ?4, password_hash = '!erased', disabled = 1, updated_at = ?3
                     WHERE email = ?1 AND {t} RETURNING id",
                ),
                &args[..4],
            )?
            .rows
            .iter()
            .map(|r| r.text(0))
            .collect::<Result<_>>()?;
        out.accounts = users.len() as i64;
        Ok((out, users))
    })?;
    for user in &users {
        out.sessions_revoked += live_sessions(env, user)?;
        sessions::revoke_user_refresh_tokens(env, user)?;
    }
    Ok(out)
}

fn live_sessions(env: &Env, user_id: &str) -> Result<i64> {
    env.db
        .query_one(
            "SELECT COUNT(DISTINCT family) FROM refresh_tokens
             WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
            &[Value::from(user_id), Value::from(env.clock.now_ms())],
        )?
        .i64(0)
}
