// Downloads: a file the API answers, fetched with the session's credential
// (an audited export, a backup), or a blob the page already holds (the
// SBOM), saved through a temporary object URL behind a hidden link,
// clicked once and revoked after the browser has taken it.

import { h } from "../dom.js";
import * as api from "../api.js";

/** The file name a Content-Disposition header gives, if any. */
export function dispositionName(header) {
  const m = /filename="?([^";]+)"?/i.exec(header || "");
  return m ? m[1] : null;
}

/** Offer `blob` to the user as a download named `name`. */
export function saveBlob(blob, name) {
  const link = h("a", { href: URL.createObjectURL(blob), download: name, class: "visually-hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 30000);
}

/**
 * GET `path` (with `accept`) and save the answer as a file named
 * `filename`, else as the server names it, else `fallback`. Resolves to
 * the name used.
 */
export async function download(path, { accept, filename = null, fallback = "download" }) {
  const res = await api.fetchRaw("GET", path, { headers: { Accept: accept } });
  const name = filename || dispositionName(res.headers.get("Content-Disposition")) || fallback;
  saveBlob(await res.blob(), name);
  return name;
}
