// A workflow's graph as the editor changes it: pure functions from one
// graph to the next (nothing here touches the DOM or the network), so
// every change can be undone by keeping the graph before it, and the
// unit tests can check each rule. The server's validator has the last
// word (unreachable nodes, configuration, conditions); these rules only
// refuse edges no valid graph could hold (a loop, a second edge from one
// port to the same node, an edge into the trigger).

/** A node's size on the canvas, in graph units. */
export const NODE = { width: 200, height: 72 };
/** The port a step leaves through when it succeeds. */
export const NEXT = "next";
/** The largest a coordinate may be (keeps a dragged node findable). */
const LIMIT = 20000;

/** A copy of `graph` with every edge's port written out and every node placed. */
export function normalize(graph) {
  const nodes = (graph?.nodes || []).map((n, i) => ({
    ...n,
    config: { ...(n.config || {}) },
    position: n.position ? { x: Number(n.position.x) || 0, y: Number(n.position.y) || 0 } : { x: 40, y: 40 + i * 120 },
  }));
  const edges = (graph?.edges || []).map((e) => ({ from: e.from, to: e.to, port: e.port || NEXT }));
  return { nodes, edges };
}

/** The node with `id`, or undefined. */
export const node = (graph, id) => graph.nodes.find((n) => n.id === id);

/** An id for a new node of `type`: `ai_task_2` (the first number free). */
export function nextId(graph, type) {
  const taken = new Set(graph.nodes.map((n) => n.id));
  for (let i = 1; ; i += 1) {
    const id = `${type}_${i}`;
    if (!taken.has(id)) return id;
  }
}

const clamp = (v) => Math.round(Math.max(-LIMIT, Math.min(LIMIT, Number(v) || 0)));

/** Add a node; returns `{graph, id}`. `kind` is written to the configuration of kinded types. */
export function addNode(graph, { type, kind = "", name = "", position = null }) {
  const id = nextId(graph, type);
  const spot = position ? { x: clamp(position.x), y: clamp(position.y) } : freeSpot(graph);
  const added = { id, type, name: name || undefined, config: kind ? { kind } : {}, position: spot };
  if (!added.name) delete added.name;
  return { graph: { nodes: [...graph.nodes, added], edges: graph.edges.slice() }, id };
}

/** Remove a node and every edge touching it. */
export function removeNode(graph, id) {
  return { nodes: graph.nodes.filter((n) => n.id !== id), edges: graph.edges.filter((e) => e.from !== id && e.to !== id) };
}

/** Move a node to `position` (rounded, kept within the canvas's bounds). */
export function moveNode(graph, id, position) {
  return mapNode(graph, id, (n) => ({ ...n, position: { x: clamp(position.x), y: clamp(position.y) } }));
}

/** Rename a node (an empty name removes it: the canvas then shows the type). */
export function renameNode(graph, id, name) {
  return mapNode(graph, id, (n) => {
    const out = { ...n, name: name.trim() };
    if (!out.name) delete out.name;
    return out;
  });
}

/**
 * Set one configuration field (`undefined` or "" removes it). Changing
 * `kind` keeps only the fields the new kind has (`fields`) and drops the
 * edges leaving through ports it lacks (`ports`).
 */
export function setConfig(graph, id, field, value, { fields = null, ports = null } = {}) {
  let out = mapNode(graph, id, (n) => {
    const config = { ...n.config };
    if (value === undefined || value === "" || value === null) delete config[field];
    else config[field] = value;
    if (field === "kind" && fields) {
      for (const key of Object.keys(config)) if (key !== "kind" && !fields.includes(key)) delete config[key];
    }
    return { ...n, config };
  });
  if (field === "kind" && ports) out = { ...out, edges: out.edges.filter((e) => e.from !== id || ports.includes(e.port)) };
  return out;
}

function mapNode(graph, id, fn) {
  return { nodes: graph.nodes.map((n) => (n.id === id ? fn(n) : n)), edges: graph.edges.slice() };
}

/** Whether an edge `from` → `to` would close a loop. */
export function wouldCycle(graph, from, to) {
  if (from === to) return true;
  const seen = new Set([to]);
  const stack = [to];
  while (stack.length) {
    const at = stack.pop();
    for (const e of graph.edges) {
      if (e.from !== at) continue;
      if (e.to === from) return true;
      if (!seen.has(e.to)) {
        seen.add(e.to);
        stack.push(e.to);
      }
    }
  }
  return false;
}

/**
 * Why `from`/`port` → `to` cannot be added (`unknown`, `self`,
 * `into_trigger`, `duplicate`, `cycle`), or null when it can.
 */
export function connectProblem(graph, from, port, to) {
  const a = node(graph, from);
  const b = node(graph, to);
  if (!a || !b) return "unknown";
  if (from === to) return "self";
  if (b.type === "trigger") return "into_trigger";
  if (graph.edges.some((e) => e.from === from && e.to === to && e.port === port)) return "duplicate";
  if (wouldCycle(graph, from, to)) return "cycle";
  return null;
}

/** Add the edge, or return `{graph, problem}` unchanged when it cannot be. */
export function connect(graph, from, port, to) {
  const problem = connectProblem(graph, from, port, to);
  if (problem) return { graph, problem };
  return { graph: { nodes: graph.nodes.slice(), edges: [...graph.edges, { from, to, port }] }, problem: null };
}

/** Remove the edge at `index`. */
export function disconnect(graph, index) {
  return { nodes: graph.nodes.slice(), edges: graph.edges.filter((_, i) => i !== index) };
}

/** The server's problems by node id; those about no node under `""`. */
export function problemsByNode(problems) {
  const out = new Map();
  for (const p of problems || []) {
    const key = p.node || "";
    if (!out.has(key)) out.set(key, []);
    out.get(key).push(p);
  }
  return out;
}

/** The box holding every node, with `margin` around it (a default box when empty). */
export function bounds(graph, margin = 40) {
  if (!graph.nodes.length) return { x: 0, y: 0, width: 480, height: 360 };
  const xs = graph.nodes.map((n) => n.position.x);
  const ys = graph.nodes.map((n) => n.position.y);
  const x = Math.min(...xs) - margin;
  const y = Math.min(...ys) - margin;
  return { x, y, width: Math.max(...xs) + NODE.width + margin - x, height: Math.max(...ys) + NODE.height + margin - y };
}

/** Whether a node at `p` would overlap one already placed. */
function overlaps(graph, p) {
  return graph.nodes.some((n) => Math.abs(n.position.x - p.x) < NODE.width + 20 && Math.abs(n.position.y - p.y) < NODE.height + 24);
}

/**
 * A free place for a new node: below `near` (a node id), else below the
 * lowest node, moving right until nothing overlaps.
 */
export function freeSpot(graph, near = null) {
  const anchor = (near && node(graph, near)) || graph.nodes.reduce((low, n) => (!low || n.position.y > low.position.y ? n : low), null);
  const start = anchor ? { x: anchor.position.x, y: anchor.position.y + NODE.height + 48 } : { x: 40, y: 40 };
  for (let i = 0; i < 50; i += 1) {
    const p = { x: start.x + i * (NODE.width + 40), y: start.y };
    if (!overlaps(graph, p)) return p;
  }
  return { x: start.x, y: start.y + NODE.height + 48 };
}

/** Where an edge leaves `n` through port `index` of `count`, and where it enters `m`. */
export function portPoint(n, index, count) {
  const step = NODE.width / (count + 1);
  return { x: n.position.x + step * (index + 1), y: n.position.y + NODE.height };
}

/** The input point of a node (the middle of its top edge). */
export const inputPoint = (n) => ({ x: n.position.x + NODE.width / 2, y: n.position.y });

/** An SVG path from `a` down to `b` (a vertical S-curve; loops around when `b` is above). */
export function edgePath(a, b) {
  const bend = Math.max(40, Math.abs(b.y - a.y) / 2);
  return `M ${a.x} ${a.y} C ${a.x} ${a.y + bend}, ${b.x} ${b.y - bend}, ${b.x} ${b.y}`;
}

/** The id of the node under graph point `p`, or null (the topmost when they overlap). */
export function nodeAt(graph, p) {
  for (let i = graph.nodes.length - 1; i >= 0; i -= 1) {
    const n = graph.nodes[i];
    if (p.x >= n.position.x && p.x <= n.position.x + NODE.width && p.y >= n.position.y && p.y <= n.position.y + NODE.height) return n.id;
  }
  return null;
}

/** The graph as the API takes it (positions kept; edges with their ports). */
export function toApi(graph) {
  return { nodes: graph.nodes.map((n) => ({ ...n, config: { ...n.config } })), edges: graph.edges.map((e) => ({ ...e })) };
}

/** Whether two graphs are the same (for "nothing changed"). */
export const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
