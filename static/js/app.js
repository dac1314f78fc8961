// The console's entry point: preferences, the shell (navigation, palette,
// demo banner), the session, then the router.

import { byId, mount, h } from "./dom.js";
import { setLocale, preferredLocale, onLocaleChange, t } from "./i18n.js";
import * as theme from "./theme.js";
import * as api from "./api.js";
import * as session from "./session.js";
import * as router from "./router.js";
import * as nav from "./nav.js";
import * as palette from "./palette.js";
import { track } from "./telemetry.js";
import { registerServiceWorker } from "./pwa.js";
import { version } from "./build.js";

async function demoBanner() {
  const banner = byId("demo-banner");
  let info;
  try {
    info = await version();
  } catch {
    return; // the banner is only shown when the API says so
  }
  byId("build").textContent = t("footer.version", { version: info.version, sha: info.git_sha_short });
  if (info.demo_mode !== true) return;
  mount(
    banner,
    h("p", { text: t("demo.banner") }),
    h("button", { type: "button", on: { click: () => { banner.hidden = true; track("demo.banner_dismiss"); } } }, t("demo.dismiss")),
  );
  banner.hidden = false;
}

function skipLink() {
  byId("skip-link").addEventListener("click", (e) => {
    e.preventDefault(); // the hash belongs to the router
    const heading = byId("main").querySelector("h1") || byId("main");
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  });
}

async function boot() {
  theme.apply(theme.choice());
  await setLocale(preferredLocale());
  skipLink();
  nav.init();
  palette.init();
  demoBanner();
  api.onSessionLost(() => {
    session.lost();
    router.render();
  });
  session.onChange(() => nav.render(router.currentView()));
  router.onRender((id) => nav.render(id));
  onLocaleChange(() => {
    palette.relabel();
    demoBanner();
    router.render();
  });
  await session.restore();
  nav.render(null);
  await router.start(byId("main"));
  registerServiceWorker();
  document.documentElement.dataset.ready = "true";
}

boot();
