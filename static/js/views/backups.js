// Backups: the stored backups (newest first) with their verification,
// verifying one (the console's verify_backup, confirmed) and downloading
// one (an audited download, fetched with the session's credential).

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import { header, card, fill, facts } from "../ui/layout.js";
import { empty, statusPill } from "../ui/states.js";
import { confirmDialog } from "../ui/confirm.js";
import { toast } from "../ui/toast.js";
import { saveBlob } from "../ui/download.js";
import { track } from "../telemetry.js";
import { href } from "../routes.js";

export async function render({ main, signal }) {
  const box = h("div", { class: "stack" });
  mount(main, header(t("backups.title"), h("a", { class: "button secondary", href: href("/console", { command: "run_backup" }), text: t("backups.take") })), box);
  const load = () => fill(box, () => api.get("/api/backups", { limit: 20 }, { signal }), (d) => view(d, load), { signal });
  await load();
}

function view(data, reload) {
  return h(
    "div",
    { class: "stack" },
    h("p", { class: "muted", text: t("backups.keep", { n: fmt.number(data.keep) }) }),
    data.backups.length ? h("ul", { class: "records", id: "backup-list" }, data.backups.map((b) => item(b, reload))) : empty(t("backups.none")),
    card(t("backups.excluded"), h("ul", {}, data.excluded.map((e) => h("li", {}, h("code", { text: e.table }), " — ", e.reason)))),
  );
}

function item(b, reload) {
  return h(
    "li",
    { class: "record", dataset: { backupId: b.id } },
    h("div", { class: "title", text: fmt.dateTime(b.created_at) }),
    statusPill(b.verify_status || "never"),
    h(
      "div",
      { class: "meta" },
      facts([
        [t("backups.size"), `${fmt.bytes(b.bytes)} (${fmt.bytes(b.raw_bytes)})`],
        [t("backups.rows"), fmt.number(b.rows)],
        [t("backups.schema"), fmt.number(b.schema_version)],
        [t("backups.trigger"), `${b.trigger} · ${b.actor}`],
        [t("backups.verified"), b.verified_at ? fmt.dateTime(b.verified_at) : "—"],
        [t("backups.sha"), h("code", { text: b.sha256.slice(0, 16) })],
      ]),
    ),
    h(
      "div",
      { class: "record-actions" },
      h("button", { type: "button", class: "secondary", dataset: { action: "verify" }, on: { click: () => verify(b, reload) } }, t("backups.verify")),
      h("button", { type: "button", class: "secondary", dataset: { action: "download" }, on: { click: (e) => download(b, e.currentTarget) } }, t("backups.download")),
    ),
  );
}

async function verify(b, reload) {
  if (!(await confirmDialog({ title: t("backups.verify"), body: t("backups.verify_confirm", { when: fmt.dateTime(b.created_at) }) }))) return;
  try {
    const r = await api.post("/api/ops/command", { command: "verify_backup", args: { id: b.id }, confirm: true });
    track("backup.verify");
    const status = r.result?.verification?.status || r.result?.status || "ok";
    toast(t("backups.verified_result", { status }), status === "ok" ? "" : "bad");
    await reload();
  } catch (err) {
    toast(err.message, "bad");
  }
}

async function download(b, button) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const res = await api.fetchRaw("GET", `/api/backups/${encodeURIComponent(b.id)}/download`, { headers: { Accept: "application/gzip" } });
    saveBlob(await res.blob(), b.filename);
    track("backup.download");
  } catch (err) {
    toast(err.message, "bad");
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
