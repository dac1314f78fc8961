//! cron-anomaly: request latency anomalies every 5 minutes (`echopilot_core::anomaly::JOB`), from the trigger-cron
//! plugin under `spin up` and from `POST /api/internal/cron/anomaly` for
//! platforms that drive schedules from outside.

echopilot_core::cron_component!(echopilot_core::anomaly::JOB, echopilot_core::anomaly::APP);
