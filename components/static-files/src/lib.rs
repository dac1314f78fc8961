//! static-files: serves `static/` (mounted at `/` by spin.toml's `files`).
//! The handler lives in `echopilot_core::static_files`.

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, out: spin_sdk::http::ResponseOutparam) {
    echopilot_core::adapters::spin::serve_http(&echopilot_core::static_files::APP, req, out).await
}
