// The language and theme choosers (the console's navigation and the
// public pages' footer): each change applies at once, is remembered, and
// is counted as an analytics event.

import { t, LOCALES, locale, setLocale } from "../i18n.js";
import * as theme from "../theme.js";
import { track } from "../telemetry.js";
import { select } from "./fields.js";

/** The two fields, with ids `<prefix>-locale` and `<prefix>-theme`. */
export function preferenceFields(prefix) {
  const language = select({ id: `${prefix}-locale`, name: "locale", label: t("settings.language"), options: LOCALES.map((l) => [l.code, l.name]), value: locale() });
  for (const option of language.querySelectorAll("option")) option.lang = option.value;
  language.querySelector("select").addEventListener("change", async (e) => {
    await setLocale(e.target.value, { remember: true });
    track("locale.change");
  });
  const colours = select({ id: `${prefix}-theme`, name: "theme", label: t("settings.theme"), options: theme.THEMES.map((v) => [v, t(`settings.theme.${v}`)]), value: theme.choice() });
  colours.querySelector("select").addEventListener("change", (e) => {
    theme.apply(e.target.value, { remember: true });
    track("theme.change");
  });
  return [language, colours];
}
