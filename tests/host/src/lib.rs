//! # echopilot-e2e: a Spin-compatible test host
//!
//! Runs EchoPilot's built release `.wasm` components the way Spin 4.0 (and
//! the trigger-cron 0.3 plugin) does, for everything the app uses, so that
//! end-to-end scenarios can call the app over real HTTP.
//!
//! ```no_run
//! use echopilot_e2e::{Client, Host};
//! let host = Host::builder("../..").variable("dashboard_key", "k").start()?;
//! let client = Client::new(host.base_url());
//! let resp = client.get("/health").send()?;
//! assert_eq!(resp.status, 200);
//! host.tick("cron-heartbeat")?.expect("the heartbeat ran");
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! | module | what |
//! |---|---|
//! | [`manifest`] | `spin.toml` v2 with Spin's load-time checks |
//! | [`router`] | Spin's HTTP router |
//! | [`host`] | the host: HTTP trigger, cron ticks, scheduler, logs |
//! | [`spin`] | key-value, SQLite, variables with Spin's semantics |
//! | [`outbound`] | `allowed_outbound_hosts` parsing and matching |
//! | [`cron`] | cron expressions (6 fields, seconds first, UTC) |
//! | [`mock`] | scriptable loopback mock servers and presets |
//! | [`client`] | a small blocking HTTP/1.1 client that sends raw paths |
//! | [`scenario`] | the scenario harness (runtimes, route coverage) |
//! | [`spin_up`] | a real `spin up` child process (the real-Spin tier) |
//! | [`redis`] | Debian's `redis-server` on loopback, and a RESP client |
//! | [`moto`] | moto's S3 server on loopback, and a signed client to look inside it |

pub mod client;
pub mod cron;
pub mod engine;
pub mod host;
pub mod local_server;
pub mod logs;
pub mod manifest;
pub mod mock;
pub mod moto;
pub mod outbound;
pub mod redis;
pub mod router;
pub mod scenario;
pub mod spin;
pub mod spin_up;
pub mod state;
pub mod template;

pub use client::{Client, Response};
pub use host::{Host, HostBuilder};
pub use manifest::Manifest;
pub use mock::{MockServer, Reply};

/// The repository root (two levels above this crate).
pub fn repo_root() -> std::path::PathBuf {
    match std::env::var_os("ECHOPILOT_ROOT") {
        Some(r) => r.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
    }
}
