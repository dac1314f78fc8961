//! Security posture (issue 16): the CycloneDX SBOM validates against the
//! official schema and lists every component with what it links; the
//! configuration scan names each weakness planted in a test configuration
//! and finds none in a clean one; a secret past its rotation date raises
//! an incident from cron-secrets.

use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, App, Env, Scenario};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;

use crate::auth::kit::{identity_vars, login, text, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::support::dash;

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new("sbom_is_valid_cyclonedx_for_every_component", sbom),
    Scenario::configured(
        "security_scan_names_each_planted_weakness_and_none_when_clean",
        scan,
    ),
    Scenario::configured(
        "secrets_past_rotation_raise_an_incident_from_cron_secrets",
        rotation,
    ),
];

/// A strong value for each generated secret of the clean configuration.
const CLEAN_DASHBOARD_KEY: &str = "5d8e2b7f0c4a9613e7b2d5f8a1c4e7b0d3f6a9c2";
const CLEAN_CRON_TOKEN: &str = "c7e1a9f3b5d2408e6a1c3f5b7d9e0a2c4f6b8d1e";

fn sbom(env: &Env) -> Result<()> {
    let app = env.app()?;
    let anonymous = app.get("/api/security/sbom").send()?;
    check!(anonymous.status == 401, "anonymous: {}", anonymous.status);

    let resp = app
        .get("/api/security/sbom")
        .header("X-Dash-Key", &dash(&app))
        .send()?;
    check!(resp.status == 200, "sbom: {} {}", resp.status, resp.text());
    check!(
        resp.header("content-type")
            .is_some_and(|t| t.starts_with("application/vnd.cyclonedx+json")),
        "content type: {:?}",
        resp.header("content-type")
    );
    check!(
        resp.header("content-disposition")
            .is_some_and(|d| d.contains(".cdx.json")),
        "a download: {:?}",
        resp.header("content-disposition")
    );
    let doc: Value = serde_json::from_slice(&resp.body)?;

    // Valid against the official CycloneDX 1.5 schema.
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("echopilot.cdx.json");
    std::fs::write(&file, &resp.body)?;
    let root = env.root();
    let python = root.join("target/pyenv/bin/python");
    check!(
        python.exists(),
        "{} is missing: tests/run.sh creates it from tests/requirements.txt",
        python.display()
    );
    let out = Command::new(&python)
        .arg(root.join("tests/host/tests/e2e/validate_cyclonedx.py"))
        .arg(&file)
        .arg(doc["specVersion"].as_str().unwrap_or("1.5"))
        .output()?;
    check!(
        out.status.success(),
        "the SBOM does not validate: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Every component in spin.toml, with what it links.
    let components = doc["components"].as_array().context("components")?;
    let apps: BTreeSet<&str> = components
        .iter()
        .filter(|c| c["type"] == "application")
        .filter_map(|c| c["name"].as_str())
        .collect();
    let manifest = std::fs::read_to_string(root.join("spin.toml"))?;
    let declared: BTreeSet<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("[component.")?.strip_suffix(']'))
        .filter(|n| !n.contains('.'))
        .collect();
    check!(
        apps == declared,
        "components {apps:?} vs spin.toml {declared:?}"
    );
    for c in components {
        let (name, version) = (c["name"].as_str(), c["version"].as_str());
        check!(name.is_some() && version.is_some(), "name and version: {c}");
        check!(
            c["purl"] == format!("pkg:cargo/{}@{}", name.unwrap(), version.unwrap()).as_str(),
            "purl: {c}"
        );
        check!(
            c["licenses"][0]["expression"]
                .as_str()
                .is_some_and(|l| !l.is_empty()),
            "license: {c}"
        );
    }
    let depends = |r: &str| -> Vec<String> {
        doc["dependencies"]
            .as_array()
            .and_then(|d| d.iter().find(|e| e["ref"] == r))
            .and_then(|e| e["dependsOn"].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let security = components
        .iter()
        .find(|c| c["name"] == "api-security")
        .context("api-security is listed")?;
    let direct = depends(security["bom-ref"].as_str().unwrap_or_default());
    check!(
        direct
            .iter()
            .any(|d| d.starts_with("pkg:cargo/echopilot-core@"))
            && direct.iter().any(|d| d.starts_with("pkg:cargo/spin-sdk@")),
        "api-security links core and spin-sdk: {direct:?}"
    );
    let serde = components
        .iter()
        .find(|c| c["name"] == "serde")
        .context("serde is listed")?;
    check!(
        serde["hashes"][0]["alg"] == "SHA-256",
        "crates.io checksums: {serde}"
    );
    check!(
        !components
            .iter()
            .any(|c| c["name"] == "rusqlite" || c["name"] == "serde_derive"),
        "native-only crates and procedural macros are not linked into a component"
    );
    check!(
        doc["metadata"]["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "stamped: {}",
        doc["metadata"]
    );
    Ok(())
}

fn scan_as(app: &App, key: &str) -> Result<Value> {
    let resp = app
        .get("/api/security/scan")
        .header("X-Dash-Key", key)
        .send()?;
    Ok(expect_status(&resp, 200)?["data"].clone())
}

fn checks_on(report: &Value) -> BTreeSet<(String, String)> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["check"].as_str().unwrap_or_default().to_string(),
                f["subject"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn scan(env: &Env) -> Result<()> {
    // Planted: the published e2e keys, a short JWT secret, a pattern for a
    // metrics token, a live Stripe key on staging, CORS `*`, plain http to
    // the LLM, telemetry off, and no off-machine backups.
    let weak = env.app_with(|b| {
        b.variable("jwt_secret", "too-short-jwt")
            .variable("metrics_token", "abababababababababababababababababab")
            .variable(
                "stripe_secret_key",
                "sk_live_51Habcdefghijklmnopqrstuvwxyz012345",
            )
            .variable("deployment_environment", "staging")
            .variable("cors_allowed_origins", "*")
            .variable("openai_base_url", "http://llm.internal:8080")
            .variable("request_telemetry", "off")
    })?;
    let report = scan_as(&weak, &dash(&weak))?;
    let found = checks_on(&report);
    for (check, subject) in [
        ("secret_default", "dashboard_key"),
        ("secret_default", "cron_token"),
        ("secret_too_short", "jwt_secret"),
        ("secret_default", "metrics_token"),
        ("stripe_live_key_outside_production", "stripe_secret_key"),
        ("cors_wildcard", "cors_allowed_origins"),
        (
            "outbound_host_too_wide",
            "cron-worker: http://llm.internal:8080",
        ),
        ("telemetry_off", "request_telemetry"),
        ("backups_not_shipped", "backup_s3_bucket"),
    ] {
        check!(
            found.contains(&(check.to_string(), subject.to_string())),
            "{check} on {subject} not named: {found:?}"
        );
    }
    let shown = report.to_string();
    for secret in ["too-short-jwt", "sk_live_51H", "ababababab"] {
        check!(
            !shown.contains(secret),
            "the scan shows a secret value: {secret}"
        );
    }
    for f in report["findings"].as_array().context("findings")? {
        check!(
            f["fix"].as_str().is_some_and(|s| s.len() > 10),
            "every finding has its fix: {f}"
        );
    }
    let ages = report["secrets"].as_array().context("secrets")?;
    check!(
        ages.iter()
            .any(|a| a["name"] == "jwt_secret" && a["due"] == false),
        "secrets' ages: {ages:?}"
    );

    // The dashboard key unset is a weakness too (read by the bootstrap
    // admin, signed in with a JWT).
    let unset = env.app_with(|b| identity_vars(b).variable("dashboard_key", ""))?;
    let token = text(
        &login(&unset, ADMIN_EMAIL, ADMIN_PASSWORD)?,
        "/access_token",
    )?;
    let resp = unset.get("/api/security/scan").bearer(&token).send()?;
    let found = checks_on(&expect_status(&resp, 200)?["data"]);
    check!(
        found.contains(&(
            "dashboard_key_unset".to_string(),
            "dashboard_key".to_string()
        )),
        "{found:?}"
    );

    // A clean configuration: nothing found.
    let clean = env.app_with(|b| {
        b.variable("dashboard_key", CLEAN_DASHBOARD_KEY)
            .variable("cron_token", CLEAN_CRON_TOKEN)
            .variable("jwt_secret", "4e9d2a7c1f8b3065d2e9a4c7f1b8d3a6e0c5f2b9")
            .variable(
                "stripe_secret_key",
                "sk_test_51Habcdefghijklmnopqrstuvwxyz012345",
            )
            .variable("cors_allowed_origins", "https://app.example.com")
            .variable("backup_s3_bucket", "echopilot-backups")
            // Shipping configured means usable: a bucket with its key.
            .variable("backup_s3_access_key_id", "AKIA4EXAMPLE7Q2RJXMN")
            .variable(
                "backup_s3_secret_access_key",
                "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",
            )
    })?;
    let report = scan_as(&clean, CLEAN_DASHBOARD_KEY)?;
    check!(
        report["findings"].as_array().is_some_and(Vec::is_empty),
        "a clean configuration has findings: {}",
        report["findings"]
    );
    Ok(())
}

fn rotation(env: &Env) -> Result<()> {
    let data = tempfile::tempdir()?;
    let app = env.app_with(|b| b.data_dir(data.path()))?;
    // The scan records each secret's first sighting.
    let report = scan_as(&app, &dash(&app))?;
    check!(
        !checks_on(&report)
            .iter()
            .any(|(c, _)| c == "secret_rotation_due"),
        "nothing is due yet"
    );
    drop(app);
    // Forty days pass for the dashboard key's value.
    let db = rusqlite::Connection::open(data.path().join("sqlite_db.db"))?;
    db.busy_timeout(std::time::Duration::from_secs(10))?;
    let aged = db.execute(
        "UPDATE secret_fingerprints SET first_seen_at = first_seen_at - 40 * 86400000 WHERE name = 'dashboard_key'",
        [],
    )?;
    check!(aged == 1, "one dashboard key fingerprint: {aged}");
    let stored: Vec<String> = db
        .prepare("SELECT fingerprint FROM secret_fingerprints")?
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    check!(
        stored.iter().all(|f| f.len() == 32 && !f.contains("e2e")),
        "fingerprints only: {stored:?}"
    );
    drop(db);

    let app = env.app_with(|b| b.data_dir(data.path()))?;
    app.run_job("secrets")?;
    let incidents = app
        .get("/api/incidents?source=secrets")
        .header("X-Dash-Key", &dash(&app))
        .send()?;
    let incidents = expect_status(&incidents, 200)?;
    let list = incidents["data"]["incidents"]
        .as_array()
        .context("incidents")?;
    check!(
        list.iter().any(|i| i["message"]
            .as_str()
            .is_some_and(|m| m.contains("`dashboard_key` is due for rotation"))),
        "a rotation reminder: {incidents}"
    );
    check!(list.len() == 1, "only the aged secret: {incidents}");
    let report = scan_as(&app, &dash(&app))?;
    check!(
        checks_on(&report).contains(&(
            "secret_rotation_due".to_string(),
            "dashboard_key".to_string()
        )),
        "the scan shows it due: {}",
        report["findings"]
    );
    Ok(())
}
