// Saving a file the API answered: a temporary object URL behind a hidden
// link, clicked once and revoked after the browser has taken it.

import { h } from "../dom.js";

/** Offer `blob` to the user as a download named `name`. */
export function saveBlob(blob, name) {
  const link = h("a", { href: URL.createObjectURL(blob), download: name, class: "visually-hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 30000);
}
