//! cron-backup: the nightly database backup at 00:30 UTC, verified after it
//! is stored (`echopilot_core::backup::JOB`), from the trigger-cron plugin
//! under `spin up` and from `POST /api/internal/cron/backup` for platforms
//! that drive schedules from outside.

echopilot_core::cron_component!(echopilot_core::backup::JOB, echopilot_core::backup::APP);
