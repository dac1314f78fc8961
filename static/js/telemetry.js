// Product analytics: page and action events, batched to
// POST /api/analytics/event. No cookies are sent and nothing personal is
// in an event (a name, a view id, a time); the server identifies a
// visitor by a daily-rotating salted hash. Browsers that ask not to be
// tracked (Global Privacy Control, Do Not Track) send nothing.

import * as api from "./api.js";

/** The event catalogue the API accepts. */
export const EVENTS = new Set([
  "page.view", "job.create", "job.retry", "job.cancel", "incident.acknowledge", "incident.resolve",
  "silence.create", "cap.set", "scale.apply", "ops.dry_run", "ops.confirm", "backup.verify",
  "backup.download", "security.sbom_download", "partner_key.create", "user.create", "palette.open", "palette.run",
  "locale.change", "theme.change", "auth.sign_in", "auth.sign_out", "demo.banner_dismiss",
  "privacy.export", "privacy.erase",
]);

/** The view ids the API accepts. */
export const VIEWS = new Set([
  "landing", "about", "not_found", "sign_in", "overview", "jobs", "job", "queue", "prompts",
  "workflows", "workflow", "operations", "incidents", "slo", "costs", "scale", "reports", "logs", "backups", "security", "payments",
  "console", "admin", "users", "partners", "tenants", "audit", "legal", "privacy",
  "portal", "finops", "billing", "referrals",
]);

const BATCH_MAX = 50; // the API's limit per request
const QUEUE_MAX = 200; // events kept while the network is down
const FLUSH_MS = 5000;

const queue = [];
let timer = null;
let pausedUntil = 0;
let disabled = false;

function optedOut() {
  const nav = globalThis.navigator;
  return nav?.globalPrivacyControl === true || nav?.doNotTrack === "1";
}

/** Record an event (`name` from EVENTS; `view` from VIEWS). */
export function track(name, view) {
  if (disabled || optedOut()) return;
  if (!EVENTS.has(name) || (view !== undefined && !VIEWS.has(view))) {
    console.warn(`telemetry: not in the catalogue: ${name} ${view ?? ""}`);
    return;
  }
  const event = { name, at: new Date().toISOString() };
  if (view) event.view = view;
  queue.push(event);
  if (queue.length > QUEUE_MAX) queue.splice(0, queue.length - QUEUE_MAX);
  if (queue.length >= BATCH_MAX) flush();
  else if (!timer) timer = setTimeout(flush, FLUSH_MS);
}

/** A page view of `view`. */
export const pageView = (view) => track("page.view", view);

/** Send what is queued (also when the page is hidden). */
export async function flush() {
  clearTimeout(timer);
  timer = null;
  if (disabled || !queue.length || Date.now() < pausedUntil) return;
  const batch = queue.splice(0, BATCH_MAX);
  try {
    await api.post("/api/analytics/event", { events: batch }, { cookies: false, keepalive: true });
  } catch (err) {
    if (err.status === 0) {
      queue.unshift(...batch); // offline: try again later
    } else if (err.status === 429) {
      pausedUntil = Date.now() + (err.retryAfter || 60) * 1000;
    } else if (err.status === 404 || err.status === 405) {
      disabled = true; // this deployment has no analytics route
      queue.length = 0;
    } else {
      console.warn(`telemetry: batch refused (${err.code}): ${err.message}`);
    }
  }
  if (queue.length && !timer) timer = setTimeout(flush, FLUSH_MS);
}

globalThis.document?.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") flush();
});
