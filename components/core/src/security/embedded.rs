//! What `api-security` embeds at build time (its `build.rs`): the SBOM and
//! spin.toml's outbound hosts. The component installs them before serving;
//! core's handlers read them from here.

use std::sync::OnceLock;

/// The build-time facts the security routes serve and check.
#[derive(Debug, Clone, Copy)]
pub struct Embedded {
    /// The CycloneDX document as generated (compact JSON), without the
    /// build's time and revision, which [`super::sbom`] adds when serving.
    pub sbom: &'static str,
    /// spin.toml's `allowed_outbound_hosts`: `(component, entry)`.
    pub outbound_hosts: &'static [(&'static str, &'static str)],
}

static EMBEDDED: OnceLock<Embedded> = OnceLock::new();

/// Install the component's build-time facts (the first call wins: they do
/// not change while the component runs).
pub fn install(e: Embedded) {
    let _ = EMBEDDED.set(e);
}

/// The installed facts, if a component installed them.
pub fn get() -> Option<&'static Embedded> {
    EMBEDDED.get()
}
