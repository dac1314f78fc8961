//! Packing `static/` into assets: every file with its strong ETag, and for
//! text its gzip form too when that saves space (both are kept: a client
//! without gzip gets the file as is, with no decompression per request). This one file runs in
//! two places: the static-files component's build script (which includes it
//! with `#[path]` and embeds the result in the component) and native code
//! (tests read the directory with it), so both see the same assets. It uses
//! only `std`, `sha2` and `flate2`.

use sha2::{Digest, Sha256};
use std::io::{self, Write};
use std::path::Path;

/// One packed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// Its path under the root, `/`-separated, no leading `/`.
    pub path: String,
    /// The file's bytes.
    pub body: Vec<u8>,
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
/// and gzip saves at least a tenth.
pub fn pack(path: &str, content: &[u8]) -> io::Result<Packed> {
    let gzip = if compressible(path) {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(content)?;
        Some(enc.finish()?).filter(|gz| gz.len() * 10 <= content.len() * 9)
    } else {
        None
    };
    Ok(Packed {
        path: path.to_string(),
        body: content.to_vec(),
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
