//! `allowed_outbound_hosts`: parsing and matching with the rules of Spin
//! 4.0's `spin-outbound-networking-config` (scheme, host, port; `*`
//! wildcards, `*.domain` subdomains, CIDR ranges, port ranges `a..b`,
//! well-known default ports, `self` / `self.alt` for relative requests).

use crate::template::{self, Template};
use anyhow::{bail, ensure, Context, Result};
use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
enum SchemeRule {
    Any,
    One(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    Any,
    AnySubdomain(String),
    ToSelf,
    Literal(url::Host),
    Cidr(IpAddr, u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortRule {
    Any,
    Port(u16),
    Range(Range<u16>),
}

/// One parsed `allowed_outbound_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    original: String,
    scheme: SchemeRule,
    host: HostRule,
    port: PortRule,
}

/// The default port of a scheme, as Spin knows them.
pub fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

fn parse_cidr(host: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = match host.split_once('/') {
        Some((ip, bits)) => (ip, Some(bits)),
        None => (host, None),
    };
    let ip: IpAddr = ip.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max)?,
        None => max,
    };
    Some((ip, bits))
}

fn cidr_contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits as u32)
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits as u32)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

impl AllowedHost {
    /// Parse one entry (`scheme://host[:port]`).
    pub fn parse(entry: &str) -> Result<AllowedHost> {
        let original = entry.to_string();
        let url = entry.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            match url {
                "*" | ":" | "" | "?" => bail!("{url:?} is not an allowed outbound host format.\nHosts must be in the form <scheme>://<host>[:<port>], with '*' wildcards allowed for each."),
                _ => bail!("{url:?} does not contain a scheme (e.g., 'http://' or '*://')"),
            }
        };
        let (host, rest) = rest.rsplit_once(':').unwrap_or((rest, ""));
        let port = match rest.split_once('/') {
            Some((port, path)) => {
                ensure!(path.is_empty(), "{url:?} has a path but is not allowed to");
                port
            }
            None => rest,
        };
        let port = Self::parse_port(port, scheme)
            .with_context(|| format!("Invalid allowed host port {port:?}"))?;
        let scheme_rule = if scheme == "*" {
            SchemeRule::Any
        } else {
            ensure!(!scheme.starts_with('{'), "scheme lists are not supported");
            ensure!(
                scheme.chars().all(char::is_alphabetic),
                "Invalid allowed host scheme {scheme:?}: only alphabetic characters are allowed"
            );
            SchemeRule::One(scheme.to_string())
        };
        let host =
            Self::parse_host(host).with_context(|| format!("Invalid allowed host {host:?}"))?;
        Ok(AllowedHost {
            original,
            scheme: scheme_rule,
            host,
            port,
        })
    }

    fn parse_port(port: &str, scheme: &str) -> Result<PortRule> {
        if port.is_empty() {
            return well_known_port(scheme).map(PortRule::Port).with_context(|| {
                format!("no port was provided and the scheme {scheme:?} does not have a known default port number")
            });
        }
        if port == "*" {
            return Ok(PortRule::Any);
        }
        ensure!(!port.starts_with('{'), "port lists are not yet supported");
        if let Some((a, b)) = port.split_once("..") {
            let a: u16 = a
                .parse()
                .with_context(|| format!("port range {port:?} contains non-number"))?;
            let b: u16 = b
                .parse()
                .with_context(|| format!("port range {port:?} contains non-number"))?;
            return Ok(PortRule::Range(a..b));
        }
        Ok(PortRule::Port(port.parse().with_context(|| {
            format!("port {port:?} is not a number")
        })?))
    }

    fn parse_host(host: &str) -> Result<HostRule> {
        let host = host.trim();
        if host == "*" {
            return Ok(HostRule::Any);
        }
        if host == "self" || host == "self.alt" {
            return Ok(HostRule::ToSelf);
        }
        if host.starts_with('{') {
            ensure!(host.ends_with('}'));
            bail!("host lists are not yet supported");
        }
        if let Some((ip, bits)) = parse_cidr(host) {
            return Ok(HostRule::Cidr(ip, bits));
        }
        let host = host.trim_end_matches('/');
        ensure!(!host.contains('/'), "must not include a path");
        if let Some(domain) = host.strip_prefix("*.") {
            ensure!(
                !domain.contains('*'),
                "wildcards are allowed only as prefixes"
            );
            return Ok(HostRule::AnySubdomain(format!(".{domain}")));
        }
        ensure!(
            !host.contains('*'),
            "wildcards are allowed only as subdomains"
        );
        Ok(HostRule::Literal(url::Host::parse(host)?))
    }

    fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let scheme_ok = match &self.scheme {
            SchemeRule::Any => true,
            SchemeRule::One(s) => s == scheme,
        };
        let Ok(host) = url::Host::parse(host) else {
            return false;
        };
        let host_ok = match (&self.host, &host) {
            (HostRule::Any, _) => true,
            (HostRule::AnySubdomain(suffix), url::Host::Domain(d)) => d.ends_with(suffix.as_str()),
            (HostRule::Literal(l), h) => l == h,
            (HostRule::Cidr(n, b), url::Host::Ipv4(ip)) => cidr_contains(*n, *b, IpAddr::V4(*ip)),
            (HostRule::Cidr(n, b), url::Host::Ipv6(ip)) => cidr_contains(*n, *b, IpAddr::V6(*ip)),
            _ => false,
        };
        let port_ok = match &self.port {
            PortRule::Any => true,
            rule => match port.or_else(|| well_known_port(scheme)) {
                Some(p) => match rule {
                    PortRule::Port(q) => p == *q,
                    PortRule::Range(r) => r.contains(&p),
                    PortRule::Any => true,
                },
                None => false,
            },
        };
        scheme_ok && host_ok && port_ok
    }

    fn allows_relative(&self, schemes: &[&str]) -> bool {
        let scheme_ok = schemes.iter().any(|s| match &self.scheme {
            SchemeRule::Any => true,
            SchemeRule::One(x) => x == s,
        });
        scheme_ok && matches!(self.host, HostRule::Any | HostRule::ToSelf)
    }
}

impl std::fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.original)
    }
}

/// A component's resolved `allowed_outbound_hosts`.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    hosts: Vec<AllowedHost>,
}

impl AllowedHosts {
    /// Load-time validation (spin-loader): literal entries must parse;
    /// templated entries are resolved with `defaults` and must parse, unless
    /// a variable they use has no default (then they are checked at use).
    pub fn validate(entries: &[String], defaults: &HashMap<String, String>) -> Result<()> {
        if entries.len() == 1 && entries[0] == "insecure:allow-all" {
            bail!("'insecure:allow-all' is not allowed - use '*://*:*' instead if you really want to allow all outbound traffic'");
        }
        for e in entries {
            let t = Template::parse(e)?;
            if t.is_literal() {
                AllowedHost::parse(e)?;
            } else if let Ok(resolved) = template::resolve(&t, defaults) {
                AllowedHost::parse(&resolved).with_context(|| {
                    format!("using default variable value(s) with template {e:?} results in invalid config {resolved:?}")
                })?;
            }
        }
        Ok(())
    }

    /// Resolve every entry with the app's variable values and parse it, as
    /// Spin does when a component first checks a request.
    pub fn resolve(entries: &[String], values: &HashMap<String, String>) -> Result<AllowedHosts> {
        if entries.len() == 1 && entries[0] == "insecure:allow-all" {
            bail!("'insecure:allow-all' is not allowed");
        }
        let mut hosts = Vec::new();
        for e in entries {
            let t = Template::parse(e)?;
            let resolved = template::resolve(&t, values)?;
            hosts.push(AllowedHost::parse(&resolved)?);
        }
        Ok(AllowedHosts { hosts })
    }

    /// Whether an absolute URL is allowed. An unparsable URL is not.
    pub fn allows_url(&self, url: &str) -> bool {
        let parsed = match url::Url::parse(url) {
            Ok(u) if u.has_host() => u,
            _ => match url::Url::parse(&format!("https://{url}")) {
                Ok(u) => u,
                Err(_) => return false,
            },
        };
        let Some(host) = parsed.host_str() else {
            return false;
        };
        self.hosts
            .iter()
            .any(|h| h.allows(parsed.scheme(), host, parsed.port()))
    }

    /// Whether a relative ("self") request with one of `schemes` is allowed.
    pub fn allows_relative(&self, schemes: &[&str]) -> bool {
        self.hosts.iter().any(|h| h.allows_relative(schemes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        AllowedHosts::resolve(&entries, &HashMap::new()).unwrap()
    }

    #[test]
    fn parses_spin_forms() {
        for ok in [
            "https://api.openai.com",
            "http://127.0.0.1:8080",
            "http://localhost:*",
            "*://*:*",
            "https://*.example.com",
            "http://10.0.0.0/8:80",
            "http://[::1]:3000",
            "http://127.0.0.1:3000..4000",
            "http://self",
            "https://api.example.com/",
            "redis://cache",
        ] {
            AllowedHost::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e:#}"));
        }
        for bad in [
            "",
            "*",
            "api.openai.com",
            "https://",
            "https://api.example.com/v1",
            "foo://example.com",
            "https://a.*.com",
            "https://ex*mple.com",
            "h2p://x:1",
            "insecure:allow-all",
        ] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn matches_like_spin() {
        let h = hosts(&["https://api.openai.com", "http://127.0.0.1:*"]);
        assert!(h.allows_url("https://api.openai.com/v1/chat"));
        assert!(h.allows_url("https://api.openai.com:443/"));
        assert!(!h.allows_url("https://api.openai.com:8443/"));
        assert!(!h.allows_url("http://api.openai.com/"));
        assert!(!h.allows_url("https://evil.example.com/"));
        assert!(h.allows_url("http://127.0.0.1:39999/x"));
        assert!(!h.allows_url("http://localhost:39999/x"));
        let w = hosts(&["https://*.example.com", "*://10.0.0.0/8:*"]);
        assert!(w.allows_url("https://a.example.com/"));
        assert!(!w.allows_url("https://example.com/"));
        assert!(w.allows_url("http://10.1.2.3:99/"));
        assert!(!w.allows_url("http://11.1.2.3:99/"));
        let r = hosts(&["http://127.0.0.1:3000..3002"]);
        assert!(r.allows_url("http://127.0.0.1:3001/"));
        assert!(!r.allows_url("http://127.0.0.1:3002/"));
        assert!(hosts(&["http://self"]).allows_relative(&["http", "https"]));
        assert!(!hosts(&["https://x.com"]).allows_relative(&["http", "https"]));
        assert!(!AllowedHosts::default().allows_url("https://x.com/"));
    }

    #[test]
    fn templates_check_defaults_at_load() {
        let mut d = HashMap::new();
        d.insert("h".to_string(), String::new());
        let e = vec!["https://{{ h }}".to_string()];
        assert!(AllowedHosts::validate(&e, &d).is_err());
        d.insert("h".to_string(), "api.example.com".to_string());
        assert!(AllowedHosts::validate(&e, &d).is_ok());
        // No default: left for run time.
        assert!(AllowedHosts::validate(&e, &HashMap::new()).is_ok());
    }
}
