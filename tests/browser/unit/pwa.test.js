// The installable app: the manifest's icons exist, and the service
// worker's shell lists every file the console needs offline (and nothing
// that is not there), while live paths are never cached.

import { test } from "node:test";
import assert from "node:assert/strict";
import { files, read } from "./static.js";

const sw = read("/sw.js");
const shell = [...sw.slice(sw.indexOf("const SHELL = ["), sw.indexOf("];")).matchAll(/"([^"]+)"/g)].map((m) => m[1]);

test("the shell lists every static file, and only those", () => {
  const served = new Set(files());
  const asServed = (p) => (p.endsWith("/") ? `${p}index.html` : p);
  const expected = [...served].filter((p) => p !== "/sw.js").map((p) => p.replace(/index\.html$/, "")).sort();
  assert.deepEqual([...shell].sort(), expected);
  for (const p of shell) assert.ok(served.has(asServed(p)), `${p} is not a file`);
});

test("the worker never answers API, health or metrics requests", () => {
  assert.match(sw, /url\.pathname\.startsWith\("\/api\/"\)/);
  assert.match(sw, /url\.pathname === "\/health"/);
  assert.match(sw, /url\.pathname === "\/metrics"/);
  assert.match(sw, /isLive\(url\)\) return;/);
});

test("the manifest is installable: name, start URL, scope, display and icons that exist", () => {
  const m = JSON.parse(read("/manifest.webmanifest"));
  assert.ok(m.name && m.short_name && m.start_url && m.scope === "/" && m.display === "standalone");
  const sizes = m.icons.map((i) => i.sizes);
  assert.ok(sizes.includes("192x192") && sizes.includes("512x512"), "192 and 512 icons");
  assert.ok(m.icons.some((i) => i.purpose === "maskable"));
  const served = new Set(files());
  for (const icon of m.icons) assert.ok(served.has(icon.src), icon.src);
});
