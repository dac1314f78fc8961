// Preferences remembered in local storage: theme and locale only. Never a
// token, a key or anything about the user.

const PREFIX = "echopilot.";
const ALLOWED = new Set(["theme", "locale"]);

/** A saved preference, or null. */
export function get(name) {
  if (!ALLOWED.has(name)) throw new Error(`not a preference: ${name}`);
  try {
    return localStorage.getItem(PREFIX + name);
  } catch {
    return null; // storage disabled: preferences simply are not remembered
  }
}

/** Save a preference (null removes it). */
export function set(name, value) {
  if (!ALLOWED.has(name)) throw new Error(`not a preference: ${name}`);
  try {
    if (value === null) localStorage.removeItem(PREFIX + name);
    else localStorage.setItem(PREFIX + name, String(value));
  } catch {
    /* storage disabled */
  }
}
