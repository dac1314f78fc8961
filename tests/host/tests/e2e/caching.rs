//! The edge: hot public reads (`GET /health`, `GET /api/public/job-status/{id}`)
//! are answered from the key-value store for a second after they are
//! computed, so polling clients do not open SQLite on every call; a client
//! that sends `Cache-Control: no-cache`, or any credential, always gets a
//! fresh answer. `GET /api/version` needs no data and is always answered at
//! the edge.

use crate::support::submit;
use anyhow::Result;
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, Env, Scenario};
use serde_json::json;

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new(
        "hot_public_reads_are_cached_for_a_second_unless_asked_fresh",
        hot_reads,
    ),
    Scenario::new(
        "the_version_is_answered_at_the_edge_but_credentials_never_are",
        version_at_the_edge,
    ),
];

fn hot_reads(env: &Env) -> Result<()> {
    let app = env.app()?;
    let id = submit(
        &app,
        &json!({"brief": "A status page polled by many clients"}),
    )?;
    let path = format!("/api/public/job-status/{id}");
    let first = app.get(&path).send()?;
    let body = expect_status(&first, 200)?;
    check!(body["data"]["status"] == "queued", "{body}");
    check!(
        first.header("cache-control") == Some("max-age=1") && first.header("age") == Some("0"),
        "a computed answer says how long it may be kept: {:?} {:?}",
        first.header("cache-control"),
        first.header("age")
    );
    // An operator cancels it; a plain read may still show the cached
    // answer for up to a second, a no-cache read never does.
    let cancel = app
        .post(&format!("/api/jobs/{id}/cancel"))
        .header(
            "X-Dash-Key",
            app.dashboard_key.as_deref().unwrap_or_default(),
        )
        .send()?;
    expect_status(&cancel, 200)?;
    let fresh = app.get(&path).header("Cache-Control", "no-cache").send()?;
    let fresh = expect_status(&fresh, 200)?;
    check!(fresh["data"]["status"] == "cancelled", "{fresh}");
    // That fresh answer is now the cached one.
    let again = expect_status(&app.get(&path).send()?, 200)?;
    check!(again["data"]["status"] == "cancelled", "{again}");
    // Errors are not cached: an unknown id is a 404 every time.
    for _ in 0..2 {
        let missing = app
            .get("/api/public/job-status/job_0000000000000000000000")
            .send()?;
        check!(missing.status == 404, "unknown id: {}", missing.status);
        check!(missing.header("age").is_none(), "a 404 carries no Age");
    }
    // A caller with a credential is never answered from the cache.
    let with_key = app
        .get(&path)
        .header(
            "X-Dash-Key",
            app.dashboard_key.as_deref().unwrap_or_default(),
        )
        .send()?;
    expect_status(&with_key, 200)?;
    check!(
        with_key.header("age") == Some("0"),
        "a credential got a cached answer: age {:?}",
        with_key.header("age")
    );
    // /health the same way.
    let h1 = app.get("/health").send()?;
    expect_status(&h1, 200)?;
    check!(
        h1.header("cache-control") == Some("max-age=1"),
        "{:?}",
        h1.header("cache-control")
    );
    let h2 = app.get("/health").header("Pragma", "no-cache").send()?;
    check!(
        h2.header("age") == Some("0"),
        "a no-cache read is computed now"
    );
    Ok(())
}

/// `/api/version` needs no data: no rate-limit charge and no sample, so no
/// SQLite connection; a caller presenting a credential (even a wrong one) is
/// still admitted by the guard.
fn version_at_the_edge(env: &Env) -> Result<()> {
    let app = env.app_with(|b| b.variable("rate_limit_ip_per_minute", "1"))?;
    for _ in 0..12 {
        let resp = app.get("/api/version").send()?;
        check!(
            resp.status == 200,
            "the version was limited: {}",
            resp.status
        );
        check!(
            resp.header("x-ratelimit-limit").is_none(),
            "an edge answer carries no rate-limit state"
        );
        check!(
            resp.header("x-request-id").is_some(),
            "security headers still apply"
        );
    }
    let wrong = app.get("/api/version").bearer("not-a-token").send()?;
    check!(
        wrong.status == 401,
        "a bad credential on an edge route must still be refused: {}",
        wrong.status
    );
    Ok(())
}
