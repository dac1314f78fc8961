// Administration: users, partner keys, tenants and the audit chain.

import { hub } from "../ui/hub.js";

export async function render({ main }) {
  hub(main, "admin", "nav.admin");
}
