// Security: the configuration scan (each weakness with its fix, worst
// first), every secret's age and rotation date, and the software bill of
// materials (a summary of the CycloneDX document, and its download).

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import { header, card, fill, facts, table } from "../ui/layout.js";
import { empty, pill } from "../ui/states.js";
import { toast } from "../ui/toast.js";
import { saveBlob } from "../ui/download.js";
import { track } from "../telemetry.js";

const SEVERITY_TONE = { high: "bad", medium: "warn", low: "info" };

export async function render({ main, signal }) {
  const scanBox = h("div", { class: "stack", id: "security-scan" });
  const sbomBox = h("div", { class: "stack", id: "security-sbom" });
  mount(main, header(t("security.title")), card(t("security.scan"), scanBox), card(t("security.sbom"), sbomBox));
  await Promise.all([
    fill(scanBox, () => api.get("/api/security/scan", {}, { signal }), scanView, { signal }),
    fill(sbomBox, () => loadSbom(signal), sbomView, { signal }),
  ]);
}

function scanView(report) {
  return h(
    "div",
    { class: "stack" },
    h("p", { class: "muted", text: t("security.scanned_at", { when: fmt.dateTime(report.scanned_at), n: fmt.number(report.checks.length) }) }),
    report.findings.length ? h("ul", { class: "records", id: "finding-list" }, report.findings.map(finding)) : empty(t("security.clean")),
    h("h3", { text: t("security.secrets") }),
    h("p", { class: "muted", text: t("security.rotation", { n: fmt.number(report.rotation_days) }) }),
    report.secrets.length
      ? table(
          t("security.secrets"),
          [t("security.variable"), t("security.set_at"), t("security.due_at"), t("security.state")],
          report.secrets.map((s) =>
            h(
              "tr",
              { dataset: { secret: s.name } },
              h("td", {}, h("code", { text: s.name })),
              h("td", { text: fmt.dateTime(s.set_at) }),
              h("td", { text: s.due_at ? fmt.dateTime(s.due_at) : t("security.not_rotated") }),
              h("td", {}, s.due ? pill(t("security.due"), "bad") : pill(t("security.current"), "ok")),
            ),
          ),
        )
      : empty(t("security.no_secrets")),
  );
}

function finding(f) {
  return h(
    "li",
    { class: "record", dataset: { check: f.check } },
    h("div", { class: "title" }, t(`security.check.${f.check}`), " ", pill(t(`security.severity.${f.severity}`), SEVERITY_TONE[f.severity] || "neutral")),
    h("div", { class: "meta" }, facts([[t("security.subject"), h("code", { text: f.subject })], [t("security.problem"), f.problem], [t("security.fix"), f.fix]])),
  );
}

/** The SBOM as text (for the download) and parsed (for the summary). */
async function loadSbom(signal) {
  const res = await api.fetchRaw("GET", "/api/security/sbom", { headers: { Accept: "application/vnd.cyclonedx+json" }, signal });
  const text = await res.text();
  const name = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "")?.[1] || "echopilot.cdx.json";
  return { text, name, doc: JSON.parse(text) };
}

function sbomView({ text, name, doc }) {
  const components = doc.components || [];
  const apps = components.filter((c) => c.type === "application");
  const crates = components.filter((c) => c.type !== "application");
  const licenses = new Map();
  for (const c of crates) {
    const l = c.licenses?.[0]?.expression || t("security.no_license");
    licenses.set(l, (licenses.get(l) || 0) + 1);
  }
  const top = [...licenses.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const download = h("button", { type: "button", class: "secondary", id: "sbom-download", on: { click: () => save(text, name) } }, t("security.download"));
  return h(
    "div",
    { class: "stack" },
    facts([
      [t("security.format"), `CycloneDX ${doc.specVersion}`],
      [t("security.version"), doc.metadata?.component?.version],
      [t("security.generated"), doc.metadata?.timestamp ? fmt.dateTime(doc.metadata.timestamp) : "—"],
      [t("security.components"), fmt.number(apps.length)],
      [t("security.crates"), fmt.number(crates.length)],
    ]),
    table(
      t("security.licenses"),
      [t("security.license"), { text: t("security.crates"), class: "num" }],
      top.map(([license, n]) => h("tr", {}, h("td", {}, h("code", { text: license })), h("td", { class: "num", text: fmt.number(n) }))),
    ),
    h("div", {}, download),
  );
}

function save(text, name) {
  try {
    saveBlob(new Blob([text], { type: "application/vnd.cyclonedx+json" }), name);
    track("security.sbom_download");
  } catch (err) {
    toast(err.message, "bad");
  }
}
