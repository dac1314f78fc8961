//! Validation at save: a graph becomes a [`Graph`] only if it has no
//! problem. Every problem names its node (or edge) and field, so an editor
//! can show it where it is: unknown node types and kinds, missing or
//! malformed configuration, edges to nowhere or from a port the node does
//! not have, a trigger count other than one, cycles, nodes the trigger
//! cannot reach, conditions that do not parse or type-check, templates
//! reading data no run can have, HTTP origins the operator did not allow,
//! integrations the tenant may not use.

use super::expr::{self, PathTypes, Seg, Type};
use super::model::{is_node_id, Edge, Graph, Node, NodeType, Position, MAX_EDGES, MAX_NODES, NEXT};
use super::nodes::{self, Field, FieldKind, KindSpec};
use super::template;
use super::timing;
use crate::config;
use crate::error::Result;
use crate::ports::Config;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// One problem with a graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The node it is about, if any.
    pub node: Option<String>,
    /// The edge it is about (its index in `edges`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge: Option<usize>,
    /// The configuration field it is about, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A stable code.
    pub code: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Problem {
    fn graph(code: &'static str, message: impl Into<String>) -> Self {
        Problem {
            node: None,
            edge: None,
            field: None,
            code,
            message: message.into(),
        }
    }
    fn node(node: &str, code: &'static str, message: impl Into<String>) -> Self {
        Problem {
            node: Some(node.to_string()),
            ..Problem::graph(code, message)
        }
    }
    fn field(node: &str, field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Problem {
            field: Some(field.to_string()),
            ..Problem::node(node, code, message)
        }
    }
    fn edge(i: usize, node: Option<&str>, code: &'static str, message: impl Into<String>) -> Self {
        Problem {
            edge: Some(i),
            node: node.map(str::to_string),
            ..Problem::graph(code, message)
        }
    }
}

/// What the operator allows a tenant's workflows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// May use the integrations that act with the platform's credentials
    /// (HTTP, Notion, Drive, Telegram, email).
    pub integrations: bool,
    /// Origins HTTP actions may call (`scheme://host[:port]`, lower case).
    pub http_origins: Vec<String>,
}

impl Policy {
    /// The policy for `tenant`: integrations when it is the default tenant
    /// or listed in `workflow_integration_tenants` (`*`: every tenant);
    /// origins from `workflow_http_allowed_origins`.
    pub fn load(c: &dyn Config, tenant: &str) -> Result<Policy> {
        let listed = config::text(c, "workflow_integration_tenants")?.unwrap_or_default();
        let integrations = tenant == crate::tenancy::DEFAULT_TENANT
            || listed
                .split(',')
                .map(str::trim)
                .any(|t| t == "*" || t == tenant);
        Ok(Policy {
            integrations,
            http_origins: allowed_origins(c)?,
        })
    }
}

/// The origins of `workflow_http_allowed_origins`, normalised; an error
/// naming the variable for a malformed entry.
pub fn allowed_origins(c: &dyn Config) -> Result<Vec<String>> {
    let text = config::text(c, "workflow_http_allowed_origins")?.unwrap_or_default();
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match config::split_origin(s) {
            Some((origin, "")) => Ok(origin.to_ascii_lowercase()),
            _ => Err(config::invalid(
                "workflow_http_allowed_origins",
                "a comma-separated list of origins like https://hooks.example.com (no paths)",
                s,
            )),
        })
        .collect()
}

/// The origin (`scheme://host[:port]`, lower case) a URL template starts
/// with, when its literal text writes it out in full: placeholders may
/// fill the path and query only, never the host.
pub fn url_origin(url: &template::Template) -> Option<String> {
    let prefix = url.literal_prefix();
    origin_of(prefix, url.parts.len() == 1)
}

/// The origin of `url`; `whole` says `url` is the complete URL (not a
/// literal prefix that a placeholder continues).
pub fn origin_of(url: &str, whole: bool) -> Option<String> {
    let scheme_len = if url.starts_with("https://") {
        8
    } else if url.starts_with("http://") {
        7
    } else {
        return None;
    };
    let rest = &url[scheme_len..];
    let authority = match rest.find(['/', '?', '#']) {
        Some(i) => &rest[..i],
        None if whole => rest,
        None => return None,
    };
    let sane = !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    sane.then(|| format!("{}{authority}", &url[..scheme_len]).to_ascii_lowercase())
}

/// Validate `input` (a graph as JSON) under `policy`.
pub fn validate(input: &Value, policy: &Policy) -> std::result::Result<Graph, Vec<Problem>> {
    let mut problems = Vec::new();
    let graph = shape(input, &mut problems);
    if let Some(g) = &graph {
        structure(g, &mut problems);
        if !problems.iter().any(|p| p.code == "cycle") {
            for n in &g.nodes {
                configuration(g, n, policy, &mut problems);
            }
        }
    }
    match graph {
        Some(g) if problems.is_empty() => Ok(g),
        _ => Err(problems),
    }
}

// ---------------------------------------------------------------- shape --

fn shape(input: &Value, problems: &mut Vec<Problem>) -> Option<Graph> {
    let Some(obj) = input.as_object() else {
        problems.push(Problem::graph(
            "invalid_graph",
            "a graph is an object with `nodes` and `edges`",
        ));
        return None;
    };
    for k in obj.keys() {
        if k != "nodes" && k != "edges" {
            problems.push(Problem::graph(
                "invalid_graph",
                format!("unknown graph field `{k}`; a graph has `nodes` and `edges`"),
            ));
        }
    }
    let Some(raw_nodes) = obj.get("nodes").and_then(Value::as_array) else {
        problems.push(Problem::graph(
            "invalid_graph",
            "`nodes` is required: a list of nodes",
        ));
        return None;
    };
    if raw_nodes.len() > MAX_NODES {
        problems.push(Problem::graph(
            "invalid_graph",
            format!(
                "a workflow has at most {MAX_NODES} nodes; this one has {}",
                raw_nodes.len()
            ),
        ));
        return None;
    }
    let raw_edges: &[Value] = match obj.get("edges") {
        None | Some(Value::Null) => &[],
        Some(Value::Array(a)) => a,
        Some(_) => {
            problems.push(Problem::graph(
                "invalid_graph",
                "`edges` is a list of edges",
            ));
            return None;
        }
    };
    if raw_edges.len() > MAX_EDGES {
        problems.push(Problem::graph(
            "invalid_graph",
            format!(
                "a workflow has at most {MAX_EDGES} edges; this one has {}",
                raw_edges.len()
            ),
        ));
        return None;
    }
    let mut nodes = Vec::new();
    let mut ids = BTreeSet::new();
    for (i, raw) in raw_nodes.iter().enumerate() {
        if let Some(n) = node(i, raw, problems) {
            if !ids.insert(n.id.clone()) {
                problems.push(Problem::node(
                    &n.id,
                    "duplicate_node",
                    format!("two nodes have the id `{}`; ids are unique", n.id),
                ));
                continue;
            }
            nodes.push(n);
        }
    }
    let mut edges = Vec::new();
    for (i, raw) in raw_edges.iter().enumerate() {
        if let Some(e) = edge(i, raw, problems) {
            edges.push(e);
        }
    }
    Some(Graph { nodes, edges })
}

fn node(i: usize, raw: &Value, problems: &mut Vec<Problem>) -> Option<Node> {
    let Some(obj) = raw.as_object() else {
        problems.push(Problem::graph(
            "invalid_node",
            format!("node {} is not an object", i + 1),
        ));
        return None;
    };
    let id = match obj.get("id").and_then(Value::as_str) {
        Some(id) if is_node_id(id) => id.to_string(),
        _ => {
            problems.push(Problem::graph(
                "invalid_node",
                format!(
                    "node {} needs an `id` of 1 to 64 letters, digits, `_` or `-`",
                    i + 1
                ),
            ));
            return None;
        }
    };
    let mut ok = true;
    for k in obj.keys() {
        if !["id", "type", "name", "config", "position", "notes"].contains(&k.as_str()) {
            problems.push(Problem::node(
                &id,
                "invalid_node",
                format!("unknown node field `{k}`; a node has id, type, name, config, position and notes"),
            ));
            ok = false;
        }
    }
    let node_type = match obj.get("type").and_then(Value::as_str) {
        Some(t) => match NodeType::parse(t) {
            Some(t) => Some(t),
            None => {
                problems.push(Problem::node(
                    &id,
                    "unknown_type",
                    format!(
                        "unknown node type `{}`; the types are {}",
                        t.chars().take(40).collect::<String>(),
                        NodeType::ALL.map(|t| t.as_str()).join(", ")
                    ),
                ));
                None
            }
        },
        None => {
            problems.push(Problem::node(&id, "unknown_type", "the node has no `type`"));
            None
        }
    };
    let text = |k: &str, max: usize, problems: &mut Vec<Problem>| -> Option<String> {
        match obj.get(k) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() <= max => Some(s.clone()),
            Some(_) => {
                problems.push(Problem::node(
                    &id,
                    "invalid_node",
                    format!("`{k}` is text of at most {max} characters"),
                ));
                None
            }
        }
    };
    let name = text("name", 120, problems);
    let notes = text("notes", 2000, problems);
    let config = match obj.get("config") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            problems.push(Problem::node(
                &id,
                "invalid_config",
                "`config` is an object",
            ));
            ok = false;
            Map::new()
        }
    };
    let position = match obj.get("position") {
        None | Some(Value::Null) => None,
        Some(p) => match (
            p.get("x").and_then(Value::as_f64),
            p.get("y").and_then(Value::as_f64),
        ) {
            (Some(x), Some(y)) if p.as_object().is_some_and(|o| o.len() == 2) => {
                Some(Position { x, y })
            }
            _ => {
                problems.push(Problem::node(
                    &id,
                    "invalid_node",
                    "`position` is {\"x\": number, \"y\": number}",
                ));
                None
            }
        },
    };
    Some(Node {
        id,
        node_type: node_type.filter(|_| ok)?,
        name,
        config,
        position,
        notes,
    })
}

fn edge(i: usize, raw: &Value, problems: &mut Vec<Problem>) -> Option<Edge> {
    let Some(obj) = raw.as_object() else {
        problems.push(Problem::edge(
            i,
            None,
            "invalid_edge",
            "an edge is {from, to, port}",
        ));
        return None;
    };
    for k in obj.keys() {
        if !["from", "to", "port"].contains(&k.as_str()) {
            problems.push(Problem::edge(
                i,
                None,
                "invalid_edge",
                format!("unknown edge field `{k}`; an edge has from, to and port"),
            ));
            return None;
        }
    }
    let end = |k: &str| obj.get(k).and_then(Value::as_str).filter(|s| is_node_id(s));
    let (Some(from), Some(to)) = (end("from"), end("to")) else {
        problems.push(Problem::edge(
            i,
            None,
            "invalid_edge",
            "an edge needs `from` and `to` node ids",
        ));
        return None;
    };
    let port = match obj.get("port") {
        None | Some(Value::Null) => NEXT.to_string(),
        Some(Value::String(p)) if p.len() <= 16 => p.clone(),
        Some(_) => {
            problems.push(Problem::edge(
                i,
                Some(from),
                "invalid_port",
                "`port` is a port name",
            ));
            return None;
        }
    };
    Some(Edge {
        from: from.to_string(),
        to: to.to_string(),
        port,
    })
}

// ------------------------------------------------------------ structure --

fn kind_of(n: &Node) -> Option<&'static KindSpec> {
    nodes::spec(n.node_type).kind(n.kind())
}

fn structure(g: &Graph, problems: &mut Vec<Problem>) {
    let ids: BTreeSet<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
    let mut seen = BTreeSet::new();
    for (i, e) in g.edges.iter().enumerate() {
        for end in [&e.from, &e.to] {
            if !ids.contains(end.as_str()) {
                problems.push(Problem::edge(
                    i,
                    Some(end),
                    "unknown_node",
                    format!("edge {} connects `{end}`, which is not a node", i + 1),
                ));
            }
        }
        if e.from == e.to {
            problems.push(Problem::edge(
                i,
                Some(&e.from),
                "cycle",
                format!("node `{}` is connected to itself", e.from),
            ));
        }
        if !seen.insert((&e.from, &e.to, &e.port)) {
            problems.push(Problem::edge(
                i,
                Some(&e.from),
                "invalid_edge",
                format!("the edge {} → {} ({}) is there twice", e.from, e.to, e.port),
            ));
        }
        if let Some(from) = g.node(&e.from) {
            if let Some(k) = kind_of(from) {
                if !k.ports.contains(&e.port.as_str()) {
                    problems.push(Problem::edge(
                        i,
                        Some(&e.from),
                        "invalid_port",
                        format!(
                            "node `{}` has no `{}` port; its ports are {}",
                            e.from,
                            e.port,
                            k.ports.join(", ")
                        ),
                    ));
                }
            }
        }
        if g.node(&e.to)
            .is_some_and(|n| n.node_type == NodeType::Trigger)
        {
            problems.push(Problem::edge(
                i,
                Some(&e.to),
                "invalid_edge",
                format!(
                    "the trigger `{}` starts runs; nothing connects into it",
                    e.to
                ),
            ));
        }
    }
    let triggers: Vec<&Node> = g
        .nodes
        .iter()
        .filter(|n| n.node_type == NodeType::Trigger)
        .collect();
    match triggers.len() {
        1 => {}
        0 => problems.push(Problem::graph(
            "trigger_count",
            "a workflow needs one trigger node",
        )),
        _ => {
            for t in &triggers[1..] {
                problems.push(Problem::node(
                    &t.id,
                    "trigger_count",
                    format!(
                        "a workflow has one trigger; `{}` is another (the first is `{}`)",
                        t.id, triggers[0].id
                    ),
                ));
            }
        }
    }
    let on_cycle = cycles(g);
    for id in &on_cycle {
        problems.push(Problem::node(
            id,
            "cycle",
            format!("node `{id}` is on a cycle; a workflow runs forward only"),
        ));
    }
    if let (Some(t), true) = (triggers.first(), on_cycle.is_empty()) {
        let reachable = g.descendants(&t.id);
        for n in &g.nodes {
            if !reachable.contains(&n.id) {
                problems.push(Problem::node(
                    &n.id,
                    "unreachable",
                    format!(
                        "node `{}` can never run: no path leads to it from the trigger `{}`",
                        n.id, t.id
                    ),
                ));
            }
        }
    }
}

/// The nodes that lie on a cycle (each can reach itself), in id order.
fn cycles(g: &Graph) -> Vec<String> {
    // Kahn: what remains has an unresolved predecessor; of those, keep the
    // ones that reach themselves (not just nodes downstream of a cycle).
    let mut indegree: BTreeMap<&str, usize> = g.nodes.iter().map(|n| (n.id.as_str(), 0)).collect();
    for e in &g.edges {
        if let Some(d) = indegree.get_mut(e.to.as_str()) {
            *d += 1;
        }
    }
    let mut ready: Vec<&str> = indegree
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(id, _)| *id)
        .collect();
    while let Some(id) = ready.pop() {
        for e in g.outgoing(id) {
            if let Some(d) = indegree.get_mut(e.to.as_str()) {
                *d -= 1;
                if *d == 0 {
                    ready.push(e.to.as_str());
                }
            }
        }
        indegree.remove(id);
    }
    indegree
        .keys()
        .filter(|id| {
            g.outgoing(id)
                .any(|e| e.to == **id || g.descendants(&e.to).contains(**id))
        })
        .map(|id| id.to_string())
        .collect()
}

// -------------------------------------------------------- configuration --

/// The data a node may read: the trigger, its ancestors' outputs, the run
/// and the workflow.
pub struct Scope<'a> {
    graph: &'a Graph,
    node: &'a str,
    ancestors: BTreeSet<String>,
}

impl<'a> Scope<'a> {
    /// What node `node` of `graph` may read.
    pub fn new(graph: &'a Graph, node: &'a str) -> Self {
        Scope {
            graph,
            node,
            ancestors: graph.ancestors(node),
        }
    }
}

fn key(s: Option<&Seg>) -> Option<&str> {
    match s {
        Some(Seg::Key(k)) => Some(k),
        _ => None,
    }
}

/// The type of `rest` within the output of `n`.
fn output_type(n: &Node, rest: &[Seg]) -> std::result::Result<Type, String> {
    let Some(fields) = kind_of(n).and_then(|k| k.output) else {
        return Ok(Type::Any);
    };
    let Some(first) = rest.first() else {
        return Ok(Type::Object);
    };
    let Some(name) = key(Some(first)) else {
        return Err(format!("the output of `{}` is an object, not a list", n.id));
    };
    let Some((_, t)) = fields.iter().find(|(f, _)| *f == name) else {
        return Err(format!(
            "node `{}` ({}) has no output `{name}`; it has {}",
            n.id,
            n.node_type.as_str(),
            fields
                .iter()
                .map(|(f, _)| *f)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    match (rest.len(), t) {
        (1, t) => Ok(*t),
        (_, Type::Any | Type::Object | Type::List) => Ok(Type::Any),
        (_, t) => Err(format!(
            "`{name}` of node `{}` is {}; it has no fields",
            n.id,
            t.name()
        )),
    }
}

impl PathTypes for Scope<'_> {
    fn type_of(&self, path: &expr::Path) -> std::result::Result<Type, String> {
        let segs = &path.segs;
        match key(segs.first()) {
            Some("trigger") => match self.graph.trigger() {
                Some(t) => output_type(t, &segs[1..]),
                None => Ok(Type::Any),
            },
            Some("nodes") => {
                let Some(id) = key(segs.get(1)) else {
                    return Err("`nodes` is followed by a node id: nodes.<id>.<field>".into());
                };
                if id == self.node {
                    return Err(format!("node `{id}` cannot read its own output"));
                }
                let Some(n) = self.graph.node(id) else {
                    return Err(format!("no node `{id}` in this workflow"));
                };
                if !self.ancestors.contains(id) {
                    return Err(format!(
                        "node `{id}` does not run before `{}`: connect it upstream to read its output",
                        self.node
                    ));
                }
                output_type(n, &segs[2..])
            }
            Some("run") => match (key(segs.get(1)), segs.len()) {
                (Some("id" | "started_at"), 2) => Ok(Type::String),
                (Some("debug"), 2) => Ok(Type::Bool),
                (None, 1) => Ok(Type::Object),
                _ => Err("`run` has id, started_at and debug".into()),
            },
            Some("workflow") => match (key(segs.get(1)), segs.len()) {
                (Some("id" | "name"), 2) => Ok(Type::String),
                (Some("version"), 2) => Ok(Type::Number),
                (None, 1) => Ok(Type::Object),
                _ => Err("`workflow` has id, name and version".into()),
            },
            Some(other) => Err(format!(
                "unknown name `{other}`: data paths start with trigger, nodes, run or workflow"
            )),
            None => Err("a path starts with a name".into()),
        }
    }
}

fn configuration(g: &Graph, n: &Node, policy: &Policy, problems: &mut Vec<Problem>) {
    let spec = nodes::spec(n.node_type);
    let kind = if spec.kinded {
        match n.config.get("kind") {
            Some(Value::String(k)) => match spec.kind(k) {
                Some(k) => k,
                None => {
                    problems.push(Problem::field(
                        &n.id,
                        "kind",
                        "unknown_kind",
                        format!(
                            "a {} has no kind `{}`; the kinds are {}",
                            n.node_type.as_str(),
                            k.chars().take(40).collect::<String>(),
                            spec.kinds
                                .iter()
                                .map(|k| k.kind)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                    return;
                }
            },
            _ => {
                problems.push(Problem::field(
                    &n.id,
                    "kind",
                    "missing_config",
                    format!(
                        "a {} needs a `kind`: one of {}",
                        n.node_type.as_str(),
                        spec.kinds
                            .iter()
                            .map(|k| k.kind)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
                return;
            }
        }
    } else {
        &spec.kinds[0]
    };
    if kind.integration && !policy.integrations {
        problems.push(Problem::node(
            &n.id,
            "integration_not_allowed",
            format!(
                "{} uses the platform's own credentials; this tenant may not use it (the operator allows tenants in `workflow_integration_tenants`)",
                kind.label
            ),
        ));
    }
    for k in n.config.keys() {
        let known = (spec.kinded && k == "kind") || kind.fields.iter().any(|f| f.name == k);
        if !known {
            problems.push(Problem::field(
                &n.id,
                k,
                "unknown_config",
                format!(
                    "a {} has no setting `{k}`; its settings are {}",
                    kind.label,
                    kind.fields
                        .iter()
                        .map(|f| f.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let scope = Scope::new(g, &n.id);
    for f in kind.fields {
        match n.config.get(f.name) {
            None | Some(Value::Null) => {
                if f.required {
                    problems.push(Problem::field(
                        &n.id,
                        f.name,
                        "missing_config",
                        format!("`{}` ({}) is required", f.name, f.label),
                    ));
                }
            }
            Some(Value::String(s)) if s.trim().is_empty() && f.required => {
                problems.push(Problem::field(
                    &n.id,
                    f.name,
                    "missing_config",
                    format!("`{}` ({}) is required", f.name, f.label),
                ));
            }
            Some(v) => {
                if let Err((code, message)) = check_field(f, v, &scope, policy, n) {
                    problems.push(Problem::field(&n.id, f.name, code, message));
                }
            }
        }
    }
}

type FieldError = (&'static str, String);

fn invalid(message: impl Into<String>) -> FieldError {
    ("invalid_config", message.into())
}

fn check_template(src: &str, max: usize, scope: &Scope) -> std::result::Result<(), FieldError> {
    if src.chars().count() > max {
        return Err(invalid(format!("at most {max} characters")));
    }
    let t = template::parse(src).map_err(|m| ("invalid_template", m))?;
    for p in t.paths() {
        scope
            .type_of(p)
            .map_err(|m| ("invalid_template", format!("`{{{{{p}}}}}`: {m}")))?;
    }
    Ok(())
}

fn check_field(
    f: &Field,
    v: &Value,
    scope: &Scope,
    policy: &Policy,
    n: &Node,
) -> std::result::Result<(), FieldError> {
    let text = || v.as_str().ok_or_else(|| invalid("must be text"));
    match f.kind {
        FieldKind::Text(max) => {
            let s = text()?;
            if s.chars().count() > max || s.chars().any(char::is_control) {
                return Err(invalid(format!("one line of at most {max} characters")));
            }
            plain_text_rules(f.name, s)
        }
        FieldKind::Template(max) => check_template(text()?, max, scope),
        FieldKind::Expression => expr::compile(text()?, scope)
            .map(|_| ())
            .map_err(|m| ("type_error", m)),
        FieldKind::Cron => timing::Cron::parse(text()?).map(|_| ()).map_err(invalid),
        FieldKind::Duration => timing::parse_duration(text()?).map(|_| ()).map_err(invalid),
        FieldKind::Timestamp => {
            let s = text()?;
            if s.contains("{{") {
                check_template(s, 200, scope)
            } else {
                crate::time::parse_rfc3339(s)
                    .map(|_| ())
                    .map_err(|e| invalid(format!("{} (or a template giving one)", e.message)))
            }
        }
        FieldKind::Choice(options) => match v.as_str() {
            Some(s) if options.contains(&s) => Ok(()),
            _ => Err(invalid(format!("one of {}", options.join(", ")))),
        },
        FieldKind::Bool(_) => v
            .as_bool()
            .map(|_| ())
            .ok_or_else(|| invalid("true or false")),
        FieldKind::Int { min, max, .. } => match v.as_i64() {
            Some(i) if (min..=max).contains(&i) => Ok(()),
            _ => Err(invalid(format!("a whole number from {min} to {max}"))),
        },
        FieldKind::TemplateList(max) => {
            let items = v.as_array().ok_or_else(|| invalid("a list of text"))?;
            if items.is_empty() || items.len() > max {
                return Err(invalid(format!("1 to {max} entries")));
            }
            for item in items {
                let s = item.as_str().ok_or_else(|| invalid("a list of text"))?;
                check_template(s, 320, scope)?;
            }
            Ok(())
        }
        FieldKind::Headers => {
            let map = v
                .as_object()
                .ok_or_else(|| invalid("an object of header names to values"))?;
            if map.len() > 20 {
                return Err(invalid("at most 20 headers"));
            }
            for (name, value) in map {
                let token = !name.is_empty()
                    && name.len() <= 64
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                let reserved = ["host", "content-length", "transfer-encoding", "connection"]
                    .contains(&name.to_ascii_lowercase().as_str());
                if !token || reserved {
                    return Err(invalid(format!(
                        "`{name}` is not a header this action may set"
                    )));
                }
                let value = value
                    .as_str()
                    .ok_or_else(|| invalid(format!("header `{name}` must be text")))?;
                check_template(value, 2000, scope)?;
            }
            Ok(())
        }
        FieldKind::Url => {
            let s = text()?;
            check_template(s, 2000, scope)?;
            let t = template::parse(s).map_err(|m| ("invalid_template", m))?;
            let Some(origin) = url_origin(&t) else {
                return Err(invalid(
                    "write the URL's origin out (https://host[:port]/…); templates may fill its path and query only",
                ));
            };
            if !policy.http_origins.contains(&origin) {
                return Err((
                    "origin_not_allowed",
                    format!(
                        "{origin} is not an allowed origin for HTTP actions (node `{}`): the operator adds it to `workflow_http_allowed_origins` and to cron-worker's allowed_outbound_hosts",
                        n.id
                    ),
                ));
            }
            Ok(())
        }
    }
}

/// Field-specific rules for plain text settings.
fn plain_text_rules(name: &str, s: &str) -> std::result::Result<(), FieldError> {
    let chars = |ok: fn(char) -> bool| s.chars().all(ok);
    let good = match name {
        "model" => chars(|c| c.is_ascii_alphanumeric() || "._:/-".contains(c)),
        "database_id" => s.len() >= 32 && chars(|c| c.is_ascii_hexdigit() || c == '-'),
        "folder_id" => crate::google::drive::FolderId::parse(s).is_ok(),
        "chat_id" => {
            let rest = s.strip_prefix('-').unwrap_or(s);
            (!rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()))
                || (s.starts_with('@') && s.len() > 1)
        }
        _ => true,
    };
    if good {
        Ok(())
    } else {
        Err(invalid(match name {
            "model" => "a model name (letters, digits, . _ : / -)",
            "database_id" => "a Notion database id (32 hex digits, dashes allowed)",
            "folder_id" => "a Drive folder id (letters, digits, - and _)",
            "chat_id" => "a Telegram chat id (a number) or @channel",
            _ => "not valid here",
        }))
    }
}

#[cfg(test)]
mod tests;
