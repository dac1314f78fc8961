//! Queue and job operations, prompts and QA consistency (api-jobs).

use echopilot_e2e::scenario::Scenario;

pub const SCENARIOS: &[Scenario] = &[];
