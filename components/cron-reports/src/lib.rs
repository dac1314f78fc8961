//! cron-reports: the daily operator report at 09:00 UTC
//! (`echopilot_core::reports::JOB`), from the trigger-cron plugin under
//! `spin up` and from `POST /api/internal/cron/reports` for platforms that
//! drive schedules from outside.

echopilot_core::cron_component!(echopilot_core::reports::JOB, echopilot_core::reports::APP);
