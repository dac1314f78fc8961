//! The security review's attacks (EchoPilot issue 13), each as the request
//! sequence that worked before, now refused, end to end over HTTP. Item 5
//! (audit anchors) tampers with the database file and lives in `audit`;
//! the role matrix in `matrix` covers items 3 and 4 route by route.

use crate::auth::kit::*;
use crate::support::submit;
use anyhow::{Context, Result};
use echopilot_e2e::check;
use echopilot_e2e::mock;
use echopilot_e2e::scenario::{expect_status, wait_for, App, Env, Scenario};
use serde_json::{json, Value};
use std::time::Duration;

pub const SCENARIOS: &[Scenario] = &[
    Scenario::new(
        "security_history_links_reach_only_the_mailbox",
        history_by_mail,
    ),
    Scenario::new(
        "security_a_tenant_operator_reads_only_its_tenants_logs",
        logs_by_tenant,
    ),
    Scenario::new(
        "security_machine_tokens_open_only_their_own_routes",
        machine_tokens,
    ),
    Scenario::new(
        "security_partner_keys_keep_scope_and_quota_on_public_routes",
        keys_on_public_routes,
    ),
    Scenario::new(
        "security_sign_in_locks_the_guesser_and_spares_the_owner",
        sign_in_lockout,
    ),
    Scenario::new(
        "security_anonymous_intake_spends_only_its_own_budget",
        intake_budget,
    ),
    Scenario::new(
        "security_anonymous_traffic_cannot_grow_the_audit_chain",
        audit_flood,
    ),
    Scenario::new(
        "security_a_refresh_racing_a_sign_out_does_not_survive_it",
        refresh_race,
    ),
    Scenario::new(
        "security_short_secrets_are_refused_with_a_clear_message",
        weak_secrets,
    ),
    Scenario::new(
        "security_creating_a_user_reveals_no_other_tenant",
        email_probe,
    ),
];

const PORTAL_SECRET: &str = "e2e-portal-signing-secret-0123456789abcdef";

/// A client at `addr` behind the test's trusted proxy (the host's peer is
/// 127.0.0.1, set as `trusted_proxies`).
fn at<'a>(
    app: &'a App,
    method: &str,
    target: &str,
    addr: &str,
) -> echopilot_e2e::client::RequestBuilder<'a> {
    app.request(method, target).header("X-Forwarded-For", addr)
}

// ---------------------------------------------------------------- item 1 --

fn history_by_mail(env: &Env) -> Result<()> {
    let mail = mock::email()?;
    let app = env.app_with(|b| {
        b.variable("portal_signing_secret", PORTAL_SECRET)
            .variable("alert_email_from", "jobs@echopilot.test")
            .variable("email_api_base_url", mail.url())
            .variable("email_api_path", "/send")
            .variable("public_base_url", "https://echopilot.test")
    })?;
    // The attack: name the victim's email, take the token from the answer.
    let resp = app
        .post("/api/public/create-job")
        .json(&json!({ "brief": "victim's confidential brief", "email": "victim@corp.example" }))
        .send()?;
    let created = expect_status(&resp, 201)?;
    check!(
        created["data"].get("history_token").is_none() && !resp.text().contains("token"),
        "the answer carries no history credential: {created}"
    );
    check!(created["data"]["history_link"] == "emailed", "{created}");
    submit(
        &app,
        &json!({ "brief": "attacker's own", "email": "attacker@evil.example" }),
    )?;
    // Without a token, history is closed; a token of the old kind (v1, as
    // create-job used to hand to anyone) opens nothing.
    let closed = app
        .get("/api/public/job-history/victim@corp.example")
        .send()?;
    expect_error(&closed, 401, "unauthorized", "history by email alone")?;
    let v1 = format!("v1.default.4102444800.{}", "ab".repeat(32));
    let old = app
        .get(&format!(
            "/api/public/job-history/victim@corp.example?token={v1}"
        ))
        .send()?;
    expect_error(&old, 401, "unauthorized", "a v1 token")?;
    // The link goes to the victim's mailbox, through the outbox.
    app.run_job("incidents")?;
    let sent = mail.wait_for_requests(2, Duration::from_secs(10));
    let to = |who: &str| -> Option<String> {
        sent.iter().find_map(|r| {
            let body = r.json();
            (body["to"] == json!([who])).then(|| body["text"].as_str().unwrap_or("").to_string())
        })
    };
    let victim_mail = to("victim@corp.example").context("no mail to the victim")?;
    let link = victim_mail
        .split_whitespace()
        .find(|w| w.starts_with("https://echopilot.test/api/public/job-history/"))
        .context("no link in the mail")?;
    let path = link.trim_start_matches("https://echopilot.test");
    let history = expect_status(&app.get(path).send()?, 200)?;
    check!(
        history["data"]["jobs"].as_array().map(Vec::len) == Some(1),
        "the mailbox owner sees the job: {history}"
    );
    // The attacker's own link opens only the attacker's history.
    let attacker_mail = to("attacker@evil.example").context("no mail to the attacker")?;
    let token = attacker_mail
        .split("token=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .context("attacker token")?;
    let crossed = app
        .get(&format!(
            "/api/public/job-history/victim@corp.example?token={token}"
        ))
        .send()?;
    expect_error(
        &crossed,
        401,
        "unauthorized",
        "the attacker's token on the victim",
    )?;
    // The operators' deliveries list withholds the link.
    let deliveries = expect_status(
        &call(
            &app,
            "GET",
            "/api/incidents/deliveries",
            &Cred::Dashboard,
            None,
        )?,
        200,
    )?;
    check!(
        !deliveries.to_string().contains("token="),
        "deliveries show a link: {deliveries}"
    );
    Ok(())
}

// ---------------------------------------------------------------- item 2 --

fn logs_by_tenant(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let root = Cred::Bearer(root_token(&app)?);
    create_tenant(&app, &root, "tenant-b")?;
    let (_, b_op) = user_token(&app, &root, "op@tenant-b.test", "operator", "tenant-b")?;
    let (_, d_op) = user_token(&app, &root, "op@default.test", "operator", "default")?;
    let (b_op, d_op) = (Cred::Bearer(b_op), Cred::Bearer(d_op));
    // Platform events: a scheduled run's report, and a request of the
    // default tenant with a known id.
    app.run_job("heartbeat")?;
    let rid = format!("e2e-platform-{}", echopilot_e2e::scenario::unix_now());
    // A recorded request (`/api/version` is answered at the edge, unrecorded).
    app.get("/healthz/strict")
        .header("X-Request-ID", &rid)
        .send()?;
    let platform = wait_for(Duration::from_secs(10), || {
        let body = call(&app, "GET", "/api/logs?limit=500", &d_op, None)
            .ok()?
            .json()
            .ok()?;
        let events = body["data"]["events"].as_array()?.clone();
        (!events.is_empty()).then_some(events)
    })?;
    check!(
        platform.iter().any(|e| e["component"] == "cron-heartbeat"),
        "the platform's operators see the job reports: {platform:?}"
    );
    // The attack: tenant B's operator reads the platform's log.
    let b_view = expect_status(&call(&app, "GET", "/api/logs?limit=500", &b_op, None)?, 200)?;
    let events = b_view["data"]["events"].as_array().context("events")?;
    check!(
        events.iter().all(|e| e["tenant_id"] == "tenant-b"),
        "tenant B reads others' events: {events:?}"
    );
    let lookup = expect_status(
        &call(
            &app,
            "GET",
            &format!("/api/logs?request_id={rid}"),
            &b_op,
            None,
        )?,
        200,
    )?;
    check!(
        lookup["data"]["requests"] == json!([]) && lookup["data"]["events"] == json!([]),
        "tenant B looks up another tenant's request: {lookup}"
    );
    let mine = wait_for(Duration::from_secs(10), || {
        let body = call(
            &app,
            "GET",
            &format!("/api/logs?request_id={rid}"),
            &d_op,
            None,
        )
        .ok()?
        .json()
        .ok()?;
        (body["data"]["requests"].as_array()?.len() == 1).then_some(())
    });
    check!(mine.is_ok(), "the platform's operator finds the request");
    // Verifying the whole chain is the platform's too.
    let (_, b_admin) = user_token(&app, &root, "admin@tenant-b.test", "admin", "tenant-b")?;
    let resp = call(
        &app,
        "GET",
        "/api/audit/verify",
        &Cred::Bearer(b_admin),
        None,
    )?;
    expect_error(
        &resp,
        403,
        "platform_only",
        "a tenant admin verifying the chain",
    )?;
    Ok(())
}

// ---------------------------------------------------------------- item 3 --

fn machine_tokens(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    submit(
        &app,
        &json!({ "brief": "someone's work", "email": "victim@corp.example" }),
    )?;
    for (label, cred) in [("cron", Cred::Cron), ("metrics", Cred::Metrics)] {
        // The attack: a machine token as "a credential" on job history.
        let resp = call(
            &app,
            "GET",
            "/api/public/job-history/victim@corp.example",
            &cred,
            None,
        )?;
        expect_error(&resp, 401, "unauthorized", &format!("{label} on history"))?;
        let resp = call(
            &app,
            "GET",
            "/api/public/job-history/victim@corp.example?tenant_id=default",
            &cred,
            None,
        )?;
        expect_error(
            &resp,
            401,
            "unauthorized",
            &format!("{label} on a tenant's history"),
        )?;
        let resp = call(
            &app,
            "POST",
            "/api/public/create-job",
            &cred,
            Some(&json!({ "brief": "x" })),
        )?;
        expect_error(
            &resp,
            401,
            "unauthorized",
            &format!("{label} creating a job"),
        )?;
    }
    // Each opens what it exists for.
    let resp = call(&app, "GET", "/metrics", &Cred::Metrics, None)?;
    check!(
        resp.status == 200,
        "metrics token on /metrics: {}",
        resp.status
    );
    let resp = call(
        &app,
        "POST",
        "/api/internal/cron/heartbeat",
        &Cred::Cron,
        None,
    )?;
    check!(
        resp.status == 200,
        "cron token on its route: {}",
        resp.status
    );
    Ok(())
}

// ---------------------------------------------------------------- item 4 --

fn keys_on_public_routes(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let root = Cred::Bearer(root_token(&app)?);
    let jobs = |app: &App| -> Result<i64> {
        let body = expect_status(
            &call(app, "GET", "/api/queue/status", &Cred::Dashboard, None)?,
            200,
        )?;
        body["data"]["total"].as_i64().context("total")
    };
    // A read-only key whose quota is spent.
    let (_, reader) = create_key(&app, &root, None, &["jobs:read"], 1, 10)?;
    let reader = Cred::ApiKey(reader);
    let resp = call(&app, "GET", "/api/partner/jobs/job_nope", &reader, None)?;
    check!(
        resp.status == 404,
        "one read spends the quota: {}",
        resp.status
    );
    let before = jobs(&app)?;
    // The attack: it creates jobs through the public route, uncounted.
    let resp = call(
        &app,
        "POST",
        "/api/public/create-job",
        &reader,
        Some(&json!({ "brief": "free work" })),
    )?;
    expect_error(
        &resp,
        403,
        "scope_required",
        "a read-only key creating a job",
    )?;
    let resp = call(
        &app,
        "GET",
        "/api/public/job-status/job_nope",
        &reader,
        None,
    )?;
    expect_error(&resp, 429, "quota_exceeded", "a spent key on a public read")?;
    // A writing key is counted on the public route like on its own.
    let (_, writer) = create_key(&app, &root, None, &["jobs:write"], 1, 10)?;
    let writer = Cred::ApiKey(writer);
    let resp = call(
        &app,
        "POST",
        "/api/public/create-job",
        &writer,
        Some(&json!({ "brief": "counted work" })),
    )?;
    expect_status(&resp, 201)?;
    check!(
        resp.header("x-quota-daily-remaining") == Some("0"),
        "quota headers: {:?}",
        resp.header("x-quota-daily-remaining")
    );
    let resp = call(
        &app,
        "POST",
        "/api/public/create-job",
        &writer,
        Some(&json!({ "brief": "over quota" })),
    )?;
    expect_error(&resp, 429, "quota_exceeded", "a spent key creating a job")?;
    check!(jobs(&app)? == before + 1, "exactly one job was created");
    Ok(())
}

// ---------------------------------------------------------------- item 6 --

fn sign_in(app: &App, addr: &str, body: &Value) -> Result<echopilot_e2e::Response> {
    at(app, "POST", "/api/auth/login", addr).json(body).send()
}

fn sign_in_lockout(env: &Env) -> Result<()> {
    let app =
        env.app_with(|b| identity_vars(b).variable("trusted_proxies", "127.0.0.1/32, ::1/128"))?;
    let right = json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD });
    let wrong = json!({ "email": ADMIN_EMAIL, "password": "a wrong guess here" });
    // The owner signs in at home: that browser is a known device now.
    let home = sign_in(&app, "198.51.100.10", &right)?;
    let first = expect_status(&home, 200)?;
    let device = text(&first, "/data/device_token")?;
    // The attack: one guess after another at the admin, from one address.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(sign_in(&app, "203.0.113.66", &wrong)?.status);
    }
    check!(
        statuses[..5] == [401; 5] && statuses[5..].iter().all(|s| *s == 429),
        "the guesser is locked after five failures: {statuses:?}"
    );
    let resp = sign_in(&app, "203.0.113.66", &right)?;
    expect_error(
        &resp,
        429,
        "sign_in_locked",
        "right password at the guesser's address",
    )?;
    check!(resp.header("retry-after").is_some(), "no Retry-After");
    // The owner, elsewhere, is not locked out.
    expect_status(&sign_in(&app, "198.51.100.20", &right)?, 200).context("the owner elsewhere")?;
    // Guesses spread over many addresses lock clients the account does not
    // know; the owner's known device still signs in.
    for i in 0..25 {
        sign_in(&app, &format!("192.0.2.{i}"), &wrong)?;
    }
    let resp = sign_in(&app, "198.51.100.30", &right)?;
    expect_error(
        &resp,
        429,
        "sign_in_locked",
        "an unknown client during the attack",
    )?;
    let mut with_device = right.clone();
    with_device["device_token"] = device.clone().into();
    expect_status(&sign_in(&app, "198.51.100.30", &with_device)?, 200)
        .context("the known device by body")?;
    let by_cookie = at(&app, "POST", "/api/auth/login", "198.51.100.31")
        .header("Cookie", &format!("ep_device={device}"))
        .json(&right)
        .send()?;
    expect_status(&by_cookie, 200).context("the known device by cookie")?;
    // Without a trusted proxy, a forged forwarding header is ignored.
    let direct = identity_app(env)?;
    for i in 0..6 {
        direct
            .post("/api/auth/login")
            .header("X-Forwarded-For", &format!("198.51.100.{i}"))
            .json(&wrong)
            .send()?;
    }
    let resp = direct
        .post("/api/auth/login")
        .header("X-Forwarded-For", "198.51.100.99")
        .json(&right)
        .send()?;
    expect_error(&resp, 429, "sign_in_locked", "a forged X-Forwarded-For")?;
    Ok(())
}

// ---------------------------------------------------------------- item 7 --

fn intake_budget(env: &Env) -> Result<()> {
    let app = env.app_with(|b| {
        b.variable("trusted_proxies", "127.0.0.1/32, ::1/128")
            .variable("intake_anonymous_per_address_hourly", "3")
            .variable("intake_anonymous_daily", "5")
    })?;
    let brief = "x".repeat(10_000);
    let anon = |addr: &str| -> Result<echopilot_e2e::Response> {
        at(&app, "POST", "/api/public/create-job", addr)
            .json(&json!({ "brief": brief }))
            .send()
    };
    // The attack: one address submits long briefs as fast as it can.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(anon("203.0.113.9")?.status);
    }
    check!(
        statuses[..3] == [201; 3] && statuses[3..].iter().all(|s| *s == 429),
        "one address gets its hourly budget only: {statuses:?}"
    );
    let resp = anon("203.0.113.9")?;
    expect_error(&resp, 429, "intake_budget_exceeded", "the spent address")?;
    check!(
        resp.header("retry-after")
            .and_then(|r| r.parse::<u64>().ok())
            .is_some_and(|r| (1..=3600).contains(&r)),
        "Retry-After: {:?}",
        resp.header("retry-after")
    );
    // Another caller still submits, until anonymous callers' day is spent.
    expect_status(&anon("198.51.100.4")?, 201)?;
    expect_status(&anon("198.51.100.4")?, 201)?;
    expect_error(
        &anon("198.51.100.5")?,
        429,
        "intake_budget_exceeded",
        "the anonymous day",
    )?;
    // Tenants are not anonymous: the platform's operators still submit.
    let resp = app
        .post("/api/queue/enqueue")
        .header("X-Dash-Key", &app.dashboard_key.clone().unwrap_or_default())
        .json(&json!({ "brief": "operator work" }))
        .send()?;
    expect_status(&resp, 201).context("an operator after the anonymous budget")?;
    Ok(())
}

// ---------------------------------------------------------------- item 8 --

fn chain_length(app: &App) -> Result<i64> {
    let v = expect_status(
        &call(app, "GET", "/api/audit/verify", &Cred::Dashboard, None)?,
        200,
    )?;
    check!(v["data"]["valid"] == true, "{v}");
    v["data"]["entries"].as_i64().context("entries")
}

fn audit_flood(env: &Env) -> Result<()> {
    let app = env.app()?;
    let before = chain_length(&app)?;
    // The attack: screened requests, each of which used to append an entry.
    for i in 0..60 {
        let resp = app
            .get(&format!("/api/public/job-status/job_{i}?q=%3Cscript"))
            .send()?;
        expect_error(&resp, 400, "screened_input", "a screened request")?;
    }
    // Wrong dashboard keys: all logged, the chain sampled.
    for _ in 0..10 {
        let resp = app
            .get("/api/queue/status")
            .header("X-Dash-Key", "an-attempt-at-guessing-the-key-000")
            .send()?;
        check!(resp.status == 401, "wrong key: {}", resp.status);
    }
    let after = chain_length(&app)?;
    check!(
        after <= before + 1,
        "anonymous traffic grew the chain from {before} to {after}"
    );
    let logged = |query: &str| -> Result<usize> {
        let body = expect_status(
            &call(
                &app,
                "GET",
                &format!("/api/logs?limit=500&{query}"),
                &Cred::Dashboard,
                None,
            )?,
            200,
        )?;
        Ok(body["data"]["events"].as_array().map(Vec::len).unwrap_or(0))
    };
    check!(
        logged("component=guard")? >= 70,
        "every screened request and failed key is in the event log"
    );
    Ok(())
}

// ---------------------------------------------------------------- item 9 --

fn refresh_race(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let mut survivors = Vec::new();
    // 15 rounds: sign-ins are limited to 20 a minute per address.
    for _ in 0..15 {
        let data = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD)?;
        let access = text(&data, "/access_token")?;
        let refresh = text(&data, "/refresh_token")?;
        let (refreshed, _) = std::thread::scope(|s| {
            let r = s.spawn(|| {
                app.post("/api/auth/refresh")
                    .json(&json!({ "refresh_token": refresh }))
                    .send()
            });
            let l = s.spawn(|| app.post("/api/auth/logout").bearer(&access).send());
            (r.join(), l.join())
        });
        let refreshed = refreshed.map_err(|_| anyhow::anyhow!("refresh thread panicked"))??;
        if refreshed.status == 200 {
            survivors.push(refreshed.json()?["data"].clone());
        }
    }
    println!(
        "{} of 15 refreshes answered 200 while their sign-out ran",
        survivors.len()
    );
    // Whatever the interleaving, nothing of a signed-out family works.
    for s in &survivors {
        let resp = app
            .post("/api/auth/refresh")
            .json(&json!({ "refresh_token": text(s, "/refresh_token")? }))
            .send()?;
        expect_error(&resp, 401, "token_revoked", "a racing refresh's new token")?;
        let resp = app
            .get("/api/auth/me")
            .bearer(&text(s, "/access_token")?)
            .send()?;
        expect_error(
            &resp,
            401,
            "token_revoked",
            "a racing refresh's access token",
        )?;
    }
    Ok(())
}

// --------------------------------------------------------------- item 10 --

/// A request that uses one secret.
type Probe = fn(&App) -> echopilot_e2e::client::RequestBuilder<'_>;

fn weak_secrets(env: &Env) -> Result<()> {
    // Each secret on a host of its own, so each message names its own.
    let cases: [(&str, &str, Probe); 4] = [
        ("dashboard_key", "admin", |app| {
            app.get("/api/queue/status").header("X-Dash-Key", "admin")
        }),
        ("cron_token", "cron", |app| {
            app.post("/api/internal/cron/heartbeat").bearer("cron")
        }),
        ("metrics_token", "scrape", |app| {
            app.get("/metrics").bearer("scrape")
        }),
        ("portal_signing_secret", "secret", |app| {
            app.get("/api/public/job-history/a@b.example?token=v2.default.1.00")
        }),
    ];
    for (name, value, request) in cases {
        let app = env.app_with(|b| b.variable(name, value))?;
        let resp = request(&app).send()?;
        expect_error(&resp, 503, "invalid_configuration", name)?;
        let msg = resp.json()?["error"]["detail"]
            .as_str()
            .unwrap_or("")
            .to_string();
        check!(
            msg.contains(&format!("`{name}`")) && msg.contains("32 characters"),
            "{name}: {msg}"
        );
        check!(
            !resp.text().contains(&format!("\"{value}\"")),
            "{name}'s value shown"
        );
    }
    Ok(())
}

// --------------------------------------------------------------- item 11 --

fn email_probe(env: &Env) -> Result<()> {
    let app = identity_app(env)?;
    let root = Cred::Bearer(root_token(&app)?);
    create_tenant(&app, &root, "prober")?;
    let (_, prober) = user_token(&app, &root, "admin@prober.test", "admin", "prober")?;
    let prober = Cred::Bearer(prober);
    let probe = |email: &str| {
        call(
            &app,
            "POST",
            "/api/users",
            &prober,
            Some(&json!({ "email": email, "password": PASSWORD, "role": "viewer" })),
        )
    };
    // The probe: the platform admin's email, and one nobody has.
    let taken = probe(ADMIN_EMAIL)?;
    let free = probe("nobody-yet@example.test")?;
    check!(
        taken.status == 201 && free.status == 201,
        "both answers are the same: {} {} / {} {}",
        taken.status,
        taken.text(),
        free.status,
        free.text()
    );
    // The platform admin still signs in as before; the new account names
    // its tenant.
    let root_again = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD)?;
    check!(root_again["user"]["tenant_id"] == "default", "{root_again}");
    let resp = app
        .post("/api/auth/login")
        .json(&json!({ "email": ADMIN_EMAIL, "password": PASSWORD, "tenant_id": "prober" }))
        .send()?;
    let theirs = expect_status(&resp, 200)?;
    check!(theirs["data"]["user"]["tenant_id"] == "prober", "{theirs}");
    Ok(())
}
