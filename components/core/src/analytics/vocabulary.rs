//! What the dashboard may report: a fixed catalogue of event names and
//! view ids. Anything else is refused, so the events table holds only
//! words this file lists (no free text, nothing personal).

/// The event names, as the dashboard's telemetry module sends them.
pub const EVENTS: &[&str] = &[
    "page.view",
    "job.create",
    "job.retry",
    "job.cancel",
    "incident.acknowledge",
    "incident.resolve",
    "silence.create",
    "cap.set",
    "scale.apply",
    "ops.dry_run",
    "ops.confirm",
    "backup.verify",
    "backup.download",
    "security.sbom_download",
    "partner_key.create",
    "user.create",
    "palette.open",
    "palette.run",
    "locale.change",
    "theme.change",
    "auth.sign_in",
    "auth.sign_out",
    "demo.banner_dismiss",
    "privacy.export",
    "privacy.erase",
];

/// The event that names the view it happened on (the others may).
pub const PAGE_VIEW: &str = "page.view";

/// The dashboard's view ids.
pub const VIEWS: &[&str] = &[
    "landing",
    "about",
    "not_found",
    "sign_in",
    "overview",
    "jobs",
    "job",
    "queue",
    "prompts",
    "workflows",
    "workflow",
    "operations",
    "incidents",
    "slo",
    "costs",
    "scale",
    "reports",
    "logs",
    "backups",
    "security",
    "payments",
    "console",
    "admin",
    "users",
    "partners",
    "tenants",
    "audit",
    "legal",
    "portal",
    "finops",
    "billing",
    "referrals",
    "privacy",
];

/// The catalogue's spelling of `name`, if it is an event.
pub fn event(name: &str) -> Option<&'static str> {
    EVENTS.iter().copied().find(|e| *e == name)
}

/// The catalogue's spelling of `id`, if it is a view.
pub fn view(id: &str) -> Option<&'static str> {
    VIEWS.iter().copied().find(|v| *v == id)
}
