// The steps every browser test takes: wait for the console to settle on a
// view, open one, check it with axe-core and screenshot it, confirm a
// dialog, open the phone's navigation drawer, and poll for a condition.

import assert from "node:assert/strict";
import { axe, screenshot } from "./browser.js";

export const BASE = process.env.DASH_BASE_URL;

/** Wait until the page's script has started (`<html data-ready>`). */
export const ready = (page) => page.waitForSelector("html[data-ready=true]", { state: "attached" });

/** Wait until the console has rendered `path` (or the current address) and every card has loaded. */
export async function settled(page, path = null) {
  await ready(page);
  await page.waitForFunction(
    (want) => {
      const main = document.querySelector("main");
      const shown = want === null || main.dataset.path === want.split("?")[0];
      return shown && main.getAttribute("aria-busy") === "false" && main.querySelector("h1") && !main.querySelector(".state-loading");
    },
    path,
    { timeout: 30_000 },
  );
}

/** Open the console at `path` and wait for it to settle. */
export async function go(page, path) {
  await page.goto(`${BASE}/app/#${path}`);
  await settled(page, path);
}

/** axe-core finds nothing serious, the screenshot is saved, and the page saw no problem. */
export async function audit(page, watch, name) {
  const violations = await axe(page);
  assert.deepEqual(violations, [], `axe on ${name}`);
  await screenshot(page, name);
  watch.check(name);
}

/** Open the navigation (the drawer on phones; the sidebar is always open on desktops). */
export async function openNav(page, size) {
  if (size.name === "phone") {
    await page.click("#menu-button");
    await page.waitForSelector("#nav[data-open=true]");
  }
}

/** Poll `check` (at most 10 s) until it holds. */
export async function until(check, what) {
  for (let i = 0; i < 40; i += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Confirm the open dialog and wait for it to close. */
export async function confirmDialog(page) {
  await page.click("dialog[open] button[value=confirm]");
  await page.waitForSelector("dialog[open]", { state: "detached" });
}
