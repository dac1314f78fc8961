// One workflow in the editor: the palette, the canvas and the selected
// node's settings; every change saved a moment later as a new version
// (PUT with the version it was based on), undoable; the server's
// validation shown on the nodes it names; Run and Debug with the live log,
// each node lit by its step's status.

import { h, mount, uid } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { href } from "../routes.js";
import { header } from "../ui/layout.js";
import { statusPill, errorMessage, failure, empty } from "../ui/states.js";
import { confirmDialog } from "../ui/confirm.js";
import { toast } from "../ui/toast.js";
import * as G from "../workflow/graph.js";
import { createHistory } from "../workflow/history.js";
import { createCanvas, paletteDrag, typeLabel } from "../workflow/canvas.js";
import { nodePanel } from "../workflow/panel.js";
import { paletteEntries } from "../workflow/catalogue.js";
import { watchRun, statusByNode, finished } from "../workflow/runs.js";
import { runLog } from "../workflow/log.js";
import { takeSecret } from "./workflows.js";

/** How long after the last change the editor saves. */
const SAVE_DELAY_MS = 800;

export async function render({ main, params, signal }) {
  const id = params.id;
  const [workflow, catalogue] = await Promise.all([
    api.get(`/api/workflows/${encodeURIComponent(id)}`, {}, { signal }),
    api.get("/api/workflow-nodes", {}, { signal }),
  ]);
  if (signal.aborted) return;
  new Editor({ main, signal, workflow, catalogue }).mount();
}

class Editor {
  constructor({ main, signal, workflow, catalogue }) {
    this.main = main;
    this.signal = signal;
    this.catalogue = catalogue;
    this.readOnly = !session.atLeast("operator");
    this.workflow = workflow;
    this.saved = G.normalize(workflow.graph);
    this.history = createHistory(this.saved);
    this.selected = null;
    this.sheetOpen = false;
    this.problems = new Map();
    this.statuses = new Map();
    this.saveTimer = null;
    this.saving = null;
    this.again = false;
    this.conflict = false;
    this.run = null;
    this.runWatch = null;
    signal.addEventListener("abort", () => this.leave(), { once: true });
  }

  get graph() {
    return this.history.present;
  }

  get dirty() {
    return !G.same(this.graph, this.saved);
  }

  // ---- layout ------------------------------------------------------------

  mount() {
    const helpId = uid("wf-help");
    this.status = h("p", { class: "wf-status", id: "wf-save-status", role: "status" });
    this.graphProblems = h("div", { id: "wf-graph-problems" });
    this.undoButton = this.tool("wf-undo", t("workflow.undo"), () => this.undo());
    this.redoButton = this.tool("wf-redo", t("workflow.redo"), () => this.redo());
    this.runButton = h("button", { type: "button", id: "wf-run", on: { click: () => this.start(false) } }, t("workflow.run"));
    this.debugButton = h("button", { type: "button", class: "secondary", id: "wf-debug", on: { click: () => this.start(true) } }, t("workflow.debug"));
    const stage = h("div", { class: "wf-stage" });
    this.panelHost = h("div", { class: "wf-panel-host", on: { keydown: (e) => this.panelKey(e) } });
    this.palette = this.readOnly ? null : h("div", { class: "wf-palette", role: "group", "aria-label": t("workflow.palette") });
    this.editor = h(
      "div",
      { class: "wf-editor", on: { keydown: (e) => this.shortcut(e) } },
      h(
        "div",
        { class: "wf-toolbar", role: "toolbar", "aria-label": t("workflow.toolbar") },
        this.readOnly ? null : [this.undoButton, this.redoButton],
        this.tool("wf-fit", t("workflow.fit"), () => this.canvas.fit()),
        this.tool("wf-zoom-out", t("workflow.zoom_out"), () => this.canvas.zoom(1 / 1.25), "−"),
        this.tool("wf-zoom-in", t("workflow.zoom_in"), () => this.canvas.zoom(1.25), "+"),
      ),
      this.status,
      this.graphProblems,
      this.palette,
      h("div", { class: "wf-body" }, stage, this.panelHost),
      h("p", { class: "visually-hidden", id: helpId, text: t("workflow.canvas_help") }),
    );
    this.log = h("div", { id: "wf-log", "aria-live": "polite" });
    this.sample = h("textarea", { id: "wf-sample", name: "sample", rows: 3, class: "mono", spellcheck: "false" });
    this.sample.value = "{}";
    this.runs = h("div", { id: "wf-runs" });
    mount(
      this.main,
      header(this.workflow.name, h("a", { href: href("/workflows"), class: "button secondary" }, t("workflow.back")), this.readOnly ? null : [this.debugButton, this.runButton]),
      this.secretNotice(),
      this.editor,
      h(
        "section",
        { class: "card wf-run-card", "aria-labelledby": "wf-log-title" },
        h("h2", { id: "wf-log-title", text: t("workflow.log") }),
        this.readOnly
          ? null
          : h("details", { class: "wf-sample" }, h("summary", { text: t("workflow.sample") }), h("div", { class: "field" }, h("label", { for: "wf-sample", text: t("workflow.sample_label") }), this.sample, h("div", { class: "hint", text: t("workflow.sample_hint") }))),
        this.log,
      ),
      h("section", { class: "card", "aria-labelledby": "wf-runs-title" }, h("h2", { id: "wf-runs-title", text: t("workflow.recent_runs") }), this.runs),
      this.settingsCard(),
    );
    this.canvas = createCanvas({
      host: stage,
      catalogue: this.catalogue,
      readOnly: this.readOnly,
      helpId,
      select: (nodeId) => this.select(nodeId),
      move: (nodeId, position) => this.change(G.moveNode(this.graph, nodeId, position)),
      remove: (nodeId) => this.removeNode(nodeId),
      connect: (from, port, to) => this.connect(from, port, to),
      open: (nodeId) => this.openPanel(nodeId),
    });
    if (this.palette) this.fillPalette();
    mount(this.log, empty(t("workflow.log_none")));
    this.redraw();
    requestAnimationFrame(() => this.canvas.fit());
    this.setStatus(t("workflow.saved", { version: this.workflow.version }));
    this.loadRuns();
  }

  tool(id, label, action, text = null) {
    return h("button", { type: "button", class: "secondary", id, "aria-label": text ? label : null, title: text ? label : null, on: { click: action } }, text || label);
  }

  secretNotice() {
    const secret = takeSecret(this.workflow.id);
    if (!secret) return null;
    return h("details", { class: "notice", id: "wf-secret" }, h("summary", { text: t("workflow.secret_title") }), h("p", { text: t("workflow.secret_once") }), h("code", { class: "secret", text: secret }));
  }

  fillPalette() {
    for (const entry of paletteEntries(this.catalogue)) {
      const label = typeLabel(this.catalogue, { type: entry.type, config: {} });
      const button = h("button", { type: "button", class: `wf-palette-item type-${entry.type}`, dataset: { type: entry.type }, title: entry.description, "aria-label": t("workflow.add_node", { type: label }) }, label);
      paletteDrag(button, this.canvas, (position) => this.addNode(entry, position));
      this.palette.append(button);
    }
  }

  settingsCard() {
    if (this.readOnly) return null;
    const nameId = uid("wf-wf-name");
    const descId = uid("wf-wf-desc");
    const name = h("input", { id: nameId, name: "name", type: "text", value: this.workflow.name, maxlength: 120, required: true });
    const description = h("textarea", { id: descId, name: "description", rows: 2, maxlength: 2000 });
    description.value = this.workflow.description || "";
    name.addEventListener("change", () => {
      if (!name.value.trim()) return;
      this.workflow = { ...this.workflow, name: name.value.trim() };
      this.main.querySelector("h1").textContent = this.workflow.name;
      this.scheduleSave(true);
    });
    description.addEventListener("change", () => {
      this.workflow = { ...this.workflow, description: description.value.trim() || null };
      this.scheduleSave(true);
    });
    return h(
      "details",
      { class: "card wf-settings" },
      h("summary", { text: t("workflow.settings") }),
      h("div", { class: "field" }, h("label", { for: nameId, text: t("workflow.name") }), name),
      h("div", { class: "field" }, h("label", { for: descId, text: t("workflow.description") }), description),
      h("p", { class: "small muted" }, t("workflow.id"), " ", h("code", { text: this.workflow.id })),
      h("div", { class: "card-actions" }, h("button", { type: "button", class: "danger", id: "wf-delete", on: { click: () => this.deleteWorkflow() } }, t("workflow.delete"))),
    );
  }

  // ---- drawing -----------------------------------------------------------

  redraw() {
    if (this.selected && !G.node(this.graph, this.selected)) this.selected = null;
    this.canvas.render(this.graph, { selected: this.selected, problems: this.problems, statuses: this.statuses });
    this.drawPanel();
    this.undoButton.disabled = !this.history.canUndo;
    this.redoButton.disabled = !this.history.canRedo;
    const loose = this.problems.get("") || [];
    mount(this.graphProblems, loose.length ? h("ul", { class: "notice bad wf-problems" }, loose.map((p) => h("li", { text: p.message }))) : null);
  }

  drawPanel() {
    const node = this.selected && G.node(this.graph, this.selected);
    const keep = this.panelHost.contains(document.activeElement) ? document.activeElement.id : null;
    this.editor.classList.toggle("with-panel", Boolean(node));
    if (!node) {
      mount(this.panelHost);
      return;
    }
    mount(
      this.panelHost,
      nodePanel({
        catalogue: this.catalogue,
        graph: this.graph,
        node,
        problems: this.problems.get(node.id) || [],
        readOnly: this.readOnly,
        expanded: this.sheetOpen,
        on: {
          toggle: () => {
            this.sheetOpen = !this.sheetOpen;
            this.drawPanel();
            document.getElementById("wf-panel-toggle")?.focus();
          },
          rename: (name) => this.change(G.renameNode(this.graph, node.id, name)),
          setField: (name, value, meta) => this.change(G.setConfig(this.graph, node.id, name, value, meta)),
          connect: (port, to) => this.connect(node.id, port, to),
          disconnect: (index) => this.change(G.disconnect(this.graph, index)),
          remove: () => this.removeNode(node.id),
          close: () => {
            this.select(null);
            this.canvas.focusNode(node.id);
          },
        },
      }),
    );
    if (keep) document.getElementById(keep)?.focus();
  }

  /** Escape in the settings closes them and returns to the node. */
  panelKey(e) {
    if (e.key !== "Escape" || !this.selected) return;
    e.preventDefault();
    e.target.dispatchEvent(new Event("change", { bubbles: true })); // keep what was typed
    const nodeId = this.selected;
    this.select(null);
    this.canvas.focusNode(nodeId);
  }

  select(nodeId) {
    if (this.selected === nodeId) return;
    this.selected = nodeId;
    this.sheetOpen = false; // on a phone the sheet folds to its title until asked
    this.redraw();
  }

  /** Select `nodeId` and put the keyboard in its settings. */
  openPanel(nodeId) {
    this.select(nodeId);
    this.sheetOpen = true;
    this.drawPanel();
    this.panelHost.querySelector(".wf-panel-body input, .wf-panel-body select, .wf-panel-body textarea")?.focus();
  }

  // ---- changes -----------------------------------------------------------

  change(next) {
    if (this.readOnly || !this.history.push(next, G.same)) return;
    this.redraw();
    this.scheduleSave();
  }

  addNode(entry, position) {
    const near = this.selected;
    const at = position || G.freeSpot(this.graph, near);
    const { graph, id } = G.addNode(this.graph, { type: entry.type, kind: entry.kind, position: at });
    this.selected = id;
    this.change(graph);
    this.canvas.reveal(id);
    this.canvas.focusNode(id);
    this.setStatus(t("workflow.added", { type: typeLabel(this.catalogue, { type: entry.type, config: {} }) }));
  }

  removeNode(nodeId) {
    const node = G.node(this.graph, nodeId);
    if (!node) return;
    const index = this.graph.nodes.indexOf(node);
    this.change(G.removeNode(this.graph, nodeId));
    const next = this.graph.nodes[Math.min(index, this.graph.nodes.length - 1)];
    if (next) this.canvas.focusNode(next.id);
    else this.canvas.element.focus();
    this.setStatus(t("workflow.removed", { name: node.name || node.id }));
  }

  connect(from, port, to) {
    const { graph, problem } = G.connect(this.graph, from, port, to);
    if (problem) {
      this.setStatus(t(`workflow.connect_refused.${problem}`), "bad");
      return;
    }
    this.change(graph);
    const name = (nodeId) => G.node(this.graph, nodeId)?.name || nodeId;
    this.setStatus(t("workflow.connected", { from: name(from), to: name(to) }));
  }

  undo() {
    if (this.history.undo()) this.afterTravel();
  }

  redo() {
    if (this.history.redo()) this.afterTravel();
  }

  afterTravel() {
    this.redraw();
    this.scheduleSave();
  }

  shortcut(e) {
    if (this.readOnly || !(e.ctrlKey || e.metaKey)) return;
    if (e.target.closest("input, textarea, select")) return; // the field's own undo
    const key = e.key.toLowerCase();
    if (key === "z" && !e.shiftKey) {
      e.preventDefault();
      this.undo();
    } else if ((key === "z" && e.shiftKey) || key === "y") {
      e.preventDefault();
      this.redo();
    }
  }

  // ---- saving ------------------------------------------------------------

  setStatus(text, tone = "") {
    this.status.textContent = text;
    this.status.dataset.tone = tone;
  }

  scheduleSave(force = false) {
    if (this.conflict) return;
    clearTimeout(this.saveTimer);
    this.force = this.force || force;
    if (!this.dirty && !this.force) {
      this.setStatus(t("workflow.saved", { version: this.workflow.version }));
      return;
    }
    this.setStatus(t("workflow.unsaved"));
    this.saveTimer = setTimeout(() => this.save(), SAVE_DELAY_MS);
  }

  /** Save now (one at a time; a change during a save saves again after). */
  async save() {
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    if (this.saving) {
      this.again = true;
      return this.saving;
    }
    if (!this.dirty && !this.force) return undefined;
    this.force = false;
    const graph = this.graph;
    this.setStatus(t("workflow.saving"));
    this.saving = (async () => {
      try {
        const saved = await api.put(`/api/workflows/${encodeURIComponent(this.workflow.id)}`, {
          name: this.workflow.name,
          description: this.workflow.description || null,
          version: this.workflow.version,
          graph: G.toApi(graph),
        });
        this.workflow = { ...this.workflow, version: saved.version };
        this.saved = graph;
        this.problems = new Map();
        this.setStatus(t("workflow.saved", { version: saved.version }), "ok");
      } catch (err) {
        if (err?.code === "invalid_workflow") {
          const list = err.details?.problems || [];
          this.problems = G.problemsByNode(list);
          this.setStatus(t("workflow.not_saved", { count: list.length }), "bad");
        } else if (err?.code === "workflow_changed") {
          this.conflict = true;
          this.setStatus(t("workflow.conflict"), "bad");
          this.offerReload();
        } else {
          this.setStatus(t("workflow.save_failed", { reason: errorMessage(err) }), "bad");
        }
      }
      if (!this.signal.aborted) this.redraw();
    })();
    await this.saving;
    this.saving = null;
    if (this.again) {
      this.again = false;
      return this.save();
    }
    return undefined;
  }

  offerReload() {
    const reload = h("button", { type: "button", class: "secondary", id: "wf-reload", on: { click: () => location.reload() } }, t("workflow.reload"));
    this.status.append(" ", reload);
  }

  leave() {
    this.runWatch?.abort();
    // A change made just before leaving is still saved.
    if (this.saveTimer && this.dirty && !this.conflict) {
      clearTimeout(this.saveTimer);
      this.save();
    }
  }

  async deleteWorkflow() {
    const ok = await confirmDialog({ title: t("workflow.delete_title"), body: t("workflow.delete_body", { name: this.workflow.name }), confirmLabel: t("workflow.delete"), danger: true });
    if (!ok) return;
    try {
      clearTimeout(this.saveTimer);
      this.conflict = true; // nothing more to save
      await api.del(`/api/workflows/${encodeURIComponent(this.workflow.id)}`);
      toast(t("workflow.deleted"));
      location.hash = href("/workflows");
    } catch (err) {
      toast(errorMessage(err), "bad");
    }
  }

  // ---- runs --------------------------------------------------------------

  async start(debug) {
    let context;
    try {
      context = JSON.parse(this.sample.value || "{}");
      if (!context || typeof context !== "object" || Array.isArray(context)) throw new Error("not an object");
    } catch {
      this.setStatus(t("workflow.sample_invalid"), "bad");
      this.sample.closest("details").open = true;
      this.sample.focus();
      return;
    }
    await this.save();
    if (this.dirty || this.problems.size) {
      this.setStatus(t("workflow.fix_first"), "bad");
      return;
    }
    this.runButton.disabled = true;
    this.debugButton.disabled = true;
    try {
      const run = await api.post(`/api/workflows/${encodeURIComponent(this.workflow.id)}/run`, { debug, context });
      this.canvas.fit(); // every node in sight while they light up
      this.follow(run);
    } catch (err) {
      this.setStatus(errorMessage(err), "bad");
      this.runButton.disabled = false;
      this.debugButton.disabled = false;
    }
  }

  /** Show `run` and follow it until it finishes. */
  follow(run) {
    this.runWatch?.abort();
    this.runWatch = new AbortController();
    const signal = AbortSignal.any([this.signal, this.runWatch.signal]);
    this.showRun(run);
    if (finished(run)) return;
    this.runButton.disabled = true;
    this.debugButton.disabled = true;
    watchRun(run.id, (next) => this.showRun(next), { signal })
      .catch((err) => {
        if (!signal.aborted) mount(this.log, failure(err, () => this.follow(run)));
      })
      .finally(() => {
        if (this.signal.aborted) return;
        this.runButton.disabled = false;
        this.debugButton.disabled = false;
        this.loadRuns();
      });
  }

  showRun(run) {
    this.run = run;
    this.statuses = statusByNode(run);
    this.canvas.render(this.graph, { selected: this.selected, problems: this.problems, statuses: this.statuses });
    mount(
      this.log,
      runLog(run, {
        nameOf: (nodeId) => G.node(this.graph, nodeId)?.name || nodeId,
        show: (nodeId) => this.showNode(nodeId),
        hasNode: (nodeId) => Boolean(G.node(this.graph, nodeId)),
        cancel: this.readOnly ? null : () => this.cancelRun(run.id),
        restart: this.readOnly ? null : (nodeId) => this.restart(run, nodeId),
      }),
    );
  }

  showNode(nodeId) {
    if (!G.node(this.graph, nodeId)) return;
    this.select(nodeId);
    this.canvas.reveal(nodeId);
    this.canvas.focusNode(nodeId);
  }

  async cancelRun(runId) {
    try {
      await api.post(`/api/runs/${encodeURIComponent(runId)}/cancel`, {});
      toast(t("workflow.run_cancelled"));
    } catch (err) {
      toast(errorMessage(err), "bad");
    }
  }

  async restart(run, nodeId) {
    try {
      const next = await api.post(`/api/runs/${encodeURIComponent(run.id)}/restart`, { node: nodeId, debug: run.debug });
      this.follow(next);
    } catch (err) {
      toast(errorMessage(err), "bad");
    }
  }

  async loadRuns() {
    try {
      const { runs } = await api.get(`/api/workflows/${encodeURIComponent(this.workflow.id)}/runs`, { limit: 10 }, { signal: this.signal });
      if (this.signal.aborted) return;
      mount(
        this.runs,
        runs.length
          ? h(
              "ul",
              { class: "records" },
              runs.map((r) =>
                h(
                  "li",
                  { class: "record" },
                  h("div", { class: "title" }, h("button", { type: "button", class: "link", on: { click: () => this.openRun(r.id) } }, r.id)),
                  statusPill(r.status),
                  h("div", { class: "meta" }, r.debug ? h("span", { text: t("workflow.debug_run") }) : null, h("span", {}, h("time", { datetime: r.started_at, text: fmt.relative(r.started_at) })), h("span", { text: t("workflow.version", { version: r.version }) })),
                ),
              ),
            )
          : empty(t("workflow.runs_none")),
      );
    } catch (err) {
      if (!this.signal.aborted && err?.name !== "AbortError") mount(this.runs, failure(err, () => this.loadRuns()));
    }
  }

  async openRun(runId) {
    try {
      this.follow(await api.get(`/api/runs/${encodeURIComponent(runId)}`, {}, { signal: this.signal }));
      this.log.scrollIntoView({ block: "start" });
    } catch (err) {
      if (!this.signal.aborted) toast(errorMessage(err), "bad");
    }
  }
}
