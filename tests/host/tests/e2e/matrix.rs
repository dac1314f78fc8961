//! The permission matrix: every route of access::POLICY x every role and no credential.

use echopilot_e2e::scenario::Scenario;

pub const SCENARIOS: &[Scenario] = &[];
