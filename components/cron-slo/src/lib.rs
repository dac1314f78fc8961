//! cron-slo: SLO burn-rate alerts, the deploy gate and SLO incidents every 15 minutes (`echopilot_core::slo::JOB`), from the trigger-cron
//! plugin under `spin up` and from `POST /api/internal/cron/slo` for
//! platforms that drive schedules from outside.

echopilot_core::cron_component!(echopilot_core::slo::JOB, echopilot_core::slo::APP);
