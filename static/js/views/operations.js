// Operations: where each operational view lives, with what it is for.

import { hub } from "../ui/hub.js";

export async function render({ main }) {
  hub(main, "operations", "nav.operations");
}
