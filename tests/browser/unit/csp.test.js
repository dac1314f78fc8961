// The markup and modules keep to the Content-Security-Policy
// (script-src 'self'; style-src 'self'): no inline script or style, no
// event-handler attributes, no eval, and no HTML strings from data.

import { test } from "node:test";
import assert from "node:assert/strict";
import { files, read } from "./static.js";

const html = files().filter((p) => p.endsWith(".html"));
const js = files().filter((p) => p.endsWith(".js"));

test("HTML: no inline scripts, styles or handlers", () => {
  for (const path of html) {
    const text = read(path);
    for (const m of text.matchAll(/<script\b([^>]*)>/g)) assert.match(m[1], /\bsrc="\/[^"]+"/, `${path}: inline <script>`);
    assert.doesNotMatch(text, /<style\b/, `${path}: <style>`);
    assert.doesNotMatch(text, /\sstyle=/, `${path}: style attribute`);
    assert.doesNotMatch(text, /\son[a-z]+=/, `${path}: event-handler attribute`);
    assert.doesNotMatch(text, /javascript:/i, `${path}: javascript: URL`);
  }
});

test("JS: no eval, HTML strings or inline styles", () => {
  const banned = [
    [/\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML/, "HTML from strings"],
    [/\beval\(|new Function\(|setTimeout\(\s*["'`]/, "eval"],
    [/document\.write/, "document.write"],
    [/setAttribute\(\s*["']style["']|\.style\.cssText/, "inline style"],
    [/localStorage\.setItem\((?!PREFIX)/, "storage outside prefs.js"],
  ];
  for (const path of js) {
    const text = read(path);
    for (const [pattern, what] of banned) assert.doesNotMatch(text, pattern, `${path}: ${what}`);
  }
});

test("every page loads its script as a module from /js/", () => {
  for (const path of html) {
    const text = read(path);
    assert.match(text, /<script type="module" src="\/js\/(app|site)\.js"><\/script>/, path);
    assert.match(text, /<html lang="en" dir="ltr">/, `${path}: lang and dir`);
    assert.match(text, /name="viewport"/, `${path}: viewport`);
  }
});
