//! One wasmtime engine per process, one linker, and a cache of compiled
//! components, so that many hosts (one per test) start cheaply: each .wasm
//! is compiled once per process and its `InstancePre` reused.

use crate::state::StoreData;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; guests yield to the executor at each tick,
/// so a guest stuck in a loop can be timed out like one waiting on I/O.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The process-wide engine, linker and compiled components.
pub struct Runtime {
    pub engine: Engine,
    pub linker: Linker<StoreData>,
    cache: Mutex<HashMap<PathBuf, CacheEntry>>,
}

#[derive(Clone)]
struct CacheEntry {
    len: u64,
    modified: Option<SystemTime>,
    pre: InstancePre<StoreData>,
}

fn engine() -> Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(256)
        .total_core_instances(2048)
        .total_memories(512)
        .total_tables(1024)
        .max_memory_size(256 << 20)
        .max_component_instance_size(1 << 20)
        .max_core_instance_size(1 << 20);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // `E2E_PERFMAP=1` writes /tmp/perf-<pid>.map so `perf` can name guest
    // functions (see docs/PERFORMANCE.md, "Profiling").
    if std::env::var_os("E2E_PERFMAP").is_some_and(|v| v == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let engine = Engine::new(&config)?;
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("e2e-epoch".into())
        .spawn(move || {
            // Ends when the engine is gone (never, for the process-wide one).
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
    Ok(engine)
}

fn linker(engine: &Engine) -> Result<Linker<StoreData>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    crate::spin::add_to_linker(&mut linker)?;
    // Nothing is defined for `fermyon:spin-cron/cron-types@2.0.0`: the
    // interface holds only types, which wasmtime's linker does not require
    // (as in Spin's cron trigger). See docs/TESTING.md.
    Ok(linker)
}

static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();

/// The process-wide runtime (created on first use).
pub fn runtime() -> Result<Arc<Runtime>> {
    if let Some(r) = RUNTIME.get() {
        return Ok(r.clone());
    }
    let engine = engine().context("creating the wasmtime engine")?;
    let linker = linker(&engine).context("building the linker")?;
    let r = Arc::new(Runtime {
        engine,
        linker,
        cache: Mutex::new(HashMap::new()),
    });
    Ok(RUNTIME.get_or_init(|| r).clone())
}

impl Runtime {
    /// The pre-instantiated component at `path`, compiled at most once per
    /// process for a given file (recompiled if its size or mtime changes).
    pub fn instance_pre(&self, path: &Path, build_hint: &str) -> Result<InstancePre<StoreData>> {
        let meta = std::fs::metadata(path).map_err(|_| {
            anyhow::anyhow!(
                "{} does not exist: build the components first with `{build_hint}` (tests/run.sh does this before the tests)",
                path.display()
            )
        })?;
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let modified = meta.modified().ok();
        if let Some(e) = self.cache.lock().unwrap().get(&key) {
            if e.len == meta.len() && e.modified == modified {
                return Ok(e.pre.clone());
            }
        }
        let component = Component::from_file(&self.engine, path)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("compiling {}", path.display()))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("linking {}", path.display()))?;
        self.cache.lock().unwrap().insert(
            key,
            CacheEntry {
                len: meta.len(),
                modified,
                pre: pre.clone(),
            },
        );
        Ok(pre)
    }
}

static TOKIO: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

/// The process-wide tokio runtime that hosts and mock servers run on.
pub fn tokio() -> &'static tokio::runtime::Runtime {
    TOKIO.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
                    .max(4),
            )
            .thread_name("e2e-host")
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}
