// The command palette (Ctrl/Cmd+K, or the search button on phones): every
// view and action the principal may use, found by typing. A combobox with
// a listbox: arrows move, Enter runs, Escape closes.

import { h, mount, byId } from "./dom.js";
import { t, LOCALES, setLocale } from "./i18n.js";
import * as theme from "./theme.js";
import * as session from "./session.js";
import { VIEWS, ACTIONS } from "./routes.js";
import { navigate } from "./router.js";
import { rank } from "./search.js";
import { track } from "./telemetry.js";
import { signOut } from "./nav.js";

let dialog;
let input;
let list;
let results = [];
let active = 0;
let opener = null;

function allowed(entry) {
  return session.mayOpen(entry) && (!entry.global || session.isGlobal());
}

/** Every entry the palette offers now. */
export function entries() {
  const out = [];
  if (session.current()) {
    for (const v of VIEWS) {
      if (v.group && allowed(v)) {
        out.push({ label: t(v.title), kind: t("palette.kind.view"), keywords: [v.id, v.path], navigates: true, run: () => navigate(v.path) });
      }
    }
    for (const a of ACTIONS) {
      if (allowed(a)) out.push({ label: t(a.label), kind: t("palette.kind.action"), keywords: [a.id], navigates: true, run: () => navigate(a.path, a.query || {}) });
    }
  } else {
    out.push({ label: t("nav.sign_in"), kind: t("palette.kind.view"), keywords: ["sign_in", "login"], navigates: true, run: () => navigate("/sign-in") });
  }
  for (const l of LOCALES) {
    out.push({ label: t("palette.language", { language: l.name }), kind: t("palette.kind.setting"), keywords: [l.code, "language", "locale"], run: () => setLocale(l.code, { remember: true }).then(() => track("locale.change")) });
  }
  for (const name of theme.THEMES) {
    out.push({ label: t("palette.theme", { theme: t(`settings.theme.${name}`) }), kind: t("palette.kind.setting"), keywords: ["theme", name], run: () => { theme.apply(name, { remember: true }); track("theme.change"); } });
  }
  if (session.current()) out.push({ label: t("nav.sign_out"), kind: t("palette.kind.action"), keywords: ["logout", "sign out"], run: signOut });
  return out;
}

function draw() {
  results = rank(input.value, entries());
  active = Math.min(active, Math.max(0, results.length - 1));
  if (!results.length) {
    mount(list, h("li", { class: "palette-empty", role: "presentation", text: t("palette.no_match") }));
    input.removeAttribute("aria-activedescendant");
    return;
  }
  mount(
    list,
    results.map((r, i) =>
      h(
        "li",
        { id: `palette-option-${i}`, role: "option", "aria-selected": String(i === active), on: { click: () => run(i), mousemove: () => select(i) } },
        h("span", { text: r.label }),
        h("span", { class: "kind", text: r.kind }),
      ),
    ),
  );
  input.setAttribute("aria-activedescendant", `palette-option-${active}`);
}

function select(i) {
  if (i === active) return;
  active = i;
  for (const li of list.querySelectorAll("[role=option]")) li.setAttribute("aria-selected", String(li.id === `palette-option-${i}`));
  input.setAttribute("aria-activedescendant", `palette-option-${i}`);
  byId(`palette-option-${i}`)?.scrollIntoView({ block: "nearest" });
}

async function run(i) {
  const entry = results[i];
  if (!entry) return;
  if (entry.navigates) opener = null; // the new view's heading takes focus
  close();
  track("palette.run");
  await entry.run();
}

/** Open the palette. */
export function open() {
  if (dialog.open) return;
  opener = document.activeElement;
  input.value = "";
  active = 0;
  draw();
  dialog.showModal();
  input.focus();
  track("palette.open");
}

/** Close it; focus returns to where it was unless the run moved it. */
export function close() {
  if (dialog.open) dialog.close();
}

/** Build the dialog and wire Ctrl/Cmd+K. */
export function init() {
  const label = h("label", { for: "palette-input", class: "visually-hidden", text: t("palette.label") });
  input = h("input", {
    id: "palette-input",
    type: "text",
    role: "combobox",
    autocomplete: "off",
    spellcheck: "false",
    "aria-expanded": "true",
    "aria-controls": "palette-list",
    "aria-autocomplete": "list",
    placeholder: t("palette.placeholder"),
  });
  list = h("ul", { id: "palette-list", role: "listbox", "aria-label": t("palette.results") });
  dialog = h("dialog", { id: "palette", class: "palette", "aria-label": t("palette.label") }, h("div", { class: "palette-input" }, label, input), list);
  document.body.append(dialog);
  dialog.addEventListener("close", () => {
    if (document.activeElement === document.body || dialog.contains(document.activeElement)) opener?.focus?.();
  });
  input.addEventListener("input", () => {
    active = 0;
    draw();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") select(Math.min(active + 1, results.length - 1));
    else if (e.key === "ArrowUp") select(Math.max(active - 1, 0));
    else if (e.key === "Home") select(0);
    else if (e.key === "End") select(results.length - 1);
    else if (e.key === "Enter") run(active);
    else return;
    e.preventDefault();
  });
  addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
      e.preventDefault();
      if (dialog.open) close();
      else open();
    }
  });
  byId("palette-button").addEventListener("click", open);
}

/** Relabel after a locale change. */
export function relabel() {
  if (!dialog) return;
  dialog.setAttribute("aria-label", t("palette.label"));
  input.placeholder = t("palette.placeholder");
  list.setAttribute("aria-label", t("palette.results"));
  dialog.querySelector("label").textContent = t("palette.label");
  if (dialog.open) draw();
}
