// A run's log as the editor shows it: the run's status, mode, id and
// cost, then each node's step (status, timing, attempts, cost, the port it
// left by, its input and output, its error) with a way back to the node on
// the canvas and, once the run is over, "run again from here".

import { h } from "../dom.js";
import { t } from "../i18n.js";
import * as fmt from "../format.js";
import { statusPill } from "../ui/states.js";
import { finished } from "./runs.js";

/** Pretty JSON in a keyboard-scrollable block. */
const json = (label, value) => h("pre", { tabindex: "0", "aria-label": label, text: JSON.stringify(value, null, 2) });

function step(s, { nameOf, show, restart }) {
  return h(
    "li",
    { class: "wf-step", dataset: { node: s.node_id, status: s.status } },
    h("div", { class: "wf-step-head" }, h("button", { type: "button", class: "link", on: { click: () => show(s.node_id) } }, nameOf(s.node_id)), statusPill(s.status)),
    h(
      "div",
      { class: "meta small muted" },
      s.duration_ms !== null ? h("span", { text: fmt.duration(s.duration_ms) }) : null,
      h("span", { text: t("workflow.attempts", { n: s.attempts, max: s.max_attempts }) }),
      s.cost_micros ? h("span", { text: fmt.micros(s.cost_micros) }) : null,
      s.port ? h("span", { text: t("workflow.left_by", { port: s.port }) }) : null,
      s.resume_at ? h("span", { text: t("workflow.resumes", { at: fmt.dateTime(s.resume_at) }) }) : null,
      s.copied ? h("span", { text: t("workflow.copied") }) : null,
    ),
    s.error ? h("p", { class: "error-text", text: s.error }) : null,
    s.input !== null || s.output !== null
      ? h("details", {}, h("summary", { text: t("workflow.io") }), h("h3", { text: t("workflow.input") }), json(t("workflow.input"), s.input), h("h3", { text: t("workflow.output") }), json(t("workflow.output"), s.output))
      : null,
    restart ? h("button", { type: "button", class: "secondary small-button", on: { click: () => restart(s.node_id) } }, t("workflow.restart_here")) : null,
  );
}

/**
 * The log of `run`. `nameOf(nodeId)` names a node, `show(nodeId)` shows
 * it on the canvas; `cancel()` while it runs and
 * `restart(nodeId)` once it is over are offered when given (operators),
 * restart only for nodes `hasNode` still finds in the graph.
 */
export function runLog(run, { nameOf, show, hasNode, cancel = null, restart = null }) {
  const over = finished(run);
  return [
    h(
      "div",
      { class: "wf-run-head", id: "wf-current-run", dataset: { runId: run.id, status: run.status } },
      statusPill(run.status),
      run.debug ? h("span", { class: "pill info", text: t("workflow.debug_run") }) : null,
      h("code", { text: run.id }),
      h("span", { class: "muted small" }, t("workflow.run_cost", { cost: fmt.micros(run.cost_micros || 0) })),
      !over && cancel ? h("button", { type: "button", class: "secondary", id: "wf-cancel-run", on: { click: cancel } }, t("workflow.cancel_run")) : null,
    ),
    run.error ? h("p", { class: "error-text", text: run.error }) : null,
    h("ol", { class: "wf-steps", id: "wf-steps" }, run.steps.map((s) => step(s, { nameOf, show, restart: over && restart && hasNode(s.node_id) ? restart : null }))),
  ];
}
