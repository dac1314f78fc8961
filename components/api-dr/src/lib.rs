//! api-dr: `POST /api/dr/restore` (a backup restored into a scratch
//! database and compared with its manifest; the live database is replaced
//! only by the operator's procedure) and `GET /api/dr/last` (also at the
//! seeds' `GET /api/ops/dr/last`). The handlers live in
//! `echopilot_core::dr::api`.

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, out: spin_sdk::http::ResponseOutparam) {
    echopilot_core::adapters::spin::serve_http(&echopilot_core::dr::api::APP, req, out).await
}
