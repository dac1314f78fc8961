//! cron-dr: every minute, a DR drill asked for from the console, and the
//! weekly drill when due (Sundays 01:00 UTC): the latest backup restored
//! into scratch, compared and timed (`echopilot_core::dr::JOB`); also
//! `POST /api/internal/cron/dr` for platforms that drive schedules from
//! outside.

echopilot_core::cron_component!(echopilot_core::dr::JOB, echopilot_core::dr::APP);
