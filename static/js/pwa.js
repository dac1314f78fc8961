// Registers the service worker (static/sw.js), which keeps the shell for
// offline start and never answers API calls from its cache.

export function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((err) => {
    console.warn(`service worker not registered: ${err.message}`);
  });
}
