//! The ports: the only ways core reaches the outside world.
//!
//! Each port is a small trait. `adapters::spin` implements them on spin-sdk
//! (wasm32 only); `adapters::native` implements them for native tests (an
//! in-memory key-value store, real SQLite through rusqlite, a scripted HTTP
//! client). [`Env`] bundles one of each for a request or a scheduled run.

pub mod clock;
pub mod config;
pub mod db;
pub mod http;
pub mod ids;
pub mod kv;
pub mod llm;

pub use clock::{Clock, SystemClock};
pub use config::Config;
pub use db::{Db, DbError, DbExt, Row, Rows, Value};
pub use http::{
    form_encode, redact, retryable, HttpClient, HttpError, OutboundRequest, OutboundResponse,
};
pub use ids::{Ids, OsRandom};
pub use kv::Kv;
pub use llm::{Inference, Llm, NoLlm};

/// One of each port: everything a handler or job may touch.
pub struct Env {
    /// Hot, disposable state (rate-limit buckets, caches, flags).
    pub kv: Box<dyn Kv>,
    /// The system of record.
    pub db: Box<dyn Db>,
    /// Outbound HTTP, limited to the component's allowed hosts.
    pub http: Box<dyn HttpClient>,
    /// Wall-clock and monotonic time.
    pub clock: Box<dyn Clock>,
    /// Randomness for ids and tokens.
    pub ids: Box<dyn Ids>,
    /// Application variables.
    pub config: Box<dyn Config>,
    /// Platform-hosted inference (Spin Serverless AI).
    pub llm: Box<dyn Llm>,
}
