//! Drain benchmark (a command, not a test): how fast the worker empties the
//! queue against a mock LLM.
//!
//! ```text
//! cargo run --release -p echopilot-e2e --bin bench_drain -- --jobs 3000 --llm-delay-ms 0 --concurrency 64
//! cargo run --release -p echopilot-e2e --bin bench_drain -- --jobs 600 --llm-delay-ms 2000 --concurrency 128
//! ```
//!
//! Starts the app in the test host with the worker pointed at a loopback
//! OpenAI mock that answers every call after `--llm-delay-ms` (each job is
//! two calls: the work and its grading), enqueues `--jobs` jobs through the
//! API, then runs worker ticks back to back (each in its own 5-second slot,
//! as consecutive cron ticks are) until the queue is empty, and prints the
//! jobs completed per second of draining.

use anyhow::{bail, Context, Result};
use echopilot_e2e::{mock, Client, Host};
use serde_json::json;
use std::time::{Duration, Instant};

struct Args {
    jobs: usize,
    delay_ms: u64,
    concurrency: usize,
    budget_ms: u64,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        jobs: 3000,
        delay_ms: 0,
        concurrency: 64,
        budget_ms: 20_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--jobs" => a.jobs = value()?.parse()?,
            "--llm-delay-ms" => a.delay_ms = value()?.parse()?,
            "--concurrency" => a.concurrency = value()?.parse()?,
            "--tick-budget-ms" => a.budget_ms = value()?.parse()?,
            "--help" | "-h" => {
                println!("bench_drain [--jobs 3000] [--llm-delay-ms 0] [--concurrency 64] [--tick-budget-ms 20000]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    if a.jobs == 0 || a.concurrency == 0 {
        bail!("--jobs and --concurrency must be positive");
    }
    Ok(a)
}

const KEY: &str = "bench-dashboard-key";

fn queue_counts(client: &Client) -> Result<(i64, i64, i64)> {
    let body = client
        .get("/api/queue/status")
        .header("X-Dash-Key", KEY)
        .send()?
        .json()?;
    let s = &body["data"]["by_status"];
    Ok((
        s["queued"].as_i64().unwrap_or(-1),
        s["processing"].as_i64().unwrap_or(-1),
        s["completed"].as_i64().unwrap_or(-1),
    ))
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let ai = mock::openai()?;
    ai.set_responder(|body| {
        if body.get("response_format").is_some() {
            json!({
                "clarity": {"score": 90, "reason": "clear"},
                "accuracy": {"score": 90, "reason": "accurate"},
                "completeness": {"score": 90, "reason": "complete"},
                "professional_tone": {"score": 90, "reason": "professional"}
            })
            .to_string()
        } else {
            "A finished piece of work.".to_string()
        }
    });
    ai.set_delay(Duration::from_millis(args.delay_ms));
    let host = Host::builder(echopilot_e2e::repo_root())
        .variable("dashboard_key", KEY)
        .variable("openai_api_key", "sk-bench")
        .variable("openai_base_url", ai.server.url())
        .variable("qa_consistency_sample", "0")
        .variable("worker_concurrency", args.concurrency.to_string())
        .variable("worker_tick_budget_ms", args.budget_ms.to_string())
        .variable("rate_limit_ip_per_minute", "10000000")
        .variable("rate_limit_credential_per_minute", "10000000")
        .request_timeout(Duration::from_secs(600))
        .start()?;
    let client = Client::new(host.base_url());

    // Fill the queue through the API, 8 clients at once.
    let filled = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let per = args.jobs.div_ceil(8);
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let client = Client::new(host.base_url());
                s.spawn(move || -> Result<()> {
                    for i in (t * per)..((t + 1) * per).min(args.jobs) {
                        let resp = client
                            .post("/api/queue/enqueue")
                            .header("X-Dash-Key", KEY)
                            .json(&json!({"brief": format!("Benchmark brief number {i}: summarise the week.")}))
                            .send()?;
                        if resp.status != 201 {
                            bail!("enqueue answered {}: {}", resp.status, resp.text());
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("an enqueue thread panicked"))??;
        }
        Ok(())
    })?;
    eprintln!("enqueued {} jobs in {:.1?}", args.jobs, filled.elapsed());

    // Drain: ticks back to back, each in a fresh slot.
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let started = Instant::now();
    let mut ticks = 0u64;
    loop {
        ticks += 1;
        host.tick_at("cron-worker", base + 5 * ticks)?
            .map_err(|e| anyhow::anyhow!("tick failed: {e}"))?;
        let (queued, processing, _) = queue_counts(&client)?;
        if queued == 0 && processing == 0 {
            break;
        }
        if ticks as usize > args.jobs + 10 {
            bail!("the queue did not drain within {ticks} ticks");
        }
    }
    let elapsed = started.elapsed();
    let (_, _, completed) = queue_counts(&client)?;
    let calls = ai.completions().len();
    println!(
        "drain: {completed} of {} jobs completed in {:.2} s over {ticks} ticks = {:.1} jobs/s",
        args.jobs,
        elapsed.as_secs_f64(),
        completed as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  mock LLM: {calls} calls ({:.2} per job), {} ms per call; worker_concurrency {}; tick budget {} ms",
        calls as f64 / args.jobs as f64,
        args.delay_ms,
        args.concurrency,
        args.budget_ms
    );
    Ok(())
}
