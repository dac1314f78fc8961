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
//!
//! `--runtime spin` measures what users run instead: the app under a real
//! `spin up` (spin on PATH). The queue is filled with the schedules off,
//! then the same state directory is started under the trigger-cron plugin,
//! which ticks the worker every 5 s as spin.toml says; the drain time runs
//! from the first claim to an empty queue (the wait for the first slot is
//! printed apart, with the time from the start).
//!
//! ```text
//! cargo run -p echopilot-e2e --bin bench_drain -- --runtime spin --jobs 3000 --llm-delay-ms 0 --concurrency 64
//! ```

use anyhow::{bail, Context, Result};
use echopilot_e2e::spin_up::{Schedules, SpinConfig, SpinUp};
use echopilot_e2e::{mock, Client, Host};
use serde_json::json;
use std::time::{Duration, Instant};

struct Args {
    jobs: usize,
    delay_ms: u64,
    concurrency: usize,
    budget_ms: u64,
    spin: bool,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        jobs: 3000,
        delay_ms: 0,
        concurrency: 64,
        budget_ms: 20_000,
        spin: false,
    };
    let mut budget = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--jobs" => a.jobs = value()?.parse()?,
            "--llm-delay-ms" => a.delay_ms = value()?.parse()?,
            "--concurrency" => a.concurrency = value()?.parse()?,
            "--tick-budget-ms" => budget = Some(value()?.parse()?),
            "--runtime" => {
                a.spin = match value()?.as_str() {
                    "spin" => true,
                    "host" => false,
                    other => bail!("--runtime is host or spin, not {other:?}"),
                }
            }
            "--help" | "-h" => {
                println!("bench_drain [--runtime host|spin] [--jobs 3000] [--llm-delay-ms 0] [--concurrency 64] [--tick-budget-ms 20000, or 4000 under spin]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    // Under the plugin a tick must end before the next 5 s slot (spin.toml's
    // 4 s); the host's ticks run back to back and may take longer.
    a.budget_ms = budget.unwrap_or(if a.spin { 4_000 } else { 20_000 });
    if a.jobs == 0 || a.concurrency == 0 {
        bail!("--jobs and --concurrency must be positive");
    }
    Ok(a)
}

const KEY: &str = "bench-dashboard-key-0123456789abcdef";

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

/// Fill the queue through the API, 8 clients at once.
fn enqueue(base_url: &str, jobs: usize) -> Result<()> {
    let filled = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let per = jobs.div_ceil(8);
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let client = Client::new(base_url);
                s.spawn(move || -> Result<()> {
                    for i in (t * per)..((t + 1) * per).min(jobs) {
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
    eprintln!("enqueued {jobs} jobs in {:.1?}", filled.elapsed());
    Ok(())
}

/// The app's variables for the benchmark: the mock LLM, the worker's
/// concurrency and budget, rate limits out of the way.
fn variables(args: &Args, ai_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("dashboard_key", KEY.to_string()),
        ("openai_api_key", "sk-bench".to_string()),
        ("openai_base_url", ai_url.to_string()),
        ("qa_consistency_sample", "0".to_string()),
        ("worker_concurrency", args.concurrency.to_string()),
        ("worker_tick_budget_ms", args.budget_ms.to_string()),
        ("rate_limit_ip_per_minute", "10000000".to_string()),
        ("rate_limit_credential_per_minute", "10000000".to_string()),
    ]
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
    let vars = variables(&args, &ai.server.url());
    let (elapsed, ticks, completed) = if args.spin {
        drain_under_spin(&args, vars)?
    } else {
        drain_in_host(&args, vars)?
    };
    let calls = ai.completions().len();
    println!(
        "drain ({}): {completed} of {} jobs completed in {:.2} s{} = {:.1} jobs/s",
        if args.spin {
            "real Spin, trigger-cron"
        } else {
            "test host"
        },
        args.jobs,
        elapsed.as_secs_f64(),
        ticks
            .map(|t| format!(" over {t} ticks"))
            .unwrap_or_default(),
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

/// The test host: ticks back to back, each in a fresh slot.
fn drain_in_host(args: &Args, vars: Vec<(&str, String)>) -> Result<(Duration, Option<u64>, i64)> {
    let mut builder =
        Host::builder(echopilot_e2e::repo_root()).request_timeout(Duration::from_secs(600));
    for (k, v) in vars {
        builder = builder.variable(k, v);
    }
    let host = builder.start()?;
    let client = Client::new(host.base_url());
    enqueue(&host.base_url(), args.jobs)?;
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
    Ok((elapsed, Some(ticks), completed))
}

/// Real Spin: fill with the schedules off, then drain under the plugin.
fn drain_under_spin(
    args: &Args,
    vars: Vec<(&str, String)>,
) -> Result<(Duration, Option<u64>, i64)> {
    let state = tempfile::tempdir()?;
    let mut config = SpinConfig::new(echopilot_e2e::repo_root());
    config.variables = vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    config.state_dir = Some(state.path().to_path_buf());
    {
        let filler = SpinUp::start(&config)?;
        enqueue(&filler.base_url(), args.jobs)?;
    }
    config.schedules = Schedules::Plugin;
    let started = Instant::now();
    let app = SpinUp::start(&config)?;
    let client = Client::new(app.base_url());
    // Bounded: at least one job per 5 s tick, and never beyond an hour.
    let deadline = started + Duration::from_secs((args.jobs as u64 * 5).min(3600) + 60);
    // The drain runs from the first tick that claims (the wait for the
    // first 5 s slot is the schedule's latency, printed apart).
    let mut first_claim = None;
    loop {
        let (queued, processing, _) = queue_counts(&client)?;
        if first_claim.is_none() && (queued as usize) < args.jobs {
            first_claim = Some(Instant::now());
        }
        if queued == 0 && processing == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "the queue did not drain in {:.0?}:\n{}",
                started.elapsed(),
                app.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let first_claim = first_claim.unwrap_or(started);
    eprintln!(
        "spin up to the first claim: {:.2?}; start to an empty queue: {:.2?}",
        first_claim - started,
        started.elapsed()
    );
    let elapsed = first_claim.elapsed();
    let (_, _, completed) = queue_counts(&client)?;
    Ok((elapsed, None, completed))
}
