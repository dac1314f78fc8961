//! # Security: the software bill of materials and the configuration scan
//!
//! - [`cyclonedx`]: the CycloneDX 1.5 document, generated at build time by
//!   `components/api-security/build.rs` from `cargo metadata` and
//!   `Cargo.lock`; [`sbom`] serves it;
//! - [`outbound`]: spin.toml's outbound hosts (read at build time) and
//!   when one is too wide;
//! - [`scan`]: the configuration's weaknesses, each with its fix;
//! - [`secrets`]: the secret variables, their fingerprints and ages, and
//!   the daily `secrets` job (`cron-secrets`) that reminds of rotation
//!   through an incident;
//! - [`api`]: the api-security routes.

pub mod api;
pub mod cyclonedx;
pub mod embedded;
pub mod outbound;
pub mod sbom;
pub mod scan;
pub mod secrets;

use crate::app::App;

/// The api-security component.
pub const APP: App = App {
    component: "api-security",
    routes: api::ROUTES,
    stateless: false,
};
