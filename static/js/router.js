// The hash router: `#/jobs/job_123?status=failed` → the view's module,
// rendered into <main> with its params, query and an AbortSignal that fires
// when the reader navigates away (so late answers never paint a stale
// view). Access follows session.mayOpen; signed-out readers get sign-in.

import { h, mount } from "./dom.js";
import { t } from "./i18n.js";
import * as session from "./session.js";
import { match, href, HOME, NOT_FOUND } from "./routes.js";
import { loading, failure } from "./ui/states.js";
import { pageView } from "./telemetry.js";
import { leaveView } from "./ui/toast.js";

let main = null;
let controller = null;
let currentId = null;
const listeners = new Set();

/** The current address: `{path, query}` from the hash. */
export function location() {
  const raw = window.location.hash.replace(/^#/, "") || HOME;
  const [path, search = ""] = raw.split("?");
  return { path: path || HOME, query: Object.fromEntries(new URLSearchParams(search)) };
}

/** Go to `path` with `query` (adds a history entry). */
export function navigate(path, query = {}) {
  const target = href(path, query);
  if (window.location.hash === target) render();
  else window.location.hash = target;
}

/** Replace the query of the current address without a new render. */
export function replaceQuery(query) {
  const { path } = location();
  history.replaceState(null, "", href(path, query));
}

/** Called after each view renders with its id. */
export function onRender(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The id of the view on screen. */
export const currentView = () => currentId;

/** Render the current address (also after sign-in or a locale change). */
export async function render() {
  controller?.abort();
  controller = new AbortController();
  const { signal } = controller;
  const { path, query } = location();
  const found = match(path);
  let view = found ? found.view : NOT_FOUND;
  const params = found ? found.params : {};
  if (!view.public && !session.current()) {
    view = match("/sign-in").view;
    query.next = path;
  }
  leaveView();
  currentId = view.id;
  document.title = `${t(view.title)} · EchoPilot`;
  window.scrollTo(0, 0);
  main.dataset.path = path;
  main.setAttribute("aria-busy", "true");
  mount(main, loading());
  if (!view.public && !session.mayOpen(view)) {
    mount(main, header(t(view.title)), failure({ status: 403, code: "insufficient_role", message: t("error.insufficient_role") }));
    finish(view, signal);
    return;
  }
  try {
    const module = await view.load();
    if (signal.aborted) return;
    await module.render({ main, params, query, signal, navigate, replaceQuery });
  } catch (err) {
    if (signal.aborted || err?.name === "AbortError") return;
    console.error(err);
    mount(main, header(t(view.title)), failure(err, () => render()));
  }
  finish(view, signal);
}

function finish(view, signal) {
  if (signal.aborted) return;
  main.setAttribute("aria-busy", "false");
  const heading = main.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    // Focus the heading unless the view put focus on one of its controls
    // (the job form's brief after "create a job"): then it stays there.
    if (document.activeElement === document.body || document.activeElement?.closest?.("nav, dialog")) {
      heading.focus({ preventScroll: true });
    }
  }
  pageView(view.id);
  for (const fn of listeners) fn(view.id);
}

function header(title) {
  return h("div", { class: "view-header" }, h("h1", { text: title }));
}

/** Start routing into `mainElement`. */
export function start(mainElement) {
  main = mainElement;
  addEventListener("hashchange", () => render());
  return render();
}
