// Who is signed in, and what that opens. The principal comes from
// GET /api/auth/me; roles are ordered as in docs/SECURITY.md.

import * as api from "./api.js";

export const ROLES = ["viewer", "partner", "analyst", "operator", "admin"];
export const DEFAULT_TENANT = "default";

let principal = null;
const listeners = new Set();

function changed() {
  for (const fn of listeners) fn(principal);
}

/** Called whenever the principal changes (signed in, out, lost). */
export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** `{actor, role, tenant_id, global, user, scopes}`, or null when signed out. */
export const current = () => principal;

/** Whether the principal's role is at least `role`. */
export function atLeast(role) {
  if (!principal?.role) return false;
  return ROLES.indexOf(principal.role) >= ROLES.indexOf(role);
}

/** Whether the principal belongs to the default tenant (platform-wide views). */
export const isPlatform = () => principal?.tenant_id === DEFAULT_TENANT;

/** Whether the principal may read every tenant (an admin of the default tenant). */
export const isGlobal = () => Boolean(principal?.global);

/** Whether the principal may open a view that needs `minRole` (and the platform). */
export function mayOpen({ minRole = "viewer", platform = false } = {}) {
  return atLeast(minRole) && (!platform || isPlatform());
}

async function loadPrincipal() {
  principal = await api.get("/api/auth/me");
  changed();
  return principal;
}

/** Sign in with email and password; keeps the access token in memory. */
export async function signIn(email, password) {
  const pair = await api.post("/api/auth/login", { email, password, session: true }, { auth: false });
  api.useAccessToken(pair.access_token);
  return loadPrincipal();
}

/** The operator console's quick start: X-Dash-Key, kept in memory only. */
export async function signInWithKey(key) {
  api.useDashKey(key);
  try {
    return await loadPrincipal();
  } catch (err) {
    api.forgetCredentials();
    throw err;
  }
}

/** After a reload: renew the session from the refresh cookie, if there is one. */
export async function restore() {
  if (!document.cookie.includes("ep_csrf=")) return null;
  try {
    await api.refreshSession();
    return await loadPrincipal();
  } catch {
    api.forgetCredentials();
    return null;
  }
}

/** Sign out: revoke the session (users) and forget every credential. */
export async function signOut() {
  try {
    if (api.credentialKind() === "token") await api.post("/api/auth/logout");
  } finally {
    api.forgetCredentials();
    principal = null;
    changed();
  }
}

/** The session ended on its own (the refresh was refused). */
export function lost() {
  api.forgetCredentials();
  principal = null;
  changed();
}
