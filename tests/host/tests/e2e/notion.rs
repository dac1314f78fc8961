//! Notion intake and write-back (cron-notion-sync) against the mock Notion.

use echopilot_e2e::scenario::Scenario;

pub const SCENARIOS: &[Scenario] = &[];
