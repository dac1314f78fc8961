// The navigation: the views the principal may open, grouped, with the
// language and theme settings and sign-out. A drawer on phones (opened by
// the menu button, closed by Escape, the backdrop or choosing a view), a
// sidebar from 1024 px.

import { h, mount, byId } from "./dom.js";
import { t } from "./i18n.js";
import * as session from "./session.js";
import { VIEWS, GROUPS, href } from "./routes.js";
import { track } from "./telemetry.js";
import { preferenceFields } from "./ui/preferences.js";

let nav;
let menuButton;
let backdrop;

const desktop = () => matchMedia("(min-width: 1024px)").matches;

/** Open or close the drawer (phones). */
export function setOpen(open) {
  if (desktop()) open = false;
  nav.dataset.open = String(open);
  menuButton.setAttribute("aria-expanded", String(open));
  backdrop.hidden = !open;
  byId("main").inert = open;
  if (open) nav.querySelector("a, button, select")?.focus();
}

/** Redraw for the current principal, view and locale. */
export function render(currentView) {
  const principal = session.current();
  const focused = nav.contains(document.activeElement) ? document.activeElement.id : null;
  const groups = GROUPS.map((group) => {
    const views = VIEWS.filter((v) => v.group === group && session.mayOpen(v));
    if (!views.length) return null;
    return [
      h("h2", { text: t(`nav.group.${group}`) }),
      h(
        "ul",
        {},
        views.map((v) => h("li", {}, h("a", { href: href(v.path), "aria-current": v.id === currentView ? "page" : null, text: t(v.title) }))),
      ),
    ];
  });
  mount(
    nav,
    principal ? groups : h("ul", {}, h("li", {}, h("a", { href: href("/sign-in"), text: t("nav.sign_in") }))),
    h(
      "div",
      { class: "settings" },
      preferenceFields("nav"),
      principal
        ? [
            h("p", { class: "who", text: t("nav.signed_in_as", { who: who(principal), role: t(`role.${principal.role}`), tenant: principal.tenant_id }) }),
            h("button", { type: "button", class: "secondary", id: "sign-out", on: { click: signOut } }, t("nav.sign_out")),
          ]
        : null,
    ),
  );
  if (focused) byId(focused)?.focus(); // a redraw (new language) keeps the reader's place
  const label = byId("principal-label");
  if (label) label.textContent = principal ? `${who(principal)} · ${t(`role.${principal.role}`)}` : "";
}

/** A readable name for the principal. */
export function who(principal) {
  if (principal.user?.email) return principal.user.email;
  if (principal.actor === "dashboard") return t("nav.console_key");
  return principal.actor;
}

/** Sign out, then show the sign-in view. */
export async function signOut() {
  track("auth.sign_out");
  await session.signOut().catch(() => {});
  location.hash = "#/sign-in";
}

/** Wire the menu button, backdrop and keys. */
export function init() {
  nav = byId("nav");
  menuButton = byId("menu-button");
  backdrop = byId("nav-backdrop");
  menuButton.addEventListener("click", () => setOpen(nav.dataset.open !== "true"));
  backdrop.addEventListener("click", () => setOpen(false));
  nav.addEventListener("click", (e) => {
    if (e.target.closest("a")) setOpen(false);
  });
  addEventListener("keydown", (e) => {
    if (e.key === "Escape" && nav.dataset.open === "true") {
      setOpen(false);
      menuButton.focus();
    }
  });
  matchMedia("(min-width: 1024px)").addEventListener("change", () => setOpen(false));
  addEventListener("hashchange", () => setOpen(false)); // any navigation closes the drawer
}
