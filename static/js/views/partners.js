// Partner API keys: list, create (the key is shown once, in this answer
// only) and revoke (admins).

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { header, card, fill } from "../ui/layout.js";
import { empty, statusPill } from "../ui/states.js";
import { input, checkbox, onSubmit, submit } from "../ui/fields.js";
import { confirmDialog } from "../ui/confirm.js";
import { toast } from "../ui/toast.js";
import { track } from "../telemetry.js";

export async function render({ main, query, signal }) {
  const box = h("div");
  const createBox = h("div");
  const load = () => fill(box, () => api.get("/api/partners", {}, { signal }), ({ keys }) => list(keys, load), { signal });
  mount(main, header(t("partners.title"), h("button", { type: "button", id: "new-partner-key", on: { click: () => createForm(createBox, load) } }, t("partners.create"))), createBox, box);
  if (query.do === "create") createForm(createBox, load);
  await load();
}

function list(keys, reload) {
  if (!keys.length) return empty(t("partners.none"));
  return h(
    "ul",
    { class: "records" },
    keys.map((k) =>
      h(
        "li",
        { class: "record" },
        h("div", { class: "title", text: k.name }),
        statusPill(k.revoked ? "revoked" : "active"),
        h(
          "div",
          { class: "meta" },
          h("code", { text: k.prefix }),
          h("span", { text: k.scopes.join(", ") }),
          h("span", { text: t("partners.quotas", { daily: fmt.number(k.daily_quota), monthly: fmt.number(k.monthly_quota) }) }),
          h("span", { text: k.tenant_id }),
        ),
        k.revoked
          ? null
          : h("div", { class: "record-actions" }, h("button", { type: "button", class: "danger", on: { click: async () => {
              if (!(await confirmDialog({ title: t("partners.revoke"), body: t("partners.revoke_confirm", { name: k.name }), danger: true, confirmLabel: t("partners.revoke") }))) return;
              try {
                await api.del(`/api/partners/${encodeURIComponent(k.id)}`);
                toast(t("partners.revoked"));
                await reload();
              } catch (err) {
                toast(err.message, "bad");
              }
            } } }, t("partners.revoke"))),
      ),
    ),
  );
}

function createForm(box, reload) {
  if (box.firstChild) return box.querySelector("input")?.focus();
  const form = onSubmit(
    h(
      "form",
      { id: "create-partner-form", novalidate: true },
      input({ name: "name", label: t("partners.name"), required: true }),
      h("fieldset", {}, h("legend", { text: t("partners.scopes") }), checkbox({ name: "scope_write", label: "jobs:write", checked: true }), checkbox({ name: "scope_read", label: "jobs:read", checked: true })),
      h(
        "div",
        { class: "form-grid cols-2" },
        input({ name: "daily_quota", label: t("partners.daily"), type: "number", value: "1000", required: true, attrs: { min: 1, inputmode: "numeric" } }),
        input({ name: "monthly_quota", label: t("partners.monthly"), type: "number", value: "20000", required: true, attrs: { min: 1, inputmode: "numeric" } }),
      ),
      session.isGlobal() ? input({ name: "tenant_id", label: t("jobs.tenant"), hint: t("jobs.tenant_hint") }) : null,
      h("div", { class: "card-actions" }, submit(t("partners.create_submit")), h("button", { type: "button", class: "secondary", on: { click: () => mount(box) } }, t("action.cancel"))),
    ),
    async (v) => {
      const scopes = [v.scope_write && "jobs:write", v.scope_read && "jobs:read"].filter(Boolean);
      const body = { name: v.name, scopes, daily_quota: Number(v.daily_quota), monthly_quota: Number(v.monthly_quota) };
      if (v.tenant_id) body.tenant_id = v.tenant_id;
      const key = await api.post("/api/partners", body);
      track("partner_key.create");
      mount(
        box,
        card(
          t("partners.created_title"),
          h("p", { class: "notice warn", text: t("partners.shown_once") }),
          h("code", { class: "secret", id: "new-partner-secret", tabindex: "0", text: key.api_key }),
          h("div", { class: "card-actions" }, h("button", { type: "button", on: { click: async (e) => {
            try {
              await navigator.clipboard.writeText(key.api_key);
              toast(t("partners.copied"));
            } catch {
              toast(t("partners.copy_failed"), "bad");
            }
            e.currentTarget.focus();
          } } }, t("partners.copy")), h("button", { type: "button", class: "secondary", on: { click: () => mount(box) } }, t("partners.done"))),
        ),
      );
      box.querySelector(".secret").focus();
      await reload();
    },
  );
  mount(box, card(t("partners.create"), form));
  form.querySelector("input").focus();
}
