// An address inside the console that matches no view.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import { header } from "../ui/layout.js";
import { href, HOME } from "../routes.js";

export async function render({ main }) {
  mount(
    main,
    header(t("not_found.title")),
    h("p", { text: t("not_found.console") }),
    h("p", {}, h("a", { href: href(HOME), text: t("not_found.home") })),
  );
}
