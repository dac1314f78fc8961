//! cron-analytics: the daily analytics rollup at 03:15 UTC
//! (`echopilot_core::analytics::rollup::JOB`): final days of raw events
//! folded into per-day figures, expired salts forgotten. From the
//! trigger-cron plugin under `spin up` and from
//! `POST /api/internal/cron/analytics` for platforms that drive schedules
//! from outside.

echopilot_core::cron_component!(
    echopilot_core::analytics::rollup::JOB,
    echopilot_core::analytics::rollup::APP
);
