// The public pages (landing, about, 404): theme and language (switchable
// in the footer), a page view for analytics, and on the 404 page a search
// box that routes keywords to pages.

import { h, mount, byId } from "./dom.js";
import { t, setLocale, preferredLocale, onLocaleChange } from "./i18n.js";
import * as theme from "./theme.js";
import { rank, best } from "./search.js";
import { VIEWS } from "./routes.js";
import { pageView } from "./telemetry.js";
import { preferenceFields } from "./ui/preferences.js";
import { registerServiceWorker } from "./pwa.js";

/** Every page a search can lead to: the public pages and the console's views. */
export function pages() {
  return [
    { label: t("footer.home"), keywords: ["home", "landing", "echopilot", t("landing.title")], url: "/" },
    { label: t("footer.about"), keywords: ["about", "company", t("about.title")], url: "/about/" },
    { label: t("nav.sign_in"), keywords: ["sign in", "login", "console"], url: "/app/#/sign-in" },
    ...VIEWS.filter((v) => v.group).map((v) => ({ label: t(v.title), keywords: [v.id, v.path, t(`hub.${v.id}`)], url: `/app/#${v.path}` })),
  ];
}

function prefs() {
  const box = byId("site-prefs");
  if (box) mount(box, preferenceFields("site"));
}

function search() {
  const form = byId("page-search");
  if (!form) return () => {};
  const field = byId("page-search-input");
  const results = byId("search-results");
  const status = byId("search-status");
  const show = (query, options) => {
    const found = rank(query, pages(), options).slice(0, 8);
    status.textContent = query ? (found.length ? t("not_found.results", { count: found.length }) : t("not_found.no_results")) : "";
    mount(results, found.map((p) => h("li", {}, h("a", { href: p.url, text: p.label }))));
    return found;
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const target = best(field.value, pages());
    if (target) location.assign(target.url);
    else show(field.value);
  });
  // Words from the missing address are the first guess ("/jobs" → Jobs).
  const guess = decodeURIComponent(location.pathname).replace(/[/._-]+/g, " ").replace(/\bhtml?\b/g, "").trim();
  const given = new URLSearchParams(location.search).get("q");
  // The form submitted without script (or before it ran): go where it leads.
  const target = given && best(given, pages());
  if (target) {
    location.replace(target.url);
    return () => {};
  }
  field.value = given ?? guess;
  // The guess may hold words that match nothing: any word that matches counts.
  const refresh = () => field.value && show(field.value, { every: false });
  refresh();
  return refresh;
}

async function boot() {
  theme.apply(theme.choice());
  await setLocale(preferredLocale());
  prefs();
  const refreshSearch = search();
  onLocaleChange(() => {
    prefs();
    refreshSearch();
  });
  pageView(document.body.dataset.view);
  registerServiceWorker();
  document.documentElement.dataset.ready = "true";
}

boot();
