//! cron-worker: processes queued jobs (`echopilot_core::ai::worker::JOB`).
//!
//! The trigger-cron plugin calls `handle-cron-event` every 5 seconds under
//! `spin up`; `POST /api/internal/cron/worker` runs the same tick for
//! platforms that drive schedules from outside.

#[cfg(target_arch = "wasm32")]
mod cron {
    wit_bindgen::generate!({ world: "spin-cron", path: "../../wit" });

    use echopilot_core::ai::worker::JOB;

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
    echopilot_core::adapters::spin::serve_http(&echopilot_core::ai::worker::APP, req, out).await
}
