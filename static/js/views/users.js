// Users of the scope: create one, change a role, disable or enable
// (admins). Changes apply to the user's tokens at once.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { header, card, fill } from "../ui/layout.js";
import { empty, statusPill } from "../ui/states.js";
import { input, select, enumOptions, onSubmit, submit, compact } from "../ui/fields.js";
import { confirmDialog } from "../ui/confirm.js";
import { toast } from "../ui/toast.js";
import { track } from "../telemetry.js";
import { ROLES } from "../session.js";

const ROLE_CHOICES = ROLES.slice().reverse();

export async function render({ main, query, signal }) {
  const box = h("div");
  const createBox = h("div");
  const load = () => fill(box, () => api.get("/api/users", {}, { signal }), ({ users }) => list(users, load), { signal });
  mount(main, header(t("users.title"), h("button", { type: "button", id: "new-user", on: { click: () => createForm(createBox, load) } }, t("users.create"))), createBox, box);
  if (query.do === "create") createForm(createBox, load);
  await load();
}

function list(users, reload) {
  if (!users.length) return empty(t("users.none"));
  return h(
    "ul",
    { class: "records", id: "user-list" },
    users.map((u) => {
      const self = session.current()?.user?.id === u.id;
      const roleSelect = h("select", { id: `role-${u.id}`, disabled: self }, ROLE_CHOICES.map((r) => h("option", { value: r, selected: r === u.role }, t(`role.${r}`))));
      roleSelect.addEventListener("change", () => change(u, { role: roleSelect.value }, t("users.role_confirm", { email: u.email, role: t(`role.${roleSelect.value}`) }), reload, () => (roleSelect.value = u.role)));
      return h(
        "li",
        { class: "record" },
        h("div", { class: "title", text: u.email }),
        statusPill(u.disabled ? "disabled" : "active"),
        h("div", { class: "meta" }, h("span", { text: u.tenant_id }), h("span", { text: t("users.last_login", { when: u.last_login_at ? fmt.relative(u.last_login_at) : t("users.never") }) })),
        h(
          "div",
          { class: "record-actions" },
          h("label", { for: `role-${u.id}`, class: "visually-hidden", text: t("users.role_of", { email: u.email }) }),
          roleSelect,
          self
            ? null
            : h("button", { type: "button", class: u.disabled ? "secondary" : "danger", on: { click: () => change(u, { disabled: !u.disabled }, t(u.disabled ? "users.enable_confirm" : "users.disable_confirm", { email: u.email }), reload) } }, t(u.disabled ? "users.enable" : "users.disable")),
        ),
      );
    }),
  );
}

async function change(user, patch, question, reload, undo = () => {}) {
  if (!(await confirmDialog({ title: t("users.change"), body: question }))) return undo();
  try {
    await api.patch(`/api/users/${encodeURIComponent(user.id)}`, patch);
    toast(t("users.changed"));
    await reload();
  } catch (err) {
    undo();
    toast(err.message, "bad");
  }
}

function createForm(box, reload) {
  if (box.firstChild) return box.querySelector("input").focus();
  const form = onSubmit(
    h(
      "form",
      { id: "create-user-form", novalidate: true },
      input({ name: "email", label: t("users.email"), type: "email", required: true, attrs: { autocomplete: "off" } }),
      input({ name: "password", label: t("users.password"), type: "password", required: true, hint: t("users.password_hint"), attrs: { autocomplete: "new-password", minlength: 12 } }),
      select({ name: "role", label: t("users.role"), options: enumOptions(ROLE_CHOICES, "role"), value: "viewer" }),
      session.isGlobal() ? input({ name: "tenant_id", label: t("jobs.tenant"), hint: t("jobs.tenant_hint") }) : null,
      h("div", { class: "card-actions" }, submit(t("users.create_submit")), h("button", { type: "button", class: "secondary", on: { click: () => mount(box) } }, t("action.cancel"))),
    ),
    async (v) => {
      await api.post("/api/users", compact(v));
      track("user.create");
      toast(t("users.created"));
      mount(box);
      await reload();
    },
  );
  mount(box, card(t("users.create"), form));
  form.querySelector("input").focus();
}
