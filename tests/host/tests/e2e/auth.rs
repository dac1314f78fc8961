//! Sign-in, tokens, users, partner keys and tenants (api-auth).

use echopilot_e2e::scenario::Scenario;

pub const SCENARIOS: &[Scenario] = &[];
