// One job: what it is, its output, QA scores per criterion with the
// grader's reasons, tokens, cost, latency and build, every attempt, and
// retry/cancel for operators. While it is queued or processing the page
// polls, and announces the new status when it changes.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { header, card, facts, table } from "../ui/layout.js";
import { loading, failure, statusPill, empty, pill } from "../ui/states.js";
import { confirmDialog } from "../ui/confirm.js";
import { toast } from "../ui/toast.js";
import { track } from "../telemetry.js";
import { href } from "../routes.js";

const LIVE = new Set(["queued", "processing"]);
const POLL_MS = 2000;
const CRITERIA = ["clarity", "accuracy", "completeness", "professional_tone"];

export async function render({ main, params, signal }) {
  const path = `/api/jobs/${encodeURIComponent(params.id)}`;
  const live = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite", id: "job-live" });
  const body = h("div", { class: "stack" }, loading());
  const actions = h("div", { class: "actions" });
  const head = header(t("job.title"));
  head.append(actions);
  mount(main, h("p", {}, h("a", { href: href("/jobs"), text: t("job.back") })), head, live, body);

  let last = null;
  const refresh = async () => {
    const job = await api.get(path, {}, { signal });
    if (signal.aborted) return null;
    if (last && last.status !== job.status) live.textContent = t("job.status_now", { status: t(`status.${job.status}`) });
    last = job;
    head.querySelector("h1").textContent = job.title || t("job.title");
    mount(actions, jobActions(job, refresh));
    mount(body, ...details(job, refresh));
    return job;
  };
  try {
    const job = await refresh();
    if (job && LIVE.has(job.status)) poll(refresh, signal, () => render({ main, params, signal }), body);
  } catch (err) {
    if (signal.aborted || err?.name === "AbortError") return;
    mount(body, failure(err, () => render({ main, params, signal })));
  }
}

/** Refresh every POLL_MS until the job leaves queued/processing or the reader leaves. */
async function poll(refresh, signal, retry, body) {
  try {
    let job;
    do {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (signal.aborted) return;
      job = await refresh();
    } while (job && LIVE.has(job.status) && !signal.aborted);
  } catch (err) {
    if (signal.aborted || err?.name === "AbortError") return;
    mount(body, failure(err, retry));
  }
}

function jobActions(job, refresh) {
  if (!session.atLeast("operator")) return [];
  const out = [];
  if (["failed", "dead", "cancelled"].includes(job.status)) {
    out.push(actionButton("retry-job", t("job.retry"), t("job.retry_confirm"), "", async () => {
      await api.post(`/api/jobs/${encodeURIComponent(job.id)}/retry`);
      track("job.retry");
      toast(t("job.retried"));
    }, refresh));
  }
  if (LIVE.has(job.status)) {
    out.push(actionButton("cancel-job", t("job.cancel"), t("job.cancel_confirm"), "danger", async () => {
      await api.post(`/api/jobs/${encodeURIComponent(job.id)}/cancel`, { reason: "cancelled in the dashboard" });
      track("job.cancel");
      toast(t("job.cancelled"));
    }, refresh));
  }
  return out;
}

function actionButton(id, label, question, tone, act, refresh) {
  const button = h("button", { type: "button", id, class: tone || "secondary" }, label);
  button.addEventListener("click", async () => {
    if (!(await confirmDialog({ title: label, body: question, confirmLabel: label, danger: tone === "danger" }))) return;
    button.disabled = true;
    try {
      await act();
      await refresh();
    } catch (err) {
      toast(err.message, "bad");
      button.disabled = false;
    }
  });
  return button;
}

function details(job, refresh) {
  const money = (m) => (m ? fmt.micros(m.micros, m.currency) : "—");
  return [
    card(
      t("job.summary"),
      facts([
        [t("jobs.status"), statusPill(job.status)],
        [t("job.id"), h("code", { text: job.id })],
        [t("jobs.type"), t(`job_type.${job.type}`)],
        [t("jobs.priority"), t(`priority.${job.priority}`)],
        [t("jobs.source"), t(`source.${job.source}`)],
        [t("jobs.tenant"), job.tenant_id],
        [t("job.attempts"), t("job.attempts_of", { n: fmt.number(job.attempts), max: fmt.number(job.max_attempts) })],
        [t("job.created"), fmt.dateTime(job.created_at)],
        job.status === "queued" ? [t("job.run_at"), fmt.dateTime(job.run_at)] : null,
        [t("job.finished"), fmt.dateTime(job.finished_at)],
        [t("job.latency"), fmt.duration(job.latency_ms)],
        [t("job.tokens"), t("job.tokens_value", { input: fmt.number(job.tokens?.input), output: fmt.number(job.tokens?.output), qa_input: fmt.number(job.tokens?.qa_input), qa_output: fmt.number(job.tokens?.qa_output) })],
        [t("job.cost"), money(job.cost)],
        [t("job.qa_cost"), money(job.qa_cost)],
        [t("job.model"), [job.provider, job.model, job.qa_model].filter(Boolean).join(" · ") || "—"],
        [t("job.prompt"), job.prompt_template_id ? `${job.prompt_template_id} (v${job.prompt_version})` : "—"],
        [t("job.build"), h("code", { text: `${String(job.build?.git_sha || "").slice(0, 12)}${job.build?.dirty ? ` (${t("health.dirty")})` : ""}` })],
        job.simulated ? [t("job.simulated"), t("job.simulated_yes")] : null,
        job.last_error ? [t("job.last_error"), job.last_error] : null,
        job.dead_reason ? [t("job.dead_reason"), job.dead_reason] : null,
      ]),
    ),
    job.drive_filing ? card(t("job.drive_title"), driveFiling(job, refresh)) : null,
    card(t("job.brief"), h("pre", { text: job.brief })),
    card(t("job.output"), job.output ? h("pre", { id: "job-output", text: job.output }) : empty(LIVE.has(job.status) ? t("job.output_pending") : t("job.output_none"))),
    card(t("job.qa"), qaScores(job.qa)),
    card(t("job.attempt_records"), attempts(job.attempt_records || [])),
  ];
}

const FILING = {
  pending: () => pill(t("job.drive_pending"), "info"),
  filed: () => pill(t("job.drive_filed"), "ok"),
  failed: () => pill(t("job.drive_failed"), "bad"),
};

/** Where the job's Drive filing stands: the file's link, or why not (and a retry for operators). */
function driveFiling(job, refresh) {
  const f = job.drive_filing;
  const link = f.link ? h("a", { href: f.link, target: "_blank", rel: "noopener noreferrer", id: "job-drive-link", text: f.file_name || f.file_id }) : f.file_id || "—";
  const retry =
    f.status === "failed" && session.atLeast("operator")
      ? h("div", { class: "card-actions" }, actionButton("retry-drive-filing", t("job.drive_retry"), t("job.drive_retry_confirm"), "", async () => {
          await api.post(`/api/jobs/${encodeURIComponent(job.id)}/drive-filing`);
          toast(t("job.drive_retried"));
        }, refresh))
      : null;
  return h(
    "div",
    { id: "job-drive" },
    facts([
      [t("jobs.status"), (FILING[f.status] || (() => pill(f.status)))()],
      [t("job.drive_file"), link],
      [t("job.attempts"), t("job.attempts_of", { n: fmt.number(f.attempts), max: fmt.number(f.max_attempts) })],
      f.next_attempt_at ? [t("job.drive_next"), fmt.dateTime(f.next_attempt_at)] : null,
      f.last_error ? [t("job.last_error"), f.last_error] : null,
    ]),
    retry,
  );
}

/** A job's or an attempt's QA: overall score, verdict, and each criterion with the grader's reason. */
export function qaScores(qa) {
  if (!qa || qa.score === null || qa.score === undefined) return empty(t("job.qa_none"));
  const scores = qa.scores || {};
  const names = [...CRITERIA.filter((c) => c in scores), ...Object.keys(scores).filter((c) => !CRITERIA.includes(c))];
  return h(
    "div",
    { id: "job-qa" },
    h("p", {}, t("job.qa_overall", { score: fmt.number(qa.score, 1) }), " ", statusPill(qa.passed ? "passed" : "failed")),
    table(
      t("job.qa"),
      [t("job.criterion"), { text: t("job.score"), class: "num" }, t("job.reason")],
      names.map((c) => h("tr", { dataset: { criterion: c } }, h("th", { scope: "row", text: t(`criterion.${c}`) }), h("td", { class: "num", text: fmt.number(scores[c].score) }), h("td", { text: scores[c].reason || "" }))),
    ),
  );
}

function attempts(records) {
  if (!records.length) return empty(t("job.attempts_none"));
  return h(
    "ol",
    { class: "records" },
    records.map((a) =>
      h(
        "li",
        { class: "record" },
        h("div", { class: "title", text: t("job.round", { n: fmt.number(a.round + 1) }) }),
        statusPill(a.status),
        h(
          "div",
          { class: "meta" },
          h("span", { text: [a.provider, a.model, a.qa_model].filter(Boolean).join(" · ") }),
          h("span", { text: t("job.tokens_short", { input: fmt.number(a.tokens?.input), output: fmt.number(a.tokens?.output) }) }),
          h("span", { text: fmt.micros(a.cost?.micros) }),
          h("span", { text: fmt.duration(a.latency_ms) }),
          a.qa?.score !== null && a.qa?.score !== undefined ? h("span", { text: t("jobs.qa_score", { score: fmt.number(a.qa.score, 1) }) }) : null,
          h("span", { text: t("job.price_version", { version: a.price_version || "—" }) }),
          h("span", {}, h("code", { text: String(a.build_sha || "").slice(0, 12) })),
        ),
        a.feedback ? h("p", { class: "small" }, h("strong", { text: t("job.feedback") }), " ", a.feedback) : null,
        a.error ? h("p", { class: "small" }, h("strong", { text: t("job.error") }), " ", a.error) : null,
      ),
    ),
  );
}
