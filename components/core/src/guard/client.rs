//! The client's address, for rate limits, sign-in throttles and intake
//! budgets.
//!
//! The address is the peer Spin saw (`spin-client-addr`, the last one:
//! Spin appends its headers after the client's). Behind a load balancer or
//! an ingress that peer is the proxy, so every client would share one
//! address and every per-address limit would become one global limit.
//! When the peer is one of the `trusted_proxies` (comma-separated CIDRs,
//! empty by default), the forwarding header those proxies write is read
//! from the right: each hop that is itself a trusted proxy is skipped, and
//! the first address that is not is the client. Anything to its left was
//! written by the client and is never believed. Which header the proxies
//! write is `trusted_proxy_header`: `x-forwarded-for` (default) or
//! `forwarded` (RFC 7239); only that one is read, so a client cannot slip
//! a forged value in through the other.

use crate::config;
use crate::error::{Error, Result};
use crate::http::Request;
use crate::ports::Env;
use std::net::{IpAddr, Ipv6Addr};

/// An address block: an address and how many leading bits are fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Parse `10.0.0.0/8`, `2001:db8::/32` or a single address (all bits).
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let net = normalize(addr.trim().parse::<IpAddr>().ok()?);
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        (bits <= max).then_some(Cidr { net, bits })
    }

    /// Whether `ip` is in this block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, normalize(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) as the IPv4 address.
fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let whole = usize::from(bits / 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    let rest = bits % 8;
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
}

/// The forwarding header the trusted proxies write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

/// The proxies whose forwarding header is believed, and that header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxies {
    /// The `trusted_proxies` blocks (none: the peer is always the client).
    pub trusted: Vec<Cidr>,
    /// `trusted_proxy_header`.
    pub header: ForwardHeader,
}

impl Proxies {
    /// The settings from `trusted_proxies` and `trusted_proxy_header`; a
    /// malformed value is 503 `invalid_configuration` naming it.
    pub fn from_config(env: &Env) -> Result<Proxies> {
        let c = env.config.as_ref();
        let mut trusted = Vec::new();
        for item in config::text_or(c, "trusted_proxies", "")?.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            trusted.push(Cidr::parse(item).ok_or_else(|| {
                Error::unavailable(
                    "invalid_configuration",
                    format!("variable `trusted_proxies` must list addresses or CIDR blocks (like 10.0.0.0/8, fd00::/8); `{item}` is neither"),
                )
            })?);
        }
        let header = match config::text_or(c, "trusted_proxy_header", "x-forwarded-for")?
            .to_ascii_lowercase()
            .as_str()
        {
            "x-forwarded-for" => ForwardHeader::XForwardedFor,
            "forwarded" => ForwardHeader::Forwarded,
            other => {
                return Err(Error::unavailable(
                    "invalid_configuration",
                    format!("variable `trusted_proxy_header` must be x-forwarded-for or forwarded; it is `{other}`"),
                ))
            }
        };
        Ok(Proxies { trusted, header })
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|c| c.contains(ip))
    }

    /// The client of `req`: its peer, or (when the peer is trusted) the
    /// nearest forwarded hop that is not a trusted proxy.
    pub fn client(&self, req: &Request) -> String {
        let peer = strip_port(peer(req));
        let Ok(peer_ip) = peer.parse::<IpAddr>() else {
            return peer.to_string();
        };
        if !self.trusts(peer_ip) {
            return peer.to_string();
        }
        let hops = match self.header {
            ForwardHeader::XForwardedFor => all_values(req, "x-forwarded-for")
                .flat_map(|v| v.split(',').map(str::trim).collect::<Vec<_>>())
                .map(str::to_string)
                .collect::<Vec<_>>(),
            ForwardHeader::Forwarded => all_values(req, "forwarded")
                .flat_map(|v| v.split(',').filter_map(forwarded_for).collect::<Vec<_>>())
                .collect(),
        };
        let mut client = peer_ip;
        for hop in hops.iter().rev() {
            // A hop that is not an address (`unknown`, an obfuscated name,
            // garbage) ends the walk: the proxy that wrote it is as far as
            // the chain can be followed.
            let Ok(ip) = strip_port(hop).parse::<IpAddr>() else {
                break;
            };
            client = normalize(ip);
            if !self.trusts(client) {
                break;
            }
        }
        client.to_string()
    }
}

/// The address Spin saw: the last `spin-client-addr` (the client's own
/// values of that header come first), as the Spin adapter records it.
fn peer(req: &Request) -> &str {
    req.client_addr
        .as_deref()
        .or_else(|| {
            req.headers
                .iter()
                .rev()
                .find(|(k, _)| k == "spin-client-addr")
                .map(|(_, v)| v.as_str())
        })
        .unwrap_or("unknown")
}

fn all_values<'a>(req: &'a Request, name: &'a str) -> impl Iterator<Item = &'a str> {
    req.headers
        .iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The `for=` of one RFC 7239 element, unquoted.
fn forwarded_for(element: &str) -> Option<String> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("for")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// `1.2.3.4:56` → `1.2.3.4`, `[::1]:80` → `::1`, `::1` → `::1`.
fn strip_port(addr: &str) -> &str {
    let addr = addr.trim();
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    if addr.parse::<Ipv6Addr>().is_ok() {
        return addr;
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => addr,
    }
}

/// The client address of `req` under the configured proxies.
pub fn address(env: &Env, req: &Request) -> Result<String> {
    Ok(Proxies::from_config(env)?.client(req))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    fn proxies(list: &[&str], header: ForwardHeader) -> Proxies {
        Proxies {
            trusted: list.iter().map(|c| Cidr::parse(c).unwrap()).collect(),
            header,
        }
    }

    fn req(peer: &str, headers: &[(&str, &str)]) -> Request {
        let mut r = Request::new(Method::Get, "/");
        for (k, v) in headers {
            r = r.with_header(k, v);
        }
        r.client_addr = Some(peer.into());
        r
    }

    #[test]
    fn cidrs_match_their_blocks() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains("10.1.200.3".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.0.9".parse().unwrap()), "mapped v4");
        let one = Cidr::parse("192.0.2.7").unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()));
        assert!(!one.contains("192.0.2.8".parse().unwrap()));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12:3456::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.0/33", "::/129", "example.com", "10.0.0/8", ""] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_forward() {
        let p = proxies(&["10.0.0.0/8"], ForwardHeader::XForwardedFor);
        let r = req("203.0.113.9:5555", &[("x-forwarded-for", "198.51.100.1")]);
        assert_eq!(p.client(&r), "203.0.113.9");
        let none = proxies(&[], ForwardHeader::XForwardedFor);
        let r = req("10.0.0.2:80", &[("x-forwarded-for", "198.51.100.1")]);
        assert_eq!(none.client(&r), "10.0.0.2", "no trusted proxies");
    }

    #[test]
    fn forwarded_chains_are_read_from_the_right() {
        let p = proxies(&["10.0.0.0/8"], ForwardHeader::XForwardedFor);
        // The client forged the first entry; the ingress appended the real one.
        let r = req(
            "10.0.0.2:80",
            &[("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.0.0.5")],
        );
        assert_eq!(p.client(&r), "198.51.100.7");
        // Two headers are one list, in order.
        let r = req(
            "10.0.0.2:80",
            &[
                ("x-forwarded-for", "1.1.1.1"),
                ("x-forwarded-for", "198.51.100.8"),
            ],
        );
        assert_eq!(p.client(&r), "198.51.100.8");
        // Every hop trusted: the leftmost is the best we know.
        let r = req("10.0.0.2:80", &[("x-forwarded-for", "10.9.9.9, 10.0.0.5")]);
        assert_eq!(p.client(&r), "10.9.9.9");
        // No header: the proxy itself.
        assert_eq!(p.client(&req("10.0.0.2:80", &[])), "10.0.0.2");
        // Garbage ends the walk at the proxy that wrote it.
        let r = req("10.0.0.2:80", &[("x-forwarded-for", "198.51.100.1, junk")]);
        assert_eq!(p.client(&r), "10.0.0.2");
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let xff = proxies(&["10.0.0.0/8"], ForwardHeader::XForwardedFor);
        let fwd = proxies(&["10.0.0.0/8"], ForwardHeader::Forwarded);
        let r = req(
            "10.0.0.2:80",
            &[
                ("forwarded", "for=1.1.1.1"),
                (
                    "forwarded",
                    "for=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.3",
                ),
                ("x-forwarded-for", "203.0.113.50"),
            ],
        );
        assert_eq!(xff.client(&r), "203.0.113.50");
        assert_eq!(fwd.client(&r), "2001:db8:cafe::17");
    }

    #[test]
    fn ports_and_brackets_are_stripped() {
        assert_eq!(strip_port("1.2.3.4:56"), "1.2.3.4");
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("::1"), "::1");
        assert_eq!(strip_port("2001:db8::5"), "2001:db8::5");
        assert_eq!(strip_port("unknown"), "unknown");
    }
}
