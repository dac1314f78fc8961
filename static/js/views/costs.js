// Costs: today's LLM spend against the global and per-model caps, the
// downgrade routes with their quality evidence, cost per passing output,
// and setting a cap (admins; confirmed first).

import { h, mount } from "../dom.js";
import { t, tEnum } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { header, card, fill, kpis, table, gauge } from "../ui/layout.js";
import { statusPill, empty } from "../ui/states.js";
import { input, select, onSubmit, submit } from "../ui/fields.js";
import { confirmDialog } from "../ui/confirm.js";
import { toast } from "../ui/toast.js";
import { track } from "../telemetry.js";

export async function render({ main, query, signal }) {
  const box = h("div", { class: "stack" });
  const capBox = h("div");
  mount(main, header(t("costs.title")), capBox, box);
  const load = () => fill(box, () => api.get("/api/costs/status", {}, { signal }), (s) => {
    if (session.atLeast("admin")) mount(capBox, capForm(s, load));
    return view(s);
  }, { signal });
  const status = await load();
  if (status && query.do === "cap") capBox.querySelector("select")?.focus();
}

/** Today's spend against the global daily cap (also on the overview). */
export function spendGauge(id, s) {
  return gauge({
    id,
    label: t("costs.global_meter"),
    pct: s.global_utilization_pct,
    detail: t("costs.meter_detail", { spent: fmt.money(s.total_spent_usd), cap: fmt.money(s.daily_cap_usd), pct: fmt.percent(s.global_utilization_pct) }),
  });
}

function view(s) {
  const models = Object.entries(s.by_model || {});
  const perOutput = Object.entries(s.cost_per_passing_output?.by_model || {});
  return h(
    "div",
    { class: "stack" },
    card(
      t("costs.today"),
      kpis([
        [t("costs.spent"), fmt.money(s.total_spent_usd)],
        [t("costs.cap"), fmt.money(s.daily_cap_usd), t(`costs.source.${s.daily_cap_source}`)],
        [t("costs.utilization"), fmt.percent(s.global_utilization_pct)],
        [t("costs.alert"), statusPill(s.alert_level)],
        [t("costs.action"), tEnum("costs.action.", s.action)],
        [t("costs.resets"), fmt.relative(s.resets_at)],
      ]),
      spendGauge("cost-global", s),
    ),
    card(
      t("costs.by_model"),
      models.length
        ? table(
            t("costs.by_model"),
            [t("costs.model"), { text: t("costs.spent"), class: "num" }, { text: t("costs.cap"), class: "num" }, { text: t("costs.utilization"), class: "num" }, t("costs.alert")],
            models.map(([name, m]) =>
              h("tr", {}, h("th", { scope: "row", text: name }), h("td", { class: "num", text: fmt.money(m.spent_usd) }), h("td", { class: "num", text: m.cap_usd === null ? t("costs.no_cap") : fmt.money(m.cap_usd) }), h("td", { class: "num", text: fmt.percent(m.utilization_pct) }), h("td", {}, statusPill(m.alert_level))),
            ),
          )
        : empty(t("costs.no_models")),
    ),
    card(
      t("costs.downgrades"),
      Object.keys(s.downgrades || {}).length
        ? table(
            t("costs.downgrades"),
            [t("costs.from"), t("costs.to"), { text: t("costs.pass_rate"), class: "num" }, t("costs.verdict"), t("costs.cap_reached")],
            Object.entries(s.downgrades).map(([from, d]) =>
              h("tr", {}, h("th", { scope: "row", text: from }), h("td", { text: d.to }), h("td", { class: "num", text: fmt.ratio(d.pass_rate) }), h("td", { text: tEnum("costs.quality.", d.quality?.verdict) }), h("td", { text: d.cap_reached ? t("slo.yes") : t("slo.no") })),
            ),
          )
        : empty(t("costs.no_downgrades")),
    ),
    card(
      t("costs.per_output", { days: fmt.number(s.cost_per_passing_output?.window_days ?? 7) }),
      perOutput.length
        ? table(
            t("costs.per_output", { days: fmt.number(s.cost_per_passing_output?.window_days ?? 7) }),
            [t("costs.model"), { text: t("costs.passed"), class: "num" }, { text: t("costs.pass_rate"), class: "num" }, { text: t("costs.per_passing"), class: "num" }],
            perOutput.map(([name, m]) => h("tr", {}, h("th", { scope: "row", text: name }), h("td", { class: "num", text: fmt.number(m.passed) }), h("td", { class: "num", text: fmt.ratio(m.pass_rate) }), h("td", { class: "num", text: fmt.micros(m.per_passing_output_micros) }))),
          )
        : empty(t("costs.no_outputs")),
    ),
  );
}

function capForm(s, reload) {
  const models = Object.keys(s.by_model || {});
  const form = onSubmit(
    h(
      "form",
      { id: "cap-form", novalidate: true },
      h(
        "div",
        { class: "form-grid cols-2" },
        select({ name: "target", label: t("costs.cap_for"), options: [["global", t("costs.global")], ...models.map((m) => [`model:${m}`, m])] }),
        input({ name: "cap_usd", label: t("costs.cap_usd"), type: "number", hint: t("costs.cap_hint"), attrs: { min: 0, step: "0.01", inputmode: "decimal" } }),
      ),
      submit(t("costs.set_cap")),
    ),
    async (v) => {
      const [scope, model] = v.target === "global" ? ["global", undefined] : ["model", v.target.slice("model:".length)];
      const cap = v.cap_usd === "" ? null : Number(v.cap_usd);
      const what = cap === null ? t("costs.cap_remove", { target: model || t("costs.global") }) : t("costs.cap_confirm", { target: model || t("costs.global"), cap: fmt.money(cap) });
      if (!(await confirmDialog({ title: t("costs.set_cap"), body: what }))) return;
      await api.post("/api/costs/set-cap", { scope, model, cap_usd: cap });
      track("cap.set");
      toast(t("costs.cap_saved"));
      await reload();
    },
  );
  return h("div", { class: "stack" }, h("section", { class: "card", "aria-labelledby": "cap-title" }, h("h2", { id: "cap-title", text: t("costs.set_cap") }), form));
}
