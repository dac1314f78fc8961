// GET /api/version, once per page: the build and whether this deployment
// runs in demo mode.

import * as api from "./api.js";

let pending = null;

/** `{version, git_sha, git_sha_short, dirty, build_time, demo_mode?}`. */
export function version() {
  if (!pending) pending = api.get("/api/version", {}, { auth: false }).catch((err) => {
    pending = null;
    throw err;
  });
  return pending;
}
