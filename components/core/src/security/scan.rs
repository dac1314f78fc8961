//! The configuration scan (`GET /api/security/scan`): each weakness of the
//! running configuration, with what it exposes and how to fix it.
//!
//! Every check reads variables (and the secrets' ages); none calls out. A
//! variable the scan cannot read as its feature would (a malformed number)
//! is not its business: `/health` reports those.

use super::outbound;
use super::secrets::{self, Age, Origin};
use crate::config;
use crate::error::Result;
use crate::ports::Env;
use serde::Serialize;

/// How much a weakness matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Exploitable as configured: fix before going live.
    High,
    /// Weakens a defence or hides an attack.
    Medium,
    /// Housekeeping.
    Low,
}

/// One weakness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The check that found it (one of [`CHECKS`]).
    pub check: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// What it is about: a variable, or `component: host`.
    pub subject: String,
    /// What is wrong, never showing a secret.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

/// Every check the scan runs, in the order findings are listed.
pub const CHECKS: &[&str] = &[
    "secret_too_short",
    "secret_default",
    "dashboard_key_unset",
    "stripe_live_key_outside_production",
    "cors_wildcard",
    "outbound_host_too_wide",
    "telemetry_off",
    "backups_not_shipped",
    "secret_rotation_due",
];

/// Values published in this repository's docs, tests and samples, and the
/// usual placeholders: a secret equal to one (ignoring case) is known to
/// everyone who read them.
pub const KNOWN_VALUES: &[&str] = &[
    "k3y",
    "t0ken",
    "benchkey",
    "changeme",
    "change-me",
    "change_me",
    "secret",
    "password",
    "admin",
    "test",
    "default",
    "example",
    "e2e-dashboard-key-0123456789abcdef",
    "e2e-cron-token-0123456789abcdefghij",
    "dash-key-for-native-tests-0123456789",
    "sk_test_xxx",
    "sk_live_xxx",
];

/// Fewer distinct characters than this and a secret is a pattern
/// (`aaaa…`, `abababab…`, `12341234…`), not a random value.
pub const MIN_DISTINCT_CHARS: usize = 8;

/// The variable the off-machine backup destination is read from (issue 16:
/// backups shipped to S3). Unset: every backup lives only in the database
/// it copies.
pub const BACKUP_DESTINATION_VARIABLE: &str = "backup_s3_bucket";

/// The result of a scan.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When it ran (RFC 3339).
    pub scanned_at: String,
    /// The checks run (every one of [`CHECKS`]).
    pub checks: &'static [&'static str],
    /// What they found, worst first.
    pub findings: Vec<Finding>,
    /// Every set secret's age and rotation date.
    pub secrets: Vec<Age>,
    /// The rotation period in days.
    pub rotation_days: i64,
}

/// Scan the configuration: records the secrets' fingerprints (so their
/// ages start) and returns every weakness. `outbound` is spin.toml's
/// `allowed_outbound_hosts` entries by component (embedded at build time).
pub fn scan(env: &Env, outbound_hosts: &[(&str, &str)]) -> Result<Report> {
    let ages = secrets::observe(env)?;
    let days = secrets::rotation_days(env)?;
    let mut findings = secret_strength(env)?;
    findings.extend(settings(env)?);
    findings.extend(outbound_findings(env, outbound_hosts)?);
    findings.extend(rotation(&ages, days));
    findings.sort_by_key(|f| {
        (
            f.severity,
            CHECKS.iter().position(|c| *c == f.check),
            f.subject.clone(),
        )
    });
    Ok(Report {
        scanned_at: crate::time::rfc3339(env.clock.now_ms()),
        checks: CHECKS,
        findings,
        secrets: ages,
        rotation_days: days,
    })
}

fn finding(
    check: &'static str,
    severity: Severity,
    subject: impl Into<String>,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> Finding {
    Finding {
        check,
        severity,
        subject: subject.into(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// Whether `value` is a published or placeholder value, or a pattern.
pub fn is_guessable(value: &str) -> bool {
    let distinct: std::collections::BTreeSet<char> = value.chars().collect();
    KNOWN_VALUES.iter().any(|k| k.eq_ignore_ascii_case(value))
        || distinct.len() < MIN_DISTINCT_CHARS
}

const GENERATE: &str = "set it to a new random value, e.g. `openssl rand -hex 24` (48 characters)";

fn secret_strength(env: &Env) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    for (s, value) in secrets::configured(env)? {
        let chars = value.chars().count();
        let fix = match s.origin {
            Origin::Generated => GENERATE.to_string(),
            Origin::Issued => "issue a new one with the provider, revoke the old one, and set it".to_string(),
            Origin::Password => "choose a long passphrase (12+ characters) from a password manager, then change the admin's password after the first sign-in".to_string(),
        };
        if chars < s.origin.min_chars() {
            out.push(finding(
                "secret_too_short",
                Severity::High,
                s.name,
                format!(
                    "`{}` has {chars} characters; it needs at least {}",
                    s.name,
                    s.origin.min_chars()
                ),
                fix,
            ));
        } else if is_guessable(&value) {
            out.push(finding(
                "secret_default",
                Severity::High,
                s.name,
                format!(
                    "`{}` is a published sample, a placeholder or a pattern: anyone can guess it",
                    s.name
                ),
                fix,
            ));
        }
    }
    Ok(out)
}

fn settings(env: &Env) -> Result<Vec<Finding>> {
    let config = env.config.as_ref();
    let mut out = Vec::new();
    if config::text(config, "dashboard_key")?.is_none() {
        out.push(finding(
            "dashboard_key_unset",
            Severity::Medium,
            "dashboard_key",
            "`dashboard_key` is unset: the operator console's key login and the routes it opens are off, so the first admin is the only way in",
            format!("{GENERATE}, and keep it in the secret store with the others"),
        ));
    }
    let environment = config::text_or(config, "deployment_environment", "development")?;
    let stripe = config::text(config, "stripe_secret_key")?.unwrap_or_default();
    let live = stripe.starts_with("sk_live_") || stripe.starts_with("rk_live_");
    if live && environment != "production" {
        out.push(finding(
            "stripe_live_key_outside_production",
            Severity::High,
            "stripe_secret_key",
            format!("`stripe_secret_key` is a live key but `deployment_environment` is `{environment}`: tests and demos here move real money"),
            "use a test key (sk_test_… or rk_test_…) outside production; if this is production, set deployment_environment=production",
        ));
    }
    let cors = config::text(config, "cors_allowed_origins")?.unwrap_or_default();
    if cors
        .split(',')
        .map(str::trim)
        .any(|o| o == "*" || o.eq_ignore_ascii_case("null"))
    {
        out.push(finding(
            "cors_wildcard",
            Severity::High,
            "cors_allowed_origins",
            "`cors_allowed_origins` names `*` or `null`: it asks to let every web site (or sandboxed pages) call the API from its visitors' browsers",
            "list the exact origins of your own front ends (https://app.example.com), comma-separated; leave it empty when the console is served by this app",
        ));
    }
    if !crate::telemetry::enabled(env) {
        out.push(finding(
            "telemetry_off",
            Severity::Medium,
            "request_telemetry",
            "`request_telemetry` is off: requests are not recorded, so /metrics, SLO burn-rate alerts and the deploy gate see nothing (an attack or an outage goes unnoticed)",
            "set request_telemetry=on (it is off only to measure what recording costs)",
        ));
    }
    if config::text(config, BACKUP_DESTINATION_VARIABLE)?.is_none() {
        out.push(finding(
            "backups_not_shipped",
            Severity::High,
            BACKUP_DESTINATION_VARIABLE,
            format!("`{BACKUP_DESTINATION_VARIABLE}` is unset: backups are never shipped off the machine, so they live in the database they copy and are lost with its disk"),
            format!("set {BACKUP_DESTINATION_VARIABLE} (and its credentials) so every verified backup is also stored off the machine"),
        ));
    } else if let Some(problem) = shipping_problem(env)? {
        out.push(finding(
            "backups_not_shipped",
            Severity::High,
            BACKUP_DESTINATION_VARIABLE,
            problem,
            "see GET /api/dr/last (offsite) for the store's error; fix the backup_s3_* variables or the bucket's policy, and the next backup run retries",
        ));
    }
    Ok(out)
}

/// Why shipping is configured but not working: the variables cannot be
/// used, the last attempt failed, or the newest shipped backup is stale.
fn shipping_problem(env: &Env) -> Result<Option<String>> {
    let status = crate::backup::offsite::status(env)?;
    if let Some(e) = status.error {
        return Ok(Some(format!(
            "off-machine backups are configured but cannot run: {e}"
        )));
    }
    let newest_failure = status.failures.first();
    let failed_after_last_success = newest_failure.is_some_and(|f| {
        status
            .last_shipped
            .as_ref()
            .is_none_or(|s| f.backup_created_at > s.backup_created_at)
    });
    if failed_after_last_success {
        let f =
            newest_failure.map(|f| (f.backup_id.as_str(), f.last_error.as_deref().unwrap_or("")));
        let (id, why) = f.unwrap_or_default();
        return Ok(Some(format!(
            "the last shipment to the object store failed (backup {id}): {why}"
        )));
    }
    if status.stale {
        return Ok(Some(
            "the newest backup in the object store is more than two backup periods old: backups have stopped reaching it".into(),
        ));
    }
    Ok(None)
}

fn outbound_findings(env: &Env, hosts: &[(&str, &str)]) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    for (component, entry) in hosts {
        let mut unreadable = None;
        let (resolved, templated) = outbound::resolve(entry, |var| {
            config::text(env.config.as_ref(), var)
                .unwrap_or_else(|e| {
                    unreadable = Some(e);
                    None
                })
                .unwrap_or_default()
        });
        if let Some(e) = unreadable {
            return Err(e);
        }
        if let Some(why) = outbound::too_wide(&resolved) {
            let via = if templated {
                format!(" (from `{entry}`)")
            } else {
                String::new()
            };
            out.push(finding(
                "outbound_host_too_wide",
                Severity::Medium,
                format!("{component}: {resolved}"),
                format!("{component} may reach `{resolved}`{via}: {why}"),
                "allow only the https origins the component calls (scheme, exact host, port): set the variable to the service's origin, or narrow the entry in spin.toml",
            ));
        }
    }
    let origins = config::text(env.config.as_ref(), "workflow_http_allowed_origins")?;
    for origin in origins.iter().flat_map(|o| o.split(',')).map(str::trim) {
        if let Some(why) = outbound::too_wide(origin).filter(|_| !origin.is_empty()) {
            out.push(finding(
                "outbound_host_too_wide",
                Severity::Medium,
                format!("workflow_http_allowed_origins: {origin}"),
                format!("workflow HTTP actions may call `{origin}`: {why}"),
                "list only the https origins your workflows call, each exactly (scheme, host, port)",
            ));
        }
    }
    Ok(out)
}

fn rotation(ages: &[Age], days: i64) -> Vec<Finding> {
    ages.iter()
        .filter(|a| a.due)
        .map(|a| {
            finding(
                "secret_rotation_due",
                Severity::Medium,
                a.name,
                format!(
                    "`{}` has had the same value since {}: secrets are rotated every {days} days",
                    a.name,
                    crate::time::date(a.set_at)
                ),
                "set a new value (and revoke the old one with its issuer); the reminder incident stops once the new value is seen",
            )
        })
        .collect()
}
