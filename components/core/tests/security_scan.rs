//! The configuration scan and the secrets' rotation against real SQLite,
//! the SBOM generator on a small metadata document, and the agreements
//! with spin.toml (every secret listed, every variable declared).

mod support;

use echopilot_core::adapters::native::SqliteDb;
use echopilot_core::incidents;
use echopilot_core::ports::{Clock, DbExt};
use echopilot_core::security::scan::{self, Finding, CHECKS};
use echopilot_core::security::{cyclonedx, outbound, secrets};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use support::*;

const DAY: i64 = 86_400_000;
const STRONG: &str = "9f2c41d7a0b35e86c1d4f7a2b9e03c58d6f1a4b7";

fn manifest() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../spin.toml")).unwrap()
}

fn hosts(manifest: &str) -> Vec<(String, String)> {
    outbound::from_manifest(manifest).unwrap()
}

fn run_scan(vars: &[(&str, &str)]) -> Vec<Finding> {
    scan_of(&env(vars).0)
}

fn scan_of(env: &echopilot_core::ports::Env) -> Vec<Finding> {
    let m = manifest();
    let owned = hosts(&m);
    let h: Vec<(&str, &str)> = owned
        .iter()
        .map(|(c, e)| (c.as_str(), e.as_str()))
        .collect();
    scan::scan(env, &h).unwrap().findings
}

/// A configuration with no weakness: strong secrets, a test Stripe key
/// outside production, named origins, backups shipped.
const CLEAN: &[(&str, &str)] = &[
    ("dashboard_key", "5d8e2b7f0c4a9613e7b2d5f8a1c4e7b0d3f6a9c2"),
    ("jwt_secret", STRONG),
    ("cron_token", "c7e1a9f3b5d2408e6a1c3f5b7d9e0a2c4f6b8d1e"),
    (
        "stripe_secret_key",
        "sk_test_51Habcdefghijklmnopqrstuvwxyz0123456789",
    ),
    ("cors_allowed_origins", "https://app.example.com"),
    ("backup_s3_bucket", "echopilot-backups"),
    ("backup_s3_access_key_id", "AKIA4EXAMPLE7Q2RJXMN"),
    (
        "backup_s3_secret_access_key",
        "q8Vd2mK4pX7sN1bR6tY9wZ3cF5hJ0lA2eG4iU6oP",
    ),
    ("admin_password", "correct horse battery staple"),
];

#[test]
fn a_clean_configuration_has_no_findings() {
    let found = run_scan(CLEAN);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn each_planted_weakness_is_named_with_its_fix() {
    let planted: &[(&str, &str)] = &[
        ("jwt_secret", "short-secret"),
        ("cron_token", "t0ken"),
        ("metrics_token", "abababababababababababababababababab"),
        ("admin_password", "admin"),
        (
            "stripe_secret_key",
            "sk_live_51Habcdefghijklmnopqrstuvwxyz0123456789",
        ),
        ("deployment_environment", "staging"),
        ("cors_allowed_origins", "https://app.example.com, *"),
        ("request_telemetry", "off"),
        ("openai_base_url", "http://llm.internal:8080"),
        ("workflow_http_allowed_origins", "https://*.example.com"),
    ];
    let found = run_scan(planted);
    let named = |check: &str, subject: &str| {
        found
            .iter()
            .find(|f| f.check == check && f.subject.contains(subject))
            .unwrap_or_else(|| panic!("{check} on {subject} not found in {found:#?}"))
    };
    assert!(named("secret_too_short", "jwt_secret")
        .problem
        .contains("12 characters"));
    // `t0ken` is both published and short: too short is what it is named.
    named("secret_too_short", "cron_token");
    named("secret_default", "metrics_token");
    named("secret_too_short", "admin_password");
    named("dashboard_key_unset", "dashboard_key");
    let stripe = named("stripe_live_key_outside_production", "stripe_secret_key");
    assert!(stripe.problem.contains("staging"), "{stripe:?}");
    named("cors_wildcard", "cors_allowed_origins");
    named("telemetry_off", "request_telemetry");
    named("backups_not_shipped", "backup_s3_bucket");
    let wide = named(
        "outbound_host_too_wide",
        "cron-worker: http://llm.internal:8080",
    );
    assert!(wide.problem.contains("{{ openai_base_url }}"), "{wide:?}");
    named("outbound_host_too_wide", "workflow_http_allowed_origins");
    for f in &found {
        assert!(!f.fix.is_empty(), "{f:?}");
        assert!(CHECKS.contains(&f.check), "{f:?}");
        // A finding names a secret, never shows it.
        for (_, v) in planted
            .iter()
            .filter(|(k, _)| k.ends_with("_secret") || k.ends_with("_token") || k.ends_with("_key"))
        {
            assert!(
                !f.problem.contains(v) && !f.subject.contains(v),
                "{f:?} shows {v}"
            );
        }
    }
    // Worst first.
    assert!(
        found.windows(2).all(|w| w[0].severity <= w[1].severity),
        "{found:#?}"
    );
}

#[test]
fn a_live_key_in_production_is_fine_and_loopback_http_is_not_wide() {
    let mut vars = CLEAN.to_vec();
    vars.retain(|(k, _)| *k != "stripe_secret_key");
    vars.push((
        "stripe_secret_key",
        "rk_live_51Habcdefghijklmnopqrstuvwxyz0123456789",
    ));
    vars.push(("deployment_environment", "production"));
    vars.push(("openai_base_url", "http://127.0.0.1:11434"));
    assert!(run_scan(&vars).is_empty());
}

#[test]
fn shipping_that_fails_or_goes_stale_is_reported_too() {
    use echopilot_core::backup::offsite::records::{self, Attempt};
    let (env, clock) = env(CLEAN);
    echopilot_core::db::migrate::ensure_current(env.db.as_ref()).unwrap();
    let shipped = |id: &str, created: i64, error: Option<&str>| {
        records::record(
            env.db.as_ref(),
            &Attempt {
                backup_id: id,
                key: "echopilot/k",
                bytes: 1,
                sha256: "00",
                backup_created_ms: created,
                at_ms: created,
                error,
            },
        )
        .unwrap()
    };
    let now = clock.now_ms();
    shipped("bak_1", now - DAY, None);
    assert!(scan_of(&env).is_empty());
    // The next backup's shipment failed: named, with the store's error.
    shipped(
        "bak_2",
        now,
        Some("the object store answered 403 AccessDenied"),
    );
    let found = scan_of(&env);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].check, "backups_not_shipped");
    assert!(found[0].problem.contains("403 AccessDenied"), "{found:#?}");
    assert!(!found[0].problem.contains("q8Vd2mK4"));
    // It was retried and arrived; two days later nothing newer arrived.
    shipped("bak_2", now, None);
    assert!(scan_of(&env).is_empty());
    clock.advance(3 * DAY);
    let found = scan_of(&env);
    assert!(
        found.len() == 1 && found[0].problem.contains("two backup periods"),
        "{found:#?}"
    );
}

#[test]
fn secrets_age_and_rotation_reminders_go_through_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("db.sqlite");
    let (env, clock) = env_with(
        SqliteDb::open(&file).unwrap(),
        &[
            ("jwt_secret", STRONG),
            ("admin_password", "correct horse battery staple"),
        ],
    );
    let ages = secrets::observe(&env).unwrap();
    let jwt = ages.iter().find(|a| a.name == "jwt_secret").unwrap();
    assert_eq!(
        (jwt.set_at, jwt.due_at, jwt.due),
        (T0, Some(T0 + 30 * DAY), false)
    );
    let admin = ages.iter().find(|a| a.name == "admin_password").unwrap();
    assert_eq!(admin.due_at, None, "the bootstrap password is not rotated");
    assert!(secrets::remind(&env).unwrap().is_empty());

    // The value itself is never stored.
    let rows = env
        .db
        .exec("SELECT name, fingerprint FROM secret_fingerprints", &[])
        .unwrap();
    assert_eq!(rows.rows.len(), 2);
    for r in &rows.rows {
        let fp = r.text(1).unwrap();
        assert_eq!(fp.len(), 32);
        assert!(!fp.contains(STRONG) && !STRONG.contains(&fp));
    }

    // A month later: due, one reminder, not repeated the next day.
    clock.set(T0 + 30 * DAY);
    assert_eq!(secrets::remind(&env).unwrap(), vec!["jwt_secret"]);
    clock.set(T0 + 31 * DAY);
    assert!(secrets::remind(&env).unwrap().is_empty());
    let filter = incidents::store::Filter {
        source: Some("secrets".into()),
        ..Default::default()
    };
    let raised = incidents::list(&env, &filter, None, 10).unwrap().incidents;
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert!(raised[0].message.contains("`jwt_secret`"));
    assert!(!raised[0].message.contains(STRONG));
    let found = run_scan_on(&env);
    assert!(found
        .iter()
        .any(|f| f.check == "secret_rotation_due" && f.subject == "jwt_secret"));

    // A week after the reminder, another.
    clock.set(T0 + 37 * DAY);
    assert_eq!(secrets::remind(&env).unwrap(), vec!["jwt_secret"]);

    // A new value (a redeploy on the same database) starts its own clock.
    let (env2, clock2) = env_with(
        SqliteDb::open(&file).unwrap(),
        &[("jwt_secret", "0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3")],
    );
    clock2.set(T0 + 38 * DAY);
    let jwt = secrets::observe(&env2)
        .unwrap()
        .into_iter()
        .find(|a| a.name == "jwt_secret")
        .unwrap();
    assert_eq!((jwt.set_at, jwt.due), (T0 + 38 * DAY, false));
    assert!(secrets::remind(&env2).unwrap().is_empty());
}

fn run_scan_on(env: &echopilot_core::ports::Env) -> Vec<Finding> {
    scan::scan(env, &[]).unwrap().findings
}

fn package(name: &str, version: &str, license: Option<&str>, kind: &str) -> Value {
    json!({
        "id": format!("registry+https://github.com/rust-lang/crates.io-index#{name}@{version}"),
        "name": name,
        "version": version,
        "license": license,
        "repository": format!("https://github.com/example/{name}"),
        "targets": [{ "kind": [kind] }],
    })
}

fn dep(id: &str, kind: Option<&str>) -> Value {
    json!({ "pkg": id, "dep_kinds": [{ "kind": kind, "target": null }] })
}

fn id(name: &str, version: &str) -> String {
    format!("registry+https://github.com/rust-lang/crates.io-index#{name}@{version}")
}

#[test]
fn the_sbom_lists_what_each_component_links_with_licenses_purls_and_hashes() {
    let metadata = json!({
        "packages": [
            package("api-x", "0.1.0", Some("Apache-2.0"), "cdylib"),
            package("cron-y", "0.1.0", Some("Apache-2.0"), "cdylib"),
            package("core", "0.1.0", Some("Apache-2.0"), "lib"),
            package("serde", "1.0.1", Some("MIT/Apache-2.0"), "lib"),
            package("serde_derive", "1.0.1", Some("MIT OR Apache-2.0"), "proc-macro"),
            package("cc", "1.2.0", Some("MIT"), "lib"),
            package("tempfile", "3.0.0", Some("MIT"), "lib"),
            package("itoa", "1.0.0", None, "lib"),
            package("itoa", "0.4.8", Some("MIT"), "lib"),
            package("unused", "9.9.9", Some("MIT"), "lib"),
        ],
        "resolve": { "nodes": [
            { "id": id("api-x", "0.1.0"), "deps": [dep(&id("core", "0.1.0"), None), dep(&id("tempfile", "3.0.0"), Some("dev"))] },
            { "id": id("cron-y", "0.1.0"), "deps": [dep(&id("core", "0.1.0"), None), dep(&id("itoa", "0.4.8"), None)] },
            { "id": id("core", "0.1.0"), "deps": [
                dep(&id("serde", "1.0.1"), None),
                dep(&id("serde_derive", "1.0.1"), None),
                dep(&id("cc", "1.2.0"), Some("build")),
            ]},
            { "id": id("serde", "1.0.1"), "deps": [dep(&id("itoa", "1.0.0"), None)] },
            { "id": id("serde_derive", "1.0.1"), "deps": [] },
            { "id": id("cc", "1.2.0"), "deps": [] },
            { "id": id("tempfile", "3.0.0"), "deps": [] },
            { "id": id("itoa", "1.0.0"), "deps": [] },
            { "id": id("itoa", "0.4.8"), "deps": [] },
            { "id": id("unused", "9.9.9"), "deps": [] },
        ]},
    });
    let lock = "version = 4\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.1\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"abc123\"\n\n[[package]]\nname = \"core\"\nversion = \"0.1.0\"\n";
    let components = vec!["api-x".to_string(), "cron-y".to_string()];
    let doc = cyclonedx::document(&metadata, lock, &components, "0.1.0").unwrap();
    assert_eq!(doc["bomFormat"], "CycloneDX");
    assert_eq!(doc["specVersion"], "1.5");
    assert!(doc["serialNumber"]
        .as_str()
        .unwrap()
        .starts_with("urn:uuid:"));
    let listed: BTreeSet<&str> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    let want: BTreeSet<&str> = [
        "pkg:cargo/api-x@0.1.0",
        "pkg:cargo/cron-y@0.1.0",
        "pkg:cargo/core@0.1.0",
        "pkg:cargo/serde@1.0.1",
        "pkg:cargo/itoa@1.0.0",
        "pkg:cargo/itoa@0.4.8",
    ]
    .into();
    assert_eq!(
        listed, want,
        "linked only: no dev, build, proc-macro or unreachable crates"
    );
    let serde = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "serde")
        .unwrap();
    assert_eq!(
        serde["licenses"],
        json!([{ "expression": "MIT OR Apache-2.0" }])
    );
    assert_eq!(serde["purl"], "pkg:cargo/serde@1.0.1");
    assert_eq!(
        serde["hashes"],
        json!([{ "alg": "SHA-256", "content": "abc123" }])
    );
    assert_eq!(serde["type"], "library");
    let app = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "api-x")
        .unwrap();
    assert_eq!(app["type"], "application");
    let graph = |r: &str| {
        doc["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["ref"] == r)
            .unwrap_or_else(|| panic!("{r} has no dependency entry"))["dependsOn"]
            .clone()
    };
    assert_eq!(
        graph("echopilot"),
        json!(["pkg:cargo/api-x@0.1.0", "pkg:cargo/cron-y@0.1.0"])
    );
    assert_eq!(
        graph("pkg:cargo/api-x@0.1.0"),
        json!(["pkg:cargo/core@0.1.0"])
    );
    assert_eq!(
        graph("pkg:cargo/core@0.1.0"),
        json!(["pkg:cargo/serde@1.0.1"])
    );
    assert_eq!(graph("pkg:cargo/itoa@1.0.0"), json!([]));
    // The same input, the same document (reproducible builds).
    assert_eq!(
        doc,
        cyclonedx::document(&metadata, lock, &components, "0.1.0").unwrap()
    );
    // A component that is not a package is an error, not a shorter list.
    let err = cyclonedx::document(&metadata, lock, &["api-z".to_string()], "0.1.0").unwrap_err();
    assert!(err.contains("api-z"), "{err}");
}

/// The `[component.NAME.variables]` keys of spin.toml.
fn component_variables(manifest: &str, component: &str) -> BTreeSet<String> {
    let header = format!("[component.{component}.variables]");
    manifest
        .lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .filter(|k| !k.starts_with('#'))
        .collect()
}

#[test]
fn spin_toml_declares_every_secret_and_what_the_scan_reads() {
    let m = manifest();
    let marked: BTreeSet<&str> = m
        .lines()
        .filter(|l| l.contains("secret = true"))
        .filter_map(|l| l.split_once(" = {").map(|(k, _)| k.trim()))
        .collect();
    let listed: BTreeSet<&str> = secrets::SECRETS.iter().map(|s| s.name).collect();
    assert_eq!(
        marked, listed,
        "security::secrets::SECRETS must list every secret = true variable"
    );
    let scan_reads = component_variables(&m, "api-security");
    let job_reads = component_variables(&m, "cron-secrets");
    for s in secrets::SECRETS {
        assert!(
            scan_reads.contains(s.name),
            "api-security must declare {}",
            s.name
        );
        assert!(
            job_reads.contains(s.name),
            "cron-secrets must declare {}",
            s.name
        );
    }
    for (component, entry) in hosts(&m) {
        let (_, templated) = outbound::resolve(&entry, |var| {
            assert!(
                scan_reads.contains(var),
                "api-security must declare {var} ({component}'s outbound host {entry})"
            );
            String::new()
        });
        assert!(
            templated || outbound::too_wide(&entry).is_none(),
            "{component}: {entry}"
        );
    }
    for var in [
        scan::BACKUP_DESTINATION_VARIABLE,
        "deployment_environment",
        "request_telemetry",
        "cors_allowed_origins",
        "workflow_http_allowed_origins",
        "secret_rotation_days",
    ] {
        assert!(scan_reads.contains(var), "api-security must declare {var}");
    }
}

#[test]
fn outbound_entries_are_read_and_judged() {
    let m = "[component.a]\nallowed_outbound_hosts = [\"{{ x }}\", \"https://api.example.com\"]\n[component.a.build]\n[component.b]\nallowed_outbound_hosts = []\n";
    assert_eq!(
        outbound::from_manifest(m).unwrap(),
        vec![
            ("a".to_string(), "{{ x }}".to_string()),
            ("a".to_string(), "https://api.example.com".to_string())
        ]
    );
    assert!(
        outbound::from_manifest("[component.a]\nallowed_outbound_hosts = [\n  \"x\",\n]\n")
            .is_err()
    );
    assert_eq!(
        outbound::resolve("{{x}}:8443", |_| "https://h".into()),
        ("https://h:8443".into(), true)
    );
    for wide in [
        "https://*:443",
        "*://api.example.com",
        "https://*.example.com",
        "http://api.example.com",
        "https://api.example.com:*",
    ] {
        assert!(outbound::too_wide(wide).is_some(), "{wide}");
    }
    for narrow in [
        "https://api.example.com",
        "http://localhost:11434",
        "http://127.0.0.1:9",
    ] {
        assert!(outbound::too_wide(narrow).is_none(), "{narrow}");
    }
}
