//! api-finance: FinOps, P&L, the forecast, exchange rates, tenant billing
//! (usage, invoice drafts, the unpaid-jobs policy) and referrals. It
//! reaches no outside host. The handlers live in
//! `echopilot_core::finance::api` and `echopilot_core::referrals::api`.

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, out: spin_sdk::http::ResponseOutparam) {
    echopilot_core::adapters::spin::serve_http(&echopilot_core::finance::api::APP, req, out).await
}
