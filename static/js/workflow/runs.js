// A run's live log. Every reader of a run's progress goes through
// `watchRun`, so the way it arrives (polling GET /api/runs/{id} now;
// server-sent events when the API offers them) changes in this one place.

import * as api from "../api.js";

/** The slowest the log is polled, whatever the server suggests. */
const MAX_POLL_MS = 5000;
/** The quickest. */
const MIN_POLL_MS = 500;
/** Polls before giving up on a run that never finishes (a Delay of hours): about ten minutes at 1 s. */
const MAX_POLLS = 600;

/** Whether a run's status is final. */
export const finished = (run) => run && run.status !== "running";

/**
 * Follow run `id`: `onUpdate(run)` with each new state (the run and its
 * steps) until it finishes, `signal` fires or MAX_POLLS is reached.
 * Resolves to the last state; a failed read rejects with its ApiError.
 */
export async function watchRun(id, onUpdate, { signal } = {}) {
  let last = null;
  for (let i = 0; i < MAX_POLLS; i += 1) {
    const run = await api.get(`/api/runs/${encodeURIComponent(id)}`, {}, { signal });
    if (signal?.aborted) return last;
    last = run;
    onUpdate(run);
    if (finished(run)) return run;
    const wait = Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, Number(run.poll_after_ms) || 1000));
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, wait);
      signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
    if (signal?.aborted) return last;
  }
  return last;
}

/** Each node's latest step status in `run` (a node restarted or retried shows its last). */
export function statusByNode(run) {
  const out = new Map();
  for (const step of run?.steps || []) out.set(step.node_id, step.status);
  return out;
}
