// Payment reconciliations: Stripe's charges against the ledger, newest
// first, with what each run added, changed and could not read.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import { header, fill, table } from "../ui/layout.js";
import { empty } from "../ui/states.js";
import { href } from "../routes.js";

export async function render({ main, signal }) {
  const box = h("div", { class: "stack" });
  mount(main, header(t("payments.title"), h("a", { class: "button secondary", href: href("/console", { command: "reconcile_payments" }), text: t("payments.run") })), box);
  await fill(box, () => api.get("/api/payments/reconciliations", { limit: 20 }, { signal }), view, { signal });
}

function view(data) {
  return h(
    "div",
    { class: "stack" },
    data.configured ? null : h("p", { class: "notice warn", text: t("payments.not_configured") }),
    data.reconciliations.length
      ? table(
          t("payments.title"),
          [t("payments.when"), t("payments.window"), t("payments.trigger"), { text: t("payments.fetched"), class: "num" }, { text: t("payments.added"), class: "num" }, { text: t("payments.changed"), class: "num" }, { text: t("payments.unchanged"), class: "num" }, { text: t("payments.local_only"), class: "num" }, { text: t("payments.unreadable"), class: "num" }],
          data.reconciliations.map((r) =>
            h(
              "tr",
              {},
              h("td", { text: fmt.dateTime(r.at) }),
              h("td", { text: `${fmt.day(r.from, "short")} – ${fmt.day(r.to, "short")}` }),
              h("td", { text: `${r.trigger} · ${r.actor}` }),
              ...["fetched", "added", "changed", "unchanged", "local_only", "unreadable"].map((k) => h("td", { class: "num", text: fmt.number(typeof r[k] === "object" && r[k] !== null ? r[k].count : r[k]) })),
            ),
          ),
        )
      : empty(t("payments.none")),
  );
}
