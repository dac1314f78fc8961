// Backups: disaster-recovery status (the latest backup, its verification,
// the last drill and restore check, the next weekly drill) with "run a
// drill" (the console's run_drill, confirmed) and "check a restore" (POST
// /api/dr/restore, a dry run), the off-machine copy (where, last shipped,
// failures) with "check the off-machine copy" (the same dry run with
// source "offsite"), then the stored backups (newest first) with
// their verification, verifying one (the console's verify_backup,
// confirmed) and downloading one (an audited download, fetched with the
// session's credential).

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import { header, card, fill, facts } from "../ui/layout.js";
import { empty, statusPill } from "../ui/states.js";
import { confirmDialog } from "../ui/confirm.js";
import { toast } from "../ui/toast.js";
import { download as saveFile } from "../ui/download.js";
import { track } from "../telemetry.js";
import { href } from "../routes.js";

export async function render({ main, signal }) {
  const box = h("div", { class: "stack" });
  mount(main, header(t("backups.title"), h("a", { class: "button secondary", href: href("/console", { command: "run_backup" }), text: t("backups.take") })), box);
  const both = async () => {
    const [backups, dr] = await Promise.all([api.get("/api/backups", { limit: 20 }, { signal }), api.get("/api/dr/last", {}, { signal })]);
    return { ...backups, dr };
  };
  const load = () => fill(box, both, (d) => view(d, load), { signal });
  await load();
}

function view(data, reload) {
  return h(
    "div",
    { class: "stack" },
    drCard(data.dr, reload),
    offsiteCard(data.dr.offsite, reload),
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

/** When and how a DR run ended, for one line of facts. */
function runSummary(run) {
  if (!run) return t("dr.never");
  const took = run.duration_ms != null ? ` · ${t("dr.took", { ms: fmt.number(run.duration_ms) })}` : "";
  return h("span", {}, statusPill(run.status), " ", fmt.dateTime(run.finished_at || run.requested_at), took, run.error ? h("span", { class: "muted", text: ` — ${run.error}` }) : null);
}

function drCard(dr, reload) {
  const v = dr.verification;
  return card(
    t("dr.title"),
    h(
      "div",
      { id: "dr-status", class: "stack" },
      facts([
        [t("dr.latest_backup"), dr.backup ? fmt.dateTime(dr.backup.created_at) : t("dr.never")],
        [t("dr.verification"), v ? h("span", {}, statusPill(v.status || "never"), v.verified_at ? ` ${fmt.dateTime(v.verified_at)}` : "") : t("dr.never")],
        [t("dr.last_drill"), runSummary(dr.drill)],
        [t("dr.last_check"), runSummary(dr.restore_check)],
        [t("dr.pending"), dr.pending_drill ? statusPill(dr.pending_drill.status) : "—"],
        [t("dr.next_drill"), fmt.dateTime(dr.next_drill_at)],
      ]),
      h(
        "div",
        { class: "record-actions" },
        h("button", { type: "button", dataset: { action: "drill" }, on: { click: () => drill(reload) } }, t("dr.run_drill")),
        h("button", { type: "button", class: "secondary", dataset: { action: "check-restore" }, on: { click: (e) => checkRestore(e.currentTarget, reload) } }, t("dr.check_restore")),
      ),
    ),
  );
}

/** The off-machine copy: where it goes, the last one shipped, failures. */
function offsiteCard(o, reload) {
  if (!o || !o.configured) return card(t("dr.offsite"), h("p", { id: "dr-offsite", class: "muted", text: t("dr.offsite_off") }));
  const last = o.last_shipped;
  const failure = o.failures[0];
  return card(
    t("dr.offsite"),
    h(
      "div",
      { id: "dr-offsite", class: "stack" },
      o.error ? h("p", { class: "notice bad", text: o.error }) : null,
      o.stale ? h("p", { class: "notice bad", text: t("dr.offsite_stale") }) : null,
      facts([
        [t("dr.offsite_where"), h("code", { text: o.location || "—" })],
        [t("dr.offsite_last"), last ? h("span", {}, fmt.dateTime(last.shipped_at), " · ", h("code", { title: last.key, text: last.key.split("/").pop() })) : t("dr.never")],
        [t("dr.offsite_failures"), failure ? h("span", {}, statusPill("failed"), ` ${fmt.number(o.failures.length)} — ${failure.last_error || ""}`) : "—"],
      ]),
      h(
        "div",
        { class: "record-actions" },
        h("button", { type: "button", class: "secondary", dataset: { action: "check-offsite" }, on: { click: (e) => checkRestore(e.currentTarget, reload, { source: "offsite" }) } }, t("dr.check_offsite")),
      ),
    ),
  );
}

async function drill(reload) {
  if (!(await confirmDialog({ title: t("dr.run_drill"), body: t("dr.drill_confirm") }))) return;
  try {
    const r = await api.post("/api/ops/command", { command: "run_drill", confirm: true });
    track("dr.drill");
    toast(t(r.result?.already_requested ? "dr.drill_waiting" : "dr.drill_requested"));
    await reload();
  } catch (err) {
    toast(err.message, "bad");
  }
}

async function checkRestore(button, reload, body = {}) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const r = await api.post("/api/dr/restore", body);
    track("dr.check");
    const run = r.run;
    toast(t("dr.check_result", { status: run.status, ms: fmt.number(run.duration_ms ?? 0) }), run.status === "ok" ? "" : "bad");
    await reload();
  } catch (err) {
    toast(err.message, "bad");
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
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
    await saveFile(`/api/backups/${encodeURIComponent(b.id)}/download`, { accept: "application/gzip", filename: b.filename });
    track("backup.download");
  } catch (err) {
    toast(err.message, "bad");
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
