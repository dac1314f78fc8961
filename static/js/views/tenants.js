// Tenants: the list (all of them for admins of the platform; otherwise
// the admin's own), creating one (admins of the platform), and the admin's
// own tenant's filing of finished jobs to Google Drive.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as session from "../session.js";
import { header, card, fill, facts } from "../ui/layout.js";
import { empty, statusPill } from "../ui/states.js";
import { input, select, checkbox, onSubmit, submit, compact } from "../ui/fields.js";
import { toast } from "../ui/toast.js";
import { LOCALES } from "../i18n.js";

const PLANS = ["free", "pro", "business", "enterprise"];
const CURRENCIES = ["USD", "EUR", "GBP", "INR", "PKR"];
const FORMATS = [
  ["markdown", () => t("tenants.drive_format_markdown")],
  ["text", () => t("tenants.drive_format_text")],
  ["html", () => t("tenants.drive_format_html")],
];

export async function render({ main, query, signal }) {
  const box = h("div");
  const createBox = h("div");
  const mayCreate = session.isGlobal();
  const load = () => fill(box, () => api.get("/api/tenants", {}, { signal }), ({ tenants }) => list(tenants), { signal });
  const filingBox = h("div");
  mount(main, header(t("tenants.title"), mayCreate ? h("button", { type: "button", id: "new-tenant", on: { click: () => createForm(createBox, load) } }, t("tenants.create")) : null), createBox, filingBox, box);
  if (mayCreate && query.do === "create") createForm(createBox, load);
  await Promise.all([load(), fill(filingBox, () => api.get("/api/tenant/info", {}, { signal }), (info) => driveFiling(info), { signal })]);
}

/** The admin's own tenant: file its completed jobs to a Drive folder. */
function driveFiling(info) {
  const s = info.drive_filing || {};
  const form = onSubmit(
    h(
      "form",
      { id: "drive-filing-form", novalidate: true },
      h("p", { class: "small", text: t("tenants.drive_help") }),
      checkbox({ name: "enabled", label: t("tenants.drive_enabled"), checked: Boolean(s.enabled) }),
      h(
        "div",
        { class: "form-grid cols-2" },
        input({ name: "folder_id", label: t("tenants.drive_folder"), value: s.folder_id || "", hint: t("tenants.drive_folder_hint"), attrs: { pattern: "[A-Za-z0-9_-]{1,128}", autocomplete: "off", spellcheck: "false" } }),
        select({ name: "format", label: t("tenants.drive_format"), options: FORMATS.map(([v, label]) => [v, label()]), value: s.format || "markdown" }),
      ),
      h("div", { class: "card-actions" }, submit(t("tenants.drive_save"))),
    ),
    async (v) => {
      const change = { enabled: v.enabled, format: v.format };
      if (v.folder_id) change.folder_id = v.folder_id;
      await api.patch("/api/tenant/settings", { drive_filing: change });
      toast(t("tenants.drive_saved"));
    },
  );
  return card(t("tenants.drive_title", { tenant: info.name || info.id }), form);
}

function list(tenants) {
  if (!tenants.length) return empty(t("tenants.none"));
  return h(
    "ul",
    { class: "records" },
    tenants.map((x) =>
      h(
        "li",
        { class: "record" },
        h("div", { class: "title", text: `${x.name} (${x.id})` }),
        statusPill(x.active ? "active" : "disabled"),
        h("div", { class: "meta" }, facts([[t("tenants.plan"), t(`plan.${x.plan}`)], [t("tenants.locale"), x.locale], [t("tenants.currency"), x.currency]])),
      ),
    ),
  );
}

function createForm(box, reload) {
  if (box.firstChild) return box.querySelector("input").focus();
  const form = onSubmit(
    h(
      "form",
      { id: "create-tenant-form", novalidate: true },
      input({ name: "id", label: t("tenants.id"), required: true, hint: t("tenants.id_hint"), attrs: { pattern: "[a-z0-9_-]{1,64}", autocomplete: "off" } }),
      input({ name: "name", label: t("tenants.name") }),
      h(
        "div",
        { class: "form-grid cols-2" },
        select({ name: "plan", label: t("tenants.plan"), options: PLANS.map((p) => [p, t(`plan.${p}`)]), value: "free" }),
        select({ name: "locale", label: t("tenants.locale"), options: LOCALES.map((l) => [l.code, l.name]), value: "en" }),
        select({ name: "currency", label: t("tenants.currency"), options: CURRENCIES.map((c) => [c, c]), value: "USD" }),
      ),
      h("div", { class: "card-actions" }, submit(t("tenants.create_submit")), h("button", { type: "button", class: "secondary", on: { click: () => mount(box) } }, t("action.cancel"))),
    ),
    async (v) => {
      await api.post("/api/tenant/create", compact(v));
      toast(t("tenants.created"));
      mount(box);
      await reload();
    },
  );
  mount(box, card(t("tenants.create"), form));
  form.querySelector("input").focus();
}
