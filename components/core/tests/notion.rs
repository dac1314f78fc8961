//! Notion sync against a scripted Notion: intake with pagination and
//! idempotent keys, refusal of empty briefs, write-back, pacing, 429s.

mod support;

use echopilot_core::adapters::native::{ManualClock, ScriptedHttp};
use echopilot_core::ai::worker::drain;
use echopilot_core::notion::run_sync;
use echopilot_core::ports::{Clock, DbExt, Env, OutboundRequest, OutboundResponse};
use futures::executor::block_on;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use support::*;

const DB: &str = "0123456789abcdef0123456789abcdef";
const LOG_DB: &str = "fedcba9876543210fedcba9876543210";

fn page(id: &str, edited: &str, brief: &str) -> Value {
    json!({
        "object": "page", "id": id, "last_edited_time": edited,
        "properties": {
            "Name": { "type": "title", "title": [{ "plain_text": format!("Task {id}") }] },
            "Brief": { "type": "rich_text", "rich_text": if brief.is_empty() { json!([]) } else { json!([{ "plain_text": brief }]) } },
            "Status": { "type": "status", "status": { "name": "Queued" } },
            "Type": { "type": "select", "select": { "name": "Report Gen" } },
            "Priority": { "type": "select", "select": { "name": "High" } },
            "Email": { "type": "email", "email": "ann@example.com" }
        }
    })
}

struct MockNotion {
    /// Pages the queue query returns (two per query page).
    queued: Arc<Mutex<Vec<Value>>>,
    /// Every request with the manual clock's time when it arrived.
    log: Arc<Mutex<Vec<(i64, OutboundRequest)>>>,
    /// Scripted statuses for the next requests (then 200s).
    fail_next: Arc<Mutex<Vec<(u16, &'static str)>>>,
}

fn ok(body: Value) -> OutboundResponse {
    OutboundResponse {
        status: 200,
        headers: vec![],
        body: body.to_string().into_bytes(),
    }
}

fn notion_env(extra: &[(&str, &str)]) -> (Env, ManualClock, MockNotion) {
    let mut vars = vec![
        ("notion_token", "secret_test"),
        ("notion_queue_db", DB),
        ("notion_base_url", "http://notion.test"),
    ];
    vars.extend_from_slice(extra);
    let (mut env, clock) = env(&vars);
    let mock = MockNotion {
        queued: Arc::default(),
        log: Arc::default(),
        fail_next: Arc::default(),
    };
    let (queued, log, fail_next, c) = (
        mock.queued.clone(),
        mock.log.clone(),
        mock.fail_next.clone(),
        clock.clone(),
    );
    env.http = Box::new(ScriptedHttp::new(move |req| {
        log.lock().unwrap().push((c.now_ms(), req.clone()));
        if let Some((status, retry_after)) = fail_next.lock().unwrap().pop() {
            return Ok(OutboundResponse {
                status,
                headers: vec![("retry-after".into(), retry_after.into())],
                body: br#"{"message":"scripted"}"#.to_vec(),
            });
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        if req.url.ends_with(&format!("/v1/databases/{DB}/query")) {
            let all = queued.lock().unwrap().clone();
            let start: usize = body
                .get("start_cursor")
                .and_then(|c| c.as_str())
                .map(|c| c.parse().unwrap())
                .unwrap_or(0);
            let end = (start + 2).min(all.len());
            let more = end < all.len();
            return Ok(ok(
                json!({ "object": "list", "results": all[start..end], "has_more": more, "next_cursor": if more { json!(end.to_string()) } else { Value::Null } }),
            ));
        }
        Ok(ok(json!({ "object": "page", "id": "x" })))
    }));
    (env, clock, mock)
}

fn requests(m: &MockNotion) -> Vec<(i64, OutboundRequest)> {
    m.log.lock().unwrap().clone()
}

#[test]
fn without_a_token_it_does_nothing_and_says_so() {
    let (env, _) = env(&[]);
    let r = block_on(run_sync(&env)).unwrap();
    assert_eq!(r.state, "not_configured");
    let (_, health) = call(
        &echopilot_core::health::APP,
        &env,
        echopilot_core::http::Request::new(echopilot_core::http::Method::Get, "/health"),
    );
    assert_eq!(
        health["data"]["integrations"]["notion"]["state"],
        "not_configured"
    );
}

#[test]
fn queued_pages_become_jobs_once_per_edit_and_pages_move_to_in_progress() {
    let (env, _, mock) = notion_env(&[]);
    *mock.queued.lock().unwrap() = vec![
        page("p1", "2026-11-22T10:00:00.000Z", "Quarterly summary"),
        page("p2", "2026-11-22T10:01:00.000Z", "Board memo"),
        page("p3", "2026-11-22T10:02:00.000Z", ""),
    ];
    let r = block_on(run_sync(&env)).unwrap();
    assert_eq!((r.state, r.created, r.refused), ("ok", 2, 1), "{r:?}");
    let jobs = env.db.exec("SELECT external_ref, type, priority, source, email, idempotency_key FROM jobs ORDER BY external_ref", &[]).unwrap();
    assert_eq!(jobs.rows.len(), 2);
    let first = &jobs.rows[0];
    assert_eq!(first.text(0).unwrap(), "p1");
    assert_eq!(
        (first.text(1).unwrap().as_str(), first.i64(2).unwrap()),
        ("report_gen", 1)
    );
    assert_eq!(
        (
            first.text(3).unwrap().as_str(),
            first.text(4).unwrap().as_str()
        ),
        ("notion", "ann@example.com")
    );
    assert_eq!(first.text(5).unwrap(), "notion:p1:2026-11-22T10:00:00.000Z");

    let reqs = requests(&mock);
    let patched: Vec<(String, String)> = reqs
        .iter()
        .filter(|(_, r)| r.method == "PATCH" && r.url.contains("/v1/pages/"))
        .map(|(_, r)| {
            (
                r.url.rsplit('/').next().unwrap().to_string(),
                String::from_utf8_lossy(&r.body).into_owned(),
            )
        })
        .collect();
    assert!(patched
        .iter()
        .any(|(p, b)| p == "p1" && b.contains("In Progress")));
    assert!(
        patched
            .iter()
            .any(|(p, b)| p == "p3" && b.contains("Failed")),
        "the empty brief is refused on the page"
    );
    assert!(reqs.iter().all(|(_, r)| r
        .headers
        .iter()
        .any(|(k, v)| k == "notion-version" && v == "2022-06-28")));
    // Pagination: two queries.
    assert_eq!(
        reqs.iter()
            .filter(|(_, r)| r.url.ends_with("/query"))
            .count(),
        2
    );

    // A re-poll of the same edits creates nothing; an edited page is new work.
    let r = block_on(run_sync(&env)).unwrap();
    assert_eq!((r.created, r.replayed), (0, 2));
    mock.queued.lock().unwrap()[0] = page(
        "p1",
        "2026-11-22T11:00:00.000Z",
        "Quarterly summary, revised",
    );
    let r = block_on(run_sync(&env)).unwrap();
    assert_eq!((r.created, r.replayed), (1, 1));
}

#[test]
fn requests_are_paced_to_three_a_second() {
    let (env, _, mock) = notion_env(&[]);
    *mock.queued.lock().unwrap() = (0..6)
        .map(|i| page(&format!("p{i}"), "2026-11-22T10:00:00.000Z", "b"))
        .collect();
    block_on(run_sync(&env)).unwrap();
    let times: Vec<i64> = requests(&mock).iter().map(|(t, _)| *t).collect();
    assert!(times.len() >= 9);
    for w in times.windows(2) {
        assert!(w[1] - w[0] >= 334, "requests {} ms apart", w[1] - w[0]);
    }
}

#[test]
fn a_short_retry_after_is_waited_out_and_a_long_one_stops_the_run() {
    let (env, clock, mock) = notion_env(&[]);
    *mock.queued.lock().unwrap() = vec![page("p1", "2026-11-22T10:00:00.000Z", "b")];
    mock.fail_next.lock().unwrap().push((429, "2"));
    let before = clock.now_ms();
    let r = block_on(run_sync(&env)).unwrap();
    assert_eq!((r.state, r.created), ("ok", 1));
    assert!(clock.now_ms() - before >= 2000);

    let (env, _, mock) = notion_env(&[]);
    *mock.queued.lock().unwrap() = vec![page("p1", "2026-11-22T10:00:00.000Z", "b")];
    mock.fail_next.lock().unwrap().push((429, "60"));
    let r = block_on(run_sync(&env)).unwrap();
    assert_eq!((r.state, r.created), ("rate_limited", 0));
    let status = env
        .db
        .query_one(
            "SELECT state FROM integration_status WHERE name = 'notion'",
            &[],
        )
        .unwrap()
        .text(0)
        .unwrap();
    assert_eq!(status, "rate_limited");
}

#[test]
fn finished_jobs_are_written_back_with_output_metrics_and_a_log_entry() {
    let (env, _, mock) = notion_env(&[("notion_log_db", LOG_DB)]);
    *mock.queued.lock().unwrap() =
        vec![page("p1", "2026-11-22T10:00:00.000Z", "Quarterly summary")];
    block_on(run_sync(&env)).unwrap();
    mock.queued.lock().unwrap().clear();
    assert_eq!(block_on(drain(&env)).unwrap().completed, 1);
    let r = block_on(run_sync(&env)).unwrap();
    assert_eq!(r.written_back, 1, "{r:?}");
    let reqs = requests(&mock);
    let done = reqs.iter().find(|(_, r)| {
        r.url.ends_with("/v1/pages/p1") && String::from_utf8_lossy(&r.body).contains("Done")
    });
    assert!(done.is_some());
    let appended = reqs
        .iter()
        .find(|(_, r)| r.url.ends_with("/v1/blocks/p1/children"))
        .unwrap();
    let text = String::from_utf8_lossy(&appended.1.body);
    assert!(
        text.contains("EchoPilot result")
            && text.contains("Simulated output")
            && text.contains("QA "),
        "{text}"
    );
    let log = reqs
        .iter()
        .find(|(_, r)| r.method == "POST" && r.url.ends_with("/v1/pages"))
        .unwrap();
    assert!(String::from_utf8_lossy(&log.1.body).contains(LOG_DB));
    let state = env
        .db
        .query_one("SELECT sync_state FROM jobs", &[])
        .unwrap()
        .text(0)
        .unwrap();
    assert_eq!(state, "done");
    // Nothing left to write back.
    assert_eq!(block_on(run_sync(&env)).unwrap().written_back, 0);
}

#[test]
fn a_deleted_page_fails_its_write_back_for_good() {
    let (env, _, mock) = notion_env(&[]);
    *mock.queued.lock().unwrap() = vec![page("p1", "2026-11-22T10:00:00.000Z", "b")];
    block_on(run_sync(&env)).unwrap();
    mock.queued.lock().unwrap().clear();
    block_on(drain(&env)).unwrap();
    // The query answers, then the status update hits a deleted page.
    mock.fail_next.lock().unwrap().push((404, "0"));
    mock.fail_next.lock().unwrap().push((200, "0"));
    let r = block_on(run_sync(&env)).unwrap();
    assert_eq!(r.write_back_failed, 1, "{r:?}");
    let state = env
        .db
        .query_one("SELECT sync_state FROM jobs", &[])
        .unwrap()
        .text(0)
        .unwrap();
    assert_eq!(state, "failed");
}
