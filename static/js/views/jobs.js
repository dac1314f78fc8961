// Jobs: create one (operators), and the filterable, cursor-paged list
// (status, type, priority, source, and tenant for admins of the platform).

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { header, card } from "../ui/layout.js";
import { statusPill } from "../ui/states.js";
import { pagedList } from "../ui/paged.js";
import { input, textarea, select, enumOptions, onSubmit, submit, compact } from "../ui/fields.js";
import { toast } from "../ui/toast.js";
import { track } from "../telemetry.js";
import { href } from "../routes.js";

export const STATUSES = ["queued", "processing", "completed", "failed", "dead", "cancelled"];
export const TYPES = ["ai_task", "report_gen", "data_sync"];
export const PRIORITIES = ["critical", "high", "normal", "low"];
export const SOURCES = ["api", "partner", "notion", "workflow", "operator"];
const FILTERS = ["status", "type", "priority", "source", "tenant_id"];
const PAGE = 25;

export async function render({ main, query, signal, navigate, replaceQuery }) {
  const canCreate = session.atLeast("operator");
  const list = h("ul", { class: "records", "aria-live": "polite", id: "jobs-list" });
  const more = h("div", { class: "pager" });
  const createBox = h("div");
  mount(
    main,
    header(
      t("jobs.title"),
      canCreate ? h("button", { type: "button", id: "new-job", on: { click: () => showCreate(createBox, navigate, true) } }, t("jobs.create")) : null,
    ),
    createBox,
    card(t("jobs.filters"), filterForm(query, (filters) => {
      replaceQuery(filters);
      load(list, more, filters, signal);
    })),
    h("section", { "aria-labelledby": "jobs-list-title", class: "stack" }, h("h2", { id: "jobs-list-title", class: "visually-hidden", text: t("jobs.list") }), list, more),
  );
  if (canCreate && query.do === "create") showCreate(createBox, navigate, true);
  await load(list, more, pick(query), signal);
}

function pick(query) {
  return Object.fromEntries(FILTERS.filter((k) => query[k]).map((k) => [k, query[k]]));
}

function filterForm(query, apply) {
  const fields = [
    select({ name: "status", label: t("jobs.status"), options: enumOptions(STATUSES, "status", { any: true }), value: query.status || "" }),
    select({ name: "type", label: t("jobs.type"), options: enumOptions(TYPES, "job_type", { any: true }), value: query.type || "" }),
    select({ name: "priority", label: t("jobs.priority"), options: enumOptions(PRIORITIES, "priority", { any: true }), value: query.priority || "" }),
    select({ name: "source", label: t("jobs.source"), options: enumOptions(SOURCES, "source", { any: true }), value: query.source || "" }),
  ];
  if (session.isGlobal()) {
    fields.push(input({ name: "tenant_id", label: t("jobs.tenant"), value: query.tenant_id || "", attrs: { autocomplete: "off" } }));
  }
  const form = h(
    "form",
    { class: "filters", id: "jobs-filters", role: "search" },
    fields,
    h("div", { class: "filter-actions" }, submit(t("filter.apply")), h("button", { type: "reset", class: "secondary" }, t("filter.clear"))),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    apply(compact(Object.fromEntries(new FormData(form))));
  });
  form.addEventListener("reset", () => setTimeout(() => apply({}), 0));
  return form;
}

function load(list, more, filters, signal) {
  return pagedList({
    list,
    more,
    signal,
    item: jobItem,
    emptyText: Object.keys(filters).length ? t("jobs.none_match") : t("jobs.none"),
    fetchPage: async (cursor) => {
      const data = await api.get("/api/jobs", { ...filters, limit: PAGE, cursor }, { signal });
      return { items: data.jobs, next: data.next_cursor };
    },
  });
}

/** One job in a list. */
export function jobItem(job) {
  const name = job.title || job.brief?.slice(0, 80) || job.id;
  return h(
    "li",
    { class: "record", dataset: { jobId: job.id } },
    h("div", { class: "title" }, h("a", { href: href(`/jobs/${encodeURIComponent(job.id)}`), text: name })),
    statusPill(job.status),
    h(
      "div",
      { class: "meta" },
      h("span", { text: t(`job_type.${job.type}`) }),
      h("span", { text: t(`priority.${job.priority}`) }),
      h("span", { text: t(`source.${job.source}`) }),
      session.isGlobal() ? h("span", { text: job.tenant_id }) : null,
      h("span", {}, h("time", { datetime: job.created_at, text: fmt.relative(job.created_at) })),
      job.qa?.score !== null && job.qa?.score !== undefined ? h("span", { text: t("jobs.qa_score", { score: fmt.number(job.qa.score, 1) }) }) : null,
      job.cost?.micros ? h("span", { text: fmt.micros(job.cost.micros) }) : null,
    ),
  );
}

async function showCreate(box, navigate, focus) {
  if (box.firstChild) {
    box.querySelector("textarea")?.focus();
    return;
  }
  const tenantField = session.isGlobal()
    ? input({ name: "tenant_id", label: t("jobs.tenant"), hint: t("jobs.tenant_hint"), attrs: { autocomplete: "off" } })
    : null;
  const form = onSubmit(
    h(
      "form",
      { id: "create-job-form", novalidate: true },
      textarea({ name: "brief", label: t("jobs.brief"), required: true, hint: t("jobs.brief_hint"), attrs: { maxlength: 10000 } }),
      input({ name: "title", label: t("jobs.job_title"), attrs: { maxlength: 200 } }),
      h(
        "div",
        { class: "form-grid cols-2" },
        select({ name: "type", label: t("jobs.type"), options: enumOptions(TYPES, "job_type"), value: "ai_task" }),
        select({ name: "priority", label: t("jobs.priority"), options: enumOptions(PRIORITIES, "priority"), value: "normal" }),
      ),
      tenantField,
      h(
        "div",
        { class: "card-actions" },
        submit(t("jobs.create_submit")),
        h("button", { type: "button", class: "secondary", on: { click: () => mount(box) } }, t("action.cancel")),
      ),
    ),
    async (values) => {
      const { job } = await api.post("/api/queue/enqueue", compact(values));
      track("job.create");
      toast(t("jobs.created"));
      navigate(`/jobs/${encodeURIComponent(job.id)}`);
    },
  );
  mount(box, card(t("jobs.create"), form));
  if (focus) form.querySelector("textarea").focus();
}
