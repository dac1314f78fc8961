//! static-assets: what the pages load, `/css/...`, `/js/...` and
//! `/i18n/...` (and the 404 page), embedded at build time (see build.rs).
//! Apart from static-files because every byte a component embeds is copied
//! into each of its instances: a page request does not carry the console's
//! scripts. The handler lives in `echopilot_core::static_files`.

echopilot_core::static_component!(
    echopilot_core::static_files::ASSETS_APP,
    echopilot_core::static_files::pack::Part::Assets
);
