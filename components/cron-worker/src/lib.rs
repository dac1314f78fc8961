//! cron-worker: processes queued jobs every 5 seconds (`echopilot_core::ai::worker::JOB`), from the trigger-cron
//! plugin under `spin up` and from `POST /api/internal/cron/worker` for
//! platforms that drive schedules from outside.

echopilot_core::cron_component!(
    echopilot_core::ai::worker::JOB,
    echopilot_core::ai::worker::APP
);
