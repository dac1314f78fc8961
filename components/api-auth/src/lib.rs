//! api-auth: sign-in and tokens, users, partner API keys, tenants and the
//! audit chain. The handlers live in `echopilot_core::identity::api` and
//! `echopilot_core::audit`.

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, out: spin_sdk::http::ResponseOutparam) {
    echopilot_core::adapters::spin::serve_http(&echopilot_core::identity::api::APP, req, out).await
}
