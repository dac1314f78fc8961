// Workflows: the tenant's workflows, a new blank one (a manual trigger to
// build from) and the five templates to start from. Creating one opens it
// in the editor; the webhook signing secret the API shows only at creation
// is handed to the editor in memory, to be shown once.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { href } from "../routes.js";
import { header, card, fill } from "../ui/layout.js";
import { empty, errorMessage } from "../ui/states.js";
import { input, onSubmit, submit } from "../ui/fields.js";
import { toast } from "../ui/toast.js";

/** Secrets of workflows created in this page's life, by workflow id (memory only). */
const secrets = new Map();

/** The signing secret of a workflow created just now, once. */
export function takeSecret(id) {
  const secret = secrets.get(id);
  secrets.delete(id);
  return secret || null;
}

/** The graph of a new blank workflow: a manual trigger to build from. */
export function blankGraph() {
  return { nodes: [{ id: "start", type: "trigger", name: t("workflows.start_name"), config: { kind: "manual" }, position: { x: 40, y: 40 } }], edges: [] };
}

export async function render({ main, query, signal, navigate }) {
  const mayEdit = session.atLeast("operator");
  const list = h("div", { id: "workflow-list" });
  const templates = h("div", { id: "workflow-templates" });
  const createBox = h("div");
  const open = async (body) => {
    const wf = await api.post("/api/workflows", body);
    secrets.set(wf.id, wf.webhook_secret);
    toast(t("workflows.created"));
    navigate(`/workflows/${encodeURIComponent(wf.id)}`);
  };
  mount(
    main,
    header(t("workflows.title"), mayEdit ? h("button", { type: "button", id: "new-workflow", on: { click: () => showCreate(createBox, open) } }, t("workflows.create")) : null),
    h("p", { class: "lede", text: t("workflows.lede") }),
    createBox,
    h("section", { "aria-labelledby": "workflow-list-title", class: "stack" }, h("h2", { id: "workflow-list-title", text: t("workflows.yours") }), list),
    h("section", { "aria-labelledby": "workflow-templates-title", class: "stack" }, h("h2", { id: "workflow-templates-title", text: t("workflows.templates") }), templates),
  );
  if (mayEdit && query.do === "create") showCreate(createBox, open);
  await Promise.all([
    fill(list, () => api.get("/api/workflows", {}, { signal }), ({ workflows }) => workflowList(workflows), { signal }),
    fill(templates, () => api.get("/api/workflow-templates", {}, { signal }), ({ templates: all }) => templateCards(all, mayEdit, open), { signal }),
  ]);
}

function workflowList(workflows) {
  if (!workflows.length) return empty(t("workflows.none"));
  return h(
    "ul",
    { class: "records" },
    workflows.map((wf) =>
      h(
        "li",
        { class: "record", dataset: { workflowId: wf.id } },
        h("div", { class: "title" }, h("a", { href: href(`/workflows/${encodeURIComponent(wf.id)}`), text: wf.name })),
        h("span", { class: "pill neutral", text: t("workflow.version", { version: wf.version }) }),
        wf.description ? h("p", { class: "small", text: wf.description }) : null,
        h("div", { class: "meta" }, h("span", {}, t("workflows.updated"), " ", h("time", { datetime: wf.updated_at, text: fmt.relative(wf.updated_at) }))),
      ),
    ),
  );
}

function templateCards(templates, mayEdit, open) {
  return h(
    "div",
    { class: "grid cols-2" },
    templates.map((tpl) => {
      const button = mayEdit
        ? h("button", { type: "button", class: "secondary", dataset: { template: tpl.id }, "aria-label": t("workflows.use_named", { name: tpl.name }) }, t("workflows.use"))
        : null;
      button?.addEventListener("click", async () => {
        button.disabled = true;
        try {
          await open({ template: tpl.id });
        } catch (err) {
          button.disabled = false;
          toast(errorMessage(err), "bad");
        }
      });
      return card(
        tpl.name,
        h("p", { class: "small", text: tpl.description }),
        h("p", { class: "meta small muted", text: t("workflows.template_size", { nodes: tpl.graph.nodes.length, edges: tpl.graph.edges.length }) }),
        button ? h("div", { class: "card-actions" }, button) : null,
      );
    }),
  );
}

function showCreate(box, open) {
  if (box.firstChild) return box.querySelector("input")?.focus();
  const form = onSubmit(
    h(
      "form",
      { id: "create-workflow-form", novalidate: true },
      input({ name: "name", label: t("workflow.name"), required: true, hint: t("workflows.name_hint"), attrs: { maxlength: 120, autocomplete: "off" } }),
      h("div", { class: "card-actions" }, submit(t("workflows.create_submit")), h("button", { type: "button", class: "secondary", on: { click: () => mount(box) } }, t("action.cancel"))),
    ),
    (v) => open({ name: v.name, graph: blankGraph() }),
  );
  mount(box, card(t("workflows.create"), form));
  form.querySelector("input").focus();
}
