// The queue: counts by status, type and priority, queued jobs by priority,
// the oldest queued job's age and expired leases.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { header, card, kpis, fill, table } from "../ui/layout.js";
import { input, submit } from "../ui/fields.js";
import { href } from "../routes.js";
import { STATUSES, TYPES, PRIORITIES } from "./jobs.js";

export async function render({ main, query, signal, replaceQuery }) {
  const box = h("div", { class: "stack" });
  let tenantForm = null;
  if (session.isGlobal()) {
    tenantForm = h(
      "form",
      { class: "filters", role: "search" },
      input({ name: "tenant_id", label: t("jobs.tenant"), value: query.tenant_id || "", attrs: { autocomplete: "off" } }),
      h("div", { class: "filter-actions" }, submit(t("filter.apply"))),
    );
    tenantForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const tenant = new FormData(tenantForm).get("tenant_id").trim();
      replaceQuery(tenant ? { tenant_id: tenant } : {});
      load(box, tenant, signal);
    });
  }
  mount(main, header(t("queue.title")), tenantForm, box);
  await load(box, query.tenant_id || "", signal);
}

function load(box, tenant, signal) {
  return fill(box, () => api.get("/api/queue/status", { tenant_id: tenant }, { signal }), (q) => view(q, tenant), { signal });
}

function counts(title, prefix, keys, values, filter, tenant) {
  return table(
    title,
    [t("queue.what"), { text: t("queue.count"), class: "num" }],
    keys.map((k) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, filter ? h("a", { href: href("/jobs", { [filter]: k, tenant_id: tenant || undefined }), text: t(`${prefix}.${k}`) }) : t(`${prefix}.${k}`)),
        h("td", { class: "num", text: fmt.number(values?.[k] ?? 0) }),
      ),
    ),
  );
}

function view(q, tenant) {
  return h(
    "div",
    { class: "stack" },
    card(
      t("queue.now"),
      kpis([
        [t("queue.total"), fmt.number(q.total)],
        [t("status.queued"), fmt.number(q.by_status.queued)],
        [t("status.processing"), fmt.number(q.by_status.processing)],
        [t("queue.oldest"), q.oldest_queued_age_seconds === null ? "—" : fmt.seconds(q.oldest_queued_age_seconds), q.oldest_queued_at ? fmt.dateTime(q.oldest_queued_at) : null],
        [t("queue.expired_leases"), fmt.number(q.expired_leases)],
      ]),
    ),
    h(
      "div",
      { class: "grid cols-2" },
      card(t("queue.by_status"), counts(t("queue.by_status"), "status", STATUSES, q.by_status, "status", tenant)),
      card(t("queue.by_type"), counts(t("queue.by_type"), "job_type", TYPES, q.by_type, "type", tenant)),
      card(t("queue.by_priority"), counts(t("queue.by_priority"), "priority", PRIORITIES, q.by_priority, "priority", tenant)),
      card(t("queue.queued_by_priority"), counts(t("queue.queued_by_priority"), "priority", PRIORITIES, q.queued_by_priority, null, tenant)),
    ),
  );
}
