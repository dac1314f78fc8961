// Saving a fetched file: a hidden link to an object URL, clicked once.

import { h } from "../dom.js";

/** Offer `blob` as a download named `filename`. */
export function saveBlob(blob, filename) {
  const link = h("a", { href: URL.createObjectURL(blob), download: filename, class: "visually-hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 30000);
}
