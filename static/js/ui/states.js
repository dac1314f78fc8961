// The three states every view shows before its content: loading, empty
// and error (with the request id an operator can search the logs for).

import { h } from "../dom.js";
import { t, has } from "../i18n.js";

/** A polite "loading" line. */
export function loading(label = t("state.loading")) {
  return h("div", { class: "state state-loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), h("span", { text: label }));
}

/** Nothing to show, with an optional action (a node). */
export function empty(message, action = null) {
  return h("div", { class: "state state-empty", role: "status" }, h("p", { text: message }), action);
}

/** The words for an error: the catalogue's for known codes, else the API's message. */
export function errorMessage(err) {
  if (!err) return t("error.unknown");
  if (err.status === 0) return t(err.code === "timeout" ? "error.timeout" : "error.network");
  if (has(`error.${err.code}`)) return t(`error.${err.code}`);
  return err.message || t("error.unknown");
}

/** A failure, with a retry button when `retry` is given. */
export function failure(err, retry = null) {
  return h(
    "div",
    { class: "state state-error", role: "alert" },
    h("p", { text: errorMessage(err) }),
    err?.requestId ? h("p", { class: "request-id" }, t("error.request_id"), " ", h("code", { text: err.requestId })) : null,
    retry ? h("button", { type: "button", class: "secondary", on: { click: retry } }, t("action.retry")) : null,
  );
}

/** A status pill; `tone` is ok, warn, bad, info or neutral. */
export function pill(text, tone = "neutral") {
  return h("span", { class: `pill ${tone}` }, text);
}

const TONES = {
  completed: "ok", succeeded: "ok", passed: "ok", ok: "ok", OK: "ok", resolved: "ok", sent: "ok", active: "ok", valid: "ok",
  queued: "info", processing: "info", running: "info", pending: "info", acknowledged: "info", WATCH: "info", INFO: "info",
  failed: "bad", dead: "bad", CRITICAL: "bad", breached: "bad", down: "bad", invalid: "bad",
  cancelled: "neutral", skipped: "neutral", never: "neutral",
  succeeded: "ok", paid: "ok", draft: "info", refunded: "neutral", partially_refunded: "warn", disputed: "bad",
  WARNING: "warn", degraded: "warn", stale: "warn", open: "warn",
};

/** A pill for a status word, in the catalogue's words when it has them. */
export function statusPill(status) {
  const key = `status.${status}`;
  return pill(has(key) ? t(key) : String(status), TONES[status] || "neutral");
}
