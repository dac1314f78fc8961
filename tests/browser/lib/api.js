// Calls the test makes to the app directly (setting the scene: an incident
// to acknowledge, a user with another role), with the console key.

export function client(base, dashKey) {
  return async function call(method, path, body) {
    const res = await fetch(base + path, {
      method,
      headers: { "X-Dash-Key": dashKey, "Content-Type": "application/json", Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(json)}`);
    return json.data;
  };
}
