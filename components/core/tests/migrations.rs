//! Migrations against real SQLite files: idempotent, and safe when two
//! instances start at once on one database.

use echopilot_core::adapters::native::SqliteDb;
use echopilot_core::db::migrate::{current_version, ensure_current};
use echopilot_core::db::migrations::{latest, MIGRATIONS};
use echopilot_core::ports::DbExt;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Barrier};

#[test]
fn a_new_database_is_brought_to_the_latest_version_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let db = SqliteDb::open(&path).unwrap();
    assert_eq!(current_version(&db).unwrap(), latest());
    let mode = db
        .query_one("PRAGMA journal_mode", &[])
        .unwrap()
        .text(0)
        .unwrap();
    assert_eq!(mode, "wal");
    // Idempotent: a second pass and a second open apply nothing.
    assert!(ensure_current(&db).unwrap().is_empty());
    let again = SqliteDb::open(&path).unwrap();
    assert!(ensure_current(&again).unwrap().is_empty());
    let rows = db
        .exec(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .unwrap();
    let versions: Vec<i64> = rows.rows.iter().map(|r| r.i64(0).unwrap()).collect();
    assert_eq!(
        versions,
        MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>()
    );
}

#[test]
fn two_migrators_starting_together_on_one_file_apply_each_migration_once() {
    for round in 0..25 {
        let dir = tempfile::tempdir().unwrap();
        let path = Arc::new(dir.path().join("db.sqlite"));
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let db = SqliteDb::open_raw(path.as_ref()).unwrap();
                    barrier.wait();
                    {
                        echopilot_core::db::prepare(&db);
                        ensure_current(&db)
                    }
                })
            })
            .collect();
        for h in handles {
            h.join()
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
        let db = SqliteDb::open(path.as_ref()).unwrap();
        assert_eq!(current_version(&db).unwrap(), latest(), "round {round}");
        let n = db
            .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
            .unwrap()
            .i64(0)
            .unwrap();
        assert_eq!(
            n,
            MIGRATIONS.len() as i64,
            "round {round}: each migration recorded once"
        );
        let tables = db
            .query_one(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'heartbeats'",
                &[],
            )
            .unwrap()
            .i64(0)
            .unwrap();
        assert_eq!(tables, 1);
    }
}

/// Versions strictly increase from 1. Branches developed side by side
/// take their numbers in advance (this one 16, others 14, 15 and 17), so
/// a branch may have a gap until they merge; a migration is never numbered
/// below one already released.
#[test]
fn versions_increase_from_one() {
    assert_eq!(MIGRATIONS[0].version, 1);
    for pair in MIGRATIONS.windows(2) {
        assert!(pair[1].version > pair[0].version, "{}", pair[1].name);
    }
    for m in MIGRATIONS {
        assert!(!m.statements.is_empty(), "{}", m.name);
    }
}

/// Released migrations never change: editing one would leave databases that
/// already ran it different from new ones. Add a new migration instead.
#[test]
fn released_migrations_are_unchanged() {
    const RELEASED: &[(i64, &str)] = &[
        (1, "b4d472e4"),
        (2, "283e42e3"),
        (3, "c2c7c46c"),
        (4, "28925323"),
        (5, "315dfd85"),
        (6, "acfe197e"),
        (7, "27df8c34"),
        (8, "0042c094"),
        (9, "506b9bb1"),
        (10, "929655ca"),
        (11, "3d6bb024"),
        (12, "fa51a744"),
        (13, "958cd7e7"),
    ];
    let mut wrong = Vec::new();
    for (version, expected) in RELEASED {
        let m = MIGRATIONS.iter().find(|m| m.version == *version).unwrap();
        let mut h = Sha256::new();
        for s in m.statements {
            h.update(s.as_bytes());
            h.update([0]);
        }
        let got = echopilot_core::hex(&h.finalize()[..4]);
        if &got != expected {
            wrong.push(format!("({version}, \"{got}\")"));
        }
    }
    assert!(
        wrong.is_empty(),
        "released migrations were edited (add a new one instead): {}",
        wrong.join(", ")
    );
}

/// Request paths do not check the schema per connection: a statement that
/// meets a missing table migrates and runs again, and a transaction that
/// does is rolled back, migrated and run again.
#[test]
fn a_statement_or_transaction_meeting_a_missing_table_migrates_and_runs_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open_raw(dir.path().join("db.sqlite")).unwrap();
    echopilot_core::db::prepare(&db);
    assert_eq!(current_version(&db).unwrap(), 0, "nothing migrated yet");
    let n = db
        .query_one("SELECT COUNT(*) FROM jobs", &[])
        .unwrap()
        .i64(0)
        .unwrap();
    assert_eq!((n, current_version(&db).unwrap()), (0, latest()));

    let other = SqliteDb::open_raw(dir.path().join("other.sqlite")).unwrap();
    echopilot_core::db::prepare(&other);
    let mut runs = 0;
    let seq = echopilot_core::db::transaction(&other, |tx| {
        runs += 1;
        tx.execute("SELECT COUNT(*) FROM audit_log", &[])?.rows[0].i64(0)
    })
    .unwrap();
    assert_eq!((seq, runs), (0, 2), "rolled back, migrated, run again");
    assert_eq!(current_version(&other).unwrap(), latest());
}
