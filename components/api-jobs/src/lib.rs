//! api-jobs: job intake (public and operator), status, history, the queue,
//! job operations, QA consistency and prompt templates. The handlers live
//! in `echopilot_core::jobs::api` and `echopilot_core::ai::api`.

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, out: spin_sdk::http::ResponseOutparam) {
    echopilot_core::adapters::spin::serve_http(&echopilot_core::jobs::api::APP, req, out).await
}
