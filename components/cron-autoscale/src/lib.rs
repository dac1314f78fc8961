//! cron-autoscale: the autoscaling job (`echopilot_core::scale::JOB`):
//! every 10 minutes, decides how many workers (units of the worker's
//! concurrency) the queue is drained with, and applies it unless
//! `scale_dry_run` is true.
//!
//! One component, two entry points: the trigger-cron plugin calls
//! `handle-cron-event` under `spin up`, and the HTTP trigger routes
//! `POST /api/internal/cron/autoscale` here for platforms that drive
//! schedules from outside. Both run the same job through the same runner.

#[cfg(target_arch = "wasm32")]
mod cron {
    wit_bindgen::generate!({ world: "spin-cron", path: "../../wit" });

    use echopilot_core::scale::JOB;

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
    echopilot_core::adapters::spin::serve_http(&echopilot_core::scale::APP, req, out).await
}
