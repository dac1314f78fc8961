// The workflow editor's pure pieces: graph changes (add, move, connect
// with its refusals, remove, kind changes), placement and hit-testing,
// the server's problems by node, undo/redo, the catalogue lookups and the
// settings panel's text forms of lists and headers.

import { test } from "node:test";
import assert from "node:assert/strict";
import { load } from "./static.js";

const G = await load("js/workflow/graph.js");
const { createHistory } = await load("js/workflow/history.js");
const cat = await load("js/workflow/catalogue.js");
const panel = await load("js/workflow/panel.js");

const start = () => G.normalize({ nodes: [{ id: "start", type: "trigger", config: { kind: "manual" }, position: { x: 40, y: 40 } }], edges: [] });

test("graph: normalize writes out ports and places unplaced nodes", () => {
  const g = G.normalize({ nodes: [{ id: "a", type: "trigger", config: { kind: "manual" } }, { id: "b", type: "delay", config: {} }], edges: [{ from: "a", to: "b" }] });
  assert.deepEqual(g.edges, [{ from: "a", to: "b", port: "next" }]);
  assert.deepEqual(g.nodes[1].position, { x: 40, y: 160 });
  assert.deepEqual(G.normalize(null), { nodes: [], edges: [] });
});

test("graph: add gives each node a fresh id, a kind and a free place", () => {
  let g = start();
  const a = G.addNode(g, { type: "ai_task" });
  assert.equal(a.id, "ai_task_1");
  assert.deepEqual(G.node(a.graph, "ai_task_1").config, {});
  g = a.graph;
  const b = G.addNode(g, { type: "action", kind: "http", position: { x: 10.6, y: 99999999 } });
  assert.equal(b.id, "action_1");
  assert.deepEqual(G.node(b.graph, "action_1").config, { kind: "http" });
  assert.deepEqual(G.node(b.graph, "action_1").position, { x: 11, y: 20000 }, "rounded and clamped");
  const c = G.addNode(b.graph, { type: "ai_task" });
  assert.equal(c.id, "ai_task_2");
  assert.equal(start().nodes.length, 1, "the input graph is unchanged");
  // Free places do not overlap.
  let many = start();
  for (let i = 0; i < 6; i += 1) many = G.addNode(many, { type: "delay", kind: "duration" }).graph;
  const spots = many.nodes.map((n) => n.position);
  for (let i = 0; i < spots.length; i += 1) {
    for (let j = i + 1; j < spots.length; j += 1) {
      const apart = Math.abs(spots[i].x - spots[j].x) >= G.NODE.width || Math.abs(spots[i].y - spots[j].y) >= G.NODE.height;
      assert.ok(apart, `${JSON.stringify(spots[i])} and ${JSON.stringify(spots[j])} overlap`);
    }
  }
});

test("graph: connect refuses loops, duplicates, self-edges and edges into the trigger", () => {
  let g = start();
  g = G.addNode(g, { type: "ai_task" }).graph;
  g = G.addNode(g, { type: "condition" }).graph;
  let r = G.connect(g, "start", "next", "ai_task_1");
  assert.equal(r.problem, null);
  g = r.graph;
  g = G.connect(g, "ai_task_1", "next", "condition_1").graph;
  assert.equal(G.connect(g, "condition_1", "true", "ai_task_1").problem, "cycle");
  assert.equal(G.connect(g, "condition_1", "true", "condition_1").problem, "self");
  assert.equal(G.connect(g, "condition_1", "true", "start").problem, "into_trigger");
  assert.equal(G.connect(g, "start", "next", "ai_task_1").problem, "duplicate");
  assert.equal(G.connect(g, "start", "next", "nope").problem, "unknown");
  r = G.connect(g, "ai_task_1", "error", "condition_1");
  assert.equal(r.problem, null, "another port to the same node is a different edge");
  assert.equal(r.graph.edges.length, 3);
  assert.equal(G.connect(g, "condition_1", "true", "ai_task_1").graph, g, "a refused edge leaves the graph as it was");
  assert.equal(G.wouldCycle(g, "condition_1", "start"), true);
  assert.equal(G.wouldCycle(g, "start", "condition_1"), false);
});

test("graph: remove takes the node's edges; disconnect one edge; move; rename", () => {
  let g = start();
  g = G.addNode(g, { type: "ai_task" }).graph;
  g = G.addNode(g, { type: "delay", kind: "duration" }).graph;
  g = G.connect(g, "start", "next", "ai_task_1").graph;
  g = G.connect(g, "ai_task_1", "next", "delay_1").graph;
  const removed = G.removeNode(g, "ai_task_1");
  assert.deepEqual(removed.nodes.map((n) => n.id), ["start", "delay_1"]);
  assert.deepEqual(removed.edges, []);
  assert.deepEqual(G.disconnect(g, 0).edges, [{ from: "ai_task_1", to: "delay_1", port: "next" }]);
  assert.deepEqual(G.node(G.moveNode(g, "delay_1", { x: 7.4, y: -3 }), "delay_1").position, { x: 7, y: -3 });
  assert.equal(G.node(G.renameNode(g, "delay_1", "  Wait  "), "delay_1").name, "Wait");
  assert.equal("name" in G.node(G.renameNode(G.renameNode(g, "delay_1", "Wait"), "delay_1", " "), "delay_1"), false);
});

test("graph: configuration fields; a new kind drops fields and ports it lacks", () => {
  let g = start();
  g = G.addNode(g, { type: "action", kind: "http" }).graph;
  g = G.addNode(g, { type: "delay", kind: "duration" }).graph;
  g = G.connect(g, "start", "next", "action_1").graph;
  g = G.connect(g, "action_1", "error", "delay_1").graph;
  g = G.setConfig(g, "action_1", "url", "https://example.com/x");
  g = G.setConfig(g, "action_1", "method", "POST");
  assert.deepEqual(G.node(g, "action_1").config, { kind: "http", url: "https://example.com/x", method: "POST" });
  assert.equal("method" in G.node(G.setConfig(g, "action_1", "method", ""), "action_1").config, false, "empty removes");
  const swapped = G.setConfig(g, "action_1", "kind", "create_job", { fields: ["brief", "priority"], ports: ["next"] });
  assert.deepEqual(G.node(swapped, "action_1").config, { kind: "create_job" });
  assert.deepEqual(swapped.edges, [{ from: "start", to: "action_1", port: "next" }], "the error edge went with the port");
});

test("graph: geometry, hit-testing, bounds and problems by node", () => {
  const g = start();
  assert.equal(G.nodeAt(g, { x: 50, y: 50 }), "start");
  assert.equal(G.nodeAt(g, { x: 39, y: 50 }), null);
  assert.deepEqual(G.bounds(g, 10), { x: 30, y: 30, width: G.NODE.width + 20, height: G.NODE.height + 20 });
  assert.deepEqual(G.portPoint(g.nodes[0], 0, 1), { x: 40 + G.NODE.width / 2, y: 40 + G.NODE.height });
  assert.deepEqual(G.inputPoint(g.nodes[0]), { x: 40 + G.NODE.width / 2, y: 40 });
  assert.match(G.edgePath({ x: 0, y: 0 }, { x: 10, y: 100 }), /^M 0 0 C /);
  const by = G.problemsByNode([{ node: "a", code: "x" }, { node: null, code: "y" }, { node: "a", code: "z" }]);
  assert.deepEqual(by.get("a").map((p) => p.code), ["x", "z"]);
  assert.deepEqual(by.get("").map((p) => p.code), ["y"]);
  assert.equal(G.same(g, start()), true);
  assert.deepEqual(G.toApi(g), g);
});

test("history: undo, redo, a new change drops the future, a limit on the past", () => {
  const hist = createHistory(0, 3);
  assert.equal(hist.canUndo, false);
  assert.equal(hist.push(0), false, "no change, no entry");
  for (const n of [1, 2, 3, 4]) hist.push(n);
  assert.equal(hist.present, 4);
  assert.equal(hist.undo(), 3);
  assert.equal(hist.undo(), 2);
  assert.equal(hist.undo(), 1);
  assert.equal(hist.undo(), null, "only three steps kept");
  assert.equal(hist.redo(), 2);
  hist.push(9);
  assert.equal(hist.canRedo, false);
  assert.equal(hist.undo(), 2);
  hist.reset(5);
  assert.equal(hist.present, 5);
  assert.equal(hist.canUndo || hist.canRedo, false);
});

test("catalogue: ports, inputs, fields and palette entries from the node catalogue", () => {
  const catalogue = {
    node_types: [
      { type: "trigger", label: "Trigger", kinded: true, inputs: 0, kinds: [{ kind: "manual", ports: ["next"], config_schema: { properties: { kind: {} }, required: ["kind"] } }] },
      { type: "condition", label: "Condition", kinded: false, inputs: 1, kinds: [{ kind: "", ports: ["true", "false", "error"], config_schema: { properties: { expression: { title: "Condition", "x-widget": "expression" } }, required: ["expression"] } }] },
    ],
  };
  const cond = { type: "condition", config: {} };
  assert.deepEqual(cat.portsOf(catalogue, cond), ["true", "false", "error"]);
  assert.deepEqual(cat.portsOf(catalogue, { type: "mystery", config: {} }), ["next"]);
  assert.equal(cat.hasInput(catalogue, { type: "trigger", config: {} }), false);
  assert.equal(cat.hasInput(catalogue, cond), true);
  assert.deepEqual(cat.fieldsOf(cat.kindSpec(catalogue, cond)), [{ name: "expression", required: true, title: "Condition", "x-widget": "expression" }]);
  assert.deepEqual(cat.fieldsOf(cat.kindSpec(catalogue, { type: "trigger", config: { kind: "manual" } })), []);
  const spread = { config_schema: { properties: { max_attempts: {}, model: {}, qa: {}, user_template: {} }, required: ["user_template"] } };
  assert.deepEqual(cat.fieldsOf(spread).map((f) => f.name), ["user_template", "model", "qa", "max_attempts"], "required first, attempts last");
  assert.deepEqual(cat.paletteEntries(catalogue).map((e) => [e.type, e.kind]), [["trigger", "manual"], ["condition", ""]]);
});

test("panel: headers and lists as text lines, and back", () => {
  assert.deepEqual(panel.textToHeaders("X-Api: {{trigger.key}}\nbad line\n Accept : text/plain \n"), { "X-Api": "{{trigger.key}}", Accept: "text/plain" });
  assert.equal(panel.textToHeaders("\n"), undefined);
  assert.equal(panel.headersToText({ A: "1", B: "2" }), "A: 1\nB: 2");
  assert.deepEqual(panel.textToList(" a@example.com \n\n{{trigger.email}}"), ["a@example.com", "{{trigger.email}}"]);
  assert.equal(panel.textToList(""), undefined);
  assert.equal(panel.listToText(["a", "b"]), "a\nb");
});
