// Numbers, money, dates and durations in the reader's locale (Intl only).

import { locale } from "./i18n.js";

const dash = "—";
const nf = (options) => new Intl.NumberFormat(locale(), options);

/** An integer or decimal number. */
export function number(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return dash;
  return nf({ maximumFractionDigits: digits }).format(Number(n));
}

/** A percentage given in percent units (e.g. 93.5 → "93.5%"). */
export function percent(pct, digits = 1) {
  if (pct === null || pct === undefined) return dash;
  return nf({ style: "percent", maximumFractionDigits: digits }).format(Number(pct) / 100);
}

/** A ratio in 0..1 as a percentage. */
export const ratio = (r, digits = 1) => (r === null || r === undefined ? dash : percent(Number(r) * 100, digits));

/** Money given in integer micro-units (micro-dollars). */
export function micros(value, currency = "USD") {
  if (value === null || value === undefined) return dash;
  const amount = Number(value) / 1e6;
  const small = amount !== 0 && Math.abs(amount) < 1;
  return nf({
    style: "currency",
    currency,
    minimumFractionDigits: 2,
    maximumFractionDigits: small ? 4 : 2,
  }).format(amount);
}

/** Money given in whole units (e.g. the costs API's `*_usd` fields). */
export function money(amount, currency = "USD") {
  if (amount === null || amount === undefined) return dash;
  return nf({ style: "currency", currency, maximumFractionDigits: Math.abs(amount) < 1 && amount !== 0 ? 4 : 2 }).format(Number(amount));
}

/** Money given in minor units (cents) with its currency. */
export function minor(value, currency = "USD") {
  if (value === null || value === undefined) return dash;
  const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  return nf({ style: "currency", currency }).format(Number(value) / 10 ** digits);
}

/** Date and time (short), from RFC 3339 or Unix milliseconds. */
export function dateTime(value) {
  const d = toDate(value);
  return d ? new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(d) : dash;
}

/** A calendar day (`YYYY-MM-DD` or a timestamp), in UTC. */
export function day(value, style = "medium") {
  const d = toDate(typeof value === "string" && value.length === 10 ? `${value}T00:00:00Z` : value);
  return d ? new Intl.DateTimeFormat(locale(), { dateStyle: style, timeZone: "UTC" }).format(d) : dash;
}

/** A short day label for chart axes (`12 Mar`). */
export function shortDay(value) {
  const d = toDate(`${value}T00:00:00Z`);
  return d ? new Intl.DateTimeFormat(locale(), { day: "numeric", month: "short", timeZone: "UTC" }).format(d) : dash;
}

/** "3 minutes ago", "in 2 hours". */
export function relative(value, now = Date.now()) {
  const d = toDate(value);
  if (!d) return dash;
  const seconds = Math.round((d.getTime() - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" });
  const abs = Math.abs(seconds);
  if (abs < 60) return rtf.format(seconds, "second");
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
  return rtf.format(Math.round(seconds / 86400), "day");
}

/** A duration in milliseconds ("850 ms", "12.4 s", "3 min"); `narrow` for chart axes. */
export function duration(ms, { narrow = false } = {}) {
  if (ms === null || ms === undefined) return dash;
  const v = Number(ms);
  const unit = (name, value, digits) => nf({ style: "unit", unit: name, unitDisplay: narrow ? "narrow" : "short", maximumFractionDigits: digits }).format(value);
  if (v < 1000) return unit("millisecond", v, 0);
  if (v < 120000) return unit("second", v / 1000, 1);
  if (v < 7200000) return unit("minute", v / 60000, 0);
  return unit("hour", v / 3600000, 1);
}

/** A duration in seconds. */
export const seconds = (s) => (s === null || s === undefined ? dash : duration(Number(s) * 1000));

/** A size in bytes. */
export function bytes(n) {
  if (n === null || n === undefined) return dash;
  const units = ["byte", "kilobyte", "megabyte", "gigabyte"];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return nf({ style: "unit", unit: units[i], unitDisplay: "short", maximumFractionDigits: i ? 1 : 0 }).format(v);
}

function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}
