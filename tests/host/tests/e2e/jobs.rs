//! Job intake, processing with QA, status and history (api-jobs, cron-worker).

use echopilot_e2e::scenario::Scenario;

pub const SCENARIOS: &[Scenario] = &[];
