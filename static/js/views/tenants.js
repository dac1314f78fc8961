// Tenants: the list (all of them for admins of the platform; otherwise
// the admin's own), and creating one (admins of the platform).

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as session from "../session.js";
import { header, card, fill, facts } from "../ui/layout.js";
import { empty, statusPill } from "../ui/states.js";
import { input, select, onSubmit, submit, compact } from "../ui/fields.js";
import { toast } from "../ui/toast.js";
import { LOCALES } from "../i18n.js";

const PLANS = ["free", "pro", "business", "enterprise"];
const CURRENCIES = ["USD", "EUR", "GBP", "INR", "PKR"];

export async function render({ main, query, signal }) {
  const box = h("div");
  const createBox = h("div");
  const mayCreate = session.isGlobal();
  const load = () => fill(box, () => api.get("/api/tenants", {}, { signal }), ({ tenants }) => list(tenants), { signal });
  mount(main, header(t("tenants.title"), mayCreate ? h("button", { type: "button", id: "new-tenant", on: { click: () => createForm(createBox, load) } }, t("tenants.create")) : null), createBox, box);
  if (mayCreate && query.do === "create") createForm(createBox, load);
  await load();
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
