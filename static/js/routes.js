// Every view of the console and every action the palette offers, with the
// role (and whether the platform's tenant) each needs. Navigation, the
// router and the command palette all read this one table. Minimum roles
// mirror access::POLICY (docs/SECURITY.md); operations views are
// platform-wide, so only principals of the default tenant see them.

/** Views: `id` is also the analytics view id. */
export const VIEWS = [
  { id: "sign_in", path: "/sign-in", title: "nav.sign_in", public: true, load: () => import("./views/sign-in.js") },
  { id: "overview", path: "/overview", title: "nav.overview", group: "work", minRole: "viewer", load: () => import("./views/overview.js") },
  { id: "jobs", path: "/jobs", title: "nav.jobs", group: "work", minRole: "viewer", load: () => import("./views/jobs.js") },
  { id: "job", path: "/jobs/:id", title: "nav.job", minRole: "viewer", load: () => import("./views/job.js") },
  { id: "queue", path: "/queue", title: "nav.queue", group: "work", minRole: "viewer", load: () => import("./views/queue.js") },
  { id: "workflows", path: "/workflows", title: "nav.workflows", group: "work", minRole: "viewer", load: () => import("./views/workflows.js") },
  { id: "workflow", path: "/workflows/:id", title: "nav.workflow", minRole: "viewer", load: () => import("./views/workflow-editor.js") },
  { id: "prompts", path: "/prompts", title: "nav.prompts", group: "work", minRole: "analyst", load: () => import("./views/prompts.js") },
  { id: "operations", path: "/operations", title: "nav.operations", group: "operations", minRole: "viewer", platform: true, load: () => import("./views/operations.js") },
  { id: "incidents", path: "/incidents", title: "nav.incidents", group: "operations", minRole: "viewer", platform: true, load: () => import("./views/incidents.js") },
  { id: "slo", path: "/slo", title: "nav.slo", group: "operations", minRole: "viewer", platform: true, load: () => import("./views/slo.js") },
  { id: "costs", path: "/costs", title: "nav.costs", group: "operations", minRole: "analyst", platform: true, load: () => import("./views/costs.js") },
  { id: "scale", path: "/scale", title: "nav.scale", group: "operations", minRole: "viewer", platform: true, load: () => import("./views/scale.js") },
  { id: "reports", path: "/reports", title: "nav.reports", group: "operations", minRole: "viewer", platform: true, load: () => import("./views/reports.js") },
  { id: "logs", path: "/logs", title: "nav.logs", group: "operations", minRole: "operator", platform: true, load: () => import("./views/logs.js") },
  { id: "backups", path: "/backups", title: "nav.backups", group: "operations", minRole: "admin", platform: true, load: () => import("./views/backups.js") },
  { id: "security", path: "/security", title: "nav.security", group: "operations", minRole: "admin", platform: true, load: () => import("./views/security.js") },
  { id: "console", path: "/console", title: "nav.console", group: "operations", minRole: "admin", platform: true, load: () => import("./views/console.js") },
  // Money (issue 15): tenant-scoped, so not platform-only; minimum roles as
  // in access::POLICY (the portal's customers are viewers).
  { id: "payments", path: "/payments", title: "nav.payments", group: "money", minRole: "operator", load: () => import("./views/payments.js") },
  { id: "portal", path: "/portal", title: "nav.portal", group: "money", minRole: "viewer", load: () => import("./views/portal.js") },
  { id: "finops", path: "/finops", title: "nav.finops", group: "money", minRole: "analyst", load: () => import("./views/finops.js") },
  { id: "billing", path: "/billing", title: "nav.billing", group: "money", minRole: "analyst", load: () => import("./views/billing.js") },
  { id: "referrals", path: "/referrals", title: "nav.referrals", group: "money", minRole: "analyst", load: () => import("./views/referrals.js") },
  { id: "admin", path: "/admin", title: "nav.admin", group: "admin", minRole: "admin", load: () => import("./views/admin.js") },
  { id: "users", path: "/users", title: "nav.users", group: "admin", minRole: "admin", load: () => import("./views/users.js") },
  { id: "partners", path: "/partners", title: "nav.partners", group: "admin", minRole: "admin", load: () => import("./views/partners.js") },
  { id: "tenants", path: "/tenants", title: "nav.tenants", group: "admin", minRole: "admin", load: () => import("./views/tenants.js") },
  { id: "audit", path: "/audit", title: "nav.audit", group: "admin", minRole: "admin", load: () => import("./views/audit.js") },
  { id: "privacy", path: "/privacy", title: "nav.privacy", group: "admin", minRole: "admin", load: () => import("./views/privacy.js") },
];

/** The view shown for an unknown address. */
export const NOT_FOUND = { id: "not_found", path: "", title: "nav.not_found", public: true, load: () => import("./views/not-found.js") };

export const HOME = "/overview";
export const GROUPS = ["work", "operations", "money", "admin"];

/**
 * Actions the palette offers. Each opens the view where it happens, at the
 * form or list that does it (`query.do`), so the action itself always runs
 * with the view's confirmation steps.
 */
export const ACTIONS = [
  { id: "job.create", label: "palette.job_create", path: "/jobs", query: { do: "create" }, minRole: "operator" },
  { id: "workflow.create", label: "palette.workflow_create", path: "/workflows", query: { do: "create" }, minRole: "operator" },
  { id: "job.retry", label: "palette.job_retry", path: "/jobs", query: { status: "dead" }, minRole: "operator" },
  { id: "job.cancel", label: "palette.job_cancel", path: "/jobs", query: { status: "queued" }, minRole: "operator" },
  { id: "incident.acknowledge", label: "palette.incident_acknowledge", path: "/incidents", query: { status: "open" }, minRole: "operator", platform: true },
  { id: "incident.raise", label: "palette.incident_raise", path: "/incidents", query: { do: "raise" }, minRole: "operator", platform: true },
  { id: "silence.create", label: "palette.silence_create", path: "/incidents", query: { do: "silence" }, minRole: "operator", platform: true },
  { id: "deploy_gate.clear", label: "palette.gate_clear", path: "/slo", query: { do: "gate" }, minRole: "operator", platform: true },
  { id: "cap.set", label: "palette.cap_set", path: "/costs", query: { do: "cap" }, minRole: "admin", platform: true },
  { id: "scale.apply", label: "palette.scale_apply", path: "/scale", query: { do: "apply" }, minRole: "admin", platform: true },
  { id: "logs.search", label: "palette.logs_search", path: "/logs", query: { do: "search" }, minRole: "operator", platform: true },
  { id: "backup.verify", label: "palette.backup_verify", path: "/backups", minRole: "admin", platform: true },
  { id: "ops.run", label: "palette.ops_run", path: "/console", minRole: "admin", platform: true },
  { id: "prompt.create", label: "palette.prompt_create", path: "/prompts", query: { do: "create" }, minRole: "operator", platform: true },
  { id: "refund.create", label: "palette.refund", path: "/payments", query: { status: "succeeded" }, minRole: "admin" },
  { id: "receipts.find", label: "palette.receipts", path: "/portal", minRole: "operator" },
  { id: "referral.create", label: "palette.referral_create", path: "/referrals", query: { do: "create" }, minRole: "operator" },
  { id: "user.create", label: "palette.user_create", path: "/users", query: { do: "create" }, minRole: "admin" },
  { id: "partner_key.create", label: "palette.partner_key_create", path: "/partners", query: { do: "create" }, minRole: "admin" },
  { id: "tenant.create", label: "palette.tenant_create", path: "/tenants", query: { do: "create" }, minRole: "admin", global: true },
  { id: "audit.verify", label: "palette.audit_verify", path: "/audit", minRole: "admin" },
  { id: "privacy.request", label: "palette.privacy_request", path: "/privacy", minRole: "admin" },
];

/** The view for `path` and its parameters, or null. */
export function match(path) {
  for (const view of VIEWS) {
    const params = matchPattern(view.path, path);
    if (params) return { view, params };
  }
  return null;
}

function matchPattern(pattern, path) {
  const want = pattern.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  if (want.length !== got.length) return null;
  const params = {};
  for (let i = 0; i < want.length; i += 1) {
    if (want[i].startsWith(":")) params[want[i].slice(1)] = decodeURIComponent(got[i]);
    else if (want[i] !== got[i]) return null;
  }
  return params;
}

/** `#/path?query` for a path and query object. */
export function href(path, query = {}) {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ""}`;
}
