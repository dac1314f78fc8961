//! Embeds build information (git sha, dirty flag, build time) into the core
//! library, so every job and audit record can name the code that produced it.
//!
//! The dirty flag describes the product sources (components, wit, static,
//! manifest and lock files): the build script re-runs when any of them or the
//! git index changes, so the flag is never stale for a build of those sources.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

const PRODUCT_PATHS: &[&str] = &[
    "components",
    "wit",
    "static",
    "spin.toml",
    "Cargo.toml",
    "Cargo.lock",
];

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir).join("../..");

    let sha = git(&root, &["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_string());
    let mut status_args = vec!["status", "--porcelain", "--untracked-files=normal", "--"];
    status_args.extend_from_slice(PRODUCT_PATHS);
    let dirty = match git(&root, &status_args) {
        Some(s) => !s.is_empty(),
        None => sha == "unknown",
    };
    let build_time = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });

    println!("cargo:rustc-env=ECHOPILOT_GIT_SHA={sha}");
    println!("cargo:rustc-env=ECHOPILOT_GIT_DIRTY={dirty}");
    println!("cargo:rustc-env=ECHOPILOT_BUILD_UNIX={build_time}");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");

    if let Some(git_dir) = git(&root, &["rev-parse", "--absolute-git-dir"]) {
        let git_dir = Path::new(&git_dir);
        for f in ["HEAD", "index", "refs", "packed-refs"] {
            println!("cargo:rerun-if-changed={}", git_dir.join(f).display());
        }
    }
    for p in PRODUCT_PATHS {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
}
