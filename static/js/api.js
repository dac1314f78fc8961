// The one way the dashboard talks to the API.
//
// - Credentials live in this module's memory only: the access token of a
//   signed-in user, or the X-Dash-Key of a console login. Nothing is
//   written to storage; a reload restores a user's session through the
//   HttpOnly refresh cookie (POST /api/auth/refresh), never a dash key.
// - An expired access token is refreshed once (single flight) and the call
//   retried.
// - Unsafe methods carry X-CSRF-Token (the ep_csrf cookie, as
//   docs/SECURITY.md requires of cookie sessions).
// - `cookies: false` sends none (analytics); `keepalive` lets a call outlive the page.
// - Every call sends Accept-Language (the dashboard's locale) and an
//   X-Request-ID, and every failure becomes one ApiError.
// - A read (GET) answered 503 with Retry-After (the database busy, the
//   schema being updated) is tried once more after that wait (at most
//   5 s); writes never are, so nothing is done twice.

import { locale } from "./i18n.js";

const TIMEOUT_MS = 20000;
/** The longest a read waits, per the server's Retry-After, before its one retry. */
const RETRY_WAIT_MAX_S = 5;

/**
 * A failed call: HTTP status (0 when the network failed), the envelope's
 * code, message and detail, its `details` (a refused workflow's problems),
 * the request id.
 */
export class ApiError extends Error {
  constructor({ status, code, message, detail = null, details = null, requestId = null, retryAfter = null }) {
    super(message || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.details = details;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

const credential = { accessToken: null, dashKey: null };
let refreshing = null;
let onSignedOut = () => {};

/** Called when the session ends on its own (refresh refused). */
export function onSessionLost(fn) {
  onSignedOut = fn;
}

/** Use a user's access token from now on. */
export function useAccessToken(token) {
  credential.accessToken = token;
  credential.dashKey = null;
}

/** Use the operator console's key from now on (kept in memory only). */
export function useDashKey(key) {
  credential.dashKey = key;
  credential.accessToken = null;
}

/** Forget every credential. */
export function forgetCredentials() {
  credential.accessToken = null;
  credential.dashKey = null;
}

/** Which credential is in use: `token`, `dash_key` or null. */
export function credentialKind() {
  if (credential.dashKey) return "dash_key";
  if (credential.accessToken) return "token";
  return null;
}

function csrfCookie() {
  const match = document.cookie.split(";").map((c) => c.trim()).find((c) => c.startsWith("ep_csrf="));
  return match ? decodeURIComponent(match.slice("ep_csrf=".length)) : null;
}

function requestId() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return `ui_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function url(path, query) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") u.searchParams.set(k, String(v));
  }
  return u.pathname + u.search;
}

async function send(method, path, { query, body, headers = {}, signal, auth = true, cookies = true, keepalive = false } = {}) {
  const h = {
    Accept: "application/json",
    "Accept-Language": locale(),
    "X-Request-ID": requestId(),
    ...headers,
  };
  if (auth && credential.dashKey) h["X-Dash-Key"] = credential.dashKey;
  else if (auth && credential.accessToken) h.Authorization = `Bearer ${credential.accessToken}`;
  if (cookies && method !== "GET" && method !== "HEAD") {
    const csrf = csrfCookie();
    if (csrf) h["X-CSRF-Token"] = csrf;
  }
  let payload;
  if (body !== undefined) {
    h["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const timeout = AbortSignal.timeout(TIMEOUT_MS);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    return await fetch(url(path, query), {
      method,
      headers: h,
      body: payload,
      signal: combined,
      credentials: cookies ? "same-origin" : "omit",
      cache: "no-store",
      keepalive,
    });
  } catch (err) {
    if (signal?.aborted) throw err; // navigation moved on: not an error to show
    throw new ApiError({
      status: 0,
      code: timeout.aborted ? "timeout" : "network",
      message: timeout.aborted ? "timeout" : "network",
    });
  }
}

async function failure(res) {
  let code = `http_${res.status}`;
  let message = res.statusText || code;
  let detail = null;
  let details = null;
  try {
    const body = await res.json();
    if (body?.error) ({ code, message, detail = null, details = null } = body.error);
  } catch {
    /* not JSON: keep the status */
  }
  const retry = Number(res.headers.get("Retry-After"));
  return new ApiError({
    status: res.status,
    code,
    message,
    detail,
    details,
    requestId: res.headers.get("X-Request-ID"),
    retryAfter: Number.isFinite(retry) && retry > 0 ? retry : null,
  });
}

/**
 * Renew the access token through the refresh cookie. Resolves to the
 * token pair's data, or throws ApiError. Concurrent callers share one call.
 */
export function refreshSession() {
  if (!refreshing) {
    refreshing = (async () => {
      const res = await send("POST", "/api/auth/refresh", { auth: false });
      if (!res.ok) throw await failure(res);
      const { data } = await res.json();
      credential.accessToken = data.access_token;
      credential.dashKey = null;
      return data;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** A call whose answer is the raw Response (downloads). Refreshes once on 401. */
export async function fetchRaw(method, path, options = {}) {
  let res = await send(method, path, options);
  if (res.status === 401 && credential.accessToken && options.auth !== false) {
    try {
      await refreshSession();
    } catch {
      forgetCredentials();
      onSignedOut();
      throw await failure(res);
    }
    res = await send(method, path, options);
  }
  if (!res.ok) throw await failure(res);
  return res;
}

/** Resolve after `ms`, or reject with the abort reason when `signal` fires first. */
function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

/** fetchRaw, with one retry of a read the server asked to retry shortly (503 + Retry-After). */
async function fetchWithRetry(method, path, options) {
  try {
    return await fetchRaw(method, path, options);
  } catch (err) {
    if (method !== "GET" || !(err instanceof ApiError) || err.status !== 503 || !err.retryAfter) throw err;
    await pause(Math.min(err.retryAfter, RETRY_WAIT_MAX_S) * 1000, options.signal);
    return fetchRaw(method, path, options);
  }
}

/** A JSON call: resolves to the envelope's `data`. */
export async function call(method, path, options = {}) {
  const res = await fetchWithRetry(method, path, options);
  if (res.status === 204) return null;
  const body = await res.json();
  return body.data;
}

export const get = (path, query, options = {}) => call("GET", path, { ...options, query });
export const post = (path, body, options = {}) => call("POST", path, { ...options, body });
export const patch = (path, body, options = {}) => call("PATCH", path, { ...options, body });
export const put = (path, body, options = {}) => call("PUT", path, { ...options, body });
export const del = (path, options = {}) => call("DELETE", path, options);

/** A public GET whose body matters whatever the status (health): `{status, body}`. */
export async function probe(path, options = {}) {
  const res = await send("GET", path, { ...options, auth: false });
  let body = null;
  try {
    body = await res.json();
  } catch {
    /* no JSON body */
  }
  return { status: res.status, body };
}
