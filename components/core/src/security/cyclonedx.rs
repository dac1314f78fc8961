//! The software bill of materials as a CycloneDX 1.5 JSON document, built
//! from `cargo metadata` and `Cargo.lock`.
//!
//! Runs at build time: `components/api-security/build.rs` includes this file
//! (`#[path]`), so it uses nothing but `serde_json` and `sha2`. Core's tests
//! run it natively on a small metadata document.
//!
//! What the document holds, for an auditor:
//! - `metadata.component`: the application (`echopilot`);
//! - `components`: every Spin component (`type: application`) and every
//!   crate linked into at least one of them (`type: library`), each with
//!   name, version, license (an SPDX expression), purl
//!   (`pkg:cargo/name@version`), the crates.io checksum from `Cargo.lock`
//!   (SHA-256) and the repository when the crate names one;
//! - `dependencies`: the graph, so each component's own list is the
//!   closure from its entry: what is linked into `api-billing` is exactly
//!   what is reachable from `pkg:cargo/api-billing@…`.
//!
//! "Linked" means normal dependencies for `wasm32-wasip2` (the metadata is
//! filtered to that platform): build scripts' and tests' dependencies and
//! procedural macros run at compile time only and are left out, and so are
//! native-only crates (core's SQLite binding, for instance). Features are
//! those cargo resolves for the whole workspace, so a crate another member
//! turns on may be listed where it is compiled out: the list can only be
//! longer than the truth, never shorter.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// The CycloneDX version the document declares.
pub const SPEC_VERSION: &str = "1.5";

/// The bom-ref of the application itself.
pub const APP_REF: &str = "echopilot";

/// A crate as the document lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Crate {
    name: String,
    version: String,
    license: Option<String>,
    repository: Option<String>,
    proc_macro: bool,
}

impl Crate {
    fn purl(&self) -> String {
        purl(&self.name, &self.version)
    }
}

/// The package URL of a Cargo crate (`pkg:cargo/name@version`). Crate names
/// are ASCII letters, digits, `-` and `_`, which need no escaping.
pub fn purl(name: &str, version: &str) -> String {
    format!("pkg:cargo/{name}@{version}")
}

/// An SPDX license expression from Cargo's `license` field: the old `/`
/// separator (`MIT/Apache-2.0`) is `OR`.
pub fn spdx_expression(license: &str) -> String {
    license
        .split('/')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The SHA-256 checksum of each registry crate in `Cargo.lock`, by
/// `(name, version)`.
pub fn lock_checksums(lock: &str) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |key: &str| {
            block.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
            })
        };
        if let (Some(name), Some(version), Some(sum)) =
            (field("name"), field("version"), field("checksum"))
        {
            out.insert((name, version), sum);
        }
    }
    out
}

/// The document for `components` (Spin component names, each a workspace
/// package), from `metadata` (`cargo metadata --format-version 1
/// --filter-platform wasm32-wasip2`) and `lock` (the text of `Cargo.lock`).
/// `app_version` is the application's version. Errors name what is missing.
pub fn document(
    metadata: &Value,
    lock: &str,
    components: &[String],
    app_version: &str,
) -> Result<Value, String> {
    let mut crates: BTreeMap<String, Crate> = BTreeMap::new();
    for p in metadata["packages"]
        .as_array()
        .ok_or("metadata has no packages")?
    {
        let text = |k: &str| p[k].as_str().map(str::to_string);
        let id = text("id").ok_or("a package has no id")?;
        crates.insert(
            id,
            Crate {
                name: text("name").ok_or("a package has no name")?,
                version: text("version").ok_or("a package has no version")?,
                license: text("license").map(|l| spdx_expression(&l)),
                repository: text("repository"),
                proc_macro: p["targets"].as_array().is_some_and(|ts| {
                    ts.iter().any(|t| {
                        t["kind"]
                            .as_array()
                            .is_some_and(|k| k.iter().any(|k| k == "proc-macro"))
                    })
                }),
            },
        );
    }
    // The linked edges of the resolved graph.
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in metadata["resolve"]["nodes"]
        .as_array()
        .ok_or("metadata has no resolve graph")?
    {
        let id = node["id"].as_str().ok_or("a node has no id")?;
        let deps = node["deps"].as_array().map_or(&[][..], Vec::as_slice);
        let linked = deps
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .is_some_and(|ks| ks.iter().any(|k| k["kind"].is_null()))
            })
            .filter_map(|d| d["pkg"].as_str())
            .filter(|pkg| crates.get(*pkg).is_some_and(|c| !c.proc_macro))
            .map(str::to_string)
            .collect();
        edges.insert(id.to_string(), linked);
    }
    // Each Spin component's package, then everything reachable from it.
    let mut roots = Vec::new();
    for name in components {
        let id = crates
            .iter()
            .find(|(id, c)| &c.name == name && edges.contains_key(*id))
            .map(|(id, _)| id.clone())
            .ok_or_else(|| format!("component `{name}` is not a package of the workspace"))?;
        roots.push(id);
    }
    let mut reached = BTreeSet::new();
    let mut stack = roots.clone();
    while let Some(id) = stack.pop() {
        if reached.insert(id.clone()) {
            stack.extend(edges.get(&id).into_iter().flatten().cloned());
        }
    }

    let checksums = lock_checksums(lock);
    let mut listed = Vec::new();
    let mut graph = vec![json!({
        "ref": APP_REF,
        "dependsOn": sorted_unique(roots.iter().map(|id| crates[id].purl())),
    })];
    for id in &reached {
        let c = &crates[id];
        let mut entry = Map::new();
        let kind = if roots.contains(id) {
            "application"
        } else {
            "library"
        };
        entry.insert("type".into(), json!(kind));
        entry.insert("bom-ref".into(), json!(c.purl()));
        entry.insert("name".into(), json!(c.name));
        entry.insert("version".into(), json!(c.version));
        entry.insert("scope".into(), json!("required"));
        if let Some(l) = &c.license {
            entry.insert("licenses".into(), json!([{ "expression": l }]));
        }
        entry.insert("purl".into(), json!(c.purl()));
        if let Some(sum) = checksums.get(&(c.name.clone(), c.version.clone())) {
            entry.insert(
                "hashes".into(),
                json!([{ "alg": "SHA-256", "content": sum }]),
            );
        }
        if let Some(repo) = &c.repository {
            entry.insert(
                "externalReferences".into(),
                json!([{ "type": "vcs", "url": repo }]),
            );
        }
        listed.push(Value::Object(entry));
        graph.push(json!({
            "ref": c.purl(),
            "dependsOn": sorted_unique(edges[id].iter().map(|d| crates[d].purl())),
        }));
    }
    listed.sort_by(|a, b| a["bom-ref"].as_str().cmp(&b["bom-ref"].as_str()));
    graph.sort_by(|a, b| a["ref"].as_str().cmp(&b["ref"].as_str()));
    // The serial number names the content: the same graph, the same number.
    let digest =
        Sha256::digest(serde_json::to_vec(&json!([&listed, &graph])).map_err(|e| e.to_string())?);
    Ok(json!({
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": serial_number(&digest),
        "version": 1,
        "metadata": {
            "tools": { "components": [{
                "type": "application",
                "name": "echopilot-sbom",
                "version": app_version,
                "description": "components/api-security/build.rs: cargo metadata for wasm32-wasip2 and Cargo.lock",
            }]},
            "component": {
                "type": "application",
                "bom-ref": APP_REF,
                "name": "echopilot",
                "version": app_version,
                "description": "EchoPilot: a Spin application, one WebAssembly component per API area and scheduled job",
            },
        },
        "components": listed,
        "dependencies": graph,
    }))
}

fn sorted_unique(refs: impl Iterator<Item = String>) -> Vec<String> {
    refs.collect::<BTreeSet<_>>().into_iter().collect()
}

/// A `urn:uuid:` (version 5 layout, RFC 4122 variant) from a digest.
fn serial_number(digest: &[u8]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
