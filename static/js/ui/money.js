// Money as the money views show it: an API amount ({amount, currency} in
// minor units) in the reader's locale, figures kept per currency (never
// added across currencies), and the note on a converted total (the rates
// it used, or the currencies it could not convert).

import { h } from "../dom.js";
import { t } from "../i18n.js";
import * as fmt from "../format.js";
import { table } from "./layout.js";

/** `{amount, currency}` (minor units) formatted, or "—". */
export const amount = (m) => (m ? fmt.minor(m.amount, m.currency) : "—");

/** Minor units of `currency` to the decimal a reader types ("12.50"). */
export function toMajor(minor, currency) {
  return (Number(minor) / 10 ** fractionDigits(currency)).toFixed(fractionDigits(currency));
}

/** A decimal the reader typed ("12.5", "12,50") to minor units, or null when it is not one. */
export function toMinor(text, currency) {
  const clean = String(text).trim().replace(",", ".");
  if (!/^\d+(\.\d+)?$/.test(clean)) return null;
  const digits = fractionDigits(currency);
  const [whole, frac = ""] = clean.split(".");
  if (frac.length > digits) return null;
  return Number(whole) * 10 ** digits + Number(frac.padEnd(digits, "0") || 0);
}

/** How many minor digits `currency` has (2 for USD, 0 for JPY). */
export function fractionDigits(currency) {
  return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
}

/**
 * A table of figures per currency: `columns` are [key, label] pairs of the
 * minor-unit fields of each `byCurrency[code]` (counts when `count` is set).
 */
export function perCurrency(label, byCurrency, columns) {
  const codes = Object.keys(byCurrency || {}).sort();
  return table(
    label,
    [t("money.currency"), ...columns.map(([, text]) => ({ text, class: "num" }))],
    codes.map((code) =>
      h(
        "tr",
        {},
        h("th", { scope: "row", text: code.toUpperCase() }),
        columns.map(([key, , count]) => {
          const v = byCurrency[code][key];
          return h("td", { class: "num", text: v === undefined || v === null ? "—" : count ? fmt.number(v) : fmt.minor(v, code.toUpperCase()) });
        }),
      ),
    ),
  );
}

/**
 * What a converted total rests on: the rates used ("1 EUR = 1.08 USD on
 * 2026-03-01"), or a warning naming the currencies without a rate (the
 * total is then not shown at all).
 */
export function conversionNote({ conversions = [], missing_rates: missing = [] } = {}, currency) {
  if (missing.length) return h("p", { class: "notice warn", text: t("money.missing_rates", { currencies: missing.join(", "), currency }) });
  if (!conversions.length) return null;
  const rates = [...new Map(conversions.map((c) => [`${c.from.currency}|${c.rate_date}`, c])).values()]
    .map((c) => t("money.rate", { from: c.from.currency, rate: fmt.number(c.rate, 6), to: currency, day: fmt.day(c.rate_date) }))
    .join("; ");
  return h("p", { class: "muted small", text: t("money.converted", { rates }) });
}
