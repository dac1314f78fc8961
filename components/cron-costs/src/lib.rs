//! cron-costs: spend against the cost caps every hour (`echopilot_core::costs::JOB`), from the trigger-cron
//! plugin under `spin up` and from `POST /api/internal/cron/costs` for
//! platforms that drive schedules from outside.

echopilot_core::cron_component!(echopilot_core::costs::JOB, echopilot_core::costs::APP);
