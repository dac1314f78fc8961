//! Reading `spin.toml` (manifest version 2) the way Spin does, for the
//! parts EchoPilot uses: application variables, HTTP and cron triggers, and
//! per-component source, files, stores, databases, outbound hosts and
//! variables. Load-time checks follow Spin's loader and factors: variable
//! names, variable templates, `allowed_outbound_hosts` (resolved with the
//! variables' defaults), store and database labels.

use crate::outbound::AllowedHosts;
use crate::template::{self, Template};
use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// An application variable (`[variables]`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// Its default value, if any.
    #[serde(default)]
    pub default: Option<String>,
    /// `required = true`: no default; a provider (here: an override) must set it.
    #[serde(default)]
    pub required: bool,
    /// Metadata only, as in Spin.
    #[serde(default)]
    pub secret: bool,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// A `files` entry of a component.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FileMount {
    /// A path or glob relative to the app root, mounted at the same relative path.
    Pattern(String),
    /// `{ source = "dir-or-file", destination = "/guest/path" }`.
    Placement {
        /// Host path relative to the app root.
        source: String,
        /// Absolute guest path.
        destination: String,
    },
}

/// A `[[trigger.http]]` route value: a pattern or `{ private = true }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RouteValue {
    Route(String),
    Private {
        #[allow(dead_code)]
        private: bool,
    },
}

#[derive(Debug, Clone, Deserialize)]
struct RawHttpTrigger {
    route: RouteValue,
    component: String,
    #[serde(default)]
    executor: Option<toml::Value>,
    #[serde(default)]
    id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCronTrigger {
    component: String,
    cron_expression: String,
    #[serde(default)]
    id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<RawHttpTrigger>,
    #[serde(default)]
    cron: Vec<RawCronTrigger>,
}

#[derive(Debug, Clone, Deserialize)]
struct RawApplication {
    name: String,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawSource {
    Path(String),
    Other(toml::Value),
}

#[derive(Debug, Clone, Deserialize)]
struct RawComponent {
    source: RawSource,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    files: Vec<FileMount>,
    #[serde(default)]
    exclude_files: Vec<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    allowed_http_hosts: Vec<String>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    build: Option<toml::Value>,
    #[serde(default)]
    ai_models: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, Variable>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

/// One `[[trigger.http]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    /// The route as written (`/api/...`, `/users/:id`).
    pub route: String,
    /// The component id.
    pub component: String,
}

/// One `[[trigger.cron]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronTrigger {
    /// The component id.
    pub component: String,
    /// Six (or seven) fields, seconds first, UTC.
    pub cron_expression: String,
}

/// A component as the host needs it.
#[derive(Debug, Clone)]
pub struct ComponentDef {
    /// Its id (kebab-case).
    pub id: String,
    /// Absolute path of its .wasm.
    pub source: PathBuf,
    /// The source as written in the manifest.
    pub source_as_written: String,
    /// The build command, if the manifest gives one.
    pub build_command: Option<String>,
    /// `files`.
    pub files: Vec<FileMount>,
    /// `exclude_files` globs.
    pub exclude_files: Vec<String>,
    /// `allowed_outbound_hosts` (templates not yet resolved).
    pub allowed_outbound_hosts: Vec<String>,
    /// `key_value_stores`.
    pub key_value_stores: Vec<String>,
    /// `sqlite_databases`.
    pub sqlite_databases: Vec<String>,
    /// `variables`: name → template.
    pub variables: BTreeMap<String, Template>,
    /// `environment`.
    pub environment: BTreeMap<String, String>,
    /// `ai_models`.
    pub ai_models: Vec<String>,
}

/// A loaded and checked manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The directory the manifest is in (relative paths start here).
    pub root: PathBuf,
    /// The manifest file.
    pub path: PathBuf,
    /// `[application] name`.
    pub name: String,
    /// `[application] version`.
    pub version: Option<String>,
    /// `[variables]`.
    pub variables: BTreeMap<String, Variable>,
    /// `[[trigger.http]]`, in manifest order (private endpoints left out).
    pub http_routes: Vec<HttpRoute>,
    /// `[[trigger.cron]]`.
    pub cron: Vec<CronTrigger>,
    /// `[component.*]`.
    pub components: BTreeMap<String, ComponentDef>,
}

/// Spin's variable-name rule (`spin_expressions::Key`): lower-case ASCII
/// letters, digits and single underscores, starting with a letter and ending
/// with a letter or digit.
pub fn validate_variable_name(key: &str) -> std::result::Result<(), String> {
    let reason = if key.is_empty() {
        "must not be empty".to_string()
    } else if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        format!("invalid character {c:?}. Variable names may contain only lower-case letters, numbers, and underscores.")
    } else if !key.as_bytes()[0].is_ascii_lowercase() {
        "must start with a lowercase ASCII letter".to_string()
    } else if !key.as_bytes()[key.len() - 1].is_ascii_alphanumeric() {
        "must end with a lowercase ASCII letter or digit".to_string()
    } else if key.contains("__") {
        "must not contain multiple consecutive underscores".to_string()
    } else {
        return Ok(());
    };
    Err(format!("{key:?}: {reason}"))
}

fn is_kebab_id(id: &str) -> bool {
    id.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Manifest {
    /// Load `path` (a `spin.toml`, or a directory holding one).
    pub fn load(path: impl AsRef<Path>) -> Result<Manifest> {
        let path = path.as_ref();
        let path = if path.is_dir() {
            path.join("spin.toml")
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the manifest {}", path.display()))?;
        let root = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, &root, &path)
    }

    /// Parse manifest text whose relative paths start at `root`.
    pub fn parse(text: &str, root: &Path, path: &Path) -> Result<Manifest> {
        let raw: RawManifest =
            toml::from_str(text).with_context(|| format!("{} is not valid", path.display()))?;
        ensure!(
            raw.spin_manifest_version.as_integer() == Some(2)
                || raw.spin_manifest_version.as_str() == Some("2"),
            "only spin_manifest_version = 2 is supported"
        );

        for (name, var) in &raw.variables {
            validate_variable_name(name)
                .map_err(|e| anyhow::anyhow!("invalid variable name: {e}"))?;
            ensure!(
                !(var.required && var.default.is_some()),
                "variable {name:?}: `required` and `default` are mutually exclusive"
            );
            ensure!(
                var.required || var.default.is_some(),
                "variable {name:?} needs either `default` or `required = true`"
            );
        }

        let mut components = BTreeMap::new();
        for (id, c) in raw.component {
            ensure!(
                is_kebab_id(&id),
                "component id {id:?} is not kebab-case (lower-case words separated by '-')"
            );
            let source_as_written = match &c.source {
                RawSource::Path(p) => p.clone(),
                RawSource::Other(v) => bail!(
                    "component {id:?}: only local file sources are supported by this host, not {v}"
                ),
            };
            let mut variables = BTreeMap::new();
            for (name, value) in &c.variables {
                validate_variable_name(name)
                    .map_err(|e| anyhow::anyhow!("component {id:?}: invalid variable name: {e}"))?;
                let t = Template::parse(value)
                    .map_err(|e| anyhow::anyhow!("component {id:?} variable {name:?}: {e}"))?;
                for var in t.expressions() {
                    ensure!(
                        raw.variables.contains_key(var),
                        "component {id:?} variable {name:?}: invalid variable template: unknown variable {var:?}"
                    );
                }
                variables.insert(name.clone(), t);
            }
            let mut hosts = c.allowed_outbound_hosts.clone();
            for h in &c.allowed_http_hosts {
                // Spin converts the legacy key; `insecure:allow-all` becomes `*://*:*`.
                if h == "insecure:allow-all" {
                    hosts.push("*://*:*".into());
                } else if h.contains("://") {
                    hosts.push(h.clone());
                } else {
                    hosts.push(format!("https://{h}"));
                }
            }
            let build_command = c
                .build
                .as_ref()
                .and_then(|b| b.get("command"))
                .and_then(|c| c.as_str())
                .map(str::to_string);
            let _ = &c.description;
            components.insert(
                id.clone(),
                ComponentDef {
                    id: id.clone(),
                    source: root.join(&source_as_written),
                    source_as_written,
                    build_command,
                    files: c.files,
                    exclude_files: c.exclude_files,
                    allowed_outbound_hosts: hosts,
                    key_value_stores: c.key_value_stores,
                    sqlite_databases: c.sqlite_databases,
                    variables,
                    environment: c.environment,
                    ai_models: c.ai_models,
                },
            );
        }

        let mut http_routes = Vec::new();
        for t in raw.trigger.http {
            let _ = (&t.executor, &t.id);
            ensure!(
                components.contains_key(&t.component),
                "[[trigger.http]] names component {:?}, which is not defined",
                t.component
            );
            match t.route {
                RouteValue::Route(route) => http_routes.push(HttpRoute {
                    route,
                    component: t.component,
                }),
                RouteValue::Private { private } => ensure!(
                    private,
                    "route must be a string pattern or '{{ private = true }}': '{}' has {{ private = false }}",
                    t.component
                ),
            }
        }
        let mut cron = Vec::new();
        for t in raw.trigger.cron {
            let _ = &t.id;
            ensure!(
                components.contains_key(&t.component),
                "[[trigger.cron]] names component {:?}, which is not defined",
                t.component
            );
            crate::cron::Schedule::parse(&t.cron_expression).with_context(|| {
                format!(
                    "component {:?}: bad cron_expression {:?}",
                    t.component, t.cron_expression
                )
            })?;
            cron.push(CronTrigger {
                component: t.component,
                cron_expression: t.cron_expression,
            });
        }

        let manifest = Manifest {
            root: root.to_path_buf(),
            path: path.to_path_buf(),
            name: raw.application.name,
            version: raw.application.version,
            variables: raw.variables,
            http_routes,
            cron,
            components,
        };
        manifest.validate()?;
        Ok(manifest)
    }

    /// The load-time checks Spin makes before serving anything.
    fn validate(&self) -> Result<()> {
        let defaults = self.default_values();
        for c in self.components.values() {
            // spin-loader: `allowed_outbound_hosts` must parse; templates are
            // checked with the variables' defaults when every variable they
            // use has one.
            AllowedHosts::validate(&c.allowed_outbound_hosts, &defaults).with_context(|| {
                format!(
                    "Failed to load component `{}`: `allowed_outbound_hosts` is malformed",
                    c.id
                )
            })?;
            // Without a runtime-config file only the `default` store and the
            // `default` database exist (factor-key-value / factor-sqlite).
            for label in &c.key_value_stores {
                ensure!(
                    label == "default",
                    "unknown key_value_stores label {label:?} for component {:?}",
                    c.id
                );
            }
            let unknown: Vec<String> = c
                .sqlite_databases
                .iter()
                .filter(|d| d.as_str() != "default")
                .map(|d| format!("- Component {} uses database '{d}'", c.id))
                .collect();
            ensure!(
                unknown.is_empty(),
                "One or more components use SQLite databases which are not defined.\n{}",
                unknown.join("\n")
            );
        }
        Ok(())
    }

    /// Every variable's default (those that have one).
    pub fn default_values(&self) -> HashMap<String, String> {
        self.variables
            .iter()
            .filter_map(|(k, v)| v.default.clone().map(|d| (k.clone(), d)))
            .collect()
    }

    /// The component `id`.
    pub fn component(&self, id: &str) -> Result<&ComponentDef> {
        self.components
            .get(id)
            .with_context(|| format!("no component {id:?} in {}", self.path.display()))
    }

    /// Resolve a template against `values` (all variables, resolved).
    pub fn resolve(template: &Template, values: &HashMap<String, String>) -> Result<String> {
        template::resolve(template, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
host = { default = "example.com" }
key = { required = true, secret = true }
[[trigger.http]]
route = "/..."
component = "web"
[[trigger.cron]]
component = "web"
cron_expression = "0 * * * * *"
[component.web]
source = "web.wasm"
files = ["static/**/*", { source = "assets", destination = "/a" }]
allowed_outbound_hosts = ["https://{{ host }}", "http://127.0.0.1:*"]
key_value_stores = ["default"]
[component.web.variables]
k = "{{ key }}"
"#;

    #[test]
    fn parses_what_the_app_uses() {
        let m = Manifest::parse(MINI, Path::new("/app"), Path::new("/app/spin.toml")).unwrap();
        assert_eq!(m.http_routes.len(), 1);
        assert_eq!(m.cron[0].cron_expression, "0 * * * * *");
        let c = m.component("web").unwrap();
        assert_eq!(c.source, Path::new("/app/web.wasm"));
        assert_eq!(c.files.len(), 2);
        assert!(m.variables["key"].required);
    }

    #[test]
    fn spin_load_time_errors() {
        let bad_store = MINI.replace(r#"["default"]"#, r#"["other"]"#);
        let e = Manifest::parse(&bad_store, Path::new("/"), Path::new("/spin.toml")).unwrap_err();
        assert!(format!("{e:#}").contains("unknown key_value_stores label \"other\""));

        let empty_host = MINI.replace(r#"default = "example.com""#, r#"default = """#);
        let e = Manifest::parse(&empty_host, Path::new("/"), Path::new("/spin.toml")).unwrap_err();
        assert!(format!("{e:#}").contains("allowed_outbound_hosts"), "{e:#}");

        let unknown_var = MINI.replace("{{ key }}", "{{ nope }}");
        let e = Manifest::parse(&unknown_var, Path::new("/"), Path::new("/spin.toml")).unwrap_err();
        assert!(format!("{e:#}").contains("unknown variable \"nope\""));

        let bad_id = MINI.replace("[component.web]", "[component.Web]");
        assert!(Manifest::parse(&bad_id, Path::new("/"), Path::new("/spin.toml")).is_err());
    }

    #[test]
    fn variable_names_follow_spin() {
        assert!(validate_variable_name("openai_base_url").is_ok());
        for bad in ["", "A", "_a", "a_", "a__b", "a-b", "1a"] {
            assert!(validate_variable_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_real_manifest_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let m = Manifest::load(&root).unwrap();
        assert!(m.http_routes.iter().any(|r| r.route == "/health"));
        assert!(m.components.contains_key("cron-heartbeat"));
    }

    /// static-assets embeds the folders `pack::ASSET_DIRS` names; Spin must
    /// route exactly those to it, or a file would reach static-files, which
    /// does not carry it.
    #[test]
    fn static_assets_is_routed_the_folders_it_embeds() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let m = Manifest::load(&root).unwrap();
        let mut routed: Vec<&str> = m
            .http_routes
            .iter()
            .filter(|r| r.component == "static-assets")
            .map(|r| r.route.as_str())
            .collect();
        routed.sort();
        let mut embedded: Vec<String> = echopilot_core::static_files::pack::ASSET_DIRS
            .iter()
            .map(|d| format!("/{d}/..."))
            .collect();
        embedded.sort();
        assert_eq!(routed, embedded);
    }
}
