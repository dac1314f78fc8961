// Autoscaling: the decision now (workers, reason, metrics, constraints,
// forecast), and applying it or an explicit worker count: a dry run first,
// then the real change after a confirmation (admins).

import { h, mount } from "../dom.js";
import { t, tEnum } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { header, card, fill, kpis, facts } from "../ui/layout.js";
import { input, onSubmit, submit } from "../ui/fields.js";
import { confirmDialog } from "../ui/confirm.js";
import { toast } from "../ui/toast.js";
import { track } from "../telemetry.js";

export async function render({ main, query, signal }) {
  const box = h("div", { class: "stack" });
  const applyBox = h("div");
  mount(main, header(t("scale.title")), box, applyBox);
  const load = () => fill(box, () => api.get("/api/scale/status", {}, { signal }), view, { signal });
  const status = await load();
  if (status && session.atLeast("admin")) {
    mount(applyBox, applyCard(status, load));
    if (query.do === "apply") applyBox.querySelector("input")?.focus();
  }
}

function view(s) {
  return h(
    "div",
    { class: "stack" },
    card(
      t("scale.decision"),
      kpis([
        [t("scale.current"), fmt.number(s.current_workers)],
        [t("scale.desired"), fmt.number(s.desired_workers)],
        [t("scale.action"), tEnum("scale.action.", s.action)],
        [t("scale.reason"), tEnum("scale.reason.", s.reason)],
        [t("scale.concurrency"), fmt.number(s.effective_concurrency)],
        [t("scale.dry_run"), s.dry_run ? t("slo.yes") : t("slo.no")],
      ]),
      s.blocked_by ? h("p", { class: "notice warn", text: t("scale.blocked", { by: tEnum("scale.block.", s.blocked_by) }) }) : null,
    ),
    h(
      "div",
      { class: "grid cols-2" },
      card(
        t("scale.metrics"),
        facts([
          [t("scale.queue_depth"), fmt.number(s.metrics.queue_depth)],
          [t("scale.p95"), fmt.duration(s.metrics.p95_latency_ms)],
          [t("scale.arrivals"), t("scale.per_min", { n: fmt.number(s.metrics.arrival_rate_per_min, 2) })],
          [t("scale.forecast"), t("scale.per_min", { n: fmt.number(s.metrics.forecast_arrival_rate_per_min, 2) })],
          [t("scale.job_p95"), fmt.duration(s.metrics.job_round_p95_ms)],
        ]),
      ),
      card(
        t("scale.constraints"),
        facts([
          [t("scale.bounds"), `${fmt.number(s.constraints.min)}–${fmt.number(s.constraints.max)}`],
          [t("scale.cooldown"), cooldown(s.constraints)],
          [t("scale.gate"), s.constraints.deploy_gate_active ? t("slo.yes") : t("slo.no")],
          [t("scale.last_change"), s.last_change ? fmt.dateTime(s.last_change.at || s.last_change.ts) : "—"],
        ]),
      ),
    ),
  );
}

function applyCard(status, reload) {
  const result = h("div", { role: "status", "aria-live": "polite" });
  let planned = null;
  const form = onSubmit(
    h(
      "form",
      { id: "scale-form", novalidate: true },
      input({ name: "workers", label: t("scale.workers"), type: "number", hint: t("scale.workers_hint", { min: status.constraints.min, max: status.constraints.max }), attrs: { min: status.constraints.min, max: status.constraints.max, inputmode: "numeric" } }),
      submit(t("scale.preview")),
    ),
    async (v) => {
      const body = { dry_run: true };
      if (v.workers !== "") body.workers = Number(v.workers);
      const r = await api.post("/api/scale/apply", body);
      planned = { workers: body.workers };
      mount(result, h("p", { class: "notice", text: t("scale.preview_result", { from: fmt.number(r.from), to: fmt.number(r.to), reason: tEnum("scale.reason.", r.reason) }) }), applyButton);
      applyButton.focus();
    },
  );
  const applyButton = h("button", { type: "button", id: "scale-apply" }, t("scale.apply"));
  applyButton.addEventListener("click", async () => {
    if (!(await confirmDialog({ title: t("scale.apply"), body: t("scale.apply_confirm") }))) return;
    try {
      const r = await api.post("/api/scale/apply", { dry_run: false, ...(planned?.workers !== undefined ? { workers: planned.workers } : {}) });
      track("scale.apply");
      mount(result, h("p", { class: "notice ok", text: t("scale.applied", { from: fmt.number(r.from), to: fmt.number(r.to) }) }));
      toast(t("scale.applied", { from: fmt.number(r.from), to: fmt.number(r.to) }));
      await reload();
    } catch (err) {
      toast(err.message, "bad");
    }
  });
  return card(t("scale.apply_title"), h("p", { class: "small muted", text: t("scale.apply_lede") }), form, result);
}

/** The cooldown and what is left of it ("10 min (4 min left)", or "10 min, over"). */
function cooldown(c) {
  const min = fmt.number(c.cooldown_min);
  return c.cooldown_remaining_sec > 0 ? t("scale.cooldown_value", { min, left: fmt.seconds(c.cooldown_remaining_sec) }) : t("scale.cooldown_over", { min });
}
