//! Tenant isolation: every read and write route tried across the boundary.

use echopilot_e2e::scenario::Scenario;

pub const SCENARIOS: &[Scenario] = &[];
