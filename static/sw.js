// EchoPilot's service worker: the shell (pages, styles, scripts,
// catalogues, icons) is kept for offline start. Shell files are fetched
// from the network first and the cache only answers when the network
// cannot, so a deploy is seen at once. API answers, /health and
// /metrics never touch the cache: stale data is never shown as fresh.

const CACHE = "echopilot-shell-v1";

/** Everything the console needs to start offline (a test keeps it complete). */
const SHELL = [
  "/",
  "/404.html",
  "/about/",
  "/app/",
  "/legal/accessibility/",
  "/legal/cookies/",
  "/legal/privacy/",
  "/legal/terms/",
  "/manifest.webmanifest",
  "/css/base.css",
  "/css/components.css",
  "/css/layout.css",
  "/css/site.css",
  "/css/workflow.css",
  "/i18n/en.json",
  "/i18n/es.json",
  "/i18n/ur.json",
  "/icons/icon.svg",
  "/icons/icon-192.png",
  "/icons/icon-512.png",
  "/icons/maskable-512.png",
  "/icons/maskable.svg",
  "/js/api.js",
  "/js/app.js",
  "/js/build.js",
  "/js/charts.js",
  "/js/daily.js",
  "/js/dom.js",
  "/js/format.js",
  "/js/i18n.js",
  "/js/nav.js",
  "/js/palette.js",
  "/js/prefs.js",
  "/js/pwa.js",
  "/js/router.js",
  "/js/routes.js",
  "/js/search.js",
  "/js/session.js",
  "/js/site.js",
  "/js/telemetry.js",
  "/js/theme.js",
  "/js/ui/confirm.js",
  "/js/ui/download.js",
  "/js/ui/fields.js",
  "/js/ui/hub.js",
  "/js/ui/layout.js",
  "/js/ui/money.js",
  "/js/ui/paged.js",
  "/js/ui/preferences.js",
  "/js/ui/states.js",
  "/js/ui/toast.js",
  "/js/views/admin.js",
  "/js/views/audit.js",
  "/js/views/backups.js",
  "/js/views/billing.js",
  "/js/views/security.js",
  "/js/views/console.js",
  "/js/views/costs.js",
  "/js/views/finops.js",
  "/js/views/incidents.js",
  "/js/views/job.js",
  "/js/views/jobs.js",
  "/js/views/logs.js",
  "/js/views/not-found.js",
  "/js/views/operations.js",
  "/js/views/overview.js",
  "/js/views/partners.js",
  "/js/views/payments.js",
  "/js/views/portal.js",
  "/js/views/privacy.js",
  "/js/views/prompts.js",
  "/js/views/queue.js",
  "/js/views/referrals.js",
  "/js/views/reports.js",
  "/js/views/scale.js",
  "/js/views/sign-in.js",
  "/js/views/slo.js",
  "/js/views/tenants.js",
  "/js/views/users.js",
  "/js/views/workflow-editor.js",
  "/js/views/workflows.js",
  "/js/workflow/canvas.js",
  "/js/workflow/catalogue.js",
  "/js/workflow/graph.js",
  "/js/workflow/history.js",
  "/js/workflow/log.js",
  "/js/workflow/panel.js",
  "/js/workflow/runs.js",
];

/** Paths the worker never answers: live data. */
function isLive(url) {
  return url.pathname.startsWith("/api/") || url.pathname === "/health" || url.pathname.startsWith("/healthz") || url.pathname === "/metrics";
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((path) => new Request(path, { cache: "no-cache" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("echopilot-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic") cache.put(request, response.clone());
    return response;
  } catch (err) {
    const cached = await cache.match(request, { ignoreSearch: true });
    if (cached) return cached;
    if (request.mode === "navigate") {
      const shell = await cache.match(new URL(request.url).pathname.startsWith("/app/") ? "/app/" : "/");
      if (shell) return shell;
    }
    throw err;
  }
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || isLive(url)) return;
  event.respondWith(networkFirst(event.request));
});
