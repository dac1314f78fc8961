//! cron-autoscale: worker autoscaling decisions every 10 minutes (`echopilot_core::scale::JOB`), from the trigger-cron
//! plugin under `spin up` and from `POST /api/internal/cron/autoscale` for
//! platforms that drive schedules from outside.

echopilot_core::cron_component!(echopilot_core::scale::JOB, echopilot_core::scale::APP);
