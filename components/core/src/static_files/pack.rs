//! Packing `static/` into assets: every file with its strong ETag, and for
//! text its gzip form when that saves space. Above [`KEEP_PLAIN_MAX`] bytes
//! a text file is kept in its gzip form only: every byte embedded is
//! copied into each instance of the component, that is into every request
//! (measured under Spin 4.0.2: about 0.14 µs of CPU per KiB per request),
//! while only a client that refuses gzip pays for inflating it. Browsers
//! all accept gzip. For the same reason `static/` is split between two
//! components ([`Part`]): the pages a visitor opens, and the scripts,
//! styles and catalogues they load. This one file runs in two places: the
//! static components' build scripts (which include it with `#[path]` and
//! call [`embed`]) and native code (tests read the directory with it), so
//! both see the same assets. It uses only `std`, `sha2` and `flate2`.

use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

/// Which static component serves a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// static-files: the pages (landing, about, legal, the console's page
    /// at `/app/`), icons, the web manifest and the service worker.
    Pages,
    /// static-assets: what pages load, under [`ASSET_DIRS`].
    Assets,
}

/// The folders static-assets serves (Spin routes `/{dir}/...` to it).
pub const ASSET_DIRS: &[&str] = &["css", "i18n", "js"];

/// The page both components answer a browser's 404 with.
pub const NOT_FOUND_PAGE: &str = "404.html";

impl Part {
    /// Whether this part embeds the file at `path` (relative to `static/`).
    pub fn holds(self, path: &str) -> bool {
        let top = path.split('/').next().unwrap_or("");
        let asset = path.contains('/') && ASSET_DIRS.contains(&top);
        match self {
            Part::Pages => !asset,
            Part::Assets => asset || path == NOT_FOUND_PAGE,
        }
    }
}

/// Text files up to this size keep their plain form beside the gzip one (a
/// small file costs little to carry, and a client without gzip then costs
/// no inflating); larger ones keep the gzip form only.
pub const KEEP_PLAIN_MAX: usize = 8192;

/// One packed file: its plain form, its gzip form, or both (never neither).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// Its path under the root, `/`-separated, no leading `/`.
    pub path: String,
    /// The file's bytes, unless it is text over [`KEEP_PLAIN_MAX`] bytes.
    pub plain: Option<Vec<u8>>,
    /// Its gzip form, when the type compresses and that saves a tenth.
    pub gzip: Option<Vec<u8>>,
    /// The strong ETag of the file's content (quoted).
    pub etag: String,
}

/// The strong ETag of `content`: 96 bits of its SHA-256, quoted.
pub fn etag(content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Types worth compressing (images and fonts already are).
fn compressible(path: &str) -> bool {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    matches!(
        ext.as_deref(),
        Some(
            "html"
                | "htm"
                | "css"
                | "js"
                | "mjs"
                | "json"
                | "map"
                | "webmanifest"
                | "svg"
                | "txt"
                | "xml"
        )
    )
}

/// `content` packed: its tag, and its gzip form when the type compresses
/// and gzip saves at least a tenth (then the plain form only when it is
/// small).
pub fn pack(path: &str, content: &[u8]) -> io::Result<Packed> {
    let gzip = if compressible(path) {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(content)?;
        Some(enc.finish()?).filter(|gz| gz.len() * 10 <= content.len() * 9)
    } else {
        None
    };
    let plain = (gzip.is_none() || content.len() <= KEEP_PLAIN_MAX).then(|| content.to_vec());
    Ok(Packed {
        path: path.to_string(),
        plain,
        gzip,
        etag: etag(content),
    })
}

/// Every file under `root` (hidden files and folders left out), packed and
/// sorted by path.
pub fn pack_dir(root: &Path) -> io::Result<Vec<Packed>> {
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The files of `root` that `part` serves, packed and sorted by path.
pub fn pack_part(root: &Path, part: Part) -> io::Result<Vec<Packed>> {
    let mut all = pack_dir(root)?;
    all.retain(|p| part.holds(&p.path));
    Ok(all)
}

/// The static components' stack (Rust's default on wasm is 1 MiB). Every
/// instance's linear memory is the stack, the embedded files and the heap,
/// and Spin 4.0.2 pays for it on each request (measured: about 0.045 µs of
/// CPU per KiB; docs/PERFORMANCE.md). Serving a file never recurses deeply
/// and parses no request body, so a quarter of the default is ample.
pub const STACK_BYTES: usize = 256 * 1024;

/// A static component's build script: sets its stack ([`STACK_BYTES`]),
/// packs the files of `static/` (two folders up from the component) that `part` serves into `OUT_DIR`, and
/// writes `assets.rs`, an `ASSETS` table sorted by path for
/// [`crate::static_files::static_component`] to include. Reruns when
/// anything under `static/` changes.
pub fn embed(part: Part) {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg=-zstack-size={STACK_BYTES}");
    }
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let root = Path::new(&manifest).join("../../static");
    println!("cargo:rerun-if-changed={}", root.display());
    let assets = pack_part(&root, part).expect("static/ is readable");
    let dir = Path::new(&out).join("assets");
    std::fs::create_dir_all(&dir).expect("OUT_DIR is writable");
    let mut table = String::from(
        "/// The files of `static/` this component serves, sorted by path (generated by build.rs).\n\
         pub static ASSETS: &[echopilot_core::static_files::Asset] = &[\n",
    );
    for (i, a) in assets.iter().enumerate() {
        // Each form in its own file, included as bytes (`None` when not kept).
        let embed_form = |form: &Option<Vec<u8>>, ext: &str| match form {
            Some(bytes) => {
                let file = dir.join(format!("{i}.{ext}"));
                std::fs::write(&file, bytes).expect("OUT_DIR is writable");
                format!("Some(include_bytes!({:?}))", file.display().to_string())
            }
            None => "None".to_string(),
        };
        writeln!(
            table,
            "    echopilot_core::static_files::Asset {{ path: {:?}, plain: {}, gzip: {}, etag: {:?} }},",
            a.path,
            embed_form(&a.plain, "bin"),
            embed_form(&a.gzip, "gz"),
            a.etag
        )
        .expect("writing to a String");
    }
    table.push_str("];\n");
    std::fs::write(Path::new(&out).join("assets.rs"), table).expect("OUT_DIR is writable");
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Packed>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(root, &path, out)?;
        } else {
            let rel = path
                .strip_prefix(root)
                .map_err(io::Error::other)?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push(pack(&rel, &std::fs::read(&path)?)?);
        }
    }
    Ok(())
}
