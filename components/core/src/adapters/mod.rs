//! Implementations of the ports.
//!
//! - [`spin`]: on spin-sdk, compiled for wasm32 only.
//! - [`native`]: for native tests and tools: an in-memory key-value store,
//!   real SQLite through rusqlite, a map of variables and a scripted HTTP
//!   client. Same observable behaviour as the Spin adapters (a test suite
//!   runs against both where it can: see `tests/`).

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
#[cfg(target_arch = "wasm32")]
pub mod spin;
