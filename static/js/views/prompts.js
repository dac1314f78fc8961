// Prompt templates: every version per job type with its QA statistics
// (pass rate, scores per criterion, cost, latency), the judge's
// consistency per criterion, and a new version (operators of the platform).

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { header, card, fill, table, facts } from "../ui/layout.js";
import { empty, statusPill, loading, failure } from "../ui/states.js";
import { textarea, select, checkbox, enumOptions, onSubmit, submit } from "../ui/fields.js";
import { toast } from "../ui/toast.js";
import { TYPES } from "./jobs.js";

const CRITERIA = ["clarity", "accuracy", "completeness", "professional_tone"];

export async function render({ main, query, signal }) {
  const templates = h("div", { class: "stack" });
  const consistency = h("div");
  const createBox = h("div");
  const mayCreate = session.atLeast("operator") && session.isPlatform();
  mount(
    main,
    header(t("prompts.title"), mayCreate ? h("button", { type: "button", id: "new-prompt", on: { click: () => showCreate(createBox, templates, signal) } }, t("prompts.create")) : null),
    createBox,
    h("section", { "aria-labelledby": "templates-title", class: "stack" }, h("h2", { id: "templates-title", text: t("prompts.templates") }), templates),
    card(t("prompts.consistency"), consistency),
  );
  if (mayCreate && query.do === "create") showCreate(createBox, templates, signal);
  await Promise.all([
    loadTemplates(templates, signal),
    fill(consistency, () => api.get("/api/qa/consistency", { days: 30 }, { signal }), consistencyTable, { signal }),
  ]);
}

function loadTemplates(box, signal) {
  return fill(box, () => api.get("/api/prompts", {}, { signal }), ({ templates }) => {
    if (!templates.length) return empty(t("prompts.none"));
    const sorted = templates.slice().sort((a, b) => a.job_type.localeCompare(b.job_type) || b.version - a.version);
    return h("div", { class: "grid cols-2" }, sorted.map((tpl) => templateCard(tpl, signal)));
  }, { signal });
}

function templateCard(tpl, signal) {
  const stats = h("div", {}, loading());
  const node = card(
    `${t(`job_type.${tpl.job_type}`)} · v${tpl.version}`,
    h("p", {}, tpl.active ? statusPill("active") : h("span", { class: "muted", text: t("prompts.inactive") }), " ", h("code", { text: tpl.id })),
    tpl.notes ? h("p", { class: "small", text: tpl.notes }) : null,
    h("details", {}, h("summary", { text: t("prompts.show_text") }), h("h3", { text: t("prompts.system") }), h("pre", { text: tpl.system_prompt }), h("h3", { text: t("prompts.user") }), h("pre", { text: tpl.user_template })),
    stats,
  );
  api.get(`/api/prompts/${encodeURIComponent(tpl.id)}/stats`, { days: 30 }, { signal }).then(
    (s) => {
      if (signal.aborted) return;
      mount(
        stats,
        s.graded
          ? facts([
              [t("prompts.jobs"), fmt.number(s.jobs)],
              [t("prompts.graded"), fmt.number(s.graded)],
              [t("prompts.pass_rate"), fmt.ratio(s.pass_rate)],
              [t("prompts.avg_score"), fmt.number(s.avg_qa_score, 1)],
              [t("prompts.retry_rounds"), fmt.number(s.retry_rounds)],
              [t("prompts.avg_cost"), fmt.micros(s.avg_cost_micros)],
              [t("prompts.avg_latency"), fmt.duration(s.avg_latency_ms)],
              ...CRITERIA.filter((c) => s.avg_by_criterion?.[c] !== undefined).map((c) => [t(`criterion.${c}`), fmt.number(s.avg_by_criterion[c], 1)]),
            ])
          : empty(t("prompts.no_stats")),
      );
    },
    (err) => !signal.aborted && mount(stats, failure(err)),
  );
  return node;
}

function consistencyTable(data) {
  const rows = Object.entries(data.criteria || {});
  if (!rows.some(([, c]) => c.samples)) return empty(t("prompts.consistency_none"));
  return table(
    t("prompts.consistency"),
    [t("job.criterion"), { text: t("prompts.samples"), class: "num" }, { text: t("prompts.mean_diff"), class: "num" }, { text: t("prompts.within_10"), class: "num" }, { text: t("prompts.agreement"), class: "num" }, t("prompts.verdict")],
    rows.map(([name, c]) =>
      h(
        "tr",
        {},
        h("th", { scope: "row", text: t(`criterion.${name}`) }),
        h("td", { class: "num", text: fmt.number(c.samples) }),
        h("td", { class: "num", text: fmt.number(c.mean_abs_diff, 1) }),
        h("td", { class: "num", text: fmt.ratio(c.within_10_points) }),
        h("td", { class: "num", text: fmt.ratio(c.pass_fail_agreement) }),
        h("td", {}, statusPill(c.verdict)),
      ),
    ),
  );
}

function showCreate(box, templates, signal) {
  if (box.firstChild) return box.querySelector("select")?.focus();
  const form = onSubmit(
    h(
      "form",
      { id: "create-prompt-form", novalidate: true },
      select({ name: "job_type", label: t("jobs.type"), options: enumOptions(TYPES, "job_type") }),
      textarea({ name: "system_prompt", label: t("prompts.system"), required: true, attrs: { maxlength: 20000 } }),
      textarea({ name: "user_template", label: t("prompts.user"), required: true, hint: t("prompts.user_hint"), value: "{{brief}}", attrs: { maxlength: 20000 } }),
      textarea({ name: "notes", label: t("prompts.notes") }),
      checkbox({ name: "activate", label: t("prompts.activate"), checked: true }),
      h("div", { class: "card-actions" }, submit(t("prompts.create_submit")), h("button", { type: "button", class: "secondary", on: { click: () => mount(box) } }, t("action.cancel"))),
    ),
    async (v) => {
      await api.post("/api/prompts", { job_type: v.job_type, system_prompt: v.system_prompt, user_template: v.user_template, notes: v.notes || undefined, activate: v.activate });
      toast(t("prompts.created"));
      mount(box);
      await loadTemplates(templates, signal);
    },
  );
  mount(box, card(t("prompts.create"), form));
  form.querySelector("select").focus();
}
