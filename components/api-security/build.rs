//! Generates what api-security embeds (`$OUT_DIR/embedded.rs`):
//!
//! - the CycloneDX SBOM of every Spin component in spin.toml, from
//!   `cargo metadata --offline --filter-platform wasm32-wasip2` and
//!   `Cargo.lock` (core's `security/cyclonedx.rs`);
//! - spin.toml's `allowed_outbound_hosts` (core's `security/outbound.rs`).
//!
//! It re-runs only when spin.toml, Cargo.lock or a Cargo.toml changes, so an
//! unchanged tree never runs cargo metadata again.

#[path = "../core/src/security/cyclonedx.rs"]
#[allow(dead_code)]
mod cyclonedx;
#[path = "../core/src/security/outbound.rs"]
#[allow(dead_code)]
mod outbound;

use std::path::Path;
use std::process::Command;

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let root = Path::new(&manifest_dir).join("../..");
    let read = |name: &str| {
        let path = root.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    };
    let spin_toml = read("spin.toml");
    let lock = read("Cargo.lock");
    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.toml").display()
    );
    for entry in std::fs::read_dir(root.join("components")).expect("components/ is readable") {
        let toml = entry
            .expect("components/ is readable")
            .path()
            .join("Cargo.toml");
        if toml.exists() {
            println!("cargo:rerun-if-changed={}", toml.display());
        }
    }

    let outbound_hosts = outbound::from_manifest(&spin_toml).unwrap_or_else(|e| panic!("{e}"));
    let components = spin_components(&spin_toml);

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .args(["metadata", "--offline", "--locked", "--format-version", "1"])
        .args(["--filter-platform", "wasm32-wasip2", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .output()
        .expect("running cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    let bom = cyclonedx::document(&metadata, &lock, &components, &version)
        .unwrap_or_else(|e| panic!("generating the SBOM: {e}"));
    let sbom_path = Path::new(&out_dir).join("sbom.cdx.json");
    std::fs::write(&sbom_path, serde_json::to_vec(&bom).expect("JSON"))
        .expect("OUT_DIR is writable");

    let mut rs = String::from(
        "/// What build.rs found: the SBOM and spin.toml's outbound hosts.\n\
         pub const EMBEDDED: echopilot_core::security::embedded::Embedded = echopilot_core::security::embedded::Embedded {\n",
    );
    rs.push_str(&format!(
        "    sbom: include_str!({:?}),\n    outbound_hosts: &[\n",
        sbom_path.display().to_string()
    ));
    for (component, entry) in &outbound_hosts {
        rs.push_str(&format!("        ({component:?}, {entry:?}),\n"));
    }
    rs.push_str("    ],\n};\n");
    std::fs::write(Path::new(&out_dir).join("embedded.rs"), rs).expect("OUT_DIR is writable");
}

/// The components spin.toml declares (`[component.NAME]` tables), each a
/// crate of this workspace.
fn spin_components(manifest: &str) -> Vec<String> {
    manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("[component.")?.strip_suffix(']'))
        .filter(|name| !name.contains('.'))
        .map(str::to_string)
        .collect()
}
