//! The dashboard's calls that no other area's scenarios make in the way
//! the dashboard makes them (docs/TESTING.md lists every call and its
//! scenario): every file of static/ served with its type, the session
//! renewed by the refresh cookie alone after a reload, the jobs of the last
//! days for the charts, a cap override removed with `null`, and the deploy
//! gate cleared from the SLO view.

use crate::auth::cookie_pair;
use crate::auth::kit::{expect_error, identity_app, text, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::support::dash;
use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::scenario::{expect_status, Env, Scenario};
use serde_json::json;
use std::path::Path;

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new("dashboard_every_static_file_is_served", static_files),
    Scenario::host_only(
        "dashboard_reload_renews_the_session_by_the_refresh_cookie",
        refresh_by_cookie,
    ),
    Scenario::new("dashboard_jobs_of_the_last_days", jobs_of_days),
    Scenario::new("dashboard_cap_override_removed_with_null", cap_reset),
    Scenario::new("dashboard_deploy_gate_clear_answers_the_gate", gate_clear),
];

/// Every file under `dir`, as a path relative to it with `/` separators.
fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, base, out)?;
        } else {
            let rel = path
                .strip_prefix(base)?
                .to_string_lossy()
                .replace('\\', "/");
            out.push(rel);
        }
    }
    Ok(())
}

fn static_files(env: &Env) -> Result<()> {
    let app = env.app()?;
    let root = env.root().join("static");
    let mut files = Vec::new();
    walk(&root, &root, &mut files)?;
    check!(files.len() > 50, "the dashboard's files: {}", files.len());
    for file in &files {
        let resp = app.get(&format!("/{file}")).send()?;
        check!(resp.status == 200, "/{file}: {}", resp.status);
        let ty = resp.header("content-type").unwrap_or_default();
        check!(
            ty != "application/octet-stream" && !ty.is_empty(),
            "/{file} has no real type: {ty}"
        );
        if app.host().is_some() {
            check!(
                resp.body == std::fs::read(root.join(file))?,
                "/{file} differs from the file"
            );
        }
    }
    // Directories answer with their index page, with or without the slash.
    for (path, index) in [
        ("/app", "app/index.html"),
        ("/app/", "app/index.html"),
        ("/about", "about/index.html"),
    ] {
        let resp = app.get(path).send()?;
        check!(resp.status == 200, "{path}: {}", resp.status);
        if app.host().is_some() {
            check!(
                resp.body == std::fs::read(root.join(index))?,
                "{path} is not {index}"
            );
        }
    }
    // The service worker is a script at the root, so its scope is the whole site.
    let sw = app.get("/sw.js").send()?;
    check!(
        sw.header("content-type") == Some("text/javascript; charset=utf-8"),
        "sw.js type: {:?}",
        sw.header("content-type")
    );
    Ok(())
}

fn refresh_by_cookie(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let resp = app
        .post("/api/auth/login")
        .json(&json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "session": true }))
        .send()?;
    let body = expect_status(&resp, 200)?;
    let cookie = |cookies: &[&str], name: &str| -> Result<String> {
        cookie_pair(cookies, name)
            .map(str::to_string)
            .with_context(|| format!("no {name} cookie in {cookies:?}"))
    };
    let set = resp.headers_named("set-cookie");
    let refresh = cookie(&set, "ep_refresh")?;
    let csrf = cookie(&set, "ep_csrf")?;
    // After a reload the page has no token in memory, and the 15-minute
    // session cookie may be gone: the browser sends the refresh and CSRF
    // cookies (and the dashboard the X-CSRF-Token header), with no body.
    let renew = |refresh: &str, csrf_cookie: &str| {
        let token = csrf_cookie.trim_start_matches("ep_csrf=").to_string();
        app.post("/api/auth/refresh")
            .header("Cookie", &format!("{refresh}; {csrf_cookie}"))
            .header("X-CSRF-Token", &token)
            .send()
    };
    let resp = renew(&refresh, &csrf)?;
    let renewed = expect_status(&resp, 200).context("refresh by the cookie alone")?;
    let access = text(&renewed, "/data/access_token")?;
    check!(
        access != text(&body, "/data/access_token")?,
        "a new access token"
    );
    let set = resp.headers_named("set-cookie");
    let new_refresh = cookie(&set, "ep_refresh")?;
    let new_csrf = cookie(&set, "ep_csrf")?;
    check!(new_refresh != refresh, "the refresh cookie rotated");
    // The token in memory works as a bearer.
    let me = expect_status(&app.get("/api/auth/me").bearer(&access).send()?, 200)?;
    check!(me["data"]["role"] == "admin", "{me}");
    // The spent cookie is refused (and revokes its family): a copied
    // cookie cannot be replayed after the dashboard used it.
    expect_error(
        &renew(&refresh, &csrf)?,
        401,
        "token_reused",
        "the spent refresh cookie",
    )?;
    expect_error(
        &renew(&new_refresh, &new_csrf)?,
        401,
        "token_revoked",
        "the family after reuse",
    )?;
    Ok(())
}

fn jobs_of_days(env: &Env) -> Result<()> {
    let app = env.app()?;
    let key = dash(&app);
    let resp = app
        .post("/api/queue/enqueue")
        .header("X-Dash-Key", &key)
        .json(&json!({ "brief": "A job for this week's charts", "priority": "high" }))
        .send()?;
    let id = text(&expect_status(&resp, 201)?, "/data/job/id")?;
    let now = echopilot_e2e::scenario::unix_now() as i64;
    // The dashboard asks from the start of the first of the last 7 UTC days.
    let day = |secs: i64| format!("{}T00:00:00Z", echopilot_core::time::date(secs * 1000));
    let list = |after: &str| -> Result<serde_json::Value> {
        let resp = app
            .get(&format!("/api/jobs?created_after={after}&limit=200"))
            .header("X-Dash-Key", &key)
            .send()?;
        Ok(expect_status(&resp, 200)?["data"].clone())
    };
    let week = list(&day(now - 6 * 86_400))?;
    let ids: Vec<&str> = week["jobs"]
        .as_array()
        .map(|a| a.iter().filter_map(|j| j["id"].as_str()).collect())
        .unwrap_or_default();
    check!(ids.contains(&id.as_str()), "this week's jobs: {week}");
    let tomorrow = list(&day(now + 86_400))?;
    check!(
        tomorrow["jobs"].as_array().is_some_and(Vec::is_empty),
        "nothing created tomorrow: {tomorrow}"
    );
    Ok(())
}

fn cap_reset(env: &Env) -> Result<()> {
    let app = env.app()?;
    let key = dash(&app);
    let set = |cap: serde_json::Value| {
        app.post("/api/costs/set-cap")
            .header("X-Dash-Key", &key)
            .json(&json!({ "scope": "model", "model": "gpt-4o", "cap_usd": cap }))
            .send()
    };
    let s = expect_status(&set(json!(7.5))?, 200)?;
    check!(
        s["data"]["by_model"]["gpt-4o"]["cap_usd"] == 7.5
            && s["data"]["by_model"]["gpt-4o"]["cap_source"] == "override",
        "override set: {s}"
    );
    let s = expect_status(&set(serde_json::Value::Null)?, 200)?;
    check!(
        s["data"]["by_model"]["gpt-4o"]["cap_source"] == "variable",
        "override removed, the variable applies again: {s}"
    );
    Ok(())
}

fn gate_clear(env: &Env) -> Result<()> {
    let app = env.app()?;
    let resp = app
        .post("/api/slo/deploy-gate/clear")
        .header("X-Dash-Key", &dash(&app))
        .json(&json!({ "reason": "cleared in the dashboard" }))
        .send()?;
    let gate = expect_status(&resp, 200)?;
    check!(gate["data"]["up"] == false, "the gate is down: {gate}");
    Ok(())
}
