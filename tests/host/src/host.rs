//! The host: loads a manifest and its components, serves the HTTP trigger on
//! 127.0.0.1 (one fresh store and instance per request, as Spin does), runs
//! cron ticks, and captures guest output. Blocking API; the work runs on a
//! process-wide tokio runtime.

use crate::cron::Schedule;
use crate::engine::{self, Runtime};
use crate::logs::Logs;
use crate::manifest::Manifest;
use crate::outbound::AllowedHosts;
use crate::router::{RouteMatch, Router};
use crate::state::{copy_files, ComponentRuntime, HostShared, StoreData};
use anyhow::{bail, ensure, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use wasmtime::component::InstancePre;
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

mod cron_bindings {
    wasmtime::component::bindgen!({
        path: "wit-cron/cron.wit",
        world: "spin-cron",
        exports: { default: async },
    });
}

pub use cron_bindings::fermyon::spin_cron::cron_types::{Error as CronError, Metadata};

/// The default bound on one request (or tick): a guest that has not
/// answered by then gets a 500.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Configures and starts a [`Host`].
pub struct HostBuilder {
    pub(crate) app: PathBuf,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) variables: BTreeMap<String, String>,
    pub(crate) timeout: Duration,
    pub(crate) scheduler: bool,
    pub(crate) runtime_config: Option<PathBuf>,
}

impl HostBuilder {
    /// Keep the data (`sqlite_db.db`, `sqlite_key_value.db`) in `dir`
    /// (created if needed) instead of a fresh temporary directory. Two hosts
    /// on one `dir` behave like two Spin processes on one `.spin/`.
    pub fn data_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.data_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Set application variable `name` (as `SPIN_VARIABLE_<NAME>` would).
    pub fn variable(mut self, name: &str, value: impl Into<String>) -> Self {
        self.variables.insert(name.to_string(), value.into());
        self
    }

    /// Bound each request and tick (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Also run the `[[trigger.cron]]` schedules in real time (UTC), as the
    /// trigger-cron plugin does, until the host is dropped.
    pub fn scheduler(mut self, on: bool) -> Self {
        self.scheduler = on;
        self
    }

    /// Run with Spin's runtime-config file `path` (key-value on Redis, a
    /// database elsewhere). Only real Spin reads it: the test host refuses
    /// to start with one (it has the `default` store and database only).
    pub fn runtime_config_file(mut self, path: impl AsRef<Path>) -> Self {
        self.runtime_config = Some(path.as_ref().to_path_buf());
        self
    }

    /// Load, link and start serving.
    pub fn start(self) -> Result<Host> {
        ensure!(
            self.runtime_config.is_none(),
            "the test host reads no runtime-config file (a spin_only scenario needs one)"
        );
        crate::spin::configure_sqlite_process();
        Host::start(self)
    }
}

struct Inner {
    manifest: Manifest,
    router: Router,
    runtime: Arc<Runtime>,
    shared: Arc<HostShared>,
    components: HashMap<String, Arc<ComponentRuntime>>,
    http: HashMap<String, ProxyPre<StoreData>>,
    cron: HashMap<String, cron_bindings::SpinCronPre<StoreData>>,
    timeout: Duration,
}

/// A running host. Dropping it stops the server and the scheduler.
pub struct Host {
    inner: Arc<Inner>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    _temp: Vec<tempfile::TempDir>,
}

impl Host {
    /// Start configuring a host for the app whose `spin.toml` is in
    /// `app_root` (or is `app_root`).
    pub fn builder(app_root: impl AsRef<Path>) -> HostBuilder {
        HostBuilder {
            app: app_root.as_ref().to_path_buf(),
            data_dir: None,
            variables: BTreeMap::new(),
            timeout: DEFAULT_REQUEST_TIMEOUT,
            scheduler: false,
            runtime_config: None,
        }
    }

    fn start(b: HostBuilder) -> Result<Host> {
        let manifest = Manifest::load(&b.app)?;
        let runtime = engine::runtime()?;
        let mut temp = Vec::new();
        let data_dir = match b.data_dir {
            Some(d) => d,
            None => {
                let t = tempfile::Builder::new()
                    .prefix("echopilot-e2e-data")
                    .tempdir()?;
                let p = t.path().to_path_buf();
                temp.push(t);
                p
            }
        };
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;

        // Variables: overrides (like SPIN_VARIABLE_*) first, then defaults;
        // a required variable nobody sets stops the start, as in Spin.
        let mut values = manifest.default_values();
        for (k, v) in &b.variables {
            ensure!(
                manifest.variables.contains_key(k),
                "variable {k:?} is not in the manifest's [variables]"
            );
            values.insert(k.clone(), v.clone());
        }
        let missing: Vec<&String> = manifest
            .variables
            .keys()
            .filter(|k| !values.contains_key(*k))
            .collect();
        ensure!(
            missing.is_empty(),
            "provider error: no provider resolved required variable(s): {missing:?}"
        );

        let logs = Arc::new(Logs::default());
        let shared = Arc::new(HostShared::new(data_dir, logs));
        let files_temp = tempfile::Builder::new()
            .prefix("echopilot-e2e-files")
            .tempdir()?;
        let mut components = HashMap::new();
        for (id, c) in &manifest.components {
            let mut variables = HashMap::new();
            for (name, t) in &c.variables {
                variables.insert(name.clone(), Manifest::resolve(t, &values)?);
            }
            let files_root = if c.files.is_empty() {
                None
            } else {
                let dest = files_temp.path().join(id);
                copy_files(&manifest.root, &c.files, &c.exclude_files, &dest)
                    .with_context(|| format!("mounting files for component {id:?}"))?;
                Some(dest)
            };
            components.insert(
                id.clone(),
                Arc::new(ComponentRuntime {
                    id: id.clone(),
                    key_value_stores: c.key_value_stores.iter().cloned().collect(),
                    sqlite_databases: c.sqlite_databases.iter().cloned().collect(),
                    variables,
                    allowed_hosts: AllowedHosts::resolve(&c.allowed_outbound_hosts, &values)
                        .map_err(|e| format!("{e:#}")),
                    files_root,
                    environment: c
                        .environment
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    ai_models: c.ai_models.iter().cloned().collect(),
                }),
            );
        }
        temp.push(files_temp);

        let router = Router::build(
            manifest
                .http_routes
                .iter()
                .map(|r| (r.route.as_str(), r.component.as_str())),
        )?;
        let pre_for = |id: &str| -> Result<InstancePre<StoreData>> {
            let c = manifest.component(id)?;
            let hint = c.build_command.clone().unwrap_or_else(|| {
                "cargo build --workspace --exclude echopilot-e2e --target wasm32-wasip2 --release"
                    .into()
            });
            runtime.instance_pre(&c.source, &hint)
        };
        let mut http = HashMap::new();
        for r in &manifest.http_routes {
            if !http.contains_key(&r.component) {
                let pre = ProxyPre::new(pre_for(&r.component)?)
                    .map_err(anyhow::Error::from)
                    .with_context(|| {
                        format!(
                            "component {:?} does not export wasi:http/incoming-handler",
                            r.component
                        )
                    })?;
                http.insert(r.component.clone(), pre);
            }
        }
        let mut cron = HashMap::new();
        for t in &manifest.cron {
            if !cron.contains_key(&t.component) {
                let pre = cron_bindings::SpinCronPre::new(pre_for(&t.component)?)
                    .map_err(anyhow::Error::from)
                    .with_context(|| {
                        format!(
                            "component {:?} does not export handle-cron-event",
                            t.component
                        )
                    })?;
                cron.insert(t.component.clone(), pre);
            }
        }

        let inner = Arc::new(Inner {
            manifest,
            router,
            runtime,
            shared,
            components,
            http,
            cron,
            timeout: b.timeout,
        });

        let rt = engine::tokio();
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        *inner.shared.addr.lock().unwrap() = Some(addr);
        let (stop, stopped) = watch::channel(false);
        rt.spawn(serve(inner.clone(), listener, stopped.clone()));
        if b.scheduler {
            for t in &inner.manifest.cron {
                let schedule = Schedule::parse(&t.cron_expression)?;
                rt.spawn(schedule_loop(
                    inner.clone(),
                    t.component.clone(),
                    schedule,
                    stopped.clone(),
                ));
            }
        }
        Ok(Host {
            inner,
            addr,
            stop,
            _temp: temp,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The manifest this host serves.
    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    /// Where the SQLite files are.
    pub fn data_dir(&self) -> &Path {
        &self.inner.shared.data_dir
    }

    /// Everything captured so far, one `[component stream] line` per line.
    pub fn logs(&self) -> String {
        self.inner.shared.logs.text()
    }

    /// The shared log buffer (stays readable after the host is dropped).
    pub fn logs_handle(&self) -> Arc<Logs> {
        self.inner.shared.logs.clone()
    }

    /// The captured lines.
    pub fn log_lines(&self) -> Vec<crate::logs::LogLine> {
        self.inner.shared.logs.lines()
    }

    /// Route `path` as this host would.
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        self.inner.router.route(path)
    }

    /// Run `component`'s `handle-cron-event` now, as the trigger-cron plugin
    /// does at a tick: a fresh instance, `metadata { timestamp: now }`. The
    /// outer error is a host failure (trap, timeout); the inner one is the
    /// guest's `error::other`.
    pub fn tick(&self, component: &str) -> Result<Result<(), String>> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        self.tick_at(component, now)
    }

    /// [`Host::tick`] with a given `timestamp` (Unix seconds).
    pub fn tick_at(&self, component: &str, timestamp: u64) -> Result<Result<(), String>> {
        let inner = self.inner.clone();
        let component = component.to_string();
        engine::tokio().block_on(async move { run_cron(&inner, &component, timestamp).await })
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn run_cron(inner: &Inner, component: &str, timestamp: u64) -> Result<Result<(), String>> {
    let Some(pre) = inner.cron.get(component) else {
        bail!("component {component:?} has no [[trigger.cron]] entry");
    };
    let rt = inner.components[component].clone();
    let mut store = new_store(inner, rt)?;
    let fut = async {
        let cron = pre.instantiate_async(&mut store).await?;
        cron.call_handle_cron_event(&mut store, Metadata { timestamp })
            .await
    };
    let result = match tokio::time::timeout(inner.timeout, fut).await {
        Ok(Ok(r)) => r,
        Ok(Err(trap)) => {
            inner
                .shared
                .logs
                .host(component, &format!("cron handler trapped: {trap:?}"));
            return Err(anyhow::Error::from(trap).context("cron handler trapped"));
        }
        Err(_) => {
            inner.shared.logs.host(component, "cron handler timed out");
            bail!("cron handler did not finish within {:?}", inner.timeout);
        }
    };
    Ok(result.map_err(|CronError::Other(e)| {
        inner
            .shared
            .logs
            .host(component, &format!("Component {component} failed: {e}"));
        e
    }))
}

async fn schedule_loop(
    inner: Arc<Inner>,
    component: String,
    schedule: Schedule,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = now.as_secs() as i64;
        let wait = match schedule.next_after(secs, 7 * 86_400) {
            Some(t) => Duration::from_secs((t - secs) as u64)
                .saturating_sub(Duration::from_nanos(u64::from(now.subsec_nanos()))),
            None => Duration::from_secs(86_400),
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if schedule.matches(ts as i64) {
            // A failed tick is only logged: no retry, no catch-up.
            let _ = run_cron(&inner, &component, ts).await;
        }
    }
}

fn new_store(inner: &Inner, component: Arc<ComponentRuntime>) -> Result<Store<StoreData>> {
    let data = StoreData::new(component, inner.shared.clone())?;
    let mut store = Store::new(&inner.runtime.engine, data);
    store.epoch_deadline_async_yield_and_update(1);
    Ok(store)
}

async fn serve(
    inner: Arc<Inner>,
    listener: tokio::net::TcpListener,
    stopped: watch::Receiver<bool>,
) {
    let mut stop = stopped.clone();
    loop {
        let (stream, client) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(_) => continue,
            },
            _ = stop.changed() => return,
        };
        let inner = inner.clone();
        let mut conn_stop = stopped.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let inner = inner.clone();
                async move { Ok::<_, Infallible>(handle(inner, req, client).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = conn_stop.changed() => {}
            }
        });
    }
}

fn plain(status: u16, body: &'static [u8]) -> hyper::Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from_static(body))
        .map_err(|never: Infallible| match never {})
        .boxed_unsync();
    let mut r = hyper::Response::new(body);
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    r
}

async fn handle(
    inner: Arc<Inner>,
    req: hyper::Request<Incoming>,
    client: SocketAddr,
) -> hyper::Response<HyperOutgoingBody> {
    let path = req.uri().path().to_string();
    if let Some(well_known) = path.strip_prefix("/.well-known/spin/") {
        return match well_known {
            "health" => plain(200, b"OK"),
            _ => plain(404, b""),
        };
    }
    let Some(route) = inner.router.route(&path) else {
        return plain(404, b"");
    };
    match respond(&inner, req, &route, client).await {
        Ok(resp) => resp,
        Err(e) => {
            inner.shared.logs.host(
                &route.component,
                &format!("Error processing request: {e:?}"),
            );
            plain(500, b"")
        }
    }
}

/// Spin's request preparation: absolute URI from the Host header, then the
/// client's headers followed by Spin's (`spin-full-url`, `spin-path-info`,
/// `spin-matched-route`, `spin-base-path`, `spin-raw-component-route`,
/// `spin-component-route`, `spin-client-addr`, `spin-path-match-<name>`).
fn prepare(
    req: hyper::Request<Incoming>,
    route: &RouteMatch,
    client: SocketAddr,
) -> Result<hyper::Request<Incoming>> {
    let (mut parts, body) = req.into_parts();
    let host = match parts.headers.get(http::header::HOST) {
        Some(h) => h
            .to_str()
            .context("'Host' header is not valid UTF-8")?
            .to_string(),
        None => match parts.uri.authority() {
            Some(a) => a.to_string(),
            None => bail!("no 'Host' header present in request"),
        },
    };
    let authority: http::uri::Authority = host
        .parse()
        .context("'Host' header contains an invalid authority")?;
    let pq = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut uri = http::uri::Parts::default();
    uri.scheme = Some(http::uri::Scheme::HTTP);
    uri.authority = Some(authority);
    uri.path_and_query = Some(pq.parse()?);
    parts.uri = http::Uri::from_parts(uri)?;

    let mut headers: Vec<(String, String)> = Vec::new();
    for (k, v) in parts.headers.iter() {
        headers.push((
            k.to_string(),
            std::str::from_utf8(v.as_bytes())?.to_string(),
        ));
    }
    headers.push(("spin-path-info".into(), route.path_info.clone()));
    headers.push(("spin-full-url".into(), format!("http://{host}{pq}")));
    headers.push(("spin-matched-route".into(), route.based_route.clone()));
    headers.push(("spin-base-path".into(), "/".into()));
    headers.push(("spin-raw-component-route".into(), route.raw_route.clone()));
    headers.push((
        "spin-component-route".into(),
        route.raw_route_or_prefix().to_string(),
    ));
    headers.push(("spin-client-addr".into(), client.to_string()));
    for (name, value) in &route.named {
        headers.push((
            format!(
                "spin-path-match-{}",
                name.to_ascii_lowercase().replace('_', "-")
            ),
            value.clone(),
        ));
    }
    parts.headers.clear();
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) = (
            k.parse::<http::HeaderName>(),
            http::HeaderValue::from_bytes(v.as_bytes()),
        ) {
            parts.headers.append(name, value);
        }
    }
    Ok(hyper::Request::from_parts(parts, body))
}

async fn respond(
    inner: &Arc<Inner>,
    req: hyper::Request<Incoming>,
    route: &RouteMatch,
    client: SocketAddr,
) -> Result<hyper::Response<HyperOutgoingBody>> {
    let req = prepare(req, route, client)?;
    let pre = inner
        .http
        .get(&route.component)
        .with_context(|| format!("unknown component ID {:?}", route.component))?
        .clone();
    let component = inner.components[&route.component].clone();
    let mut store = new_store(inner, component)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let incoming = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)?;
    let out = store.data_mut().http().new_response_outparam(tx)?;
    let logs = inner.shared.logs.clone();
    let id = route.component.clone();
    let timeout = inner.timeout;
    let task = tokio::spawn(async move {
        let run = async {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, out)
                .await
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(trap)) => {
                logs.host(&id, &format!("guest invocation failed: {trap:?}"));
                Err(anyhow::Error::from(trap))
            }
            Err(_) => {
                logs.host(&id, &format!("guest did not finish within {timeout:?}"));
                Err(anyhow::anyhow!("guest did not finish within {timeout:?}"))
            }
        }
    });
    let abort = task.abort_handle();
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(Ok(resp))) => Ok(resp),
        Ok(Ok(Err(code))) => bail!("guest answered with an error: {code:?}"),
        Ok(Err(_)) => {
            let why = match task.await {
                Ok(Ok(())) => {
                    anyhow::anyhow!("guest failed to produce a response prior to returning")
                }
                Ok(Err(e)) => e.context("guest invocation failed"),
                Err(e) => anyhow::anyhow!("guest invocation panicked: {e}"),
            };
            Err(why)
        }
        Err(_) => {
            abort.abort();
            bail!("guest did not answer within {timeout:?}")
        }
    }
}
