//! cron-payments: the daily Stripe reconciliation at 02:10 UTC
//! (`echopilot_core::payments::JOB`), from the trigger-cron plugin under
//! `spin up` and from `POST /api/internal/cron/payments` for platforms that
//! drive schedules from outside.

echopilot_core::cron_component!(echopilot_core::payments::JOB, echopilot_core::payments::APP);
