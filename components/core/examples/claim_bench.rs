//! Benchmark: does a claim cost more as the queue grows?
//!
//! Fills a SQLite file (WAL, like Spin's) with N queued jobs spread over a
//! few tenants and priorities, then times claims. Prints the median and p99
//! per depth and the ratio between the deepest and the shallowest queue.
//!
//!     cargo run --release -p echopilot-core --example claim_bench [-- 1000 100000]

use echopilot_core::adapters::native::{self, SqliteDb};
use echopilot_core::jobs::queue::{claim, ClaimPolicy};
use echopilot_core::ports::DbExt;
use echopilot_core::{build_info, params};
use std::time::Instant;

const TENANTS: usize = 8;
const CLAIMS: usize = 2000;

fn fill(env: &echopilot_core::ports::Env, n: usize) {
    echopilot_core::db::transaction(env.db.as_ref(), |db| {
        for i in 0..n {
            let tenant = format!("tenant-{}", i % TENANTS);
            let priority = (i % 4) as i64;
            db.exec(
                "INSERT INTO jobs (id, tenant_id, source, type, priority, status, max_attempts, run_at, brief, input,
                    build_sha, build_dirty, created_at, updated_at)
                 VALUES (?1, ?2, 'api', 'ai_task', ?3, 'queued', 3, ?4, 'benchmark brief', '{}', ?5, 0, ?4, ?4)",
                params![format!("job_{i:012}"), tenant.as_str(), priority, 1_000_000 + i as i64, build_info::GIT_SHA],
            )?;
        }
        Ok(())
    })
    .expect("fill");
}

fn main() {
    let depths: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let depths = if depths.is_empty() {
        vec![1_000, 100_000]
    } else {
        depths
    };
    let policy = ClaimPolicy {
        lease_ms: 600_000,
        aging_ms: 600_000,
    };
    let mut medians = Vec::new();
    println!("claim cost by queue depth ({TENANTS} tenants, 4 priorities, {CLAIMS} claims each, SQLite WAL file)");
    for &depth in &depths {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = native::env(
            SqliteDb::open(dir.path().join("bench.db")).expect("open"),
            &[],
        );
        let t = Instant::now();
        fill(&env, depth + CLAIMS);
        let fill_s = t.elapsed().as_secs_f64();
        let mut times = Vec::with_capacity(CLAIMS);
        for _ in 0..CLAIMS {
            let t = Instant::now();
            claim(&env, "bench", policy).expect("claim").expect("a job");
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        let median = times[times.len() / 2];
        let p99 = times[times.len() * 99 / 100];
        medians.push(median);
        println!("depth {depth:>8}: median {median:>7.1} µs  p99 {p99:>7.1} µs  (filled in {fill_s:.1} s)");
    }
    if medians.len() >= 2 {
        let ratio = medians[medians.len() - 1] / medians[0];
        println!("ratio deepest/shallowest median: {ratio:.2}x (target: within 2x)");
    }
}
