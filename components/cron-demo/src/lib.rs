//! cron-demo: seeds the demo data while `demo_mode` is on
//! (`echopilot_core::demo::JOB`, every minute; once seeded it finds its
//! marker and does nothing). From the trigger-cron plugin under `spin up`
//! and from `POST /api/internal/cron/demo` for platforms that drive
//! schedules from outside.

echopilot_core::cron_component!(echopilot_core::demo::JOB, echopilot_core::demo::APP);
