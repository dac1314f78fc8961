//! Embeds build information (git sha, dirty flag, build time) into the core
//! library, so every job and audit record can name the code that produced it.
//!
//! The dirty flag describes the product sources (components, wit, static,
//! manifest and lock files). The build script re-runs when one of them
//! changes, or when the commit changes (HEAD, and the ref it points to), so
//! the sha and the flag are never stale for a build of those sources.
//!
//! It watches only files that exist and that a commit or checkout rewrites:
//! never `.git/index` (every `git status` rewrites it) nor a missing
//! `packed-refs` (a missing file is always stale to cargo). Either would
//! rebuild the core library, and with it every component, on each `spin
//! build` of an unchanged tree.

use std::path::{Path, PathBuf};
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

/// The git files whose change means a new sha: HEAD; the loose file of the
/// ref HEAD names (a commit rewrites it), or, when the ref is packed and has
/// no loose file, the folder where a commit will create one; and
/// `packed-refs` when it exists. Never the folder when the file exists: all
/// branches (and all linked worktrees) share it, so a commit on any other
/// branch would rebuild this one. `--git-path` resolves each path in a
/// linked worktree.
fn git_watch_list(root: &Path) -> Vec<PathBuf> {
    let path_of = |p: &str| {
        git(
            root,
            &["rev-parse", "--path-format=absolute", "--git-path", p],
        )
        .map(PathBuf::from)
    };
    let mut files: Vec<PathBuf> = path_of("HEAD").into_iter().collect();
    if let Some(name) = git(root, &["symbolic-ref", "-q", "HEAD"]) {
        let watched = path_of(&name).and_then(|loose| {
            if loose.is_file() {
                Some(loose)
            } else {
                loose.parent().filter(|d| d.is_dir()).map(Path::to_path_buf)
            }
        });
        files.extend(watched);
    }
    files.extend(path_of("packed-refs").filter(|p| p.is_file()));
    files
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

    for f in git_watch_list(&root) {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    for p in PRODUCT_PATHS {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
}
