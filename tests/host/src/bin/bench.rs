//! Load generator for the end-to-end host (a command, not a test).
//!
//! ```text
//! cargo run --release -p echopilot-e2e --bin bench -- --path /health --connections 32 --seconds 10
//! ```
//!
//! Starts the app in the test host (fresh data directory) unless
//! `--base-url http://127.0.0.1:3000` names a running server (a real
//! `spin up`), then keeps `--connections` keep-alive HTTP/1.1 connections
//! busy for `--seconds` (after `--warmup` seconds) and prints requests per
//! second and latency percentiles. `--body JSON` sends a JSON body with each
//! request, `--header name:value` adds a header, and `--var name=value`
//! sets an application variable of the test host (e.g. higher rate limits).
//!
//! ```text
//! cargo run --release -p echopilot-e2e --bin bench -- --method POST --path /api/public/create-job \
//!     --body '{"brief":"Write a haiku about load tests"}' \
//!     --var rate_limit_ip_per_minute=10000000 --connections 32 --seconds 10
//! ```
//!
//! `--data-dir DIR` runs the host on an existing data directory (a prepared
//! database) instead of a fresh one.
//!
//! `--rate N` drives an open loop instead: N requests per second in all,
//! spread evenly over the connections, each latency counted from when the
//! request was *due* (so a stall shows in the figures instead of silently
//! slowing the load: no coordinated omission). Use it to measure what a cost
//! adds to a request below saturation, where a closed loop would mostly
//! measure queueing.
//!
//! The generator runs on one thread of its own; on a 2-core machine it shares the cores with the host, as it would
//! with a real `spin up`.

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use echopilot_e2e::Host;
use http_body_util::{BodyExt, Full};
use std::time::{Duration, Instant};

struct Args {
    path: String,
    connections: usize,
    seconds: u64,
    warmup: u64,
    base_url: Option<String>,
    method: String,
    body: Option<String>,
    headers: Vec<(String, String)>,
    vars: Vec<(String, String)>,
    rate: Option<f64>,
    data_dir: Option<String>,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        path: "/health".into(),
        connections: 32,
        seconds: 10,
        warmup: 1,
        base_url: None,
        method: "GET".into(),
        body: None,
        headers: Vec::new(),
        vars: Vec::new(),
        rate: None,
        data_dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--path" => a.path = value()?,
            "--connections" | "-c" => a.connections = value()?.parse()?,
            "--seconds" | "-d" => a.seconds = value()?.parse()?,
            "--warmup" => a.warmup = value()?.parse()?,
            "--base-url" => a.base_url = Some(value()?),
            "--rate" => a.rate = Some(value()?.parse()?),
            "--data-dir" => a.data_dir = Some(value()?),
            "--method" => a.method = value()?,
            "--body" => a.body = Some(value()?),
            "--header" => {
                let v = value()?;
                let (k, v) = v.split_once(':').context("--header takes name:value")?;
                a.headers.push((k.trim().to_string(), v.trim().to_string()));
            }
            "--var" => {
                let v = value()?;
                let (k, v) = v.split_once('=').context("--var takes name=value")?;
                a.vars.push((k.to_string(), v.to_string()));
            }
            "--help" | "-h" => {
                println!("bench [--path /health] [--connections 32] [--seconds 10] [--warmup 1] [--method GET] [--body JSON] [--header name:value] [--var name=value] [--rate requests/s] [--data-dir DIR] [--base-url URL]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    if a.connections == 0 || a.seconds == 0 {
        bail!("--connections and --seconds must be positive");
    }
    if a.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        bail!("--rate must be a positive number of requests per second");
    }
    Ok(a)
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    ok: u64,
    non_2xx: u64,
    errors: u64,
}

/// What each connection sends.
#[derive(Clone)]
struct Shape {
    path: String,
    method: String,
    body: Option<Bytes>,
    headers: Vec<(String, String)>,
}

/// When a connection sends: as soon as it can (closed loop), or every
/// `every`, from `first` (open loop).
#[derive(Clone, Copy)]
enum Pace {
    Closed,
    Open { first: Instant, every: Duration },
}

async fn worker(
    authority: String,
    shape: Shape,
    pace: Pace,
    start_recording: Instant,
    end: Instant,
) -> Tally {
    let mut t = Tally::default();
    let mut due = match pace {
        Pace::Closed => None,
        Pace::Open { first, .. } => Some(first),
    };
    'reconnect: while Instant::now() < end {
        let Ok(stream) = tokio::net::TcpStream::connect(&authority).await else {
            t.errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, conn)) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await
        else {
            t.errors += 1;
            continue;
        };
        tokio::spawn(conn);
        while Instant::now() < end {
            let mut req = hyper::Request::builder()
                .method(shape.method.as_str())
                .uri(shape.path.as_str())
                .header("host", authority.as_str());
            if shape.body.is_some() {
                req = req.header("content-type", "application/json");
            }
            for (k, v) in &shape.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let req = req
                .body(Full::new(shape.body.clone().unwrap_or_default()))
                .expect("a valid request");
            if let Some(at) = due {
                tokio::time::sleep_until(at.into()).await;
            }
            // Open loop: latency runs from when the request was due.
            let began = due.unwrap_or_else(Instant::now);
            if let (Some(at), Pace::Open { every, .. }) = (due, pace) {
                due = Some(at + every);
            }
            let result = async {
                let resp = sender.send_request(req).await?;
                let status = resp.status();
                resp.into_body().collect().await?;
                Ok::<_, hyper::Error>(status)
            }
            .await;
            let took = began.elapsed();
            let recording = began >= start_recording;
            match result {
                Ok(status) if recording => {
                    t.latencies_us
                        .push(took.as_micros().min(u32::MAX as u128) as u32);
                    if status.is_success() || status.is_redirection() {
                        t.ok += 1;
                    } else {
                        t.non_2xx += 1;
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    if recording {
                        t.errors += 1;
                    }
                    continue 'reconnect;
                }
            }
        }
    }
    t
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let (host, base) = match &args.base_url {
        Some(url) => (None, url.trim_end_matches('/').to_string()),
        None => {
            let compile = Instant::now();
            let mut builder = Host::builder(echopilot_e2e::repo_root())
                .variable("dashboard_key", "bench")
                .variable("cron_token", "bench");
            for (k, v) in &args.vars {
                builder = builder.variable(k, v.clone());
            }
            if let Some(dir) = &args.data_dir {
                builder = builder.data_dir(dir);
            }
            let host = builder.start()?;
            eprintln!(
                "host ready in {:.2?} at {}",
                compile.elapsed(),
                host.base_url()
            );
            let base = host.base_url();
            (Some(host), base)
        }
    };
    let authority = base.trim_start_matches("http://").to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let now = Instant::now();
    let start_recording = now + Duration::from_secs(args.warmup);
    let end = start_recording + Duration::from_secs(args.seconds);
    let tallies = rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..args.connections {
            let pace = match args.rate {
                None => Pace::Closed,
                Some(rate) => {
                    // Each connection sends every connections/rate seconds,
                    // the connections staggered evenly.
                    let every = Duration::from_secs_f64(args.connections as f64 / rate);
                    Pace::Open {
                        first: now + every.mul_f64(i as f64 / args.connections as f64),
                        every,
                    }
                }
            };
            let shape = Shape {
                path: args.path.clone(),
                method: args.method.clone(),
                body: args.body.clone().map(Bytes::from),
                headers: args.headers.clone(),
            };
            tasks.push(tokio::spawn(worker(
                authority.clone(),
                shape,
                pace,
                start_recording,
                end,
            )));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap_or_default());
        }
        out
    });
    let mut all = Tally::default();
    for t in tallies {
        all.latencies_us.extend(t.latencies_us);
        all.ok += t.ok;
        all.non_2xx += t.non_2xx;
        all.errors += t.errors;
    }
    all.latencies_us.sort_unstable();
    let n = all.latencies_us.len();
    let rps = n as f64 / args.seconds as f64;
    println!(
        "{} {} against {} ({} connections{}, {} s after {} s warm-up)",
        args.method,
        args.path,
        if host.is_some() {
            "the e2e host"
        } else {
            base.as_str()
        },
        args.connections,
        args.rate
            .map(|r| format!(", open loop at {r} requests/s"))
            .unwrap_or_default(),
        args.seconds,
        args.warmup
    );
    println!(
        "  requests:    {n} ({} 2xx/3xx, {} other status, {} errors)",
        all.ok, all.non_2xx, all.errors
    );
    println!("  throughput:  {rps:.0} requests/s");
    println!(
        "  latency ms:  p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}",
        percentile(&all.latencies_us, 50.0),
        percentile(&all.latencies_us, 95.0),
        percentile(&all.latencies_us, 99.0),
        all.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    if n == 0 {
        bail!("no request completed");
    }
    drop(host);
    Ok(())
}
