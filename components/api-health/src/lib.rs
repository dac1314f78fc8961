//! api-health: `GET /health`, `GET /api/version`, and the 404 for unknown
//! `POST /api/internal/cron/{job}` names. The handlers live in
//! `echopilot_core::health`.

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, out: spin_sdk::http::ResponseOutparam) {
    echopilot_core::adapters::spin::serve_http(&echopilot_core::health::APP, req, out).await
}
