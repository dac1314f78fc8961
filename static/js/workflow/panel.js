// The settings of the selected node, drawn from the node catalogue's
// JSON Schema for its kind: a field per property (text, template,
// expression, choice, number, switch, list, headers), the node's problems
// from the last save beside the fields they name, its connections (with
// "connect to…", the keyboard's way to draw an edge) and "delete". On a
// phone the panel is a sheet over the bottom of the screen: folded to its
// title bar while the reader works on the canvas, unfolded to edit. Each
// change is committed on `change` (one undo step per edit, not per
// keystroke).

import { h, uid } from "../dom.js";
import { t, has } from "../i18n.js";
import { typeSpec, kindSpec, fieldsOf, portsOf } from "./catalogue.js";
import { typeLabel, portLabel } from "./canvas.js";

/** `{name: value}` lines for a headers field, and back. */
export function headersToText(headers) {
  return Object.entries(headers || {}).map(([k, v]) => `${k}: ${v}`).join("\n");
}

export function textToHeaders(text) {
  const out = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf(":");
    if (at <= 0) continue;
    const name = line.slice(0, at).trim();
    if (name) out[name] = line.slice(at + 1).trim();
  }
  return Object.keys(out).length ? out : undefined;
}

/** One item per line for a list field, and back. */
export const listToText = (list) => (Array.isArray(list) ? list.join("\n") : "");
export function textToList(text) {
  const items = text.split("\n").map((s) => s.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

/** The value a field's control holds, as the configuration takes it. */
function read(field, control) {
  switch (field["x-widget"]) {
    case "switch":
      return control.checked;
    case "number":
      return control.value === "" ? undefined : Number(control.value);
    case "list":
      return textToList(control.value);
    case "headers":
      return textToHeaders(control.value);
    default:
      return control.value.trim() === "" ? undefined : control.value;
  }
}

function control(field, value, id, disabled, describedBy, invalid) {
  // dir=auto: a prompt in Urdu reads right to left, a URL or template left to right, in any locale.
  const common = { id, name: field.name, disabled, dir: "auto", "aria-describedby": describedBy || null, "aria-invalid": invalid ? "true" : null, required: field.required };
  switch (field["x-widget"]) {
    case "select":
      return h("select", common, (field.enum || []).map((v) => h("option", { value: v, selected: String(v) === String(value ?? field.default ?? "") }, v)));
    case "switch":
      return h("input", { ...common, type: "checkbox", checked: value ?? field.default ?? false });
    case "number":
      return h("input", { ...common, type: "number", inputmode: "numeric", min: field.minimum, max: field.maximum, value: value ?? "", placeholder: field.default ?? "" });
    case "template":
    case "expression":
    case "list":
    case "headers": {
      const area = h("textarea", { ...common, rows: field["x-widget"] === "template" ? 4 : 2, class: field["x-widget"] === "template" ? "" : "mono", maxlength: field.maxLength, spellcheck: field["x-widget"] === "template" ? null : "false" });
      area.value = field["x-widget"] === "list" ? listToText(value) : field["x-widget"] === "headers" ? headersToText(value) : value ?? "";
      return area;
    }
    default:
      return h("input", { ...common, type: "text", value: value ?? "", maxlength: field.maxLength, class: ["cron", "duration", "url", "timestamp"].includes(field["x-widget"]) ? "mono" : null, autocomplete: "off", spellcheck: "false" });
  }
}

function fieldRow(field, node, problems, disabled, onChange) {
  const id = uid(`wf-${field.name}`);
  const mine = problems.filter((p) => p.field === field.name);
  const hintId = `${id}-hint`;
  const errorId = mine.length ? `${id}-error` : null;
  const input = control(field, node.config[field.name], id, disabled, [hintId, errorId].filter(Boolean).join(" "), mine.length > 0);
  input.addEventListener("change", () => onChange(field.name, read(field, input)));
  const label = h("label", { for: id, text: `${field.title || field.name}${field.required ? " *" : ""}` });
  const hint = h("div", { class: "hint", id: hintId, text: field.description || "" });
  const error = mine.length ? h("div", { class: "error-text", id: errorId, text: mine.map((p) => p.message).join(" ") }) : null;
  if (field["x-widget"] === "switch") return h("div", { class: "check" }, input, label, hint, error);
  return h("div", { class: "field" }, label, input, hint, error);
}

/**
 * The panel for `node` in `graph`; `expanded`: unfolded (phones). `on`:
 * rename(name), setField(name, value, {fields, ports}), connect(port, to),
 * disconnect(index), remove(), close(), toggle().
 */
export function nodePanel({ catalogue, graph, node, problems, readOnly, expanded, on }) {
  const spec = typeSpec(catalogue, node.type);
  const kind = kindSpec(catalogue, node);
  const headingId = uid("wf-panel-title");
  const nameId = uid("wf-name");
  const nameInput = h("input", { id: nameId, name: "name", type: "text", value: node.name || "", maxlength: 120, disabled: readOnly, placeholder: node.id, autocomplete: "off" });
  nameInput.addEventListener("change", () => on.rename(nameInput.value));

  let kindField = null;
  if (spec?.kinded) {
    const kindId = uid("wf-kind");
    const select = h(
      "select",
      { id: kindId, name: "kind", disabled: readOnly },
      spec.kinds.map((k) => {
        const key = `workflow.kind.${node.type}.${k.kind}`;
        return h("option", { value: k.kind, selected: k.kind === node.config.kind }, has(key) ? t(key) : k.label);
      }),
    );
    select.addEventListener("change", () => {
      const next = spec.kinds.find((k) => k.kind === select.value);
      on.setField("kind", select.value, { fields: fieldsOf(next).map((f) => f.name), ports: next.ports });
    });
    kindField = h("div", { class: "field" }, h("label", { for: kindId, text: t("workflow.kind") }), select, h("div", { class: "hint", text: kind?.description || "" }));
  }

  const nodeProblems = problems || [];
  const loose = nodeProblems.filter((p) => !p.field || !fieldsOf(kind).some((f) => f.name === p.field));
  const fields = fieldsOf(kind).map((f) => fieldRow(f, node, nodeProblems, readOnly, (name, value) => on.setField(name, value)));

  const outgoing = graph.edges.map((e, i) => [e, i]).filter(([e]) => e.from === node.id);
  const incoming = graph.edges.filter((e) => e.to === node.id);
  const targets = graph.nodes.filter((n) => n.id !== node.id && n.type !== "trigger");
  const ports = portsOf(catalogue, node);
  const portId = uid("wf-port");
  const targetId = uid("wf-target");
  const connectForm = readOnly || !targets.length
    ? null
    : h(
        "form",
        { class: "wf-connect", id: "wf-connect-form" },
        h("div", { class: "field" }, h("label", { for: portId, text: t("workflow.connect_port") }), h("select", { id: portId, name: "port" }, ports.map((p) => h("option", { value: p }, portLabel(p))))),
        h("div", { class: "field" }, h("label", { for: targetId, text: t("workflow.connect_to") }), h("select", { id: targetId, name: "to" }, targets.map((n) => h("option", { value: n.id }, n.name || n.id)))),
        h("button", { type: "submit", class: "secondary" }, t("workflow.connect")),
      );
  connectForm?.addEventListener("submit", (e) => {
    e.preventDefault();
    on.connect(connectForm.elements.port.value, connectForm.elements.to.value);
  });
  const nameOf = (id) => graph.nodes.find((n) => n.id === id)?.name || id;

  const content = [
    loose.length ? h("ul", { class: "wf-problems", "aria-label": t("workflow.problems") }, loose.map((p) => h("li", { text: p.message }))) : null,
    h("div", { class: "field" }, h("label", { for: nameId, text: t("workflow.node_name") }), nameInput, h("div", { class: "hint" }, t("workflow.node_id"), " ", h("code", { text: node.id }))),
    kindField,
    fields,
    h("h3", { text: t("workflow.connections") }),
    outgoing.length || incoming.length
      ? h(
          "ul",
          { class: "wf-links" },
          incoming.map((e) => h("li", {}, h("span", { text: t("workflow.link_in", { from: nameOf(e.from), port: portLabel(e.port) }) }))),
          outgoing.map(([e, i]) =>
            h(
              "li",
              {},
              h("span", { text: t("workflow.link_out", { to: nameOf(e.to), port: portLabel(e.port) }) }),
              readOnly ? null : h("button", { type: "button", class: "secondary small-button", "aria-label": t("workflow.disconnect_named", { to: nameOf(e.to), port: portLabel(e.port) }), on: { click: () => on.disconnect(i) } }, t("workflow.disconnect")),
            ),
          ),
        )
      : h("p", { class: "muted small", text: t("workflow.no_links") }),
    connectForm,
    readOnly ? null : h("div", { class: "card-actions" }, h("button", { type: "button", class: "danger", id: "wf-delete-node", on: { click: on.remove } }, t("workflow.delete_node"))),
  ];

  const bodyId = uid("wf-panel-body");
  return h(
    "section",
    { class: "wf-panel", "aria-labelledby": headingId, id: "wf-panel", dataset: { node: node.id, expanded: String(expanded) } },
    h(
      "div",
      { class: "wf-panel-head" },
      h("h2", { id: headingId, text: `${typeLabel(catalogue, node)} · ${node.name || node.id}` }),
      problems?.length ? h("span", { class: "pill bad", text: t("workflow.node_problems", { count: problems.length }) }) : null,
      h("button", { type: "button", class: "secondary wf-panel-toggle", id: "wf-panel-toggle", "aria-expanded": String(expanded), "aria-controls": bodyId, on: { click: on.toggle } }, t("workflow.settings_node")),
      h("button", { type: "button", class: "secondary icon", "aria-label": t("workflow.close_panel"), on: { click: on.close } }, "×"),
    ),
    h("div", { class: "wf-panel-body", id: bodyId }, content),
  );
}
