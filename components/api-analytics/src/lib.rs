//! api-analytics: product analytics over HTTP: `POST /api/analytics/event`
//! (dashboard events) and `GET /api/analytics/usage` (DAU, WAU, MAU,
//! stickiness, top events). The handlers live in `echopilot_core::analytics`.

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, out: spin_sdk::http::ResponseOutparam) {
    echopilot_core::adapters::spin::serve_http(&echopilot_core::analytics::APP, req, out).await
}
