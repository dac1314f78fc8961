// The operator console: the allow-listed commands. A command always runs
// as a dry run first and shows what it would do; only then can it be
// confirmed (a second, explicit step) and run for real. Both are audited.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import { header, card, fill } from "../ui/layout.js";
import { input, select, onSubmit, submit, compact } from "../ui/fields.js";
import { confirmDialog } from "../ui/confirm.js";
import { toast } from "../ui/toast.js";
import { track } from "../telemetry.js";

/**
 * The argument fields of a command from its spec ("reason?: string",
 * "limit?: 1..200", "none"): [{name, optional, numeric, hint}].
 */
export function parseArgs(spec) {
  if (!spec || spec.trim() === "none") return [];
  return spec.split(/,\s*(?=[a-z_]+\??:)/).map((part) => {
    const [rawName, ...rest] = part.split(":");
    const hint = rest.join(":").trim();
    return { name: rawName.replace("?", "").trim(), optional: rawName.includes("?"), numeric: /^\d+\.\.\d+/.test(hint), hint };
  });
}

export async function render({ main, query, signal }) {
  const box = h("div", { class: "stack" });
  mount(main, header(t("console.title")), h("p", { class: "lede", text: t("console.lede") }), box);
  await fill(box, () => api.get("/api/ops/commands", {}, { signal }), ({ commands }) => consoleForm(commands, query.command), { signal });
}

function consoleForm(commands, chosen) {
  const argsBox = h("div");
  const result = h("div", { role: "status", "aria-live": "polite", id: "console-result" });
  const commandSelect = select({
    name: "command",
    label: t("console.command"),
    options: commands.map((c) => [c.name, c.name]),
    value: commands.some((c) => c.name === chosen) ? chosen : commands[0]?.name,
  });
  const summary = h("p", { class: "small muted", id: "console-summary" });
  const describe = () => {
    const c = commands.find((x) => x.name === form.elements.command.value);
    summary.textContent = c?.summary || "";
    mount(argsBox, parseArgs(c?.args).map((a) => input({ name: `arg:${a.name}`, label: a.optional ? t("console.optional", { name: a.name }) : a.name, type: a.numeric ? "number" : "text", hint: a.hint === "string" ? "" : a.hint, attrs: { autocomplete: "off" } })));
    mount(result);
  };
  const form = onSubmit(
    h("form", { id: "console-form", novalidate: true }, commandSelect, summary, argsBox, submit(t("console.dry_run"))),
    async (values) => {
      const command = values.command;
      const args = collectArgs(values, commands.find((c) => c.name === command));
      const dry = await api.post("/api/ops/command", { command, args, confirm: false });
      track("ops.dry_run");
      showDryRun(result, command, args, dry);
    },
  );
  form.elements.command.addEventListener("change", describe);
  describe();
  return card(t("console.run"), form, result);
}

function collectArgs(values, command) {
  const args = {};
  for (const a of parseArgs(command?.args)) {
    const v = values[`arg:${a.name}`];
    if (v !== undefined && v !== "") args[a.name] = a.numeric ? Number(v) : v;
  }
  return compact(args);
}

function showDryRun(box, command, args, dry) {
  const confirmButton = h("button", { type: "button", id: "console-confirm" }, t("console.confirm", { command }));
  confirmButton.addEventListener("click", async () => {
    const ok = await confirmDialog({ title: t("console.confirm", { command }), body: t("console.confirm_body", { command }), confirmLabel: t("console.run_now") });
    if (!ok) return;
    confirmButton.disabled = true;
    try {
      const done = await api.post("/api/ops/command", { command, args, confirm: true });
      track("ops.confirm");
      toast(t("console.ran", { command }));
      mount(box, h("h3", { text: t("console.result") }), h("pre", { id: "console-output", text: JSON.stringify(done.result, null, 2) }));
      box.querySelector("h3").setAttribute("tabindex", "-1");
      box.querySelector("h3").focus();
    } catch (err) {
      toast(err.message, "bad");
      confirmButton.disabled = false;
    }
  });
  mount(
    box,
    h("h3", { text: dry.dry_run ? t("console.dry_run_result") : t("console.result") }),
    h("pre", { id: "console-dry-run", text: JSON.stringify(dry.result, null, 2) }),
    dry.dry_run ? confirmButton : h("p", { class: "small muted", text: t("console.read_only") }),
  );
  if (dry.dry_run) confirmButton.focus();
}
