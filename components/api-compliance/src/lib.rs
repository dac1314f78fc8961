//! api-compliance: signed compliance webhooks in (`POST
//! /api/compliance/webhook`), the received events for admins. The handlers
//! live in `echopilot_core::compliance::api`; forwarding goes out through
//! the outbox that `cron-incidents` delivers.

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, out: spin_sdk::http::ResponseOutparam) {
    echopilot_core::adapters::spin::serve_http(&echopilot_core::compliance::api::APP, req, out)
        .await
}
