//! What this build is: crate version, git sha, dirty flag, build time.
//! Embedded by `build.rs`, so a running component can always name its source.

use serde::Serialize;

/// The crate (and application) version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit the build came from (`unknown` outside a checkout).
pub const GIT_SHA: &str = env!("ECHOPILOT_GIT_SHA");
/// Whether the product sources differed from that commit.
pub const DIRTY: bool = matches!(env!("ECHOPILOT_GIT_DIRTY").as_bytes(), b"true");
const BUILD_UNIX: &str = env!("ECHOPILOT_BUILD_UNIX");

/// Build information as served by `/api/version` and stamped on records.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BuildInfo {
    /// Crate version.
    pub version: &'static str,
    /// Full git sha.
    pub git_sha: &'static str,
    /// First 12 characters of the sha.
    pub git_sha_short: &'static str,
    /// Tree dirty at build time.
    pub dirty: bool,
    /// Build time, RFC 3339.
    pub build_time: String,
}

/// This build.
pub fn get() -> BuildInfo {
    let build_secs = BUILD_UNIX.parse::<i64>().unwrap_or(0);
    BuildInfo {
        version: VERSION,
        git_sha: GIT_SHA,
        git_sha_short: &GIT_SHA[..GIT_SHA.len().min(12)],
        dirty: DIRTY,
        build_time: crate::time::rfc3339(build_secs * 1000),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn build_info_is_embedded() {
        let b = super::get();
        assert!(!b.version.is_empty());
        assert!(
            b.git_sha == "unknown"
                || (b.git_sha.len() == 40 && b.git_sha.bytes().all(|c| c.is_ascii_hexdigit()))
        );
        assert!(b.build_time.ends_with('Z'));
    }
}
