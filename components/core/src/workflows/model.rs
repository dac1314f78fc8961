//! A workflow's graph as data: nodes (an id, a type, a configuration, a
//! place on the canvas) and edges (from a node's output port to another
//! node). Parsing is lenient about shape only as far as it must be to say
//! which node a problem belongs to: [`super::validate`] does the checking.

use serde::Serialize;
use serde_json::{Map, Value};

/// The most nodes a workflow may have.
pub const MAX_NODES: usize = 100;
/// The most edges a workflow may have.
pub const MAX_EDGES: usize = 300;
/// The largest graph accepted, serialized.
pub const MAX_GRAPH_BYTES: usize = 256 * 1024;
/// The longest node id.
pub const MAX_NODE_ID: usize = 64;

/// The six node types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeType {
    /// Where a run starts: manual, schedule, signed webhook, new Notion page.
    Trigger,
    /// A prompt to a model, graded by QA when asked.
    AiTask,
    /// A yes-or-no question about earlier data: routes to `true` or `false`.
    Condition,
    /// An HTTP request, a new job, a Notion page update, a Drive upload.
    Action,
    /// A Telegram message or an email.
    Notification,
    /// Wait a while, or until a time.
    Delay,
}

impl NodeType {
    /// Every type, in catalogue order.
    pub const ALL: [NodeType; 6] = [
        NodeType::Trigger,
        NodeType::AiTask,
        NodeType::Condition,
        NodeType::Action,
        NodeType::Notification,
        NodeType::Delay,
    ];

    /// As written in graphs.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::Trigger => "trigger",
            NodeType::AiTask => "ai_task",
            NodeType::Condition => "condition",
            NodeType::Action => "action",
            NodeType::Notification => "notification",
            NodeType::Delay => "delay",
        }
    }

    /// Parse a type name.
    pub fn parse(s: &str) -> Option<NodeType> {
        NodeType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A node's place on the canvas (the editor's; the engine ignores it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Position {
    /// Horizontal.
    pub x: f64,
    /// Vertical.
    pub y: f64,
}

/// A node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    /// Unique in the graph: 1 to 64 of `[A-Za-z0-9_-]`.
    pub id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub node_type: NodeType,
    /// A label for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its configuration (checked against its type's fields).
    pub config: Map<String, Value>,
    /// Where the editor draws it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// Free notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl Node {
    /// The configuration's `kind` (trigger, action, notification, delay),
    /// or `""` for types without kinds.
    pub fn kind(&self) -> &str {
        self.config
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// A text field of the configuration.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.config.get(field).and_then(Value::as_str)
    }
}

/// The default output port.
pub const NEXT: &str = "next";

/// An edge: when `from` leaves through `port`, `to` may run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// The source node.
    pub from: String,
    /// The target node.
    pub to: String,
    /// The source's output port: `next`, `true`, `false` or `error`.
    pub port: String,
}

/// A parsed graph. Only [`super::validate::validate`] makes these from
/// input, so every graph in the engine is valid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Graph {
    /// The nodes, in the order given.
    pub nodes: Vec<Node>,
    /// The edges, in the order given.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// The node with `id`.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The trigger node (a valid graph has exactly one).
    pub fn trigger(&self) -> Option<&Node> {
        self.nodes.iter().find(|n| n.node_type == NodeType::Trigger)
    }

    /// Edges into `id`.
    pub fn incoming<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Edge> + 'a {
        self.edges.iter().filter(move |e| e.to == id)
    }

    /// Edges out of `id`.
    pub fn outgoing<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Edge> + 'a {
        self.edges.iter().filter(move |e| e.from == id)
    }

    /// Every node that can run before `id` (its ancestors).
    pub fn ancestors(&self, id: &str) -> std::collections::BTreeSet<String> {
        let mut seen = std::collections::BTreeSet::new();
        let mut stack = vec![id.to_string()];
        while let Some(n) = stack.pop() {
            for e in self.incoming(&n) {
                if seen.insert(e.from.clone()) {
                    stack.push(e.from.clone());
                }
            }
        }
        seen
    }

    /// `id` and every node that can run after it.
    pub fn descendants(&self, id: &str) -> std::collections::BTreeSet<String> {
        let mut seen = std::collections::BTreeSet::from([id.to_string()]);
        let mut stack = vec![id.to_string()];
        while let Some(n) = stack.pop() {
            for e in self.outgoing(&n) {
                if seen.insert(e.to.clone()) {
                    stack.push(e.to.clone());
                }
            }
        }
        seen
    }

    /// As stored and served.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Whether `s` is a valid node id.
pub fn is_node_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NODE_ID
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
