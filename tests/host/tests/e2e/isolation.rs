//! The host itself, through the probe fixture (tests/fixtures/probe): least
//! privilege as Spin enforces it, Spin's request headers, raw paths,
//! captured output, and 500s for traps and guests that never answer.

use anyhow::Result;
use echopilot_e2e::check;
use echopilot_e2e::mock::{MockServer, Reply};
use echopilot_e2e::scenario::{expect_status, Env, Scenario};
use echopilot_e2e::{Client, Host};
use std::time::Duration;

pub const SCENARIOS: &[Scenario] = &[
    Scenario::host_only("isolation_undeclared_capabilities_are_refused", isolation),
    Scenario::host_only("host_adds_spin_headers_and_passes_raw_paths", spin_headers),
    Scenario::host_only("host_answers_500_for_traps_and_hung_guests", failures),
    Scenario::host_only("host_captures_guest_output", output),
    Scenario::host_only("host_unrouted_path_is_an_empty_404", unrouted),
    Scenario::host_only(
        "host_links_the_type_only_cron_types_import",
        cron_types_link,
    ),
    Scenario::host_only("host_scheduler_runs_cron_expressions", scheduler),
];

fn probe(env: &Env, allowed: &MockServer) -> Result<Host> {
    let host = Host::builder(env.root().join("tests/fixtures/probe"))
        .variable("allowed_host", allowed.authority())
        .request_timeout(Duration::from_secs(3))
        .start()?;
    env.watch(&host);
    Ok(host)
}

fn ok_mock(name: &str) -> Result<MockServer> {
    MockServer::start(name, |_| Reply::text(200, "fine"))
}

fn isolation(env: &Env) -> Result<()> {
    let allowed = ok_mock("allowed")?;
    let denied = ok_mock("denied")?;
    let host = probe(env, &allowed)?;
    let client = Client::new(host.base_url());
    let r = client
        .get(&format!("/isolation?denied={}/x", denied.url()))
        .send()?;
    let v = expect_status(&r, 200)?;
    check!(
        v["key_value"] == "access-denied",
        "undeclared store: {}",
        v["key_value"]
    );
    check!(
        v["sqlite"] == "access-denied",
        "undeclared database: {}",
        v["sqlite"]
    );
    check!(
        v["sqlite_other"] == "access-denied",
        "unknown database: {}",
        v["sqlite_other"]
    );
    check!(
        v["variable"]["undefined"] == "no variable for \"probe\".\"secret_key\"",
        "undeclared variable: {}",
        v["variable"]
    );
    check!(
        v["declared_variable"]["ok"] == "hello",
        "declared variable: {}",
        v["declared_variable"]
    );
    check!(
        v["invalid_variable"]["invalid-name"]
            .as_str()
            .is_some_and(|m| m.starts_with("\"Bad-Name\": invalid character")),
        "invalid name: {}",
        v["invalid_variable"]
    );
    check!(
        v["outbound"]["error"] == "HTTP-request-denied",
        "undeclared host: {}",
        v["outbound"]
    );
    check!(denied.requests().is_empty(), "the denied host was reached");
    check!(
        host.logs().contains("denied by allowed_outbound_hosts"),
        "denial not logged"
    );
    // The declared host is reachable.
    let ok = expect_status(
        &client
            .get(&format!("/fetch?url={}/ok", allowed.url()))
            .send()?,
        200,
    )?;
    check!(ok["status"] == 200, "declared host: {ok}");
    check!(
        allowed.requests_to("/ok").len() == 1,
        "the declared host saw {:?}",
        allowed.requests()
    );
    // Spin drops Host on outbound requests; hyper sets it from the URI.
    check!(
        allowed.requests()[0].header("host") == Some(allowed.authority().as_str()),
        "host header"
    );
    Ok(())
}

fn spin_headers(env: &Env) -> Result<()> {
    let allowed = ok_mock("unused")?;
    let host = probe(env, &allowed)?;
    let client = Client::new(host.base_url());
    let v = expect_status(
        &client
            .get("/headers?x=1")
            .header("spin-client-addr", "6.6.6.6:1")
            .send()?,
        200,
    )?;
    let h = &v["headers"];
    let one = |k: &str| {
        h[k].as_array()
            .and_then(|a| a.last())
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    check!(
        one("spin-full-url") == format!("{}/headers?x=1", host.base_url()),
        "full url: {}",
        one("spin-full-url")
    );
    check!(
        one("spin-path-info") == "/headers",
        "path info: {}",
        one("spin-path-info")
    );
    check!(
        one("spin-matched-route") == "/...",
        "matched route: {}",
        one("spin-matched-route")
    );
    check!(
        one("spin-raw-component-route") == "/...",
        "raw component route"
    );
    check!(
        one("spin-component-route").is_empty(),
        "component route: {:?}",
        one("spin-component-route")
    );
    check!(one("spin-base-path") == "/", "base path");
    check!(
        one("spin-client-addr").starts_with("127.0.0.1:"),
        "client addr: {}",
        one("spin-client-addr")
    );
    // As in Spin, a client's own spin-* header is kept and Spin's value is
    // appended after it; spin-sdk's `Request` keeps the last value.
    check!(
        !one("spin-client-addr").starts_with("6.6.6.6"),
        "client spin header won: {}",
        h["spin-client-addr"]
    );
    check!(
        v["uri"]
            .as_str()
            .is_some_and(|u| u.ends_with("/headers?x=1")),
        "uri: {}",
        v["uri"]
    );
    // Paths reach the guest raw.
    for target in ["/a/../b", "/%2e%2e/x", "/a%2Fb", "//double"] {
        let raw = format!(
            "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            host.addr()
        );
        let v = expect_status(&client.raw(raw.as_bytes())?, 200)?;
        check!(
            v["path"] == target,
            "{target} reached the guest as {}",
            v["path"]
        );
    }
    let wk = client.get("/.well-known/spin/health").send()?;
    check!(
        wk.status == 200 && wk.text() == "OK",
        "well-known health: {}",
        wk.status
    );
    Ok(())
}

fn failures(env: &Env) -> Result<()> {
    let allowed = ok_mock("slow")?;
    let host = probe(env, &allowed)?;
    let client = Client::new(host.base_url());
    let trap = client.get("/trap").send()?;
    check!(
        trap.status == 500 && trap.body.is_empty(),
        "trap: {} {}",
        trap.status,
        trap.text()
    );
    let spin = client.get("/loop").send()?;
    check!(spin.status == 500, "busy loop: {}", spin.status);
    allowed.enqueue(Reply::hang());
    let hung = client
        .get(&format!("/fetch?url={}/hang", allowed.url()))
        .send()?;
    check!(
        hung.status == 500,
        "guest waiting on a held connection: {} {}",
        hung.status,
        hung.text()
    );
    // The host still serves afterwards.
    let after = client.get("/fine").send()?;
    check!(after.status == 200, "after failures: {}", after.status);
    check!(host.logs().contains("did not"), "timeout not logged");
    Ok(())
}

fn output(env: &Env) -> Result<()> {
    let allowed = ok_mock("unused")?;
    let host = probe(env, &allowed)?;
    let client = Client::new(host.base_url());
    expect_status(&client.get("/say-hello").send()?, 200)?;
    let logs = echopilot_e2e::scenario::wait_for(Duration::from_secs(5), || {
        let l = host.logs();
        (l.contains("[probe stdout] probe stdout: /say-hello")
            && l.contains("[probe stderr] probe stderr: /say-hello"))
        .then_some(l)
    });
    check!(logs.is_ok(), "output not captured: {}", host.logs());
    Ok(())
}

fn unrouted(env: &Env) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let wasm = env.root().join("target/wasm32-wasip2/release/probe.wasm");
    std::fs::write(
        dir.path().join("spin.toml"),
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"one\"\n[[trigger.http]]\nroute = \"/only/...\"\ncomponent = \"probe\"\n[component.probe]\nsource = {:?}\n",
            wasm.display().to_string()
        ),
    )?;
    let host = Host::builder(dir.path()).start()?;
    env.watch(&host);
    let client = Client::new(host.base_url());
    let miss = client.get("/elsewhere").send()?;
    check!(
        miss.status == 404 && miss.body.is_empty(),
        "unrouted: {} {:?}",
        miss.status,
        miss.text()
    );
    let hit = expect_status(&client.get("/only/x/").send()?, 200)?;
    check!(hit["path"] == "/only/x/", "routed: {hit}");
    Ok(())
}

/// The cron component imports `fermyon:spin-cron/cron-types@2.0.0`, an
/// interface of types only. Spin's cron trigger defines nothing for it; the
/// host's linker does not either, and wasmtime links it (its type checker
/// skips type exports of an instance import, and a missing instance is
/// checked as an empty one).
fn cron_types_link(env: &Env) -> Result<()> {
    let rt = echopilot_e2e::engine::runtime()?;
    let path = env
        .root()
        .join("target/wasm32-wasip2/release/cron_heartbeat.wasm");
    let component = wasmtime::component::Component::from_file(&rt.engine, &path)
        .map_err(anyhow::Error::from)?;
    let imports: Vec<String> = component
        .component_type()
        .imports(&rt.engine)
        .map(|(name, _)| name.to_string())
        .collect();
    check!(
        imports
            .iter()
            .any(|i| i == "fermyon:spin-cron/cron-types@2.0.0"),
        "cron-types is not imported: {imports:?}"
    );
    rt.linker
        .instantiate_pre(&component)
        .map_err(anyhow::Error::from)?;
    Ok(())
}

/// The scheduler runs `[[trigger.cron]]` expressions in real time: a copy
/// of the heartbeat's trigger firing every second.
fn scheduler(env: &Env) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let wasm = env
        .root()
        .join("target/wasm32-wasip2/release/cron_heartbeat.wasm");
    std::fs::write(
        dir.path().join("spin.toml"),
        format!(
            r#"spin_manifest_version = 2
[application]
name = "every-second"
[variables]
dashboard_key = {{ default = "" }}
cron_token = {{ default = "" }}
[[trigger.cron]]
component = "cron-heartbeat"
cron_expression = "* * * * * *"
[component.cron-heartbeat]
source = {:?}
sqlite_databases = ["default"]
[component.cron-heartbeat.variables]
dashboard_key = "{{{{ dashboard_key }}}}"
cron_token = "{{{{ cron_token }}}}"
"#,
            wasm.display().to_string()
        ),
    )?;
    let host = Host::builder(dir.path()).scheduler(true).start()?;
    env.watch(&host);
    let db = host.data_dir().join("sqlite_db.db");
    let beats = echopilot_e2e::scenario::wait_for(Duration::from_secs(15), || {
        let c = rusqlite::Connection::open(&db).ok()?;
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM heartbeats", [], |r| r.get(0))
            .ok()?;
        (n >= 1).then_some(n)
    });
    check!(
        beats.is_ok(),
        "no heartbeat from the scheduler: {}",
        host.logs()
    );
    Ok(())
}
