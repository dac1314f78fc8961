//! cron-notion-sync: Notion intake and write-back
//! (`echopilot_core::notion::JOB`), every minute under `spin up`, and
//! `POST /api/internal/cron/notion-sync` for external schedulers.

#[cfg(target_arch = "wasm32")]
mod cron {
    wit_bindgen::generate!({ world: "spin-cron", path: "../../wit" });

    use echopilot_core::notion::JOB;

    struct Component;

    impl Guest for Component {
        fn handle_cron_event(metadata: Metadata) -> Result<(), Error> {
            echopilot_core::adapters::spin::run_cron(&JOB, metadata.timestamp).map_err(Error::Other)
        }
    }

    export!(Component);
}

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, out: spin_sdk::http::ResponseOutparam) {
    echopilot_core::adapters::spin::serve_http(&echopilot_core::notion::APP, req, out).await
}
