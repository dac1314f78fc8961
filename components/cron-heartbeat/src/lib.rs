//! cron-heartbeat: the heartbeat job: a row a minute, telemetry folding, audit anchors (`echopilot_core::heartbeat::JOB`), from the trigger-cron
//! plugin under `spin up` and from `POST /api/internal/cron/heartbeat` for
//! platforms that drive schedules from outside.

echopilot_core::cron_component!(
    echopilot_core::heartbeat::JOB,
    echopilot_core::heartbeat::APP
);
