//! cron-notion-sync: Notion intake and write-back every minute (`echopilot_core::notion::JOB`), from the trigger-cron
//! plugin under `spin up` and from `POST /api/internal/cron/notion-sync` for
//! platforms that drive schedules from outside.

echopilot_core::cron_component!(echopilot_core::notion::JOB, echopilot_core::notion::APP);
