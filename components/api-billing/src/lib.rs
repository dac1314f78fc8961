//! api-billing: money in and out through Stripe: checkout for jobs, the
//! Stripe webhook, the ledger and refunds, the customer portal (receipts
//! and signed downloads), sending usage invoices. The handlers live in
//! `echopilot_core::payments::routes`.

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, out: spin_sdk::http::ResponseOutparam) {
    echopilot_core::adapters::spin::serve_http(&echopilot_core::payments::routes::APP, req, out)
        .await
}
