//! # EchoPilot core
//!
//! The domain logic of EchoPilot, as plain Rust that compiles natively (for
//! tests, against real SQLite) and to `wasm32-wasip2` (inside each Spin
//! component). Components are thin: each names its [`app::App`] (routes) or
//! its [`scheduler::Job`] and hands requests to [`adapters::spin`].
//!
//! ## Layout
//!
//! | module | what lives there |
//! |---|---|
//! | [`ports`] | the traits core talks through: `Kv`, `Db`, `HttpClient`, `Clock`, `Ids`, `Config`, bundled as [`ports::Env`] |
//! | [`adapters`] | `spin` (wasm32 only, on spin-sdk) and `native` (in-memory KV, rusqlite, scripted HTTP) |
//! | [`error`] | the one [`error::Error`] type and its mapping to HTTP statuses |
//! | [`http`] | request, response and JSON envelope, router, body parsing, security headers |
//! | [`i18n`] | `Accept-Language` negotiation and the error messages of each language catalogue |
//! | [`app`] | the request pipeline every HTTP component shares |
//! | [`access`] | the access policy of every route, and the credential checks |
//! | [`db`] | connection set-up, versioned migrations, transactions |
//! | [`costs`] | cost guardrails: daily spend per model, caps, downgrades, the worker's guard, cost incidents |
//! | [`incidents`] | incidents (dedup, lifecycle, silences), routing by severity, the delivery outbox (Telegram, email) |
//! | [`google`] | Google APIs with an OAuth refresh token: the one token exchange (Gmail, Drive), Drive's multipart upload |
//! | [`scheduler`] | scheduled jobs: per-slot leases, overlap guard, retry, catch-up |
//! | [`health`], [`heartbeat`], [`static_files`] | the foundation's features |
//! | [`events`], [`ops`] | the event log, the api-ops routes (`/metrics`, `/api/logs`) |
//! | [`incidents`], [`slo`] | incidents, alert outbox, silences; SLOs, burn-rate alerts, the deploy gate |
//! | [`scale`] | autoscaling the worker's concurrency: signals, forecast, rules, state, `/api/scale/*`, `cron-autoscale` |
//! | [`anomaly`] | the latency anomaly guard (rolling 3σ over 50 samples), `cron-anomaly` |
//! | [`reports`] | the daily operator report: figures, comparison, LLM summary, email |
//! | [`money`] | currencies, integer minor units, exchange-rate conversions that record their rate |
//! | [`payments`] | the Stripe ledger and reconciliation, checkout, webhooks, refunds, receipts and the customer portal (api-billing) |
//! | [`finance`] | FinOps, P&L, forecast, exchange rates, plans, tenant billing (api-finance) |
//! | [`referrals`] | referral codes, signups, commissions, payouts |
//! | [`telemetry`] | request recording, minute rollups, Prometheus `/metrics` |
//! | [`analytics`] | product analytics: event intake, daily visitor hashes, usage (DAU/WAU/MAU), the daily rollup |
//! | [`privacy`] | GDPR/CCPA: subject export and erasure, consent records, retention windows and `cron-retention` |
//! | [`demo`] | demo mode: the write refusal, the seeder, the tags and the removal |
//! | [`catalog`] | every app and job, for consistency checks |
//! | [`build_info`], [`time`], [`log`] | build provenance, RFC 3339, structured logs |

pub mod access;
pub mod adapters;
pub mod ai;
pub mod analytics;
pub mod anomaly;
pub mod app;
pub mod audit;
pub mod backup;
pub mod build_info;
pub mod cache;
pub mod catalog;
pub mod compliance;
pub mod config;
pub mod costs;
pub mod db;
pub mod demo;
pub mod dr;
pub mod error;
pub mod events;
pub mod finance;
pub mod google;
pub mod guard;
pub mod health;
pub mod heartbeat;
pub mod http;
pub mod i18n;
pub mod identity;
pub mod incidents;
pub mod integrations;
pub mod jobs;
pub mod log;
pub mod money;
pub mod notion;
pub mod objectstore;
pub mod ops;
pub mod payments;
pub mod ports;
pub mod privacy;
pub mod referrals;
pub mod reports;
pub mod scale;
pub mod scheduler;
pub mod security;
pub mod sign;
pub mod sigv4;
pub mod slo;
pub mod static_files;
pub mod telemetry;
pub mod tenancy;
pub mod time;
pub mod webhook_signature;
pub mod workflows;

pub use error::{Error, Result};

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}
