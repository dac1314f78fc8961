//! api-privacy: GDPR/CCPA requests over HTTP: a data subject's export
//! (`GET /api/privacy/export`), erasure (`POST /api/privacy/delete`),
//! consent records (`/api/privacy/consents`) and the retention windows
//! (`GET /api/privacy/retention`). The handlers live in
//! `echopilot_core::privacy`.

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, out: spin_sdk::http::ResponseOutparam) {
    echopilot_core::adapters::spin::serve_http(&echopilot_core::privacy::APP, req, out).await
}
