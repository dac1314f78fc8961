//! cron-secrets: records the fingerprint of every configured secret and
//! raises an incident for each one due for rotation, daily at 00:10 UTC
//! (`echopilot_core::security::secrets::JOB`), from the trigger-cron plugin
//! and from `POST /api/internal/cron/secrets`.

echopilot_core::cron_component!(
    echopilot_core::security::secrets::JOB,
    echopilot_core::security::secrets::APP
);
