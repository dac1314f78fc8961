// Headless Chromium (Debian's package) through playwright-core, with the
// guards every page gets: uncaught errors, CSP violations and failed
// requests fail the test; axe-core checks accessibility; screenshots go
// to target/screenshots/.

import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, "..", "..", "..");
export const SHOTS = join(ROOT, "target", "screenshots");
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Launch Chromium with a fresh user-data-dir (a persistent context per size). */
export async function launch(userDataDir, viewport) {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    args: FLAGS,
    headless: true,
    viewport,
    locale: "en-US",
    timezoneId: "UTC",
    reducedMotion: "reduce",
    acceptDownloads: true,
  });
}

/**
 * Watch a page: console errors, uncaught exceptions, CSP violations and
 * failed API responses are collected; `allowed(url, status)` exempts the
 * responses a step expects to fail. A read answered 503 with Retry-After
 * (the database busy on a loaded machine) is the one the dashboard retries:
 * it passes once, but the same read failing again is a problem.
 */
export function guard(page, allowed = () => false) {
  const problems = [];
  const retried = new Set();
  page.on("pageerror", (e) => problems.push(`uncaught: ${e.message}`));
  page.on("console", (m) => {
    const text = m.text();
    if (m.type() === "error" && !text.startsWith("Failed to load resource")) problems.push(`console: ${text}`);
    if (/Content Security Policy|Refused to/.test(text)) problems.push(`csp: ${text}`);
  });
  page.on("response", (r) => {
    const status = r.status();
    const method = r.request().method();
    if (status === 503 && method === "GET" && r.headers()["retry-after"] && !retried.has(r.url())) {
      retried.add(r.url());
      return;
    }
    if (status < 400) retried.delete(r.url());
    if (status >= 400 && !allowed(r.url(), status, method)) problems.push(`HTTP ${status} ${method} ${r.url()}`);
  });
  return {
    problems,
    /** Throw when anything went wrong since the last check. */
    check(step) {
      if (problems.length) {
        const found = problems.splice(0);
        throw new Error(`${step}:\n  ${found.join("\n  ")}`);
      }
    },
  };
}

/** Run axe-core on the page; returns the serious and critical violations. */
export async function axe(page) {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(AXE);
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] } }),
  );
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(", ")})`);
}

/** Save a full-page screenshot as target/screenshots/<name>.png. */
export async function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}
