// Sign in: email and password (POST /api/auth/login, a cookie session whose
// access token stays in memory), or the console key (X-Dash-Key, memory
// only) for quick starts.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as session from "../session.js";
import { header, card } from "../ui/layout.js";
import { input, onSubmit, submit } from "../ui/fields.js";
import { track } from "../telemetry.js";
import { HOME } from "../routes.js";

export async function render({ main, query, navigate }) {
  const next = query.next && query.next.startsWith("/") && query.next !== "/sign-in" ? query.next : HOME;
  const done = () => {
    track("auth.sign_in");
    navigate(next);
  };
  if (session.current()) {
    navigate(next);
    return;
  }
  const password = onSubmit(
    h(
      "form",
      { id: "sign-in-form", novalidate: true },
      input({ name: "email", label: t("sign_in.email"), type: "email", required: true, attrs: { autocomplete: "username" } }),
      input({ name: "password", label: t("sign_in.password"), type: "password", required: true, attrs: { autocomplete: "current-password" } }),
      submit(t("sign_in.submit")),
    ),
    async ({ email, password: secret }) => {
      await session.signIn(email, secret);
      done();
    },
  );
  const key = onSubmit(
    h(
      "form",
      { id: "dash-key-form", novalidate: true },
      input({ name: "dash_key", label: t("sign_in.dash_key"), type: "password", required: true, hint: t("sign_in.dash_key_hint"), attrs: { autocomplete: "off" } }),
      submit(t("sign_in.dash_key_submit")),
    ),
    async ({ dash_key: value }) => {
      await session.signInWithKey(value);
      done();
    },
  );
  mount(
    main,
    header(t("sign_in.title")),
    h("p", { class: "lede", text: t("sign_in.lede") }),
    h("div", { class: "grid cols-2" }, card(t("sign_in.with_password"), password), card(t("sign_in.with_key"), key)),
  );
}
