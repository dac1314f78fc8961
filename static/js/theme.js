// Light and dark themes: the system's choice unless the user picks one
// (remembered). CSS does the rest through color-scheme and light-dark().

import * as prefs from "./prefs.js";

export const THEMES = ["system", "light", "dark"];

/** The saved choice: `system`, `light` or `dark`. */
export function choice() {
  const saved = prefs.get("theme");
  return THEMES.includes(saved) ? saved : "system";
}

/** Apply `name` to the page, remembering it when asked. */
export function apply(name, { remember = false } = {}) {
  const theme = THEMES.includes(name) ? name : "system";
  if (theme === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  if (remember) prefs.set("theme", theme === "system" ? null : theme);
  return theme;
}

/** The theme in effect now (`light` or `dark`). */
export function effective() {
  const theme = choice();
  if (theme !== "system") return theme;
  return matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark";
}
