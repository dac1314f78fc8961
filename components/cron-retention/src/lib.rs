//! cron-retention: the retention windows enforced hourly at minute 40
//! (`echopilot_core::privacy::retention::JOB`): expired personal data
//! erased or deleted in bounded batches. From the trigger-cron plugin under
//! `spin up` and from `POST /api/internal/cron/retention` for platforms
//! that drive schedules from outside.

echopilot_core::cron_component!(
    echopilot_core::privacy::retention::JOB,
    echopilot_core::privacy::retention::APP
);
