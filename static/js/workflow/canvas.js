// The canvas: the graph drawn in SVG (nodes, their ports, the edges), and
// the hands on it, all through Pointer Events so mouse, pen and touch
// behave alike: drag a node to move it, drag from an output port onto
// another node to connect them, drag the background to pan, pinch or
// Ctrl+wheel to zoom. Each node is a focusable button: Tab moves between
// nodes, the arrow keys move the selected one, Delete removes it, Enter
// opens its settings. The canvas never changes the graph itself: it asks
// the editor through its callbacks, which record the change for undo.

import { svg, h } from "../dom.js";
import { t, has } from "../i18n.js";
import * as G from "./graph.js";
import { portsOf, hasInput, typeSpec, kindSpec } from "./catalogue.js";

/** A pointer that moves less than this (CSS px) is a tap, not a drag. */
const TAP_SLOP = 6;
const MIN_SCALE = 0.3;
const MAX_SCALE = 2;
/** How far an arrow key moves a node (Shift: five times as far). */
const KEY_STEP = 10;

/** The words for a node's type and kind, from the catalogue of strings when it has them. */
export function typeLabel(catalogue, node) {
  const key = `workflow.type.${node.type}`;
  return has(key) ? t(key) : typeSpec(catalogue, node.type)?.label || node.type;
}

export function kindLabel(catalogue, node) {
  const kind = node.config?.kind;
  if (!kind) return "";
  const key = `workflow.kind.${node.type}.${kind}`;
  return has(key) ? t(key) : kindSpec(catalogue, node)?.label || kind;
}

export function portLabel(port) {
  const key = `workflow.port.${port}`;
  return has(key) ? t(key) : port;
}

/** `text` cut to `max` characters with an ellipsis. */
const cut = (text, max) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/**
 * Make a canvas in `host`. Callbacks: `select(id|null)`, `move(id, position)`,
 * `remove(id)`, `connect(from, port, to)`, `open(id)` (settings).
 */
export function createCanvas({ host, catalogue, readOnly, helpId, select, move, remove, connect, open }) {
  const edgesLayer = svg("g", { class: "wf-edges" });
  const draftEdge = svg("path", { class: "wf-edge draft", hidden: true });
  const nodesLayer = svg("g", { class: "wf-nodes" });
  const root = svg(
    "svg",
    { class: "wf-canvas", role: "group", "aria-label": t("workflow.canvas"), "aria-describedby": helpId, id: "wf-canvas" },
    svg("defs", {}, svg("marker", { id: "wf-arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "wf-arrow" }))),
    edgesLayer,
    draftEdge,
    nodesLayer,
  );
  host.append(root);

  let graph = { nodes: [], edges: [] };
  let state = { selected: null, problems: new Map(), statuses: new Map() };
  const view = { x: 0, y: 0, scale: 1 };
  const pointers = new Map(); // pointerId → {x, y} in client px
  let gesture = null;

  function applyView() {
    const w = Math.max(1, root.clientWidth) / view.scale;
    const hgt = Math.max(1, root.clientHeight) / view.scale;
    root.setAttribute("viewBox", `${view.x} ${view.y} ${w} ${hgt}`);
  }

  /** Client px → graph units. */
  function toGraph(clientX, clientY) {
    const m = root.getScreenCTM();
    if (!m) return { x: 0, y: 0 };
    const p = new DOMPoint(clientX, clientY).matrixTransform(m.inverse());
    return { x: p.x, y: p.y };
  }

  /** Zoom by `factor` about the client point (the centre by default). */
  function zoom(factor, clientX = null, clientY = null) {
    const rect = root.getBoundingClientRect();
    const cx = clientX ?? rect.left + rect.width / 2;
    const cy = clientY ?? rect.top + rect.height / 2;
    const before = toGraph(cx, cy);
    view.scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, view.scale * factor));
    applyView();
    const after = toGraph(cx, cy);
    view.x += before.x - after.x;
    view.y += before.y - after.y;
    applyView();
  }

  /** Show every node, centred across, from the top down. */
  function fit() {
    const b = G.bounds(graph);
    const cw = Math.max(1, root.clientWidth);
    const ch = Math.max(1, root.clientHeight);
    view.scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, Math.min(cw / b.width, ch / b.height, 1.2)));
    view.x = b.x - (cw / view.scale - b.width) / 2;
    view.y = b.y; // from the top: room below to build on
    applyView();
  }

  function edgeGeometry(e) {
    const a = G.node(graph, e.from);
    const b = G.node(graph, e.to);
    if (!a || !b) return null;
    const ports = portsOf(catalogue, a);
    const index = Math.max(0, ports.indexOf(e.port));
    return G.edgePath(G.portPoint(a, index, ports.length), G.inputPoint(b));
  }

  function drawEdges() {
    edgesLayer.replaceChildren(
      ...graph.edges.map((e) => {
        const d = edgeGeometry(e);
        return d ? svg("path", { class: `wf-edge port-${e.port}`, d, "marker-end": "url(#wf-arrow)", dataset: { from: e.from, to: e.to, port: e.port } }) : null;
      }).filter(Boolean),
    );
  }

  function nodeLabel(n) {
    const parts = [`${typeLabel(catalogue, n)}${n.config?.kind ? ` (${kindLabel(catalogue, n)})` : ""}: ${n.name || n.id}`];
    const status = state.statuses.get(n.id);
    if (status) parts.push(t(`workflow.step.${status}`));
    const problems = state.problems.get(n.id)?.length || 0;
    if (problems) parts.push(t("workflow.node_problems", { count: problems }));
    return parts.join(", ");
  }

  function drawNode(n) {
    const ports = portsOf(catalogue, n);
    const problems = state.problems.get(n.id) || [];
    const status = state.statuses.get(n.id);
    const kind = kindLabel(catalogue, n);
    // The drawing is hidden from assistive technology; the node's button is
    // a transparent rectangle over it (before the ports, so they stay on
    // top for pointers) named by `nodeLabel`.
    const g = svg(
      "g",
      {
        class: `wf-node type-${n.type}${state.selected === n.id ? " selected" : ""}${problems.length ? " has-problems" : ""}`,
        transform: `translate(${n.position.x} ${n.position.y})`,
        dataset: { id: n.id, type: n.type, status: status || null },
      },
      svg(
        "g",
        { "aria-hidden": "true" },
        svg("rect", { class: "wf-node-box", width: G.NODE.width, height: G.NODE.height, rx: "10" }),
        svg("rect", { class: "wf-node-band", width: "6", height: G.NODE.height, rx: "3" }),
        svg("text", { class: "wf-node-type", x: "16", y: "20" }, cut(`${typeLabel(catalogue, n)}${kind ? ` · ${kind}` : ""}`.toUpperCase(), status ? 17 : 26)),
        svg("text", { class: "wf-node-name", x: "16", y: "42" }, cut(n.name || n.id, 21)),
        status ? svg("text", { class: "wf-node-status", x: String(G.NODE.width - 10), y: "20", "text-anchor": "end" }, t(`workflow.step.${status}`)) : null,
        hasInput(catalogue, n) ? svg("circle", { class: "wf-port-in", cx: String(G.NODE.width / 2), cy: "0", r: "5" }) : null,
      ),
      svg("rect", {
        class: "wf-node-hit",
        width: G.NODE.width,
        height: G.NODE.height,
        rx: "10",
        tabindex: "0",
        role: "button",
        "aria-pressed": String(state.selected === n.id),
        "aria-label": nodeLabel(n),
      }),
      ports.map((port, i) => {
        const p = G.portPoint({ position: { x: 0, y: 0 } }, i, ports.length);
        return svg(
          "g",
          { class: `wf-port port-${port}`, dataset: { port }, "aria-hidden": "true" },
          svg("text", { class: "wf-port-label", x: String(p.x), y: String(p.y - 10), "text-anchor": "middle" }, portLabel(port)),
          svg("circle", { class: "wf-port-dot", cx: String(p.x), cy: String(p.y), r: "6" }),
          svg("circle", { class: "wf-port-hit", cx: String(p.x), cy: String(p.y), r: "16" }),
        );
      }),
      problems.length
        ? svg("g", { class: "wf-badge", "aria-hidden": "true" }, svg("circle", { cx: String(G.NODE.width - 2), cy: "2", r: "11" }), svg("text", { x: String(G.NODE.width - 2), y: "6.5", "text-anchor": "middle" }, String(problems.length)))
        : null,
    );
    return g;
  }

  /** Draw `next` graph with the selection, problems (by node) and step statuses (by node). */
  function render(next, nextState = {}) {
    graph = next;
    state = { ...state, ...nextState };
    const focused = root.contains(document.activeElement) ? document.activeElement.closest(".wf-node")?.dataset.id : null;
    drawEdges();
    nodesLayer.replaceChildren(...graph.nodes.map(drawNode));
    if (focused) focusNode(focused);
  }

  function focusNode(id) {
    nodesLayer.querySelector(`[data-id="${CSS.escape(id)}"] .wf-node-hit`)?.focus({ preventScroll: true });
  }

  function placeNode(id, position) {
    const g = nodesLayer.querySelector(`[data-id="${CSS.escape(id)}"]`);
    if (g) g.setAttribute("transform", `translate(${position.x} ${position.y})`);
    graph = G.moveNode(graph, id, position);
    drawEdges();
  }

  // ---- pointers --------------------------------------------------------

  root.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 && e.pointerType === "mouse") return;
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    try {
      root.setPointerCapture(e.pointerId);
    } catch {
      /* a synthetic pointer cannot be captured */
    }
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      gesture = { type: "pinch", distance: Math.hypot(a.x - b.x, a.y - b.y) || 1 };
      draftEdge.hidden = true;
      return;
    }
    const nodeEl = e.target.closest?.(".wf-node");
    const portEl = e.target.closest?.(".wf-port");
    const start = { x: e.clientX, y: e.clientY };
    if (nodeEl && portEl && !readOnly) {
      e.preventDefault();
      gesture = { type: "connect", from: nodeEl.dataset.id, port: portEl.dataset.port, start };
    } else if (nodeEl) {
      e.preventDefault();
      const n = G.node(graph, nodeEl.dataset.id);
      const p = toGraph(e.clientX, e.clientY);
      gesture = { type: "node", id: n.id, start, offset: { x: p.x - n.position.x, y: p.y - n.position.y }, origin: { ...n.position }, moved: false };
    } else {
      gesture = { type: "pan", start, view: { ...view }, moved: false };
    }
  });

  root.addEventListener("pointermove", (e) => {
    if (!pointers.has(e.pointerId) || !gesture) return;
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    if (gesture.type === "pinch") {
      if (pointers.size < 2) return;
      const [a, b] = [...pointers.values()];
      const distance = Math.hypot(a.x - b.x, a.y - b.y) || 1;
      zoom(distance / gesture.distance, (a.x + b.x) / 2, (a.y + b.y) / 2);
      gesture.distance = distance;
      return;
    }
    const far = Math.hypot(e.clientX - gesture.start.x, e.clientY - gesture.start.y) > TAP_SLOP;
    if (gesture.type === "node") {
      if (!far && !gesture.moved) return;
      if (readOnly) return;
      gesture.moved = true;
      const p = toGraph(e.clientX, e.clientY);
      placeNode(gesture.id, { x: p.x - gesture.offset.x, y: p.y - gesture.offset.y });
    } else if (gesture.type === "connect") {
      const a = G.node(graph, gesture.from);
      const ports = portsOf(catalogue, a);
      const from = G.portPoint(a, Math.max(0, ports.indexOf(gesture.port)), ports.length);
      draftEdge.hidden = false;
      draftEdge.setAttribute("d", G.edgePath(from, toGraph(e.clientX, e.clientY)));
    } else if (gesture.type === "pan" && (far || gesture.moved)) {
      gesture.moved = true;
      view.x = gesture.view.x - (e.clientX - gesture.start.x) / view.scale;
      view.y = gesture.view.y - (e.clientY - gesture.start.y) / view.scale;
      applyView();
    }
  });

  function endPointer(e, cancelled) {
    if (!pointers.has(e.pointerId)) return;
    pointers.delete(e.pointerId);
    const g = gesture;
    if (!g) return;
    if (g.type === "pinch") {
      if (pointers.size === 0) gesture = null;
      return;
    }
    gesture = null;
    if (cancelled) {
      draftEdge.hidden = true;
      if (g.type === "node" && g.moved) placeNode(g.id, g.origin);
      return;
    }
    if (g.type === "node") {
      if (g.moved) {
        const n = G.node(graph, g.id);
        move(g.id, n.position);
      } else {
        select(g.id);
        focusNode(g.id);
      }
    } else if (g.type === "connect") {
      draftEdge.hidden = true;
      const to = G.nodeAt(graph, toGraph(e.clientX, e.clientY));
      if (to && to !== g.from) connect(g.from, g.port, to);
      else if (!to && Math.hypot(e.clientX - g.start.x, e.clientY - g.start.y) <= TAP_SLOP) select(g.from);
    } else if (g.type === "pan" && !g.moved) {
      select(null);
    }
  }
  root.addEventListener("pointerup", (e) => endPointer(e, false));
  root.addEventListener("pointercancel", (e) => endPointer(e, true));

  root.addEventListener("wheel", (e) => {
    e.preventDefault();
    if (e.ctrlKey || e.metaKey) {
      zoom(Math.exp(-e.deltaY / 300), e.clientX, e.clientY);
    } else {
      view.x += e.deltaX / view.scale;
      view.y += e.deltaY / view.scale;
      applyView();
    }
  }, { passive: false });

  // ---- keys ------------------------------------------------------------

  root.addEventListener("keydown", (e) => {
    const nodeEl = e.target.closest?.(".wf-node");
    if (!nodeEl) return;
    const id = nodeEl.dataset.id;
    const n = G.node(graph, id);
    const step = e.shiftKey ? KEY_STEP * 5 : KEY_STEP;
    const arrows = { ArrowUp: [0, -step], ArrowDown: [0, step], ArrowLeft: [-step, 0], ArrowRight: [step, 0] };
    if (arrows[e.key] && !readOnly) {
      e.preventDefault();
      const [dx, dy] = arrows[e.key];
      if (state.selected !== id) select(id);
      move(id, { x: n.position.x + dx, y: n.position.y + dy });
    } else if ((e.key === "Delete" || e.key === "Backspace") && !readOnly) {
      e.preventDefault();
      remove(id);
    } else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      select(id);
      open(id);
    } else if (e.key === "Escape") {
      select(null);
    }
  });
  root.addEventListener("focusin", (e) => {
    const id = e.target.closest?.(".wf-node")?.dataset.id;
    if (id) reveal(id);
  });

  /** Scroll the view so node `id` is on screen. */
  function reveal(id) {
    const n = G.node(graph, id);
    if (!n) return;
    const w = root.clientWidth / view.scale;
    const hgt = root.clientHeight / view.scale;
    const { x, y } = n.position;
    if (x < view.x || x + G.NODE.width > view.x + w) view.x = x + G.NODE.width / 2 - w / 2;
    if (y < view.y || y + G.NODE.height > view.y + hgt) view.y = y + G.NODE.height / 2 - hgt / 2;
    applyView();
  }

  new ResizeObserver(() => applyView()).observe(root);

  return {
    element: root,
    render,
    fit,
    zoom,
    toGraph,
    focusNode,
    reveal,
    /** Whether the client point is over the canvas. */
    contains(clientX, clientY) {
      const r = root.getBoundingClientRect();
      return clientX >= r.left && clientX <= r.right && clientY >= r.top && clientY <= r.bottom;
    },
  };
}

/**
 * Make palette button `button` draggable onto `canvas`: a drag that ends
 * over the canvas calls `drop(graphPoint)`; a tap or Enter calls `drop(null)`
 * (the editor then finds a free place). A ghost follows the pointer.
 */
export function paletteDrag(button, canvas, drop) {
  let drag = null;
  let ghost = null;
  let suppressClick = false;
  button.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 && e.pointerType === "mouse") return;
    drag = { id: e.pointerId, x: e.clientX, y: e.clientY, moved: false };
    try {
      button.setPointerCapture(e.pointerId);
    } catch {
      /* synthetic pointers cannot be captured */
    }
  });
  button.addEventListener("pointermove", (e) => {
    if (!drag || e.pointerId !== drag.id) return;
    if (!drag.moved && Math.hypot(e.clientX - drag.x, e.clientY - drag.y) <= TAP_SLOP) return;
    if (!drag.moved) {
      drag.moved = true;
      ghost = h("div", { class: "wf-ghost", "aria-hidden": "true" }, button.textContent);
      document.body.append(ghost);
    }
    // CSSOM, not a style attribute: the CSP allows it.
    ghost.style.translate = `${e.clientX - 60}px ${e.clientY - 20}px`;
    button.closest(".wf-editor")?.classList.toggle("dropping", canvas.contains(e.clientX, e.clientY));
  });
  const finish = (e, cancelled) => {
    if (!drag || e.pointerId !== drag.id) return;
    const moved = drag.moved;
    drag = null;
    ghost?.remove();
    ghost = null;
    button.closest(".wf-editor")?.classList.remove("dropping");
    if (!moved) return; // a tap: the click that follows adds the node
    suppressClick = true;
    setTimeout(() => { suppressClick = false; }, 0);
    if (!cancelled && canvas.contains(e.clientX, e.clientY)) {
      const p = canvas.toGraph(e.clientX, e.clientY);
      drop({ x: p.x - G.NODE.width / 2, y: p.y - G.NODE.height / 2 });
    }
  };
  button.addEventListener("pointerup", (e) => finish(e, false));
  button.addEventListener("pointercancel", (e) => finish(e, true));
  button.addEventListener("click", (e) => {
    if (suppressClick) {
      e.preventDefault();
      return;
    }
    drop(null);
  });
}
