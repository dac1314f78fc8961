//! Packing `static/` into assets: every file with its strong ETag, and
//! text kept gzip-compressed when that saves space. This one file runs in
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
    /// The bytes as stored: gzip-compressed when `gzip`.
    pub body: Vec<u8>,
    /// Whether `body` is gzip.
    pub gzip: bool,
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

/// `content` as it is stored: gzip when the type compresses and gzip saves
/// at least a tenth.
pub fn pack(path: &str, content: &[u8]) -> io::Result<Packed> {
    let tag = etag(content);
    if compressible(path) {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(content)?;
        let gz = enc.finish()?;
        if gz.len() * 10 <= content.len() * 9 {
            return Ok(Packed {
                path: path.to_string(),
                body: gz,
                gzip: true,
                etag: tag,
            });
        }
    }
    Ok(Packed {
        path: path.to_string(),
        body: content.to_vec(),
        gzip: false,
        etag: tag,
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
