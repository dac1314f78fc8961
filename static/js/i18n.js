// Localization: one catalogue per language (static/i18n/<lang>.json, its
// "ui" section: flat keys), `t()` with {name} placeholders, plural forms by
// Intl.PluralRules, <html lang dir>, and `data-i18n` attributes on static
// markup. English is the fallback for a missing key (a test keeps the
// catalogues complete, so that only ever shows during development).

import * as prefs from "./prefs.js";

export const LOCALES = [
  { code: "en", name: "English", dir: "ltr" },
  { code: "es", name: "Español", dir: "ltr" },
  { code: "ur", name: "اردو", dir: "rtl" },
];
const DEFAULT = "en";

let current = DEFAULT;
let strings = {};
let fallback = {};
const listeners = new Set();

async function fetchCatalogue(code) {
  const res = await fetch(`/i18n/${code}.json`, { headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(`catalogue ${code}: HTTP ${res.status}`);
  const body = await res.json();
  return body.ui || {};
}

/** The locale to start with: the saved choice, else the browser's languages. */
export function preferredLocale() {
  const saved = prefs.get("locale");
  if (LOCALES.some((l) => l.code === saved)) return saved;
  for (const tag of navigator.languages || [navigator.language || DEFAULT]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LOCALES.some((l) => l.code === base)) return base;
  }
  return DEFAULT;
}

/** Load `code`'s catalogue and switch the page to it. */
export async function setLocale(code, { remember = false } = {}) {
  const locale = LOCALES.find((l) => l.code === code) || LOCALES[0];
  if (!Object.keys(fallback).length) fallback = await fetchCatalogue(DEFAULT);
  strings = locale.code === DEFAULT ? fallback : await fetchCatalogue(locale.code);
  current = locale.code;
  document.documentElement.lang = locale.code;
  document.documentElement.dir = locale.dir;
  if (remember) prefs.set("locale", locale.code);
  translatePage(document);
  for (const fn of listeners) fn(current);
  return current;
}

/** The current locale code (`en`, `es`, `ur`). */
export const locale = () => current;

/** Called after every locale change. Returns an unsubscribe function. */
export function onLocaleChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Whether the catalogue has `key`. */
export const has = (key) => key in strings || key in fallback;

/** The string for `key`, with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  let text = strings[key] ?? fallback[key];
  if (text === undefined) {
    console.warn(`i18n: missing key ${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/**
 * The label of an API enum value (`prefix` + value, e.g. "scale.action." +
 * "scale_down"), or the value itself when the catalogue has none (a value
 * newer than this dashboard still shows).
 */
export function tEnum(prefix, value) {
  if (value === null || value === undefined) return "—";
  return has(prefix + value) ? t(prefix + value) : String(value);
}

/** The plural form of `key` for `count` (`key.one`, `key.other`, ...). */
export function tn(key, count, params = {}) {
  const form = new Intl.PluralRules(current).select(count);
  const chosen = has(`${key}.${form}`) ? `${key}.${form}` : `${key}.other`;
  return t(chosen, { count: new Intl.NumberFormat(current).format(count), ...params });
}

/**
 * Translate static markup: `data-i18n="key"` sets the text;
 * `data-i18n-attr="placeholder:key;aria-label:key"` sets attributes.
 */
export function translatePage(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
  const title = root.querySelector?.("title[data-i18n]");
  if (title) document.title = t(title.dataset.i18n);
}
