// A hub page: the views of a navigation group the principal may open,
// each with a line on what it is for.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as session from "../session.js";
import { header } from "./layout.js";
import { VIEWS, href } from "../routes.js";

/** Render the hub of `group` under the title `titleKey`. */
export function hub(main, group, titleKey) {
  const views = VIEWS.filter((v) => v.group === group && v.id !== group && session.mayOpen(v));
  mount(
    main,
    header(t(titleKey)),
    h(
      "ul",
      { class: "records" },
      views.map((v) => h("li", { class: "record" }, h("div", { class: "title" }, h("a", { href: href(v.path), text: t(v.title) })), h("div", { class: "meta", text: t(`hub.${v.id}`) }))),
    ),
  );
}
