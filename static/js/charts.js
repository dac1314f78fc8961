// Small SVG charts drawn from data: a line chart and a stacked bar chart.
// Each is a <figure> with its caption, a legend, and its numbers as a
// table under "Show data", so the figures are there for screen readers and
// for anyone who wants exact values. Colours come from CSS classes
// (series-1..6), so both themes apply and no inline style is needed.

import { h, svg, uid } from "./dom.js";
import { t } from "./i18n.js";

const W = 360;
const H = 190;
const PAD = { top: 12, right: 10, bottom: 26, left: 54 };
const plotW = W - PAD.left - PAD.right;
const plotH = H - PAD.top - PAD.bottom;

/**
 * The axis top for data up to `value`: four equal steps of a "nice" size
 * (1, 2, 2.5 or 5 × 10^n), whole numbers only when `whole` (counts, ms).
 */
export function axisMax(value, { whole = false } = {}) {
  const want = Math.max(value, 0) / 4;
  if (!(want > 0)) return whole ? 4 : 1;
  const exp = 10 ** Math.floor(Math.log10(want));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * exp).find((s) => s >= want);
  if (whole) step = step < 1 ? 1 : step === 2.5 * exp && exp === 1 ? 3 : Math.ceil(step);
  return 4 * step;
}

function frame(labels, max, format, maxLabels = 8) {
  const nodes = [];
  for (let i = 0; i <= 4; i += 1) {
    const v = (max * i) / 4;
    const y = PAD.top + plotH - (plotH * i) / 4;
    nodes.push(svg("line", { class: i ? "grid-line" : "axis", x1: PAD.left, x2: W - PAD.right, y1: y, y2: y }));
    nodes.push(svg("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end" }, format(v)));
  }
  const step = plotW / labels.length;
  // At most `maxLabels` fit the axis: a longer series labels every n-th point.
  const every = Math.ceil(labels.length / maxLabels);
  labels.forEach((label, i) => {
    if (i % every === 0) nodes.push(svg("text", { x: PAD.left + step * (i + 0.5), y: H - 8, "text-anchor": "middle" }, label));
  });
  return nodes;
}

/** A series' colour class: its own `colour` (1-6) when it has one, else by position. */
const colourOf = (s, i) => `series-${s.colour ?? (i % 6) + 1}`;

function legend(series) {
  return h(
    "ul",
    { class: "legend" },
    series.map((s, i) =>
      h("li", {}, svg("svg", { viewBox: "0 0 12 12", "aria-hidden": "true" }, svg("rect", { width: 12, height: 12, rx: 3, class: colourOf(s, i) })), s.name),
    ),
  );
}

function dataTable(title, labels, series, format) {
  return h(
    "details",
    {},
    h("summary", { text: t("chart.show_data") }),
    h(
      "div",
      { class: "table-wrap", tabindex: "0", role: "region", "aria-label": title },
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col", text: t("chart.day") }), series.map((s) => h("th", { scope: "col", class: "num", text: s.name })))),
        h(
          "tbody",
          {},
          labels.map((label, i) =>
            h("tr", {}, h("th", { scope: "row", text: label }), series.map((s) => h("td", { class: "num", text: s.values[i] === null ? "—" : format(s.values[i]) }))),
          ),
        ),
      ),
    ),
  );
}

function figure(title, summary, plot, labels, series, format, { alwaysLegend = false, keyed = series } = {}) {
  const captionId = uid("chart");
  const summaryId = uid("chart-summary");
  return h(
    "figure",
    { class: "chart" },
    h("figcaption", { id: captionId, text: title }),
    svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": captionId, "aria-describedby": summaryId, direction: "ltr" }, plot),
    h("p", { id: summaryId, class: "visually-hidden", text: summary }),
    keyed.length > 1 || (alwaysLegend && keyed.length) ? legend(keyed) : null,
    dataTable(title, labels, series, format),
  );
}

function summarize(labels, series, format) {
  return series
    .map((s) => `${s.name}: ${labels.map((l, i) => `${l} ${s.values[i] === null ? "—" : format(s.values[i])}`).join(", ")}`)
    .join("; ");
}

/**
 * A line chart. `series`: [{name, values}] with one value (or null for no
 * data) per label. `max` fixes the axis (e.g. 100 for percentages);
 * `whole` keeps ticks on whole units for small values (counts, ms).
 * `bands`: shaded ranges drawn under the lines (a prediction interval),
 * each {lower, upper} series ({name, values}) and an optional `colour`;
 * their bounds are in the data table too. `maxLabels`: how many day
 * labels the axis shows at most (every n-th beyond that).
 */
export function lineChart({ title, labels, series, format = String, max = null, whole = false, bands = [], maxLabels = 8 }) {
  const bounds = bands.flatMap((b) => [b.lower, b.upper]);
  const all = [...series, ...bounds].flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
  const top = max ?? axisMax(Math.max(0, ...all), { whole });
  const step = plotW / labels.length;
  const x = (i) => PAD.left + step * (i + 0.5);
  const y = (v) => PAD.top + plotH - (plotH * Math.max(0, v)) / top;
  const plot = [...frame(labels, top, format, maxLabels)];
  bands.forEach((b, bi) => {
    const points = labels.map((_, i) => [b.lower.values[i], b.upper.values[i]]);
    if (points.some(([lo, hi]) => lo === null || lo === undefined || hi === null || hi === undefined)) return;
    const upper = points.map(([, hi], i) => `${x(i).toFixed(1)},${y(hi).toFixed(1)}`);
    const lower = points.map(([lo], i) => `${x(i).toFixed(1)},${y(lo).toFixed(1)}`).reverse();
    plot.push(svg("polygon", { class: `band ${colourOf(b, bi + 2)}`, points: [...upper, ...lower].join(" ") }));
  });
  series.forEach((s, si) => {
    const cls = colourOf(s, si);
    let d = "";
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      d += `${d && s.values[i - 1] !== null && s.values[i - 1] !== undefined ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    });
    if (d) plot.push(svg("path", { class: `line ${cls}`, d }));
    s.values.forEach((v, i) => {
      if (v !== null && v !== undefined) plot.push(svg("circle", { class: `dot ${cls}`, cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 3.5 }));
    });
  });
  const tabled = [...series, ...bounds];
  // The legend keys each line and band by its own colour.
  const keyed = [...series.map((s, i) => ({ ...s, colour: s.colour ?? (i % 6) + 1 })), ...bands.map((b, i) => ({ name: b.name, colour: b.colour ?? ((i + 2) % 6) + 1 }))];
  return figure(title, summarize(labels, tabled, format), plot, labels, tabled, format, { keyed });
}

/**
 * A stacked bar chart: one bar per label, one segment per series (counts:
 * the axis is whole numbers). The legend shows even for one series, whose
 * name (a status) is what the colour means.
 */
export function stackedBars({ title, labels, series, format = String }) {
  const totals = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
  const top = axisMax(Math.max(0, ...totals), { whole: true });
  const step = plotW / labels.length;
  const barW = Math.min(28, step * 0.6);
  const plot = [...frame(labels, top, format)];
  labels.forEach((_, i) => {
    let base = PAD.top + plotH;
    series.forEach((s, si) => {
      const v = s.values[i] || 0;
      if (!v) return;
      const height = (plotH * v) / top;
      base -= height;
      plot.push(svg("rect", { class: colourOf(s, si), x: (PAD.left + step * (i + 0.5) - barW / 2).toFixed(1), y: base.toFixed(1), width: barW.toFixed(1), height: height.toFixed(1) }));
    });
  });
  return figure(title, summarize(labels, series, format), plot, labels, series, format, { alwaysLegend: true });
}
