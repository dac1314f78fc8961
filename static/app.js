// EchoPilot dashboard shell: loads /health and shows what is running.
"use strict";

const $ = (id) => document.getElementById(id);

function ago(seconds) {
  if (seconds == null) return "never";
  if (seconds < 90) return `${seconds}s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

function show(health) {
  const status = health.status || "unknown";
  const pill = $("status-pill");
  pill.textContent = status;
  pill.className = `pill pill-${["ok", "degraded", "down"].includes(status) ? status : "unknown"}`;
  $("health-status").textContent = status;
  $("health-version").textContent = `v${health.version}`;
  const sha = (health.git_sha || "unknown").slice(0, 12);
  $("health-build").textContent = `${sha}${health.dirty ? " (dirty)" : ""} · ${health.build_time || ""}`;
  const store = health.store || {};
  $("health-store").textContent =
    store.status === "ok" ? `ok · schema v${store.schema_version} · up ${ago(store.uptime_seconds).replace(" ago", "")}` : store.status || "unknown";
  const hb = health.heartbeat || {};
  $("health-heartbeat").textContent = hb.status === "never" ? "no heartbeat yet" : `${hb.status} · ${ago(hb.age_seconds)}`;
  $("footer-version").textContent = `EchoPilot v${health.version}`;
  $("health-updated").textContent = `Updated ${new Date().toLocaleTimeString()}.`;
}

async function load() {
  try {
    const res = await fetch("/health", { headers: { Accept: "application/json" } });
    const body = await res.json();
    if (body && body.data) {
      show(body.data);
    } else {
      throw new Error(body?.error?.message || `HTTP ${res.status}`);
    }
  } catch (err) {
    $("status-pill").textContent = "unreachable";
    $("status-pill").className = "pill pill-down";
    $("health-updated").textContent = `Could not load /health: ${err.message}`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("refresh").addEventListener("click", load);
  load();
  setInterval(load, 30000);
});
