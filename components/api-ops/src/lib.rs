//! api-ops: operations over HTTP: `GET /metrics` (Prometheus) and
//! `GET /api/logs`. The handlers live in `echopilot_core::ops`.

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, out: spin_sdk::http::ResponseOutparam) {
    echopilot_core::adapters::spin::serve_http(&echopilot_core::ops::api::APP, req, out).await
}
