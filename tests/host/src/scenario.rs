//! The scenario harness: where scenarios send requests (a fresh test host
//! per app, a real `spin up` per app with `ECHOPILOT_E2E_RUNTIME=spin`, or
//! a server named by `ECHOPILOT_E2E_BASE_URL`), route coverage, and the
//! libtest-mimic runner with its final coverage check.
//!
//! A scenario is a function `fn(&Env) -> anyhow::Result<()>` registered in
//! a [`Scenario`] list. It asks the [`Env`] for an [`App`] and talks to it
//! over HTTP; every request is attributed to the spin.toml route that
//! matches it, and a full run fails if some `[[trigger.http]]` route was
//! never exercised.

use crate::client::{Client, RequestBuilder};
use crate::cron::Schedule;
use crate::host::{Host, HostBuilder};
use crate::logs::Logs;
use crate::manifest::Manifest;
use crate::router::Router;
use crate::spin_up::{Schedules, SpinConfig, SpinFiles, SpinUp};
use anyhow::{bail, ensure, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Variables every app the harness starts gets (the external target uses
/// its own).
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

/// Where the apps of a run come from.
#[derive(Debug, Clone)]
pub enum Runtime {
    /// A fresh wasmtime test host in this process per app (the default).
    Host,
    /// A real `spin up` child per app, with whatever `spin` is on `PATH`
    /// (`ECHOPILOT_E2E_RUNTIME=spin`).
    Spin,
    /// One server someone else started (`ECHOPILOT_E2E_BASE_URL`).
    External(External),
}

impl Runtime {
    /// From `ECHOPILOT_E2E_BASE_URL` (wins) and `ECHOPILOT_E2E_RUNTIME`
    /// (`host`, the default, or `spin`).
    pub fn from_env() -> Result<Runtime> {
        if let Some(ext) = External::from_env() {
            return Ok(Runtime::External(ext));
        }
        match std::env::var("ECHOPILOT_E2E_RUNTIME").as_deref() {
            Err(_) | Ok("") | Ok("host") => Ok(Runtime::Host),
            Ok("spin") => Ok(Runtime::Spin),
            Ok(other) => bail!("ECHOPILOT_E2E_RUNTIME={other:?}: expected `host` or `spin`"),
        }
    }

    /// Why a scenario that `needs` something is skipped here, if it is.
    pub fn skips(&self, needs: Needs) -> Option<&'static str> {
        match (self, needs) {
            (_, Needs::Nothing) => None,
            (Runtime::Host, Needs::OwnApp | Needs::TestHost) => None,
            (Runtime::Host, Needs::RealSpin) => {
                Some("needs real Spin (run with ECHOPILOT_E2E_RUNTIME=spin)")
            }
            (Runtime::Spin, Needs::OwnApp | Needs::RealSpin) => None,
            (Runtime::Spin, Needs::TestHost) => Some(
                "needs the test host (time travel with tick_at, the probe fixture or fault injection)",
            ),
            (Runtime::External(_), _) => {
                Some("configures its own app (variables, mocks, data or logs), which an external server does not take")
            }
        }
    }
}

/// Output a scenario's apps captured, for its failure report.
pub trait Captured: Send + Sync {
    /// Everything, as `[component stream] line` lines.
    fn text(&self) -> String;
}

impl Captured for Logs {
    fn text(&self) -> String {
        Logs::text(self)
    }
}

impl Captured for SpinFiles {
    fn text(&self) -> String {
        SpinFiles::text(self)
    }
}

/// What a scenario runs in.
pub struct Env {
    root: std::path::PathBuf,
    manifest: Arc<Manifest>,
    coverage: Arc<Coverage>,
    runtime: Runtime,
    logs: Mutex<Vec<(String, Arc<dyn Captured>)>>,
}

/// Where an [`App`] runs.
enum Backend {
    Host(Host),
    Spin(SpinUp, Schedules),
    External,
}

/// The app under test, reached over HTTP.
pub struct App {
    /// The client (records coverage).
    pub client: Client,
    backend: Backend,
    manifest: Arc<Manifest>,
    /// The cron token callers should use.
    pub cron_token: Option<String>,
    /// The dashboard key callers should use.
    pub dashboard_key: Option<String>,
}

/// Distinct future slots for [`App::run_job_in_own_slot`] on test hosts
/// (process-wide, so replicas of one scenario never pick the same one).
static NEXT_SLOT: AtomicU64 = AtomicU64::new(1);

/// Longest schedule period for which a real app waits for the next slot.
const LONGEST_WAIT_SECS: i64 = 60;

impl App {
    /// The test host, when the app runs in one.
    pub fn host(&self) -> Option<&Host> {
        match &self.backend {
            Backend::Host(h) => Some(h),
            _ => None,
        }
    }
    /// The real `spin up`, when the app runs under one this harness started.
    pub fn spin(&self) -> Option<&SpinUp> {
        match &self.backend {
            Backend::Spin(s, _) => Some(s),
            _ => None,
        }
    }
    /// True when this harness started the app for the scenario and nothing
    /// but the scenario runs its jobs (a test host, or a `spin up` without
    /// the cron plugin): its data is what the scenario made.
    pub fn is_isolated(&self) -> bool {
        matches!(
            self.backend,
            Backend::Host(_) | Backend::Spin(_, Schedules::Off)
        )
    }
    /// Where its SQLite files are (`sqlite_db.db`, `sqlite_key_value.db`):
    /// the test host's data directory or `spin up`'s state directory.
    pub fn data_dir(&self) -> Result<&std::path::Path> {
        match &self.backend {
            Backend::Host(h) => Ok(h.data_dir()),
            Backend::Spin(s, _) => Ok(s.state_dir()),
            Backend::External => bail!("an external server's data is not reachable"),
        }
    }
    /// Everything its components wrote to stdout and stderr so far, one
    /// `[component stream] line` per line.
    pub fn logs(&self) -> Result<String> {
        match &self.backend {
            Backend::Host(h) => Ok(h.logs()),
            Backend::Spin(s, _) => Ok(s.logs()),
            Backend::External => bail!("an external server's logs are not reachable"),
        }
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
    /// component (`cron-<job>`) now, exactly as the trigger-cron plugin
    /// calls it; otherwise `POST /api/internal/cron/<job>` with the cron
    /// token (or the dashboard key). Under a `spin up` this harness started,
    /// a slot that already ran is not an answer: it waits for the job's next
    /// slot (jobs of a minute or less) and runs it there.
    pub fn run_job(&self, job: &str) -> Result<()> {
        match &self.backend {
            Backend::Host(h) => h
                .tick(&format!("cron-{job}"))?
                .map_err(|e| anyhow::anyhow!("job {job} failed: {e}")),
            Backend::Spin(..) => self.run_job_until_it_runs(job),
            Backend::External => self.call_job_route(job).map(|_| ()),
        }
    }

    /// Run `job` in a slot no earlier call of this process used: on a test
    /// host, a tick at a distinct future slot (time travel); under a real
    /// `spin up`, now or, if this slot already ran, at the next one.
    pub fn run_job_in_own_slot(&self, job: &str) -> Result<()> {
        match &self.backend {
            Backend::Host(h) => {
                let period = self.period_secs(job)?;
                let ts =
                    unix_now() as i64 + period * NEXT_SLOT.fetch_add(1, Ordering::SeqCst) as i64;
                h.tick_at(&format!("cron-{job}"), ts as u64)?
                    .map_err(|e| anyhow::anyhow!("job {job} failed: {e}"))
            }
            Backend::Spin(..) => self.run_job_until_it_runs(job),
            Backend::External => {
                let period = self.period_secs(job)?;
                std::thread::sleep(Duration::from_secs(period as u64));
                self.call_job_route(job).map(|_| ())
            }
        }
    }

    /// `POST /api/internal/cron/<job>`: the runner's report (`outcome`:
    /// ran, already_done, in_progress, overlap, gave_up).
    fn call_job_route(&self, job: &str) -> Result<serde_json::Value> {
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
        Ok(resp.json()?["data"].clone())
    }

    fn run_job_until_it_runs(&self, job: &str) -> Result<()> {
        let schedule = self.schedule(job)?;
        for _ in 0..3 {
            let report = self.call_job_route(job)?;
            if report["outcome"] == "ran" {
                return Ok(());
            }
            let now = unix_now() as i64;
            let next = schedule
                .next_after(now, 86_400)
                .with_context(|| format!("job {job} has no slot within a day"))?;
            if next - now > LONGEST_WAIT_SECS {
                bail!(
                    "job {job}'s slot already ran ({report}); its next slot is {}s away: running it again needs the test host (tick_at)",
                    next - now
                );
            }
            // Into the next slot (and a little past its first instant).
            let wait = Duration::from_millis(((next - now) * 1000) as u64 + 50).saturating_sub(
                Duration::from_nanos(u64::from(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .subsec_nanos(),
                )),
            );
            std::thread::sleep(wait);
        }
        bail!("job {job} did not run in three slots")
    }

    fn schedule(&self, job: &str) -> Result<Schedule> {
        let component = format!("cron-{job}");
        let trigger = self
            .manifest
            .cron
            .iter()
            .find(|t| t.component == component)
            .with_context(|| format!("spin.toml has no [[trigger.cron]] for {component}"))?;
        Schedule::parse(&trigger.cron_expression)
    }

    /// The length of `job`'s slots: the time between two of its firings.
    fn period_secs(&self, job: &str) -> Result<i64> {
        let s = self.schedule(job)?;
        let first = s
            .next_after(unix_now() as i64, 7 * 86_400)
            .context("no firing within a week")?;
        let second = s
            .next_after(first, 7 * 86_400)
            .context("no second firing within a week")?;
        Ok(second - first)
    }
}

impl Env {
    /// The repository root.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The runtime of this run.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// True when running against a server someone else started.
    pub fn is_external(&self) -> bool {
        matches!(self.runtime, Runtime::External(_))
    }

    /// The app with the test configuration (`dashboard_key` and `cron_token`
    /// set): a fresh test host or `spin up` on a fresh data directory, or
    /// the external target.
    pub fn app(&self) -> Result<App> {
        self.app_with(|b| b)
    }

    /// Like [`Env::app`], with the configuration adjusted by `f` (variables,
    /// data directory, `.scheduler(true)`). Under Spin the builder's
    /// variables become `spin up` variables, its data directory the
    /// `--state-dir`, its runtime-config file `--runtime-config-file`, and
    /// `.scheduler(true)` runs spin.toml unchanged, with the cron plugin;
    /// `request_timeout` (a test-host power) refuses to start. Against an
    /// external server, `f` is ignored.
    pub fn app_with(&self, f: impl FnOnce(HostBuilder) -> HostBuilder) -> Result<App> {
        let builder = Host::builder(&self.root)
            .variable("dashboard_key", TEST_DASHBOARD_KEY)
            .variable("cron_token", TEST_CRON_TOKEN);
        match &self.runtime {
            Runtime::External(ext) => Ok(App {
                client: Client::new(&ext.base_url).with_coverage(self.coverage.clone()),
                backend: Backend::External,
                manifest: self.manifest.clone(),
                cron_token: ext.cron_token.clone(),
                dashboard_key: ext.dashboard_key.clone(),
            }),
            Runtime::Host => {
                let host = f(builder).start()?;
                self.watch(&host);
                Ok(self.own_app(host.base_url(), Backend::Host(host)))
            }
            Runtime::Spin => {
                let b = f(builder);
                ensure!(
                    b.timeout == crate::host::DEFAULT_REQUEST_TIMEOUT,
                    "request_timeout is a test-host power (Spin does not bound requests): mark the scenario host_only"
                );
                let mut config = SpinConfig::new(&b.app);
                config.variables = b.variables;
                config.state_dir = b.data_dir;
                config.runtime_config = b.runtime_config;
                if b.scheduler {
                    config.schedules = Schedules::Plugin;
                }
                self.spin_app(&config)
            }
        }
    }

    /// An app under a real `spin up` configured by `config`, with the test
    /// `dashboard_key` and `cron_token` unless `config` sets them.
    pub fn spin_app(&self, config: &SpinConfig) -> Result<App> {
        let mut config = config.clone();
        for (k, v) in [
            ("dashboard_key", TEST_DASHBOARD_KEY),
            ("cron_token", TEST_CRON_TOKEN),
        ] {
            config
                .variables
                .entry(k.to_string())
                .or_insert_with(|| v.to_string());
        }
        let spin = SpinUp::start(&config)?;
        self.logs
            .lock()
            .unwrap()
            .push((format!("spin up at {}", spin.base_url()), spin.files()));
        let schedules = config.schedules;
        let mut app = self.own_app(spin.base_url(), Backend::Spin(spin, schedules));
        app.cron_token = config.variables.get("cron_token").cloned();
        app.dashboard_key = config.variables.get("dashboard_key").cloned();
        Ok(app)
    }

    fn own_app(&self, base_url: String, backend: Backend) -> App {
        App {
            client: Client::new(base_url).with_coverage(self.coverage.clone()),
            backend,
            manifest: self.manifest.clone(),
            cron_token: Some(TEST_CRON_TOKEN.into()),
            dashboard_key: Some(TEST_DASHBOARD_KEY.into()),
        }
    }

    /// Keep `host`'s output for the failure report of this scenario.
    pub fn watch(&self, host: &Host) {
        self.logs.lock().unwrap().push((
            format!("the host at {}", host.base_url()),
            host.logs_handle(),
        ));
    }

    fn captured(&self) -> String {
        let mut out = String::new();
        for (what, logs) in self.logs.lock().unwrap().iter() {
            out.push_str(&format!("--- output of {what} ---\n{}", logs.text()));
        }
        out
    }
}

/// What a scenario needs from the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Nothing: it runs against any target, an external server included.
    Nothing,
    /// An app of its own (variables, mocks, its data directory, its logs,
    /// replicas on one data directory): a test host or a real `spin up`.
    OwnApp,
    /// A power only the test host has: time travel (`tick_at` to slots
    /// hours away), the probe fixture, fault injection (traps, the request
    /// bound), the host's own behaviour.
    TestHost,
    /// Real Spin: the cron plugin, runtime-config files.
    RealSpin,
}

/// One registered scenario.
#[derive(Clone, Copy)]
pub struct Scenario {
    /// Its name (the filter matches it).
    pub name: &'static str,
    /// The body.
    pub run: fn(&Env) -> Result<()>,
    /// What it needs (runtimes without it skip it).
    pub needs: Needs,
}

impl Scenario {
    /// A scenario that runs against any target.
    pub const fn new(name: &'static str, run: fn(&Env) -> Result<()>) -> Scenario {
        Scenario {
            name,
            run,
            needs: Needs::Nothing,
        }
    }
    /// A scenario that configures its own app: the test host and real Spin.
    pub const fn configured(name: &'static str, run: fn(&Env) -> Result<()>) -> Scenario {
        Scenario {
            name,
            run,
            needs: Needs::OwnApp,
        }
    }
    /// A scenario that needs the test host.
    pub const fn host_only(name: &'static str, run: fn(&Env) -> Result<()>) -> Scenario {
        Scenario {
            name,
            run,
            needs: Needs::TestHost,
        }
    }
    /// A scenario that needs real Spin.
    pub const fn spin_only(name: &'static str, run: fn(&Env) -> Result<()>) -> Scenario {
        Scenario {
            name,
            run,
            needs: Needs::RealSpin,
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
/// (on the test host; elsewhere it only reports) when a `[[trigger.http]]`
/// route of the repository's spin.toml got no request.
///
/// Under `ECHOPILOT_E2E_RUNTIME=spin` it first checks that `spin` runs and
/// starts the app once, so that wasmtime compiles the components into its
/// cache before scenarios start apps side by side; without
/// `--test-threads` it runs [`SPIN_THREADS`] scenarios at once (they spend
/// most of their time waiting for job slots).
pub fn run_main(scenarios: &[Scenario]) -> ! {
    let mut args = libtest_mimic::Arguments::from_args();
    let root = crate::repo_root();
    let manifest = match Manifest::load(&root) {
        Ok(m) => Arc::new(m),
        Err(e) => {
            eprintln!("cannot load {}/spin.toml: {e:#}", root.display());
            std::process::exit(101);
        }
    };
    let coverage =
        Arc::new(Coverage::new(&manifest).expect("the manifest's routes build a router"));
    let runtime = match Runtime::from_env() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e:#}");
            std::process::exit(101);
        }
    };
    let full_run = args.filter.is_none() && args.skip.is_empty() && !args.ignored && !args.list;
    match &runtime {
        Runtime::External(ext) => {
            println!("running against {} (ECHOPILOT_E2E_BASE_URL)", ext.base_url)
        }
        Runtime::Spin if !args.list => {
            if let Err(e) = prepare_spin(&root) {
                eprintln!("the real-Spin runtime cannot start: {e:#}");
                std::process::exit(101);
            }
            if args.test_threads.is_none() {
                args.test_threads = Some(SPIN_THREADS);
            }
        }
        _ => {}
    }
    let done = Arc::new((Mutex::new(0usize), Condvar::new()));
    let expected = Arc::new(AtomicUsize::new(0));
    let mut trials = Vec::new();
    for s in scenarios {
        let skip = runtime.skips(s.needs);
        match skip {
            Some(why) if !args.list => println!("{}: skipped: {why}", s.name),
            Some(_) => {}
            None => {
                expected.fetch_add(1, Ordering::SeqCst);
            }
        }
        let s = *s;
        let (root, manifest, coverage, runtime, done) = (
            root.clone(),
            manifest.clone(),
            coverage.clone(),
            runtime.clone(),
            done.clone(),
        );
        trials.push(
            libtest_mimic::Trial::test(s.name, move || {
                let env = Env {
                    root,
                    manifest,
                    coverage,
                    runtime,
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
            .with_ignored_flag(skip.is_some()),
        );
    }
    let cov = coverage.clone();
    let enforce = matches!(runtime, Runtime::Host);
    trials.push(
        libtest_mimic::Trial::test("route_coverage", move || {
            // Wait (bounded) for every scenario of this run to finish.
            let (count, cv) = &*done;
            let deadline = Instant::now() + Duration::from_secs(1800);
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
            } else if !enforce {
                // The suite's coverage is checked on the test host, where
                // every scenario runs; here some are skipped.
                println!("  not reached in this runtime: {}", missing.join(", "));
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

/// Scenarios at once under real Spin, unless `--test-threads` says.
pub const SPIN_THREADS: usize = 6;

/// Check that `spin` runs, then start the app once (and stop it) so the
/// components are compiled into wasmtime's cache before scenarios start
/// apps side by side.
fn prepare_spin(root: &std::path::Path) -> Result<()> {
    println!("real Spin: {}", crate::spin_up::version()?);
    let started = Instant::now();
    drop(SpinUp::start(&SpinConfig::new(root))?);
    println!(
        "real Spin: the app started once in {:.1}s (components compiled into wasmtime's cache)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
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
