//! The HTTP trigger's router with Spin 4.0's rules.
//!
//! Spin builds its router on the `routefinder` crate (0.5.4); so does this
//! host, with Spin's conventions written on top: a trailing `/...` becomes a
//! routefinder `*`; one trailing slash is stripped from a route; a route
//! written twice keeps the last entry; the trailing wildcard keeps a trailing
//! slash (`/test/...` on `/test/` gives path info `/`). Precedence is
//! routefinder's: segment by segment, exact > `:param` > wildcard, so exact
//! routes beat wildcards and the longest wildcard prefix wins.

use anyhow::{anyhow, Result};
use std::collections::HashMap;

/// What a route leads to.
#[derive(Debug, Clone)]
struct Entry {
    component: String,
    /// The route as written in the manifest.
    raw_route: String,
    /// The route with the base (`/`) applied.
    based_route: String,
}

/// A router built from `[[trigger.http]]` entries.
#[derive(Debug)]
pub struct Router {
    inner: routefinder::Router<Entry>,
    /// Routes shadowed by a later duplicate: (route, replaced component, effective component).
    pub duplicates: Vec<(String, String, String)>,
}

/// The result of routing one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    /// The component that handles it.
    pub component: String,
    /// The route as written in the manifest (`spin-raw-component-route`).
    pub raw_route: String,
    /// The route with the base applied (`spin-matched-route`).
    pub based_route: String,
    /// `:name` captures.
    pub named: Vec<(String, String)>,
    /// What the trailing wildcard matched (`spin-path-info`).
    pub path_info: String,
}

impl RouteMatch {
    /// The route without its trailing `/...` (`spin-component-route`).
    pub fn raw_route_or_prefix(&self) -> &str {
        self.raw_route
            .strip_suffix("/...")
            .unwrap_or(&self.raw_route)
    }
}

fn sanitize(s: &str) -> &str {
    s.strip_suffix('/').unwrap_or(s)
}

fn based(base: &str, route: &str) -> String {
    let route = if route.starts_with('/') {
        route.to_string()
    } else {
        format!("/{route}")
    };
    format!("{}{}", sanitize(base), sanitize(&route))
}

impl Router {
    /// Build from (route, component) pairs, in manifest order, with base `/`.
    pub fn build<'a>(routes: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Router> {
        let mut order: Vec<String> = Vec::new();
        let mut by_raw: HashMap<String, Entry> = HashMap::new();
        let mut duplicates = Vec::new();
        for (route, component) in routes {
            let entry = Entry {
                component: component.to_string(),
                raw_route: route.to_string(),
                based_route: based("/", route),
            };
            match by_raw.insert(route.to_string(), entry) {
                Some(old) => duplicates.push((
                    if old.based_route.is_empty() {
                        "/".to_string()
                    } else {
                        old.based_route.clone()
                    },
                    old.component,
                    component.to_string(),
                )),
                None => order.push(route.to_string()),
            }
        }
        let mut inner = routefinder::Router::new();
        for raw in order {
            let entry = by_raw
                .remove(&raw)
                .expect("every ordered route has an entry");
            let spec = if let Some(prefix) = entry.based_route.strip_suffix("/...") {
                format!("{prefix}/*")
            } else {
                entry.based_route.clone()
            };
            inner.add(spec.as_str(), entry.clone()).map_err(|e| {
                anyhow!(
                    "Error parsing route {} associated with component {}: {e}",
                    entry.based_route,
                    entry.component
                )
            })?;
        }
        Ok(Router { inner, duplicates })
    }

    /// Route a raw request path (no query).
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let m = self.inner.best_match(path)?;
        let entry = m.handler();
        let captures = m.captures();
        let named = captures
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let path_info = match captures.wildcard() {
            None => String::new(),
            Some(w) => match (w.is_empty(), path.ends_with('/')) {
                (true, false) => String::new(),
                (true, true) => "/".to_string(),
                (false, false) => format!("/{w}"),
                (false, true) => format!("/{w}/"),
            },
        };
        Some(RouteMatch {
            component: entry.component.clone(),
            raw_route: entry.raw_route.clone(),
            based_route: entry.based_route.clone(),
            named,
            path_info,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(routes: &[(&str, &str)]) -> Router {
        Router::build(routes.iter().map(|(c, p)| (*p, *c))).unwrap()
    }

    #[test]
    fn exact_and_longest_wildcard() {
        let router = r(&[("foo", "/foo"), ("foobar", "/foo/bar")]);
        assert_eq!(router.route("/foo").unwrap().component, "foo");
        assert_eq!(router.route("/foo/bar").unwrap().component, "foobar");
        for order in [
            vec![
                ("one", "/one/..."),
                ("two", "/one/two/..."),
                ("three", "/one/two/three/..."),
            ],
            vec![
                ("three", "/one/two/three/..."),
                ("two", "/one/two/..."),
                ("one", "/one/..."),
            ],
        ] {
            let router = r(&order);
            assert_eq!(
                router.route("/one/two/three/four").unwrap().component,
                "three"
            );
        }
        let router = r(&[("exact", "/one"), ("all", "/...")]);
        assert_eq!(router.route("/one").unwrap().component, "exact");
        assert_eq!(router.route("/").unwrap().component, "all");
        assert_eq!(router.route("/abc/").unwrap().component, "all");
    }

    #[test]
    fn path_info_keeps_trailing_slash() {
        let router = r(&[("c", "/test/...")]);
        assert_eq!(router.route("/test").unwrap().path_info, "");
        assert_eq!(router.route("/test/").unwrap().path_info, "/");
        assert_eq!(router.route("/test/hello").unwrap().path_info, "/hello");
        assert_eq!(router.route("/test/hello/").unwrap().path_info, "/hello/");
        let all = r(&[("c", "/...")]);
        assert_eq!(all.route("/1/2/3").unwrap().path_info, "/1/2/3");
    }

    #[test]
    fn named_segments_and_headers() {
        let router = r(&[("c", "/foo/:userid/...")]);
        let m = router.route("/foo/42/bar").unwrap();
        assert_eq!(m.named, vec![("userid".to_string(), "42".to_string())]);
        assert_eq!(m.path_info, "/bar");
        assert_eq!(m.based_route, "/foo/:userid/...");
        assert_eq!(m.raw_route_or_prefix(), "/foo/:userid");
    }

    #[test]
    fn duplicates_last_one_wins() {
        let router = r(&[("first", "/foo"), ("second", "/foo")]);
        assert_eq!(router.route("/foo").unwrap().component, "second");
        assert_eq!(router.duplicates.len(), 1);
    }

    #[test]
    fn unmatched_is_none() {
        let router = r(&[("c", "/health")]);
        assert!(router.route("/nope").is_none());
        assert!(router.route("/health/x").is_none());
    }

    #[test]
    fn the_app_routes() {
        let router = r(&[
            ("api-health", "/health"),
            ("api-health", "/api/version"),
            ("api-health", "/api/internal/cron/..."),
            ("cron-heartbeat", "/api/internal/cron/heartbeat"),
            ("static-files", "/..."),
        ]);
        let c = |p: &str| router.route(p).unwrap().component;
        assert_eq!(c("/api/internal/cron/heartbeat"), "cron-heartbeat");
        assert_eq!(c("/api/internal/cron/nope"), "api-health");
        assert_eq!(c("/health"), "api-health");
        assert_eq!(c("/health/"), "api-health");
        assert_eq!(c("/app.css"), "static-files");
        assert_eq!(c("/../Cargo.toml"), "static-files");
    }
}
