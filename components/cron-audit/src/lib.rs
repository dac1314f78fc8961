//! cron-audit: checks what was appended to the audit chain since its last
//! signed anchor and anchors the head, every minute
//! (`echopilot_core::audit::JOB`), from the trigger-cron plugin under
//! `spin up` and from `POST /api/internal/cron/audit` for platforms that
//! drive schedules from outside.

echopilot_core::cron_component!(echopilot_core::audit::JOB, echopilot_core::audit::APP);
