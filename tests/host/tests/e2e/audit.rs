//! The audit chain under concurrent appends, and tamper detection.

use echopilot_e2e::scenario::Scenario;

pub const SCENARIOS: &[Scenario] = &[];
