// Short confirmations ("Job created") in a live region.

import { h, byId } from "../dom.js";

/** Show `message` for a few seconds; `tone` "bad" for failures. */
export function toast(message, tone = "") {
  const region = byId("toasts");
  if (!region) return;
  const node = h("div", { class: `toast ${tone}` }, message);
  region.append(node);
  while (region.children.length > 3) region.firstChild.remove(); // the newest three
  setTimeout(() => node.remove(), 6000);
}
