//! Turning a request path into a safe relative file path.

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// Traversal, an absolute path, an encoded separator or a control byte.
    Forbidden(String),
}

/// The file path (relative, `/`-separated, maybe empty for the index) for
/// the raw request path, or why it is refused. Refused: `..` and `.`
/// segments (also percent-encoded), encoded `/` or `\`, backslashes, NUL and
/// other control bytes, empty segments (`//etc/passwd`), Windows drive
/// letters and hidden files.
pub fn resolve(raw: &str) -> Result<String, PathError> {
    let bad = |why: &str| Err(PathError::Forbidden(format!("path refused: {why}")));
    let lower = raw.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || lower.contains("%00") {
        return bad("encoded separators and NUL are not allowed");
    }
    let decoded = match crate::http::request::percent_decode(raw) {
        Some(d) => d,
        None => return bad("malformed percent-encoding"),
    };
    if decoded.bytes().any(|b| b == b'\\' || b < 0x20 || b == 0x7f) {
        return bad("backslashes and control characters are not allowed");
    }
    let Some(rest) = decoded.strip_prefix('/') else {
        return bad("the path must start with /");
    };
    let trailing_slash = rest.ends_with('/');
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    if rest.is_empty() {
        return Ok(String::new());
    }
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() {
            return bad("empty segments (absolute paths) are not allowed");
        }
        if *seg == ".." || *seg == "." {
            return bad("`.` and `..` segments are not allowed");
        }
        if seg.starts_with('.') {
            return bad("hidden files are not served");
        }
        if i == 0 && seg.len() == 2 && seg.ends_with(':') {
            return bad("drive letters are not allowed");
        }
    }
    let mut out = segments.join("/");
    if trailing_slash {
        out.push('/');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_resolve() {
        assert_eq!(resolve("/").unwrap(), "");
        assert_eq!(resolve("/index.html").unwrap(), "index.html");
        assert_eq!(resolve("/css/app.css").unwrap(), "css/app.css");
        assert_eq!(resolve("/docs/").unwrap(), "docs/");
        assert_eq!(resolve("/a%20b.txt").unwrap(), "a b.txt");
    }

    #[test]
    fn traversal_and_absolute_paths_are_refused() {
        for raw in [
            "/../etc/passwd",
            "/css/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E/%2E%2E/etc/passwd",
            "/..%2fetc%2fpasswd",
            "/%2fetc/passwd",
            "//etc/passwd",
            "/css//x",
            "/..\\windows",
            "/%5c..%5cwindows",
            "/a%00.html",
            "/c:/windows/win.ini",
            "/.env",
            "/.git/config",
            "/./index.html",
            "/%zz",
            "relative",
        ] {
            assert!(resolve(raw).is_err(), "{raw} should be refused");
        }
    }
}
