//! api-ops: `GET /metrics` read by a real Prometheus parser, and
//! `GET /api/logs` tying a request id to its request and events.

use anyhow::{bail, Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, wait_for, Env, Scenario};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use crate::support::dash;

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new(
        "metrics_parse_with_prometheus_and_count_requests",
        metrics_parse,
    ),
    Scenario::configured("metrics_token_opens_metrics_only", metrics_token),
    Scenario::new("logs_tie_a_request_id_to_its_request_and_events", logs),
    Scenario::new("ops_console_dry_runs_executes_and_audits", console),
];

/// One parsed sample: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parse `text` with prometheus_client's parser (Debian's package, run by
/// Debian's interpreter; tests/run.sh installs it).
fn parse(text: &str) -> Result<(BTreeMap<String, String>, Vec<Sample>)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/prom_parse.py");
    let python = std::env::var("E2E_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let mut child = std::process::Command::new(&python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("run {python} (install python3-prometheus-client)"))?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(text.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "the Prometheus parser rejected /metrics: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: Value = serde_json::from_slice(&out.stdout)?;
    let types = serde_json::from_value(v["types"].clone())?;
    let mut samples = Vec::new();
    for s in v["samples"].as_array().context("samples")? {
        let labels = serde_json::from_value(s[1].clone())?;
        let value: f64 = s[2].as_str().unwrap_or("nan").parse().unwrap_or(f64::NAN);
        samples.push((s[0].as_str().unwrap_or_default().to_string(), labels, value));
    }
    Ok((types, samples))
}

fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    samples.iter().find(|(n, l, _)| {
        n == name
            && labels
                .iter()
                .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
    })
}

fn scrape(app: &echopilot_e2e::scenario::App) -> Result<(BTreeMap<String, String>, Vec<Sample>)> {
    let resp = app
        .get("/metrics")
        .header("X-Dash-Key", &dash(app))
        .send()?;
    check!(
        resp.status == 200,
        "/metrics: {} {}",
        resp.status,
        resp.text()
    );
    check!(
        resp.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")),
        "content-type: {:?}",
        resp.header("content-type")
    );
    parse(&resp.text())
}

fn metrics_parse(env: &Env) -> Result<()> {
    let app = env.app()?;
    let before = scrape(&app)?;
    let count_of = |s: &[Sample]| {
        find(
            s,
            "echopilot_http_requests_total",
            &[
                ("component", "api-health"),
                ("route", "/healthz/strict"),
                ("status", "200"),
            ],
        )
        .map(|x| x.2)
        .unwrap_or(0.0)
    };
    let start = count_of(&before.1);
    for _ in 0..3 {
        check!(
            app.get("/healthz/strict").send()?.status == 200,
            "strict health"
        );
    }
    // Requests are recorded after their responses are sent: poll, bounded.
    let (types, samples) = wait_for(Duration::from_secs(10), || {
        let got = scrape(&app).ok()?;
        (count_of(&got.1) >= start + 3.0).then_some(got)
    })?;
    for (family, kind) in [
        ("echopilot_build_info", "gauge"),
        ("echopilot_http_requests", "counter"),
        ("echopilot_http_request_duration_seconds", "histogram"),
        ("echopilot_jobs", "gauge"),
        ("echopilot_queue_depth", "gauge"),
        ("echopilot_queue_oldest_age_seconds", "gauge"),
        ("echopilot_llm_calls", "counter"),
        ("echopilot_llm_cost_usd", "counter"),
        ("echopilot_qa_pass_ratio", "gauge"),
        ("echopilot_heartbeat_age_seconds", "gauge"),
    ] {
        check!(
            types.get(family).map(String::as_str) == Some(kind),
            "family {family} should be a {kind}: {types:?}"
        );
    }
    if app.is_isolated() {
        check!(count_of(&samples) == 3.0, "exactly three on a fresh host");
    }
    // The histogram of that route: cumulative buckets ending in +Inf = count.
    let route = [
        ("component", "api-health"),
        ("route", "/healthz/strict"),
        ("method", "GET"),
    ];
    let count = find(
        &samples,
        "echopilot_http_request_duration_seconds_count",
        &route,
    )
    .context("histogram count")?
    .2;
    let mut buckets: Vec<(f64, f64)> = samples
        .iter()
        .filter(|(n, l, _)| {
            n == "echopilot_http_request_duration_seconds_bucket"
                && route
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, l, v)| (l["le"].parse::<f64>().unwrap_or(f64::INFINITY), *v))
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    check!(buckets.len() == 12, "twelve buckets: {buckets:?}");
    check!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "buckets are cumulative: {buckets:?}"
    );
    check!(
        buckets
            .last()
            .is_some_and(|b| b.0.is_infinite() && b.1 == count),
        "+Inf equals the count {count}: {buckets:?}"
    );
    // Unmatched paths are one label value, never the raw path.
    let _ = app.get("/api/version/no/such/thing-12345").send()?;
    wait_for(Duration::from_secs(10), || {
        let (_, s) = scrape(&app).ok()?;
        let raw = s
            .iter()
            .any(|(_, l, _)| l.get("route").is_some_and(|r| r.contains("thing-12345")));
        (!raw).then_some(())
    })?;
    Ok(())
}

fn metrics_token(env: &Env) -> Result<()> {
    let app =
        env.app_with(|b| b.variable("metrics_token", "e2e-scraper-token-0123456789abcdefghij"))?;
    let with =
        |path: &str, token: &str| -> Result<u16> { Ok(app.get(path).bearer(token).send()?.status) };
    check!(
        with("/metrics", "e2e-scraper-token-0123456789abcdefghij")? == 200,
        "the scraper may read /metrics"
    );
    check!(
        with("/metrics", "not-the-token")? == 401,
        "a wrong token may not"
    );
    check!(app.get("/metrics").send()?.status == 401, "nobody may not");
    check!(
        with("/api/logs", "e2e-scraper-token-0123456789abcdefghij")? == 401,
        "the metrics token opens nothing else"
    );
    check!(
        with(
            "/api/queue/status",
            "e2e-scraper-token-0123456789abcdefghij"
        )? == 401,
        "not even read-only job routes"
    );
    Ok(())
}

fn logs(env: &Env) -> Result<()> {
    let app = env.app()?;
    let id = format!(
        "e2e-logs-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos()
    );
    let resp = app
        .get("/healthz/strict")
        .header("X-Request-ID", &id)
        .send()?;
    check!(
        resp.header("x-request-id") == Some(id.as_str()),
        "echoed id"
    );
    let key = dash(&app);
    let data = wait_for(Duration::from_secs(10), || {
        let resp = app
            .get(&format!("/api/logs?request_id={id}"))
            .header("X-Dash-Key", &key)
            .send()
            .ok()?;
        let body = resp.json().ok()?;
        (body["data"]["requests"].as_array()?.len() == 1).then(|| body["data"].clone())
    })?;
    let r = &data["requests"][0];
    check!(r["route"] == "/healthz/strict", "route: {r}");
    check!(r["component"] == "api-health", "component: {r}");
    check!(r["status"] == 200, "status: {r}");
    check!(
        r["latency_ms"].as_f64().is_some_and(|l| l >= 0.0),
        "latency: {r}"
    );

    // A scheduled run logs its report as an event of its component.
    app.run_job("heartbeat")?;
    let resp = app
        .get("/api/logs?component=cron-heartbeat&level=info&limit=5")
        .header("X-Dash-Key", &key)
        .send()?;
    let body = expect_status(&resp, 200)?;
    let events = body["data"]["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if app.is_isolated() {
        check!(
            events.iter().any(|e| e["message"]
                .as_str()
                .is_some_and(|m| m.contains("beat at slot"))),
            "the heartbeat's report is in the log: {events:?}"
        );
    }
    let resp = app
        .get("/api/logs?level=loud")
        .header("X-Dash-Key", &key)
        .send()?;
    let body = expect_status(&resp, 400)?;
    check!(body["error"]["code"] == "invalid_level", "{body}");
    check!(
        app.get("/api/logs").send()?.status == 401,
        "logs need a credential"
    );
    Ok(())
}

fn console(env: &Env) -> Result<()> {
    let app = env.app()?;
    let key = dash(&app);
    let resp = app
        .get("/api/ops/commands")
        .header("X-Dash-Key", &key)
        .send()?;
    let body = expect_status(&resp, 200)?;
    check!(
        body["data"]["commands"]
            .as_array()
            .is_some_and(|c| c.len() >= 6),
        "{body}"
    );
    let run = |body: serde_json::Value| -> Result<(u16, Value)> {
        let resp = app
            .post("/api/ops/command")
            .header("X-Dash-Key", &key)
            .json(&body)
            .send()?;
        Ok((resp.status, resp.json().unwrap_or(Value::Null)))
    };
    // A dry run by default; confirm executes; both audited.
    let (status, body) =
        run(serde_json::json!({"command": "pause_queue", "args": {"reason": "e2e"}}))?;
    check!(status == 200 && body["data"]["dry_run"] == true, "{body}");
    let (status, body) = run(
        serde_json::json!({"command": "pause_queue", "args": {"reason": "e2e"}, "confirm": true}),
    )?;
    check!(
        status == 200 && body["data"]["result"]["paused"]["reason"] == "e2e",
        "{body}"
    );
    let (status, body) = run(serde_json::json!({"command": "resume_queue", "confirm": true}))?;
    check!(
        status == 200 && body["data"]["result"]["resumed"] == true,
        "{body}"
    );
    let (status, body) = run(serde_json::json!({"command": "format_disk", "confirm": true}))?;
    check!(
        status == 422 && body["error"]["code"] == "unknown_command",
        "{body}"
    );
    let resp = app
        .get("/api/audit/chain?action=ops.command")
        .header("X-Dash-Key", &key)
        .send()?;
    let chain = expect_status(&resp, 200)?;
    let n = chain["data"]["entries"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    check!(n >= 4, "every call is audited: {n}");
    check!(
        app.post("/api/ops/command")
            .json(&serde_json::json!({"command": "tail_logs"}))
            .send()?
            .status
            == 401,
        "admins only"
    );
    Ok(())
}
