//! What a store holds: WASI, wasi:http, the Spin interfaces' state, and the
//! outbound-HTTP policy; plus what a host shares across its instances.

use crate::logs::{LogSink, Logs};
use crate::outbound::AllowedHosts;
use anyhow::{Context, Result};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

/// What every instance of one host shares (one Spin process).
pub struct HostShared {
    /// `<data_dir>`.
    pub data_dir: PathBuf,
    /// The key-value connection, opened on first use.
    kv: Mutex<Option<Arc<Mutex<rusqlite::Connection>>>>,
    /// Guest output and host events.
    pub logs: Arc<Logs>,
    /// Where this host listens (for self requests).
    pub addr: Mutex<Option<SocketAddr>>,
}

impl HostShared {
    /// A new shared state on `data_dir`.
    pub fn new(data_dir: PathBuf, logs: Arc<Logs>) -> HostShared {
        HostShared {
            data_dir,
            kv: Mutex::new(None),
            logs,
            addr: Mutex::new(None),
        }
    }

    /// `<data_dir>/sqlite_db.db`, Spin's `default` database.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("sqlite_db.db")
    }

    /// `<data_dir>/sqlite_key_value.db`, Spin's `default` key-value store.
    pub fn kv_path(&self) -> PathBuf {
        self.data_dir.join("sqlite_key_value.db")
    }

    /// The host's one key-value connection.
    pub fn kv_connection(&self) -> Result<Arc<Mutex<rusqlite::Connection>>, String> {
        let mut slot = self.kv.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = Arc::new(Mutex::new(crate::spin::open_kv_db(&self.kv_path())?));
        *slot = Some(c.clone());
        Ok(c)
    }
}

/// One component as configured for one host: its capabilities with every
/// template resolved.
pub struct ComponentRuntime {
    /// The component id.
    pub id: String,
    /// `key_value_stores`.
    pub key_value_stores: HashSet<String>,
    /// `sqlite_databases`.
    pub sqlite_databases: HashSet<String>,
    /// `variables`, resolved.
    pub variables: HashMap<String, String>,
    /// `allowed_outbound_hosts`, resolved (or why they could not be).
    pub allowed_hosts: Result<AllowedHosts, String>,
    /// The files mounted at `/` (a copy, as `spin up` makes), if any.
    pub files_root: Option<PathBuf>,
    /// `environment`.
    pub environment: Vec<(String, String)>,
    /// `ai_models`.
    pub ai_models: HashSet<String>,
}

/// The data of one store (one instance, one request or one cron tick).
pub struct StoreData {
    pub table: ResourceTable,
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub hooks: OutboundHooks,
    pub component: Arc<ComponentRuntime>,
    pub shared: Arc<HostShared>,
    pub kv_open: usize,
    pub sql_conns: HashMap<u32, Arc<crate::spin::SqlConnection>>,
    pub next_conn: u32,
}

impl StoreData {
    /// Fresh state for one instance of `component`.
    pub fn new(component: Arc<ComponentRuntime>, shared: Arc<HostShared>) -> Result<StoreData> {
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(LogSink::new(shared.logs.clone(), &component.id, "stdout"))
            .stderr(LogSink::new(shared.logs.clone(), &component.id, "stderr"));
        for (k, v) in &component.environment {
            wasi.env(k, v);
        }
        if let Some(root) = &component.files_root {
            wasi.preopened_dir(root, "/", FsPerms::ReadOnly)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("mounting {}", root.display()))?;
        }
        let hooks = OutboundHooks {
            component: component.clone(),
            shared: shared.clone(),
        };
        Ok(StoreData {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks,
            component,
            shared,
            kv_open: 0,
            sql_conns: HashMap::new(),
            next_conn: 0,
        })
    }
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StoreData {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// The outbound-HTTP policy of one instance: Spin's `allowed_outbound_hosts`
/// check before anything leaves; a refused request fails with
/// `HTTP-request-denied`, as in Spin.
pub struct OutboundHooks {
    component: Arc<ComponentRuntime>,
    shared: Arc<HostShared>,
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
)>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let _ = fut;
        let component = self.component.clone();
        let shared = self.shared.clone();
        Box::new(async move {
            let uri = request.uri().clone();
            let relative = match uri.authority() {
                Some(a) => a.host().is_empty() || a.host() == "self.alt",
                None => true,
            };
            let allowed = match &component.allowed_hosts {
                Ok(hosts) if relative => hosts.allows_relative(&["http", "https"]),
                Ok(hosts) => hosts.allows_url(&uri.to_string()),
                Err(_) => false,
            };
            if !allowed {
                shared.logs.host(
                    &component.id,
                    &format!("outbound request to {uri} denied by allowed_outbound_hosts"),
                );
                return Err(wasmtime_wasi_http::Error::HttpRequestDenied);
            }
            if relative {
                let addr = shared
                    .addr
                    .lock()
                    .unwrap()
                    .ok_or(wasmtime_wasi_http::Error::HttpRequestUriInvalid)?;
                let pq = uri
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| "/".into());
                *request.uri_mut() = format!("http://{addr}{pq}")
                    .parse()
                    .map_err(|_| wasmtime_wasi_http::Error::HttpRequestUriInvalid)?;
            }
            // Spin removes the guest's Host header; its HTTP client then
            // sends the URI's authority (wasmtime's default sender would
            // send none, so set it here).
            let authority = request.uri().authority().map(|a| a.to_string());
            request.headers_mut().remove(http::header::HOST);
            if let Some(a) = authority.and_then(|a| http::HeaderValue::from_str(&a).ok()) {
                request.headers_mut().insert(http::header::HOST, a);
            }
            let (resp, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                resp.map(http_body_util::BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

/// Copy a component's `files` into `dest` the way `spin up` does (its
/// default copy strategy): globs keep their relative paths, placements put
/// a file or directory at its destination; `exclude_files` globs skip files.
pub fn copy_files(
    root: &Path,
    mounts: &[crate::manifest::FileMount],
    exclude: &[String],
    dest: &Path,
) -> Result<()> {
    use crate::manifest::FileMount;
    let excludes = exclude
        .iter()
        .map(|p| glob::Pattern::new(p).with_context(|| format!("bad exclude_files glob {p:?}")))
        .collect::<Result<Vec<_>>>()?;
    let copy_glob = |pattern: &Path, prefix: &Path, dest_root: &Path| -> Result<()> {
        let pat = pattern.to_str().context("non-UTF-8 file pattern")?;
        for entry in glob::glob(pat).with_context(|| format!("bad glob {pat:?}"))? {
            let path = entry?;
            if !path.is_file() {
                continue;
            }
            let rel = path.strip_prefix(prefix).unwrap_or(&path);
            if excludes.iter().any(|e| e.matches_path(rel)) {
                continue;
            }
            let target = dest_root.join(rel);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::copy(&path, &target).with_context(|| format!("copying {}", path.display()))?;
        }
        Ok(())
    };
    std::fs::create_dir_all(dest)?;
    for m in mounts {
        match m {
            FileMount::Pattern(p) => {
                anyhow::ensure!(
                    p != ".." && !p.ends_with("/.."),
                    "A file pattern can't end in a parent directory path (..)"
                );
                anyhow::ensure!(
                    p != "." && !p.ends_with("/."),
                    "A file pattern can't end in a current directory path (.)"
                );
                let path = root.join(p);
                if path.is_dir() {
                    copy_glob(&path.join("**/*"), root, dest)?;
                } else if path.is_file() {
                    let target = dest.join(p);
                    if let Some(parent) = target.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::copy(&path, &target)?;
                } else if p.contains(['*', '?', '[']) {
                    copy_glob(&path, root, dest)?;
                } else {
                    anyhow::bail!("{p:?} does not exist and doesn't appear to be a glob pattern");
                }
            }
            FileMount::Placement {
                source,
                destination,
            } => {
                let src = root.join(source);
                let target = dest.join(destination.trim_start_matches('/'));
                let meta = std::fs::metadata(&src)
                    .with_context(|| format!("file mount source {source:?} not found"))?;
                if meta.is_dir() {
                    copy_glob(&src.join("**/*"), &src, &target)?;
                } else {
                    if let Some(parent) = target.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::copy(&src, &target)?;
                }
            }
        }
    }
    Ok(())
}
