use super::*;
use crate::adapters::native::MapConfig;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn vars(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = vec![
        ("backup_s3_bucket", "echopilot-backups"),
        ("backup_s3_access_key_id", "AKIAIOSFODNN7EXAMPLE"),
        ("backup_s3_secret_access_key", SECRET),
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
fn shipping_is_off_without_a_bucket_and_defaults_otherwise() {
    assert_eq!(settings(&MapConfig::new(&[])).unwrap(), None);
    let s = settings(&MapConfig::new(&vars(&[]))).unwrap().unwrap();
    assert_eq!(s.bucket.endpoint, DEFAULT_ENDPOINT);
    assert_eq!(s.bucket.region, "us-east-1");
    assert_eq!(s.prefix, "echopilot/");
    assert_eq!(s.keep, DEFAULT_KEEP);
    assert_eq!(s.location(), "s3://echopilot-backups/echopilot/");
    let custom = settings(&MapConfig::new(&vars(&[
        ("backup_s3_endpoint", "http://127.0.0.1:9000/"),
        ("backup_s3_region", "eu-west-1"),
        ("backup_s3_prefix", "prod/db"),
        ("backup_s3_keep", "3"),
    ])))
    .unwrap()
    .unwrap();
    assert_eq!(custom.bucket.endpoint, "http://127.0.0.1:9000");
    assert_eq!(custom.prefix, "prod/db/");
    assert_eq!(custom.keep, 3);
}

#[test]
fn bad_variables_are_named_and_the_secret_never_shown() {
    let cases: &[(&str, &str, &str)] = &[
        ("backup_s3_bucket", "Bad_Bucket", "backup_s3_bucket"),
        ("backup_s3_endpoint", "s3.example.com", "backup_s3_endpoint"),
        (
            "backup_s3_endpoint",
            "https://s3.example.com/path",
            "backup_s3_endpoint",
        ),
        ("backup_s3_prefix", "/abs", "backup_s3_prefix"),
        ("backup_s3_keep", "0", "backup_s3_keep"),
        ("backup_s3_region", "EU WEST", "backup_s3_region"),
        (
            "backup_s3_secret_access_key",
            "short",
            "backup_s3_secret_access_key",
        ),
        ("backup_s3_access_key_id", "", "backup_s3_access_key_id"),
    ];
    for (name, value, named) in cases {
        let mut v: Vec<(&str, &str)> = vars(&[]).into_iter().filter(|(k, _)| k != name).collect();
        v.push((name, value));
        let e = settings(&MapConfig::new(&v)).unwrap_err();
        assert_eq!(e.code, "invalid_configuration", "{name}");
        assert!(e.message.contains(named), "{name}: {}", e.message);
        assert!(!e.message.contains(SECRET));
    }
}

fn object(key: &str) -> Object {
    Object {
        key: key.into(),
        size: 1,
        last_modified: String::new(),
    }
}

#[test]
fn retention_keeps_the_newest_and_touches_only_backups() {
    let p = "echopilot/";
    let listing: Vec<Object> = [
        "echopilot/echopilot-backup-2027-01-16-bak_01B.sql.gz",
        "echopilot/echopilot-backup-2027-01-16-bak_01B.sql.gz.manifest.json",
        "echopilot/echopilot-backup-2027-01-14-bak_01A.sql.gz",
        "echopilot/echopilot-backup-2027-01-14-bak_01A.sql.gz.manifest.json",
        "echopilot/echopilot-backup-2027-01-17-bak_01C.sql.gz",
        "echopilot/echopilot-backup-2027-01-15-bak_019.sql.gz",
        "echopilot/notes.txt",
        "echopilot/old/echopilot-backup-2020-01-01-bak_000.sql.gz",
    ]
    .iter()
    .map(|k| object(k))
    .collect();
    assert_eq!(
        beyond_keep(&listing, p, 2),
        vec![
            "echopilot/echopilot-backup-2027-01-14-bak_01A.sql.gz",
            "echopilot/echopilot-backup-2027-01-14-bak_01A.sql.gz.manifest.json",
            "echopilot/echopilot-backup-2027-01-15-bak_019.sql.gz",
        ]
    );
    // Never the newest, whatever `keep` says; nothing when within it.
    assert_eq!(beyond_keep(&listing, p, 0).len(), 5);
    assert!(!beyond_keep(&listing, p, 0)
        .iter()
        .any(|k| k.contains("bak_01C")));
    assert!(beyond_keep(&listing, p, 4).is_empty());
}
