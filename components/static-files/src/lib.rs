//! static-files: the pages of `static/` (landing, about, legal pages, the
//! console's page at `/app/`, icons, manifest, service worker, 404),
//! embedded at build time (see build.rs). The handler lives in
//! `echopilot_core::static_files`.

echopilot_core::static_component!(
    echopilot_core::static_files::APP,
    echopilot_core::static_files::pack::Part::Pages
);
