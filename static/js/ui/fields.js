// Form fields with their labels, hints and error text wired for screen
// readers, and a submit helper that shows busy and error states.

import { h, uid } from "../dom.js";
import { t } from "../i18n.js";
import { errorMessage } from "./states.js";

function wrap(id, label, control, hint) {
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id, text: label }), control, hint ? h("div", { class: "hint", id: hintId, text: hint }) : null);
}

/** A text-like input (`type` text, email, password, number, datetime-local). */
export function input({ name, label, type = "text", value = "", hint = "", required = false, attrs = {} }) {
  const id = uid(name);
  const control = h("input", { id, name, type, value, required, ...attrs });
  return wrap(id, label, control, hint);
}

/** A multi-line text input. */
export function textarea({ name, label, value = "", hint = "", required = false, attrs = {} }) {
  const id = uid(name);
  const control = h("textarea", { id, name, required, ...attrs });
  control.value = value;
  return wrap(id, label, control, hint);
}

/** A select; `options` are [value, label] pairs. */
export function select({ name, label, options, value = "", hint = "", attrs = {}, id = uid(name) }) {
  const control = h(
    "select",
    { id, name, ...attrs },
    options.map(([v, l]) => h("option", { value: v, selected: String(v) === String(value) }, l)),
  );
  return wrap(id, label, control, hint);
}

/** A checkbox with its label. */
export function checkbox({ name, label, checked = false }) {
  const id = uid(name);
  return h("div", { class: "check" }, h("input", { id, name, type: "checkbox", checked }), h("label", { for: id, text: label }));
}

/** Options for an enum whose labels live in the catalogue under `prefix.value`. */
export function enumOptions(values, prefix, { any = false } = {}) {
  const list = values.map((v) => [v, t(`${prefix}.${v}`)]);
  return any ? [["", t("filter.any")], ...list] : list;
}

/**
 * Handle a form's submit: disables the submit button while `action(values)`
 * runs and shows its error in an alert at the form's end.
 */
export function onSubmit(form, action) {
  const errorBox = h("div", { class: "error-text", role: "alert" });
  form.append(errorBox);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    errorBox.textContent = "";
    if (button) {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    }
    try {
      await action(values(form));
    } catch (err) {
      if (err?.name === "AbortError") return;
      errorBox.textContent = errorMessage(err);
    } finally {
      if (button) {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      }
    }
  });
  return form;
}

/** A form's values: text as strings (trimmed), checkboxes as booleans. */
export function values(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    out[el.name] = el.type === "checkbox" ? el.checked : el.type === "password" ? el.value : el.value.trim();
  }
  return out;
}

/** The submit button. */
export const submit = (label) => h("button", { type: "submit" }, label);

/** Drop empty strings from an object (optional fields left blank). */
export function compact(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== "" && v !== null && v !== undefined));
}
