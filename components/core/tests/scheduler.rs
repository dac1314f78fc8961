//! The job runner: one run per slot, leases, overlap guard, retry, catch-up.

use echopilot_core::adapters::native::{self, ManualClock, SqliteDb};
use echopilot_core::ports::{DbExt, Env};
use echopilot_core::scheduler::{
    configuration_problems, run, Job, JobFn, Outcome, RunContext, Trigger,
};
use echopilot_core::Result;
use futures::executor::block_on;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

const MINUTE: i64 = 60_000;
const T0: i64 = 1_800_000_000_000; // a minute boundary

fn ok_job(_: &Env, run: &RunContext) -> Result<String> {
    Ok(format!("slot {} missed {}", run.slot, run.missed_slots))
}

fn failing_job(_: &Env, _: &RunContext) -> Result<String> {
    Err(echopilot_core::Error::internal("boom"))
}

const fn job(name: &'static str, body: JobFn) -> Job {
    Job {
        name,
        component: "test",
        schedule: "0 * * * * *",
        period_secs: 60,
        lease_secs: 50,
        max_attempts: 3,
        exclusive: true,
        body,
    }
}

const OK: Job = job("ok", JobFn::Sync(ok_job));
const FAILS: Job = job("fails", JobFn::Sync(failing_job));

fn env_at(db: SqliteDb, clock: &ManualClock) -> Env {
    let mut env = native::env(db, &[]);
    env.clock = Box::new(clock.clone());
    env
}

#[test]
fn a_slot_runs_once_however_often_it_is_triggered() {
    let clock = ManualClock::new(T0 + 1_000);
    let env = env_at(SqliteDb::open_in_memory().unwrap(), &clock);
    let first = block_on(run(&env, &OK, Trigger::Cron, T0 + 1_000)).unwrap();
    assert!(matches!(first.outcome, Outcome::Ran { .. }), "{first:?}");
    assert_eq!(first.attempt, Some(1));
    let again = block_on(run(&env, &OK, Trigger::Http, T0 + 30_000)).unwrap();
    assert_eq!(again.outcome, Outcome::AlreadyDone);
    assert_eq!(again.slot, first.slot);
    // The next minute is a new slot.
    clock.advance(MINUTE);
    let next = block_on(run(&env, &OK, Trigger::Http, T0 + MINUTE)).unwrap();
    assert!(matches!(next.outcome, Outcome::Ran { .. }));
    assert_eq!(next.missed_slots, Some(0));
}

#[test]
fn replicas_racing_on_one_database_run_each_slot_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("db.sqlite"));
    SqliteDb::open(path.as_ref()).unwrap();
    let slots = 30;
    let barrier = Arc::new(Barrier::new(4));
    let ran = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (path, barrier, ran) = (path.clone(), barrier.clone(), ran.clone());
            std::thread::spawn(move || {
                let clock = ManualClock::new(T0);
                let env = env_at(SqliteDb::open(path.as_ref()).unwrap(), &clock);
                barrier.wait();
                for s in 0..slots {
                    let at = T0 + s * MINUTE;
                    clock.set(at);
                    let report = block_on(run(&env, &OK, Trigger::Cron, at)).unwrap();
                    if matches!(report.outcome, Outcome::Ran { .. }) {
                        ran.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(ran.load(Ordering::SeqCst), slots as usize);
    let db = SqliteDb::open(path.as_ref()).unwrap();
    let n = db
        .query_one(
            "SELECT COUNT(*) FROM scheduler_runs WHERE job = 'ok' AND status = 'succeeded'",
            &[],
        )
        .unwrap()
        .i64(0)
        .unwrap();
    assert_eq!(n, slots);
}

#[test]
fn a_failed_slot_is_retried_until_max_attempts_then_given_up() {
    let clock = ManualClock::new(T0);
    let env = env_at(SqliteDb::open_in_memory().unwrap(), &clock);
    for attempt in 1..=3 {
        let r = block_on(run(&env, &FAILS, Trigger::Http, T0)).unwrap();
        assert!(matches!(r.outcome, Outcome::Failed { .. }), "{r:?}");
        assert_eq!(r.attempt, Some(attempt));
    }
    let r = block_on(run(&env, &FAILS, Trigger::Http, T0)).unwrap();
    assert_eq!(r.outcome, Outcome::GaveUp);
    let row = env
        .db
        .query_one(
            "SELECT status, attempts, error FROM scheduler_runs WHERE job = 'fails'",
            &[],
        )
        .unwrap();
    assert_eq!(row.text(0).unwrap(), "failed");
    assert_eq!(row.i64(1).unwrap(), 3);
    assert!(row.text(2).unwrap().contains("boom"));
}

#[test]
fn a_dead_runner_s_slot_is_taken_over_after_its_lease_and_overlap_is_refused_before() {
    let clock = ManualClock::new(T0);
    let env = env_at(SqliteDb::open_in_memory().unwrap(), &clock);
    // A runner claimed slot T0 and died: its row stays `running`.
    env.db
        .exec(
            "INSERT INTO scheduler_runs (job, slot, status, owner, trigger, attempts, lease_expires_at, started_at)
             VALUES ('ok', ?1, 'running', 'dead', 'cron', 1, ?2, ?3)",
            echopilot_core::params![T0 / MINUTE, T0 + 50_000, T0],
        )
        .unwrap();
    clock.set(T0 + 10_000);
    let r = block_on(run(&env, &OK, Trigger::Http, T0 + 10_000)).unwrap();
    assert_eq!(r.outcome, Outcome::InProgress);
    // The next slot must not overlap the live run.
    clock.set(T0 + 40_000);
    let r = block_on(run(&env, &OK, Trigger::Cron, T0 + MINUTE)).unwrap();
    assert_eq!(r.outcome, Outcome::Overlap);
    // After the lease expires the slot is taken over as a second attempt.
    clock.set(T0 + 51_000);
    let r = block_on(run(&env, &OK, Trigger::Http, T0 + 51_000)).unwrap();
    assert!(matches!(r.outcome, Outcome::Ran { .. }), "{r:?}");
    assert_eq!(r.attempt, Some(2));
}

#[test]
fn a_run_after_a_gap_is_told_how_many_slots_it_missed() {
    let clock = ManualClock::new(T0);
    let env = env_at(SqliteDb::open_in_memory().unwrap(), &clock);
    block_on(run(&env, &OK, Trigger::Cron, T0)).unwrap();
    clock.set(T0 + 5 * MINUTE);
    let r = block_on(run(&env, &OK, Trigger::Cron, T0 + 5 * MINUTE)).unwrap();
    assert_eq!(r.missed_slots, Some(4));
    match r.outcome {
        Outcome::Ran { summary } => assert!(summary.contains("missed 4"), "{summary}"),
        other => panic!("{other:?}"),
    }
}

fn ai_settings_job(env: &Env, _: &RunContext) -> Result<String> {
    echopilot_core::ai::settings::AiSettings::load(env.config.as_ref())
        .map(|s| s.provider.name().to_string())
}

#[test]
fn a_job_that_cannot_run_as_configured_is_a_problem_until_it_runs_again() {
    const WORKER: Job = job("worker", JobFn::Sync(ai_settings_job));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let clock = ManualClock::new(T0 + 1_000);
    let open = |vars: &[(&str, &str)]| {
        let mut env = native::env(SqliteDb::open(&path).unwrap(), vars);
        env.clock = Box::new(clock.clone());
        env
    };
    let misconfigured = open(&[
        ("openai_api_key", "sk-not-for-health"),
        ("openai_base_url", "http://localhost:11434/v1"),
    ]);
    let ran = block_on(run(&misconfigured, &OK, Trigger::Cron, T0 + 1_000)).unwrap();
    assert!(matches!(ran.outcome, Outcome::Ran { .. }));
    let failed = block_on(run(&misconfigured, &WORKER, Trigger::Cron, T0 + 1_000)).unwrap();
    assert!(
        matches!(failed.outcome, Outcome::Failed { .. }),
        "{failed:?}"
    );

    let problems = configuration_problems(misconfigured.db.as_ref()).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].job, "worker");
    assert_eq!(problems[0].problem.variable, "openai_base_url");
    assert!(problems[0]
        .problem
        .expected
        .contains("openai_chat_path=/v1/chat/completions"));
    let shown = serde_json::to_string(&problems).unwrap();
    assert!(
        !shown.contains("11434/v1`"),
        "the value is not shown: {shown}"
    );

    // Fixed: the next run succeeds and the problem is gone.
    clock.advance(MINUTE);
    let fixed = open(&[
        ("openai_api_key", "sk-not-for-health"),
        ("openai_base_url", "http://localhost:11434"),
    ]);
    let ok = block_on(run(&fixed, &WORKER, Trigger::Cron, T0 + MINUTE + 1_000)).unwrap();
    assert!(matches!(ok.outcome, Outcome::Ran { .. }), "{ok:?}");
    assert!(configuration_problems(fixed.db.as_ref())
        .unwrap()
        .is_empty());
}
