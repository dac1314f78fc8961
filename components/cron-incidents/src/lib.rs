//! cron-incidents: alert deliveries every 30 seconds, the warning digest every 5 minutes (`echopilot_core::incidents::JOB`), from the trigger-cron
//! plugin under `spin up` and from `POST /api/internal/cron/incidents` for
//! platforms that drive schedules from outside.

echopilot_core::cron_component!(
    echopilot_core::incidents::JOB,
    echopilot_core::incidents::APP
);
