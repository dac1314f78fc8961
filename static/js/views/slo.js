// SLOs: the error budget and burn level, the windows, the burn-rate rules
// of availability, jobs and quality, latency, and the deploy gate (clear:
// operators; rebaseline: admins), both confirmed first.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { header, card, fill, kpis, facts, table } from "../ui/layout.js";
import { statusPill } from "../ui/states.js";
import { confirmDialog } from "../ui/confirm.js";
import { toast } from "../ui/toast.js";

const WINDOWS = ["5m", "30m", "1h", "6h", "1d", "3d"];

export async function render({ main, signal }) {
  const box = h("div", { class: "stack" });
  mount(main, header(t("slo.title")), box);
  const load = () => fill(box, () => api.get("/api/slo/budget", {}, { signal }), (r) => view(r, load), { signal });
  await load();
}

function view(r, reload) {
  const gate = r.deploy_gate;
  const gateActions = [];
  if (gate.up && session.atLeast("operator")) {
    gateActions.push(confirmed("clear-gate", t("slo.clear_gate"), t("slo.clear_gate_confirm"), () => api.post("/api/slo/deploy-gate/clear", { reason: "cleared in the dashboard" }), reload));
  }
  if (session.atLeast("admin")) {
    gateActions.push(confirmed("rebaseline", t("slo.rebaseline"), t("slo.rebaseline_confirm"), () => api.post("/api/slo/rebaseline", { reason: "rebaselined in the dashboard" }), reload));
  }
  return h(
    "div",
    { class: "stack" },
    card(
      t("slo.budget"),
      kpis([
        [t("slo.burn_alert"), statusPill(r.burn_alert)],
        [t("slo.remaining"), fmt.percent(r.remaining_budget_pct)],
        [t("slo.burn_rate"), fmt.percent(r.burn_rate_pct)],
        [t("slo.error_rate"), fmt.percent(r.error_rate * 100, 2)],
        [t("slo.p95"), fmt.duration(r.p95_ms), t("slo.target", { value: fmt.duration(r.slo_targets.p95_ms) })],
        [t("slo.quality"), fmt.percent(r.quality_pass_rate_pct), t("slo.target", { value: fmt.percent(r.slo_targets.quality_pct) })],
      ]),
      r.breaches.length ? h("ul", {}, r.breaches.map((b) => h("li", { text: b }))) : h("p", { class: "muted", text: t("slo.no_breaches") }),
    ),
    card(
      t("slo.deploy_gate"),
      facts([
        [t("slo.gate_state"), statusPill(gate.up ? "CRITICAL" : "OK")],
        gate.reason ? [t("slo.gate_reason"), gate.reason] : null,
        gate.raised_at ? [t("slo.gate_raised"), fmt.dateTime(gate.raised_at)] : null,
        gate.cleared_at ? [t("slo.gate_cleared"), `${fmt.dateTime(gate.cleared_at)} · ${gate.cleared_by || ""}`] : null,
      ]),
      gateActions.length ? h("div", { class: "card-actions" }, gateActions) : null,
    ),
    card(
      t("slo.alerting"),
      table(
        t("slo.alerting"),
        [t("slo.objective"), t("slo.level"), t("slo.rule"), { text: t("slo.long_burn"), class: "num" }, { text: t("slo.short_burn"), class: "num" }, t("slo.firing")],
        ["availability", "jobs", "quality"].flatMap((name) =>
          r[name].rules.map((rule, i) =>
            h(
              "tr",
              {},
              i === 0 ? h("th", { scope: "rowgroup", rowspan: r[name].rules.length }, t(`slo.objective.${name}`), " ", statusPill(r[name].level)) : null,
              h("td", {}, statusPill(rule.level)),
              h("td", { class: "nowrap", text: `${rule.long} / ${rule.short} × ${fmt.number(rule.factor, 1)}` }),
              h("td", { class: "num", text: fmt.number(rule.long_burn, 2) }),
              h("td", { class: "num", text: fmt.number(rule.short_burn, 2) }),
              h("td", { text: rule.firing ? t("slo.yes") : rule.guarded ? t("slo.guarded") : t("slo.no") }),
            ),
          ),
        ),
      ),
    ),
    card(
      t("slo.windows"),
      table(
        t("slo.windows"),
        [t("slo.window"), { text: t("slo.requests"), class: "num" }, { text: t("slo.errors"), class: "num" }, { text: t("slo.burn"), class: "num" }, { text: t("slo.job_rounds"), class: "num" }, { text: t("slo.graded"), class: "num" }],
        WINDOWS.filter((w) => r.windows[w]).map((w) => {
          const x = r.windows[w];
          return h(
            "tr",
            {},
            h("th", { scope: "row", text: w }),
            h("td", { class: "num", text: fmt.number(x.requests) }),
            h("td", { class: "num", text: fmt.number(x.errors) }),
            h("td", { class: "num", text: fmt.number(x.burn_rate, 2) }),
            h("td", { class: "num", text: fmt.number(x.job_rounds) }),
            h("td", { class: "num", text: fmt.number(x.graded) }),
          );
        }),
      ),
    ),
  );
}

/** A button that asks first, calls the API, then reloads the view. */
export function confirmed(id, label, question, action, reload) {
  const button = h("button", { type: "button", id, class: "secondary" }, label);
  button.addEventListener("click", async () => {
    if (!(await confirmDialog({ title: label, body: question, confirmLabel: label }))) return;
    try {
      await action();
      toast(t("action.done"));
      await reload();
    } catch (err) {
      toast(err.message, "bad");
    }
  });
  return button;
}
