//! api-workflows: workflows, their runs and live log, templates, the node
//! catalogue and signed-webhook triggers. The handlers live in
//! `echopilot_core::workflows::api`.

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, out: spin_sdk::http::ResponseOutparam) {
    echopilot_core::adapters::spin::serve_http(&echopilot_core::workflows::api::APP, req, out).await
}
