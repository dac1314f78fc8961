//! # Off-machine copies of backups
//!
//! After cron-backup takes and verifies a backup, it ships it to an
//! S3-compatible object store ([`crate::objectstore`]): a copy that
//! survives the disk the database lives on.
//!
//! ## What is shipped
//! Per backup, two objects under `backup_s3_prefix`:
//! - `{prefix}echopilot-backup-YYYY-MM-DD-bak_….sql.gz`: the backup's bytes
//!   exactly as `GET /api/backups/{id}/download` gives them (restorable
//!   with `gunzip | sqlite3` alone), with `x-amz-meta-backup-id` and
//!   `x-amz-meta-sha256`;
//! - the same key plus `.manifest.json`: its manifest (row counts and
//!   content hashes per table), which lets a restore from the store be
//!   compared exactly when the local catalogue is gone.
//!
//! Each shipment is recorded in `backup_offsite` (key, size, SHA-256,
//! when, attempts, last error). A failed upload is retried by later runs,
//! at most [`MAX_ATTEMPTS`] times per backup, newest backups first and at
//! most [`MAX_PER_RUN`] per run; failures go to the log and to DR status
//! (`GET /api/dr/last`). When the newest shipped backup is more than two
//! backup periods old ([`stale`]), the nightly run raises a CRITICAL
//! incident and the security scan reports `backups_not_shipped`.
//!
//! ## Retention in the store
//! After a run ships something, it lists the prefix and deletes the
//! backups beyond the newest `backup_s3_keep` (30 by default; a count of
//! backups, 1 to 365), with their manifests ([`beyond_keep`]). The newest
//! is never deleted. Only objects named like the app's backups are
//! touched: anything else under the prefix is left alone.
//!
//! ## Variables
//! | variable | default | meaning |
//! |---|---|---|
//! | `backup_s3_bucket` | (none) | the bucket; empty: shipping is off |
//! | `backup_s3_endpoint` | `https://s3.us-east-1.amazonaws.com` | the store's origin (path-style requests) |
//! | `backup_s3_region` | `us-east-1` | the signing region |
//! | `backup_s3_access_key_id` | (none) | the access key's id |
//! | `backup_s3_secret_access_key` | (none) | its secret (a secret: 32+ characters) |
//! | `backup_s3_prefix` | `echopilot/` | where objects go in the bucket |
//! | `backup_s3_keep` | `30` | backups kept in the store |

pub mod records;

use super::store::Record;
use crate::config;
use crate::error::{Error, Result};
use crate::objectstore::{Bucket, Object, StoreError};
use crate::ports::{Config, Env};
use crate::sigv4::Credentials;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use records::Shipment;

/// The bucket variable: empty, shipping is off.
pub const BUCKET_VARIABLE: &str = "backup_s3_bucket";
/// The store's origin when `backup_s3_endpoint` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://s3.us-east-1.amazonaws.com";
/// The signing region when `backup_s3_region` is not set.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The key prefix when `backup_s3_prefix` is not set.
pub const DEFAULT_PREFIX: &str = "echopilot/";
/// Backups kept in the store when `backup_s3_keep` is not set.
pub const DEFAULT_KEEP: usize = 30;
/// The most backups `backup_s3_keep` may keep.
pub const MAX_KEEP: usize = 365;
/// Attempts per backup before it is given up (it stays in DR status).
pub const MAX_ATTEMPTS: i64 = 5;
/// Backups shipped by one run at most.
pub const MAX_PER_RUN: usize = 3;
/// Listing pages read at most (1,000 keys each).
const MAX_PAGES: usize = 20;
/// The suffix of a manifest object.
pub const MANIFEST_SUFFIX: &str = ".manifest.json";
const BACKUP_NAME_START: &str = "echopilot-backup-";
const BACKUP_NAME_END: &str = ".sql.gz";

/// Where backups are shipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The bucket and the key that opens it.
    pub bucket: Bucket,
    /// Key prefix: empty, or ends with `/`.
    pub prefix: String,
    /// Backups kept in the store.
    pub keep: usize,
}

impl Settings {
    /// `s3://bucket/prefix`, as shown.
    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket.name, self.prefix)
    }

    /// The secrets to keep out of messages.
    fn secrets(&self) -> Vec<String> {
        vec![
            self.bucket.credentials.secret_access_key.clone(),
            self.bucket.credentials.access_key_id.clone(),
        ]
    }
}

/// The shipping settings; `None` when `backup_s3_bucket` is empty; an
/// `invalid_configuration` error naming a missing or malformed variable.
pub fn settings(c: &dyn Config) -> Result<Option<Settings>> {
    let Some(name) = config::text(c, BUCKET_VARIABLE)? else {
        return Ok(None);
    };
    let name_ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !name_ok {
        return Err(config::invalid(
            BUCKET_VARIABLE,
            "a bucket name (3 to 63 lowercase letters, digits, `.` or `-`)",
            &name,
        ));
    }
    let region = config::text_or(c, "backup_s3_region", DEFAULT_REGION)?;
    if region.is_empty()
        || region.len() > 32
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(config::invalid(
            "backup_s3_region",
            "a region like eu-west-1",
            &region,
        ));
    }
    let access_key_id = config::text(c, "backup_s3_access_key_id")?.ok_or_else(|| {
        config::invalid(
            "backup_s3_access_key_id",
            "set when backup_s3_bucket is (the access key's id)",
            "",
        )
    })?;
    let secret_access_key = config::secret(c, "backup_s3_secret_access_key")?.ok_or_else(|| {
        config::invalid(
            "backup_s3_secret_access_key",
            "set when backup_s3_bucket is (the access key's secret)",
            "",
        )
    })?;
    let prefix = config::text_or(c, "backup_s3_prefix", DEFAULT_PREFIX)?;
    let prefix_ok = prefix.len() <= 200
        && !prefix.starts_with('/')
        && !prefix.contains("//")
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
    if !prefix_ok {
        return Err(config::invalid(
            "backup_s3_prefix",
            "a key prefix of letters, digits, `-`, `_`, `.` and `/` (not starting with `/`)",
            &prefix,
        ));
    }
    let prefix = if prefix.is_empty() || prefix.ends_with('/') {
        prefix
    } else {
        format!("{prefix}/")
    };
    let keep = config::int(c, "backup_s3_keep", DEFAULT_KEEP as i64, 1, MAX_KEEP as i64)?;
    Ok(Some(Settings {
        bucket: Bucket {
            endpoint: config::origin(c, "backup_s3_endpoint", DEFAULT_ENDPOINT)?,
            name,
            region,
            credentials: Credentials {
                access_key_id,
                secret_access_key,
            },
        },
        prefix,
        keep: usize::try_from(keep).unwrap_or(DEFAULT_KEEP),
    }))
}

/// Whether `key` is one of the app's backup files under `prefix`.
fn is_backup_key(key: &str, prefix: &str) -> bool {
    key.strip_prefix(prefix).is_some_and(|name| {
        name.starts_with(BACKUP_NAME_START)
            && name.ends_with(BACKUP_NAME_END)
            && !name.contains('/')
    })
}

/// The keys retention deletes from `objects` (a listing of `prefix`): the
/// backups beyond the newest `keep` (never the newest one), oldest first,
/// each followed by its manifest when it is listed. Backup names sort by
/// date then by time-ordered id, so key order is age order.
pub fn beyond_keep(objects: &[Object], prefix: &str, keep: usize) -> Vec<String> {
    let mut backups: Vec<&str> = objects
        .iter()
        .map(|o| o.key.as_str())
        .filter(|k| is_backup_key(k, prefix))
        .collect();
    backups.sort_unstable();
    let doomed = backups.len().saturating_sub(keep.max(1));
    let mut out = Vec::new();
    for key in &backups[..doomed] {
        out.push(key.to_string());
        let manifest = format!("{key}{MANIFEST_SUFFIX}");
        if objects.iter().any(|o| o.key == manifest) {
            out.push(manifest);
        }
    }
    out
}

/// What one shipping run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// Backups that reached the store.
    pub shipped: Vec<String>,
    /// Backups that did not, with why.
    pub failed: Vec<(String, String)>,
    /// Objects retention deleted.
    pub deleted: Vec<String>,
    /// Why retention could not run.
    pub retention_error: Option<String>,
}

impl RunReport {
    /// One line for the job's summary.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "off-machine: {} shipped, {} failed, {} deleted by retention",
            self.shipped.len(),
            self.failed.len(),
            self.deleted.len()
        );
        if let Some((id, why)) = self.failed.first() {
            s.push_str(&format!(" ({id}: {why})"));
        }
        if let Some(e) = &self.retention_error {
            s.push_str(&format!("; retention failed: {e}"));
        }
        s
    }
}

/// Ship the verified backups not in the store yet (newest first, retried
/// up to [`MAX_ATTEMPTS`] each), record each attempt, then apply retention
/// in the store when something was shipped. Store failures are recorded
/// and logged, not returned: only the database's errors are.
pub async fn ship_pending(env: &Env, s: &Settings) -> Result<RunReport> {
    let db = env.db.as_ref();
    let mut report = RunReport::default();
    for id in records::to_ship(db, MAX_ATTEMPTS, MAX_PER_RUN)? {
        match ship_one(env, s, &id).await? {
            None => report.shipped.push(id),
            Some(why) => report.failed.push((id, why)),
        }
    }
    if !report.shipped.is_empty() {
        match apply_retention(env, s).await {
            Ok(deleted) => report.deleted = deleted,
            Err(e) => {
                let why = crate::ports::redact(&e.to_string(), &s.secrets());
                crate::log::warn(
                    "backup",
                    &format!("off-machine retention in {}: {why}", s.location()),
                );
                report.retention_error = Some(why);
            }
        }
    }
    Ok(report)
}

/// Ship one backup (its file, then its manifest) and record the attempt;
/// `Some(why)` when it did not arrive.
async fn ship_one(env: &Env, s: &Settings, id: &str) -> Result<Option<String>> {
    let (manifest, gz) = super::download(env, id)?;
    let key = format!("{}{}", s.prefix, manifest.filename);
    let created_ms = crate::time::parse_rfc3339(&manifest.created_at)?;
    let manifest_json = serde_json::to_vec_pretty(&manifest)?;
    let bytes = gz.len() as i64;
    let sent = async {
        s.bucket
            .put(
                env,
                &key,
                gz,
                super::CONTENT_TYPE,
                &[("backup-id", id), ("sha256", &manifest.sha256)],
            )
            .await?;
        s.bucket
            .put(
                env,
                &format!("{key}{MANIFEST_SUFFIX}"),
                manifest_json,
                "application/json",
                &[("backup-id", id)],
            )
            .await
    }
    .await;
    let error = sent
        .err()
        .map(|e| crate::ports::redact(&e.to_string(), &s.secrets()));
    records::record(
        env.db.as_ref(),
        &records::Attempt {
            backup_id: id,
            key: &key,
            bytes,
            sha256: &manifest.sha256,
            backup_created_ms: created_ms,
            at_ms: env.clock.now_ms(),
            error: error.as_deref(),
        },
    )?;
    match &error {
        None => crate::log::info(
            "backup",
            &format!(
                "backup {id} shipped to {}{}: {bytes} bytes",
                s.location(),
                manifest.filename
            ),
        ),
        Some(why) => crate::log::warn(
            "backup",
            &format!("backup {id} not shipped to {}: {why}", s.location()),
        ),
    }
    Ok(error)
}

/// List the prefix and delete the backups beyond `keep`; the keys deleted.
async fn apply_retention(env: &Env, s: &Settings) -> Result<Vec<String>, StoreError> {
    let objects = s.bucket.list_all(env, &s.prefix, MAX_PAGES).await?;
    let doomed = beyond_keep(&objects, &s.prefix, s.keep);
    for key in &doomed {
        s.bucket.delete(env, key).await?;
    }
    if let Err(e) = records::mark_deleted(env.db.as_ref(), &doomed, env.clock.now_ms()) {
        crate::log::warn("backup", &format!("recording retention: {e}"));
    }
    if !doomed.is_empty() {
        crate::log::info(
            "backup",
            &format!(
                "off-machine retention deleted {} objects from {}",
                doomed.len(),
                s.location()
            ),
        );
    }
    Ok(doomed)
}

/// Whether the off-machine copy is stale at `now_ms`: the newest shipped
/// backup was taken more than two backup periods ago, or nothing was ever
/// shipped while a verified backup older than that is stored.
pub fn stale(env: &Env, now_ms: i64) -> Result<bool> {
    let limit = 2 * super::JOB.period_secs * 1000;
    let db = env.db.as_ref();
    Ok(match records::last_shipped_created_ms(db)? {
        Some(at) => now_ms - at > limit,
        None => records::oldest_local_ms(db)?.is_some_and(|at| now_ms - at > limit),
    })
}

/// The off-machine copy, as DR status shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Whether shipping is configured (`backup_s3_bucket` set).
    pub configured: bool,
    /// `s3://bucket/prefix`.
    pub location: Option<String>,
    /// The store's origin.
    pub endpoint: Option<String>,
    /// Backups kept in the store.
    pub keep: Option<usize>,
    /// The newest backup that reached the store.
    pub last_shipped: Option<Shipment>,
    /// Backups that have not reached it (newest attempts first, at most 5).
    pub failures: Vec<Shipment>,
    /// The newest shipped backup is more than two backup periods old.
    pub stale: bool,
    /// Why the variables cannot be used, when they cannot.
    pub error: Option<String>,
}

/// The off-machine copy's status.
pub fn status(env: &Env) -> Result<Status> {
    let db = env.db.as_ref();
    let (configured, settings, error) = match settings(env.config.as_ref()) {
        Ok(s) => (s.is_some(), s, None),
        Err(e) => (true, None, Some(e.message)),
    };
    Ok(Status {
        configured,
        location: settings.as_ref().map(Settings::location),
        endpoint: settings.as_ref().map(|s| s.bucket.endpoint.clone()),
        keep: settings.as_ref().map(|s| s.keep),
        last_shipped: records::last_shipped(db)?,
        failures: records::failing(db, 5)?,
        stale: configured && stale(env, env.clock.now_ms())?,
        error,
    })
}

/// A backup read back from the store.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Its object's key.
    pub key: String,
    /// The manifest stored next to it.
    pub record: Record,
    /// The file.
    pub gz: Vec<u8>,
}

/// Read backup `backup_id` (the newest in the store when `None`) and its
/// manifest back from the store. `Err(why)` when the store cannot be read,
/// holds no such backup, or the manifest is unreadable.
pub async fn fetch(env: &Env, s: &Settings, backup_id: Option<&str>) -> Result<Fetched, String> {
    let shown = |e: StoreError| crate::ports::redact(&e.to_string(), &s.secrets());
    let objects = s
        .bucket
        .list_all(env, &s.prefix, MAX_PAGES)
        .await
        .map_err(shown)?;
    let mut backups: Vec<&str> = objects
        .iter()
        .map(|o| o.key.as_str())
        .filter(|k| is_backup_key(k, &s.prefix))
        .collect();
    backups.sort_unstable();
    let key = match backup_id {
        None => backups.last(),
        Some(id) => {
            let end = format!("-{id}{BACKUP_NAME_END}");
            backups.iter().find(|k| k.ends_with(&end))
        }
    }
    .ok_or_else(|| match backup_id {
        None => format!("there is no backup in {}", s.location()),
        Some(id) => format!("backup `{id}` is not in {}", s.location()),
    })?
    .to_string();
    let gz = s.bucket.get(env, &key).await.map_err(shown)?;
    let manifest = s
        .bucket
        .get(env, &format!("{key}{MANIFEST_SUFFIX}"))
        .await
        .map_err(shown)?;
    let record = serde_json::from_slice::<serde_json::Value>(&manifest)
        .map_err(|e| e.to_string())
        .and_then(|m| Record::from_manifest(&m))
        .map_err(|e| format!("the manifest next to {key} is not readable: {e}"))?;
    Ok(Fetched { key, record, gz })
}

/// Check a fetched copy against what was recorded when it was shipped (its
/// SHA-256 in `backup_offsite`, when this database shipped it) and against
/// its manifest; `Err(why)` when it does not match.
pub fn check_fetched(env: &Env, fetched: &Fetched) -> Result<Result<(), String>> {
    let actual = crate::hex(&Sha256::digest(&fetched.gz));
    if let Some(shipped) = records::find(env.db.as_ref(), &fetched.record.id)? {
        if shipped.sha256 != actual {
            return Ok(Err(format!(
                "the off-machine copy {} does not match what was shipped: its SHA-256 is {actual}, {} was sent",
                fetched.key, shipped.sha256
            )));
        }
    }
    if fetched.record.sha256 != actual {
        return Ok(Err(format!(
            "the off-machine copy {} does not match its manifest: its SHA-256 is {actual}, the manifest says {}",
            fetched.key, fetched.record.sha256
        )));
    }
    Ok(Ok(()))
}

/// The error for an off-machine restore when shipping is not configured.
pub fn not_configured() -> Error {
    Error::conflict(
        "offsite_not_configured",
        "off-machine backups are not configured: set backup_s3_bucket and its variables (docs/OPERATIONS.md)",
    )
}

#[cfg(test)]
mod tests;
