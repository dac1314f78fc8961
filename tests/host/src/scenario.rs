//! The scenario harness: where scenarios send requests (a fresh test host,
//! or a real `spin up` named by `ECHOPILOT_E2E_BASE_URL`), route coverage,
//! and the libtest-mimic runner with its final coverage check.
//!
//! A scenario is a function `fn(&Env) -> anyhow::Result<()>` registered in
//! a [`Scenario`] list. It asks the [`Env`] for an [`App`] and talks to it
//! over HTTP; every request is attributed to the spin.toml route that
//! matches it, and a full run fails if some `[[trigger.http]]` route was
//! never exercised.

use crate::client::{Client, RequestBuilder};
use crate::host::{Host, HostBuilder};
use crate::logs::Logs;
use crate::manifest::Manifest;
use crate::router::Router;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Variables every test host gets (the external target uses its own).
pub const TEST_DASHBOARD_KEY: &str = "e2e-dashboard-key-0123456789abcdef";
/// The cron token test hosts get.
pub const TEST_CRON_TOKEN: &str = "e2e-cron-token-0123456789abcdefghij";

/// Which spin.toml routes the requests exercised.
pub struct Coverage {
    router: Router,
    routes: Vec<String>,
    hits: Mutex<BTreeMap<String, BTreeSet<String>>>,
}

impl Coverage {
    /// Coverage of `manifest`'s `[[trigger.http]]` routes.
    pub fn new(manifest: &Manifest) -> Result<Coverage> {
        let router = Router::build(
            manifest
                .http_routes
                .iter()
                .map(|r| (r.route.as_str(), r.component.as_str())),
        )?;
        let mut routes: Vec<String> = manifest
            .http_routes
            .iter()
            .map(|r| r.route.clone())
            .collect();
        routes.dedup();
        Ok(Coverage {
            router,
            routes,
            hits: Mutex::new(BTreeMap::new()),
        })
    }

    /// Attribute a request (`target` may carry a query) to its route.
    pub fn record(&self, method: &str, target: &str) {
        let path = target.split('?').next().unwrap_or(target);
        if let Some(m) = self.router.route(path) {
            self.hits
                .lock()
                .unwrap()
                .entry(m.raw_route)
                .or_default()
                .insert(method.to_string());
        }
    }

    /// Exercised routes and the methods used on each.
    pub fn hits(&self) -> BTreeMap<String, BTreeSet<String>> {
        self.hits.lock().unwrap().clone()
    }

    /// Routes no request reached.
    pub fn missing(&self) -> Vec<String> {
        let hits = self.hits.lock().unwrap();
        self.routes
            .iter()
            .filter(|r| !hits.contains_key(*r))
            .cloned()
            .collect()
    }
}

/// A real `spin up` to run against instead of test hosts.
#[derive(Debug, Clone)]
pub struct External {
    /// `ECHOPILOT_E2E_BASE_URL`.
    pub base_url: String,
    /// `ECHOPILOT_E2E_CRON_TOKEN`, for `POST /api/internal/cron/{job}`.
    pub cron_token: Option<String>,
    /// `ECHOPILOT_E2E_DASHBOARD_KEY`.
    pub dashboard_key: Option<String>,
}

impl External {
    /// From the environment, if `ECHOPILOT_E2E_BASE_URL` is set.
    pub fn from_env() -> Option<External> {
        let base_url = std::env::var("ECHOPILOT_E2E_BASE_URL")
            .ok()
            .filter(|s| !s.is_empty())?;
        Some(External {
            base_url: base_url.trim_end_matches('/').to_string(),
            cron_token: std::env::var("ECHOPILOT_E2E_CRON_TOKEN")
                .ok()
                .filter(|s| !s.is_empty()),
            dashboard_key: std::env::var("ECHOPILOT_E2E_DASHBOARD_KEY")
                .ok()
                .filter(|s| !s.is_empty()),
        })
    }
}

/// What a scenario runs in.
pub struct Env {
    root: std::path::PathBuf,
    coverage: Arc<Coverage>,
    external: Option<External>,
    logs: Mutex<Vec<(String, Arc<Logs>)>>,
}

/// The app under test, reached over HTTP.
pub struct App {
    /// The client (records coverage).
    pub client: Client,
    host: Option<Host>,
    /// The cron token callers should use.
    pub cron_token: Option<String>,
    /// The dashboard key callers should use.
    pub dashboard_key: Option<String>,
}

impl App {
    /// The test host, when not running against a real `spin up`.
    pub fn host(&self) -> Option<&Host> {
        self.host.as_ref()
    }
    /// The base URL.
    pub fn base_url(&self) -> String {
        self.client.base_url()
    }
    /// GET `target`.
    pub fn get(&self, target: &str) -> RequestBuilder<'_> {
        self.client.get(target)
    }
    /// POST `target`.
    pub fn post(&self, target: &str) -> RequestBuilder<'_> {
        self.client.post(target)
    }
    /// Any method.
    pub fn request(&self, method: &str, target: &str) -> RequestBuilder<'_> {
        self.client.request(method, target)
    }

    /// Run scheduled job `job` once: on a test host, a cron tick of its
    /// component (`cron-<job>`), exactly as the trigger-cron plugin calls
    /// it; against a real `spin up`, `POST /api/internal/cron/<job>` with
    /// the cron token (or the dashboard key).
    pub fn run_job(&self, job: &str) -> Result<()> {
        match &self.host {
            Some(h) => h
                .tick(&format!("cron-{job}"))?
                .map_err(|e| anyhow::anyhow!("job {job} failed: {e}")),
            None => {
                let target = format!("/api/internal/cron/{job}");
                let req = self.client.post(&target);
                let req = match (&self.cron_token, &self.dashboard_key) {
                    (Some(t), _) => req.bearer(t),
                    (None, Some(k)) => req.header("X-Dash-Key", k),
                    (None, None) => bail!(
                        "set ECHOPILOT_E2E_CRON_TOKEN (or ECHOPILOT_E2E_DASHBOARD_KEY) to run jobs against {}",
                        self.base_url()
                    ),
                };
                let resp = req.send()?;
                if resp.status != 200 {
                    bail!("{target} answered {}: {}", resp.status, resp.text());
                }
                Ok(())
            }
        }
    }
}

impl Env {
    /// The repository root.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// True when running against a real `spin up`.
    pub fn is_external(&self) -> bool {
        self.external.is_some()
    }

    /// The app with the test configuration (`dashboard_key` and `cron_token`
    /// set): a fresh host on a fresh data directory, or the external target.
    pub fn app(&self) -> Result<App> {
        self.app_with(|b| b)
    }

    /// Like [`Env::app`], with the host builder adjusted by `f` (variables,
    /// data dir). Against a real `spin up`, `f` is ignored.
    pub fn app_with(&self, f: impl FnOnce(HostBuilder) -> HostBuilder) -> Result<App> {
        if let Some(ext) = &self.external {
            return Ok(App {
                client: Client::new(&ext.base_url).with_coverage(self.coverage.clone()),
                host: None,
                cron_token: ext.cron_token.clone(),
                dashboard_key: ext.dashboard_key.clone(),
            });
        }
        let builder = Host::builder(&self.root)
            .variable("dashboard_key", TEST_DASHBOARD_KEY)
            .variable("cron_token", TEST_CRON_TOKEN);
        let host = f(builder).start()?;
        self.watch(&host);
        Ok(App {
            client: Client::new(host.base_url()).with_coverage(self.coverage.clone()),
            host: Some(host),
            cron_token: Some(TEST_CRON_TOKEN.into()),
            dashboard_key: Some(TEST_DASHBOARD_KEY.into()),
        })
    }

    /// Keep `host`'s output for the failure report of this scenario.
    pub fn watch(&self, host: &Host) {
        self.logs
            .lock()
            .unwrap()
            .push((host.base_url(), host.logs_handle()));
    }

    fn captured(&self) -> String {
        let mut out = String::new();
        for (url, logs) in self.logs.lock().unwrap().iter() {
            out.push_str(&format!(
                "--- output of the host at {url} ---\n{}",
                logs.text()
            ));
        }
        out
    }
}

/// One registered scenario.
#[derive(Clone, Copy)]
pub struct Scenario {
    /// Its name (the filter matches it).
    pub name: &'static str,
    /// The body.
    pub run: fn(&Env) -> Result<()>,
    /// It needs the test host (skipped against a real `spin up`).
    pub host_only: bool,
}

impl Scenario {
    /// A scenario that runs against either target.
    pub const fn new(name: &'static str, run: fn(&Env) -> Result<()>) -> Scenario {
        Scenario {
            name,
            run,
            host_only: false,
        }
    }
    /// A scenario that needs the test host.
    pub const fn host_only(name: &'static str, run: fn(&Env) -> Result<()>) -> Scenario {
        Scenario {
            name,
            run,
            host_only: true,
        }
    }
}

/// Check `cond`, failing with `msg` (for scenario bodies).
#[macro_export]
macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            anyhow::bail!($($msg)+);
        }
    };
}

/// Run `scenarios` with libtest-mimic: the usual summary lines, name
/// filters, and, on a full run, a final `route_coverage` check that fails
/// when a `[[trigger.http]]` route of the repository's spin.toml got no
/// request.
pub fn run_main(scenarios: &[Scenario]) -> ! {
    let args = libtest_mimic::Arguments::from_args();
    let root = crate::repo_root();
    let manifest = match Manifest::load(&root) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("cannot load {}/spin.toml: {e:#}", root.display());
            std::process::exit(101);
        }
    };
    let coverage =
        Arc::new(Coverage::new(&manifest).expect("the manifest's routes build a router"));
    let external = External::from_env();
    if let Some(ext) = &external {
        println!("running against {} (ECHOPILOT_E2E_BASE_URL)", ext.base_url);
    }
    let full_run = args.filter.is_none() && args.skip.is_empty() && !args.ignored && !args.list;
    let done = Arc::new((Mutex::new(0usize), Condvar::new()));
    let expected = Arc::new(AtomicUsize::new(0));
    let mut trials = Vec::new();
    for s in scenarios {
        let skip = s.host_only && external.is_some();
        if skip {
            println!(
                "{}: skipped against a real spin up (needs the test host: it reads the host's data, logs or fixtures)",
                s.name
            );
        } else {
            expected.fetch_add(1, Ordering::SeqCst);
        }
        let s = *s;
        let (root, coverage, external, done) = (
            root.clone(),
            coverage.clone(),
            external.clone(),
            done.clone(),
        );
        trials.push(
            libtest_mimic::Trial::test(s.name, move || {
                let env = Env {
                    root,
                    coverage,
                    external,
                    logs: Mutex::new(Vec::new()),
                };
                let result =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (s.run)(&env)));
                {
                    let (count, cv) = &*done;
                    *count.lock().unwrap() += 1;
                    cv.notify_all();
                }
                match result {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("{e:#}\n{}", env.captured()).into()),
                    Err(panic) => {
                        let msg = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        Err(format!("panicked: {msg}\n{}", env.captured()).into())
                    }
                }
            })
            .with_ignored_flag(skip),
        );
    }
    let cov = coverage.clone();
    trials.push(
        libtest_mimic::Trial::test("route_coverage", move || {
            // Wait (bounded) for every scenario of this run to finish.
            let (count, cv) = &*done;
            let deadline = Instant::now() + Duration::from_secs(900);
            let mut n = count.lock().unwrap();
            while *n < expected.load(Ordering::SeqCst) {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err("timed out waiting for the scenarios to finish".into());
                }
                n = cv.wait_timeout(n, left).unwrap().0;
            }
            drop(n);
            let hits = cov.hits();
            for (route, methods) in &hits {
                println!("  covered {route} ({})", methods.iter().cloned().collect::<Vec<_>>().join(", "));
            }
            let missing = cov.missing();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "these spin.toml routes have no scenario (add one in tests/host/tests/e2e/): {}",
                    missing.join(", ")
                )
                .into())
            }
        })
        .with_ignored_flag(!full_run),
    );
    libtest_mimic::run(&args, trials).exit()
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Today's date in UTC, `YYYY-MM-DD`.
pub fn today_utc() -> String {
    echopilot_core::time::date(unix_now() as i64 * 1000)
}

/// Wait until `f` returns `Some`, polling every 20 ms, at most `timeout`.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(anyhow::anyhow!("condition not met within {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The JSON body of `resp` if its status is `status`, else an error with the body.
pub fn expect_status(resp: &crate::client::Response, status: u16) -> Result<serde_json::Value> {
    if resp.status != status {
        bail!(
            "expected status {status}, got {}: {}",
            resp.status,
            resp.text()
        );
    }
    resp.json().context("expected a JSON body")
}
