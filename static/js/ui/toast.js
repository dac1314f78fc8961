// Short confirmations ("Job created") in a live region, in a corner of the
// screen (a strip along the bottom on phones). A toast belongs to the view
// it was raised on: it outlives the navigation its own action caused, but
// leaves with the next one, so it never sits over a view it says nothing
// about. Clicking a toast dismisses it.

import { h, byId } from "../dom.js";

const LIFETIME_MS = 6000;
/** A toast younger than this survives a navigation (the one its action made). */
const GRACE_MS = 1500;

/** Show `message` for a few seconds; `tone` "bad" for failures. */
export function toast(message, tone = "") {
  const region = byId("toasts");
  if (!region) return;
  const node = h("div", { class: `toast ${tone}`, dataset: { at: String(Date.now()) }, on: { click: () => node.remove() } }, message);
  region.append(node);
  while (region.children.length > 3) region.firstChild.remove(); // the newest three
  setTimeout(() => node.remove(), LIFETIME_MS);
}

/** Remove the toasts of the view being left (called on each navigation). */
export function leaveView() {
  const region = byId("toasts");
  if (!region) return;
  const now = Date.now();
  for (const node of [...region.children]) {
    if (now - Number(node.dataset.at || 0) > GRACE_MS) node.remove();
  }
}
