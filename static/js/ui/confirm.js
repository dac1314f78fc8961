// A modal confirmation (the step between a dry run and the real thing).

import { h } from "../dom.js";
import { t } from "../i18n.js";

/**
 * Ask to confirm. `body` is a node or text; resolves true when confirmed.
 * Focus returns to where it was; Escape cancels.
 */
export function confirmDialog({ title, body, confirmLabel = t("action.confirm"), danger = false }) {
  return new Promise((resolve) => {
    const previous = document.activeElement;
    const titleId = `confirm-title-${Date.now()}`;
    const dialog = h(
      "dialog",
      { "aria-labelledby": titleId },
      h("div", { class: "dialog-body" }, h("h2", { id: titleId, text: title }), typeof body === "string" ? h("p", { text: body }) : body),
      h(
        "div",
        { class: "dialog-actions" },
        h("button", { type: "button", class: "secondary", value: "cancel", on: { click: () => dialog.close("cancel") } }, t("action.cancel")),
        h("button", { type: "button", class: danger ? "danger" : "", value: "confirm", on: { click: () => dialog.close("confirm") } }, confirmLabel),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      previous?.focus?.();
      resolve(dialog.returnValue === "confirm");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
