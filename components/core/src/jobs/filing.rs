//! Filing finished jobs to Google Drive, per tenant.
//!
//! A tenant's admin turns it on (`PATCH /api/tenant/settings` with
//! `drive_filing: {enabled, folder_id, format}`); the platform's Drive
//! grant (the `drive_*` variables, [`crate::google::drive`]) does the
//! uploading, so no credential is stored with the setting.
//!
//! **What is filed**: a job that reaches `completed` (QA passed). A job
//! that failed QA is not filed: its output did not meet the bar, and a
//! tenant's folder is where finished work is shared. An operator retry
//! that later completes it files it then.
//!
//! **The outbox**: the `jobs_file_to_drive` trigger (migration 24) writes
//! a `job_filings` row in the statement, so the transaction, that
//! completes the job, when its tenant files to Drive, with the folder and
//! format in force then. Each worker tick delivers the due rows
//! ([`deliver_due`]): a claim moves `next_attempt_at` ahead by a lease
//! (a worker that dies mid-delivery leaves the row due again later);
//! a failure that may pass (network, timeout, 429, 5xx) is retried with
//! the queue's backoff from `drive_filing_retry_base_ms`, up to
//! [`MAX_ATTEMPTS`]; then, or at once for a refusal (revoked grant, 4xx,
//! Drive not configured), the row is `failed` with its last error,
//! visible on the job and in `GET /api/drive-filings`, and an operator may
//! retry it (`POST /api/jobs/{id}/drive-filing`).
//!
//! **Exactly once in effect**: each file carries the app property
//! `echopilot_job = <job id>`; every delivery first searches the folder
//! for it ([`drive::upload_once`]), so a retry after an upload whose
//! answer was lost finds that file instead of making a second.

use crate::error::{Error, Kind, Result};
use crate::google::drive::{self, FolderId, Format, UploadError};
use crate::params;
use crate::ports::{DbExt, Env, Row};
use crate::tenancy::{Scope, TenantId};
use crate::time::rfc3339;
use serde::Deserialize;
use serde_json::{json, Value};

/// Deliveries of one filing before it is given up.
pub const MAX_ATTEMPTS: i64 = 5;
/// The app property naming the job a file holds.
pub const PROPERTY: &str = "echopilot_job";
/// How long a claimed delivery may take before another worker may take it
/// over (a token exchange, a search and an upload, 30 s each at most).
const LEASE_MS: i64 = 120_000;
/// The longest wait between two attempts.
const RETRY_CAP_MS: i64 = 30 * 60_000;

/// A tenant's filing setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// Whether completed jobs are filed.
    pub enabled: bool,
    /// The Drive folder.
    pub folder_id: String,
    /// The file format.
    pub format: Format,
}

impl Setting {
    /// As served (`null` fields when never set).
    pub fn view(s: Option<&Setting>) -> Value {
        match s {
            Some(s) => json!({
                "enabled": s.enabled, "folder_id": s.folder_id, "format": s.format.as_str(),
            }),
            None => json!({ "enabled": false, "folder_id": null, "format": "markdown" }),
        }
    }
}

/// A change to the setting; absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SettingChange {
    /// On or off.
    pub enabled: Option<bool>,
    /// A Drive folder id.
    pub folder_id: Option<String>,
    /// `text`, `markdown` or `html`.
    pub format: Option<String>,
}

/// The setting of `tenant`, if it was ever set.
pub fn setting(env: &Env, tenant: &TenantId) -> Result<Option<Setting>> {
    env.db
        .query_opt(
            "SELECT enabled, folder_id, format FROM drive_filing_settings WHERE tenant_id = ?1",
            params![tenant.as_str()],
        )?
        .map(|r| {
            Ok(Setting {
                enabled: r.bool(0)?,
                folder_id: r.text(1)?,
                format: Format::parse(&r.text(2)?)?,
            })
        })
        .transpose()
}

/// Apply `change` to `tenant`'s setting, by `actor`: the folder must be a
/// Drive folder id, turning it on needs a folder and the platform's
/// permission for the tenant to use its integrations
/// (`workflow_integration_tenants`). Nothing changes on a refusal.
pub fn change(
    env: &Env,
    tenant: &TenantId,
    change: &SettingChange,
    actor: &str,
) -> Result<Setting> {
    let current = setting(env, tenant)?;
    let folder_id = match &change.folder_id {
        Some(f) => Some(FolderId::parse(f)?.as_str().to_string()),
        None => current.as_ref().map(|c| c.folder_id.clone()),
    };
    let format = match &change.format {
        Some(f) => Format::parse(f)?,
        None => current.as_ref().map_or(Format::Markdown, |c| c.format),
    };
    let enabled = change
        .enabled
        .unwrap_or_else(|| current.as_ref().is_some_and(|c| c.enabled));
    let Some(folder_id) = folder_id else {
        return Err(Error::unprocessable(
            "invalid_folder_id",
            "filing to Drive needs `folder_id`, the Drive folder's id (the last part of its URL)",
        ));
    };
    let policy = crate::workflows::validate::Policy::load(env.config.as_ref(), tenant.as_str())?;
    if enabled && !policy.integrations {
        return Err(Error::new(
            Kind::Forbidden,
            "integration_not_allowed",
            "filing to Drive uses the platform's Google account; the operator allows a tenant in `workflow_integration_tenants`",
        ));
    }
    env.db.exec(
        "INSERT INTO drive_filing_settings (tenant_id, enabled, folder_id, format, updated_by, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (tenant_id) DO UPDATE SET enabled = ?2, folder_id = ?3, format = ?4,
            updated_by = ?5, updated_at = ?6",
        params![
            tenant.as_str(),
            enabled,
            folder_id.as_str(),
            format.as_str(),
            actor,
            env.clock.now_ms()
        ],
    )?;
    Ok(Setting {
        enabled,
        folder_id,
        format,
    })
}

/// Where a job's filing stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Filing {
    /// The job.
    pub job_id: String,
    /// Its tenant.
    pub tenant_id: String,
    /// The folder it goes to.
    pub folder_id: String,
    /// The format it is filed in.
    pub format: String,
    /// `pending`, `filed` or `failed`.
    pub status: String,
    /// Deliveries tried.
    pub attempts: i64,
    /// When the next one is due (pending).
    pub next_attempt_at: i64,
    /// Drive's file id, once filed.
    pub file_id: Option<String>,
    /// The file's name, once filed.
    pub file_name: Option<String>,
    /// Where people open it.
    pub link: Option<String>,
    /// Why the last delivery failed (no secret).
    pub last_error: Option<String>,
    /// When the job was completed.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

const COLUMNS: &str = "job_id, tenant_id, folder_id, format, status, attempts, next_attempt_at, \
                       file_id, file_name, link, last_error, created_at, updated_at";

impl Filing {
    fn from_row(r: &Row) -> Result<Filing> {
        Ok(Filing {
            job_id: r.text(0)?,
            tenant_id: r.text(1)?,
            folder_id: r.text(2)?,
            format: r.text(3)?,
            status: r.text(4)?,
            attempts: r.i64(5)?,
            next_attempt_at: r.i64(6)?,
            file_id: r.opt_text(7)?,
            file_name: r.opt_text(8)?,
            link: r.opt_text(9)?,
            last_error: r.opt_text(10)?,
            created_at: r.i64(11)?,
            updated_at: r.i64(12)?,
        })
    }

    /// As served.
    pub fn view(&self) -> Value {
        json!({
            "job_id": self.job_id,
            "tenant_id": self.tenant_id,
            "folder_id": self.folder_id,
            "format": self.format,
            "status": self.status,
            "attempts": self.attempts,
            "max_attempts": MAX_ATTEMPTS,
            "next_attempt_at": (self.status == "pending").then(|| rfc3339(self.next_attempt_at)),
            "file_id": self.file_id,
            "file_name": self.file_name,
            "link": self.link,
            "last_error": self.last_error,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
        })
    }
}

/// The filing of job `job_id` (of a tenant in the caller's scope), if any.
pub fn of_job(env: &Env, job_id: &str) -> Result<Option<Filing>> {
    env.db
        .query_opt(
            &format!("SELECT {COLUMNS} FROM job_filings WHERE job_id = ?1"),
            params![job_id],
        )?
        .map(|r| Filing::from_row(&r))
        .transpose()
}

/// The filings in `scope` with `status` (any when `None`), newest first,
/// at most `limit`, and the counts by status.
pub fn list(
    env: &Env,
    scope: &Scope,
    status: Option<&str>,
    limit: i64,
) -> Result<(Vec<Filing>, Value)> {
    if let Some(s) = status {
        if !["pending", "filed", "failed"].contains(&s) {
            return Err(Error::unprocessable(
                "invalid_status",
                format!("unknown filing status `{s}`; expected pending, filed or failed"),
            ));
        }
    }
    let (cond, tenant) = scope.condition("tenant_id", 1);
    let mut p: Vec<crate::ports::Value> = tenant.into_iter().map(Into::into).collect();
    let counts = env.db.exec(
        &format!("SELECT status, COUNT(*) FROM job_filings WHERE {cond} GROUP BY status"),
        &p,
    )?;
    let mut by_status = json!({ "pending": 0, "filed": 0, "failed": 0 });
    for r in &counts.rows {
        by_status[r.text(0)?] = r.i64(1)?.into();
    }
    let n = p.len();
    p.push(status.map(str::to_string).into());
    p.push(limit.clamp(1, 200).into());
    let rows = env.db.exec(
        &format!(
            "SELECT {COLUMNS} FROM job_filings WHERE {cond} AND (?{a} IS NULL OR status = ?{a})
             ORDER BY updated_at DESC, job_id LIMIT ?{b}",
            a = n + 1,
            b = n + 2
        ),
        &p,
    )?;
    let filings = rows
        .rows
        .iter()
        .map(Filing::from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok((filings, by_status))
}

/// Queue job `job_id`'s failed filing again (attempts start over). 404
/// when it has none in `scope`; 409 unless it failed.
pub fn retry(env: &Env, scope: &Scope, job_id: &str) -> Result<Filing> {
    let (cond, tenant) = scope.condition("tenant_id", 3);
    let mut p: Vec<crate::ports::Value> = vec![job_id.into(), env.clock.now_ms().into()];
    p.extend(tenant.into_iter().map(Into::into));
    let row = env.db.query_opt(
        &format!(
            "UPDATE job_filings SET status = 'pending', attempts = 0, next_attempt_at = ?2, updated_at = ?2
             WHERE job_id = ?1 AND status = 'failed' AND {cond} RETURNING {COLUMNS}"
        ),
        &p,
    )?;
    if let Some(r) = row {
        return Filing::from_row(&r);
    }
    match of_job(env, job_id)? {
        Some(f) if scope.allows(&f.tenant_id) => Err(Error::conflict(
            "filing_not_failed",
            format!(
                "the job's filing is {}; only a failed filing is retried",
                f.status
            ),
        )),
        _ => Err(Error::new(
            Kind::NotFound,
            "filing_not_found",
            format!("job `{job_id}` has no Drive filing"),
        )),
    }
}

/// What one delivery round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryReport {
    /// Files made (or found from an earlier attempt).
    pub filed: usize,
    /// Deliveries that will be tried again.
    pub retried: usize,
    /// Filings given up.
    pub failed: usize,
}

/// The first wait after a failed delivery (`drive_filing_retry_base_ms`,
/// default 30 s; doubled per attempt, to 30 minutes).
fn retry_base_ms(env: &Env) -> Result<i64> {
    crate::config::int(
        env.config.as_ref(),
        "drive_filing_retry_base_ms",
        30_000,
        10,
        RETRY_CAP_MS,
    )
}

/// Claim the next due filing: one statement, so of many workers one gets it.
fn claim(env: &Env, now: i64) -> Result<Option<Filing>> {
    env.db
        .query_opt(
            &format!(
                "UPDATE job_filings SET attempts = attempts + 1, next_attempt_at = ?1 + ?2, updated_at = ?1
                 WHERE job_id = (SELECT job_id FROM job_filings WHERE status = 'pending'
                                 AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT 1)
                   AND status = 'pending' AND next_attempt_at <= ?1
                 RETURNING {COLUMNS}"
            ),
            params![now, LEASE_MS],
        )?
        .map(|r| Filing::from_row(&r))
        .transpose()
}

/// Deliver up to `max` due filings, until `deadline` (monotonic ms).
pub async fn deliver_due(env: &Env, max: usize, deadline: f64) -> Result<DeliveryReport> {
    let mut report = DeliveryReport::default();
    let base = retry_base_ms(env)?;
    for _ in 0..max {
        if env.clock.monotonic_ms() >= deadline {
            break;
        }
        let Some(filing) = claim(env, env.clock.now_ms())? else {
            break;
        };
        let outcome = deliver(env, &filing).await;
        let now = env.clock.now_ms();
        match outcome {
            Ok(file) => {
                env.db.exec(
                    "UPDATE job_filings SET status = 'filed', file_id = ?2, file_name = ?3, link = ?4,
                        last_error = NULL, updated_at = ?5 WHERE job_id = ?1",
                    params![filing.job_id.as_str(), file.id, file.name, file.link, now],
                )?;
                report.filed += 1;
            }
            Err(UploadError::Unavailable(why)) if filing.attempts < MAX_ATTEMPTS => {
                let wait = crate::jobs::queue::backoff_ms(
                    filing.attempts,
                    base,
                    RETRY_CAP_MS,
                    crate::ports::ids::random_unit(env.ids.as_ref()),
                );
                env.db.exec(
                    "UPDATE job_filings SET next_attempt_at = ?2, last_error = ?3, updated_at = ?4
                     WHERE job_id = ?1",
                    params![filing.job_id.as_str(), now + wait.max(1), why.as_str(), now],
                )?;
                report.retried += 1;
            }
            Err(UploadError::Unavailable(why) | UploadError::Refused(why)) => {
                env.db.exec(
                    "UPDATE job_filings SET status = 'failed', last_error = ?2, updated_at = ?3
                     WHERE job_id = ?1",
                    params![filing.job_id.as_str(), why.as_str(), now],
                )?;
                crate::log::warn(
                    "drive-filing",
                    &format!(
                        "job {} was not filed to Drive after {} attempt(s): {why}",
                        filing.job_id, filing.attempts
                    ),
                );
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// File `filing`'s job once: its output in the filing's format, into its
/// folder, found again if an earlier attempt already made it.
async fn deliver(env: &Env, filing: &Filing) -> std::result::Result<drive::Uploaded, UploadError> {
    let refused = |m: String| UploadError::Refused(m);
    let policy = crate::workflows::validate::Policy::load(env.config.as_ref(), &filing.tenant_id)
        .map_err(|e| refused(e.message))?;
    if !policy.integrations {
        return Err(refused(
            "the platform no longer lets this tenant use its integrations (workflow_integration_tenants)".into(),
        ));
    }
    let settings = drive::settings(env.config.as_ref())
        .map_err(|e| refused(e.message))?
        .ok_or_else(|| refused("Google Drive is not configured (drive_refresh_token)".into()))?;
    let job = env
        .db
        .query_opt(
            "SELECT title, output FROM jobs WHERE id = ?1 AND tenant_id = ?2",
            params![filing.job_id.as_str(), filing.tenant_id.as_str()],
        )
        .map_err(|e| UploadError::Unavailable(e.to_string()))?
        .ok_or_else(|| refused("the job no longer exists".into()))?;
    let title = job
        .opt_text(0)
        .ok()
        .flatten()
        .filter(|t| !t.trim().is_empty());
    let output = job.opt_text(1).ok().flatten().unwrap_or_default();
    let format = Format::parse(&filing.format).map_err(|e| refused(e.message))?;
    let upload = drive::Upload {
        name: file_name(title.as_deref(), &filing.job_id),
        folder: Some(FolderId::parse(&filing.folder_id).map_err(|e| refused(e.message))?),
        format,
        content: render(format, title.as_deref(), &output),
        properties: vec![
            (PROPERTY.to_string(), filing.job_id.clone()),
            ("echopilot_tenant".to_string(), filing.tenant_id.clone()),
        ],
    };
    drive::upload_once(env, &settings, &upload, PROPERTY).await
}

/// A file's name: the job's title (one line, shortened) and its id, so
/// two jobs with one title stay apart.
pub fn file_name(title: Option<&str>, job_id: &str) -> String {
    let title: String = title
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
        .chars()
        .take(120)
        .collect();
    if title.is_empty() {
        format!("EchoPilot {job_id}")
    } else {
        format!("{title} ({job_id})")
    }
}

/// The job's output as a file in `format`: text and Markdown as written;
/// HTML as a document of escaped paragraphs (the output is never trusted
/// as markup).
pub fn render(format: Format, title: Option<&str>, output: &str) -> String {
    match format {
        Format::Text | Format::Markdown => output.to_string(),
        Format::Html => {
            let esc = |s: &str| {
                s.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&quot;")
            };
            let paragraphs: String = output
                .split("\n\n")
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| format!("<p>{}</p>\n", esc(p).replace('\n', "<br>\n")))
                .collect();
            let title = esc(title.unwrap_or("EchoPilot job"));
            format!(
                "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n{paragraphs}</body></html>\n"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_renderings() {
        assert_eq!(
            file_name(Some(" Q3\nreport "), "job_1"),
            "Q3 report (job_1)"
        );
        assert_eq!(file_name(None, "job_1"), "EchoPilot job_1");
        assert_eq!(render(Format::Markdown, None, "# a"), "# a");
        let html = render(Format::Html, Some("T<x>"), "a <b>\nc\n\nd & e");
        assert!(html.contains("<title>T&lt;x&gt;</title>"), "{html}");
        assert!(
            html.contains("<p>a &lt;b&gt;<br>\nc</p>\n<p>d &amp; e</p>"),
            "{html}"
        );
    }
}
