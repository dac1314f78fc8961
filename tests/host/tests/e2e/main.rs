//! EchoPilot's end-to-end scenarios: the built release .wasm components in
//! the Spin-compatible test host, under a real `spin up` per app
//! (`ECHOPILOT_E2E_RUNTIME=spin`), or against a server someone started
//! (`ECHOPILOT_E2E_BASE_URL`), called over HTTP as a client would.
//!
//! Add a scenario: write `fn my_case(env: &Env) -> Result<()>` in the module
//! of its area (or a new module listed below) and add it to that module's
//! `SCENARIOS`. Every request it makes counts towards route coverage.

mod analytics;
mod audit;
mod auth;
mod backups;
mod caching;
mod compliance;
mod costs;
mod dashboard;
mod demo;
mod dr;
mod drive_filing;
mod health;
mod heartbeat;
mod i18n;
mod incidents;
mod isolation;
mod jobs;
mod matrix;
mod money;
mod notion;
mod offsite;
mod ops;
mod payments;
mod platform;
mod privacy;
mod queue;
mod real_spin;
mod reports;
mod scale;
mod security;
mod security_posture;
mod slo;
mod static_files;
mod support;
mod tenancy;
mod workflow_templates;
mod workflows;

fn main() {
    let all: Vec<echopilot_e2e::scenario::Scenario> = [
        health::SCENARIOS,
        caching::SCENARIOS,
        static_files::SCENARIOS,
        dashboard::SCENARIOS,
        heartbeat::SCENARIOS,
        platform::SCENARIOS,
        isolation::SCENARIOS,
        jobs::SCENARIOS,
        queue::SCENARIOS,
        notion::SCENARIOS,
        auth::SCENARIOS,
        tenancy::SCENARIOS,
        audit::SCENARIOS,
        security_posture::SCENARIOS,
        matrix::SCENARIOS,
        ops::SCENARIOS,
        incidents::SCENARIOS,
        slo::SCENARIOS,
        costs::SCENARIOS,
        scale::SCENARIOS,
        reports::SCENARIOS,
        payments::SCENARIOS,
        money::SCENARIOS,
        backups::SCENARIOS,
        dr::SCENARIOS,
        offsite::SCENARIOS,
        real_spin::SCENARIOS,
        security::SCENARIOS,
        analytics::SCENARIOS,
        demo::SCENARIOS,
        i18n::SCENARIOS,
        workflows::SCENARIOS,
        workflow_templates::SCENARIOS,
        drive_filing::SCENARIOS,
        compliance::SCENARIOS,
        privacy::SCENARIOS,
    ]
    .concat();
    echopilot_e2e::scenario::run_main(&all);
}
