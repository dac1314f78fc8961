//! The hosts each component may reach (`allowed_outbound_hosts` in
//! spin.toml), for the configuration scan.
//!
//! Spin does not tell a component its own manifest, so
//! `components/api-security/build.rs` reads spin.toml with
//! [`from_manifest`] (this file is included there by `#[path]`, so it uses
//! nothing from the crate) and embeds the entries; the scan resolves their
//! `{{ variable }}` templates with the running configuration and judges
//! each with [`too_wide`].

/// Every `(component, entry)` of spin.toml's `allowed_outbound_hosts`
/// lists, in file order. The manifest keeps each list on one line (as this
/// repository's spin.toml does); a list spread over several lines is an
/// error rather than a silently shorter list.
pub fn from_manifest(manifest: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut component: Option<&str> = None;
    for (n, line) in manifest.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            component = line
                .strip_prefix("[component.")
                .and_then(|r| r.strip_suffix(']'))
                .filter(|name| !name.contains('.'));
            continue;
        }
        let Some(list) = line
            .strip_prefix("allowed_outbound_hosts")
            .and_then(|r| r.trim_start().strip_prefix('='))
        else {
            continue;
        };
        let name = component.ok_or(format!(
            "spin.toml line {}: allowed_outbound_hosts outside a [component.*] table",
            n + 1
        ))?;
        let list = list.trim();
        let inner = list
            .strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
            .ok_or(format!(
                "spin.toml line {}: keep allowed_outbound_hosts on one line",
                n + 1
            ))?;
        for entry in inner.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let entry = entry
                .strip_prefix('"')
                .and_then(|e| e.strip_suffix('"'))
                .ok_or(format!("spin.toml line {}: {entry} is not a string", n + 1))?;
            out.push((name.to_string(), entry.to_string()));
        }
    }
    Ok(out)
}

/// Why a resolved entry allows more than one service needs, if it does:
/// any wildcard (scheme, host, subdomain or port), or plain `http` to a
/// host that is not this machine (anyone on the path can read and change
/// the traffic).
pub fn too_wide(entry: &str) -> Option<&'static str> {
    if entry.contains('*') {
        return Some("a wildcard allows any host, port or scheme it stands for");
    }
    if let Some(rest) = entry.strip_prefix("http://") {
        let host = rest.split(['/', ':']).next().unwrap_or("");
        let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]") || host.is_empty();
        if !loopback {
            return Some(
                "plain http to another machine: the traffic can be read and changed on the way",
            );
        }
    }
    None
}

/// `entry` with each `{{ name }}` template replaced by `value(name)`.
/// Returns the result and whether it held any template.
pub fn resolve(entry: &str, mut value: impl FnMut(&str) -> String) -> (String, bool) {
    let mut out = String::new();
    let mut rest = entry;
    let mut templated = false;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&value(rest[start + 2..start + len].trim()));
        rest = &rest[start + len + 2..];
        templated = true;
    }
    out.push_str(rest);
    (out, templated)
}
