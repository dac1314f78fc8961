//! Validation: the templates pass, and each kind of mistake is reported
//! with its node.

use super::*;
use serde_json::json;

fn open() -> Policy {
    Policy {
        integrations: true,
        http_origins: vec!["https://hooks.example.com".into()],
    }
}

fn problems(graph: Value) -> Vec<Problem> {
    validate(&graph, &open()).expect_err("expected problems")
}

fn has(ps: &[Problem], node: Option<&str>, code: &str) -> bool {
    ps.iter()
        .any(|p| p.node.as_deref() == node && p.code == code)
}

fn trig() -> Value {
    json!({"id": "t", "type": "trigger", "config": {"kind": "manual"}})
}

#[test]
fn every_template_is_valid() {
    for t in crate::workflows::templates::TEMPLATES {
        let g = validate(&(t.graph)(), &open());
        assert!(g.is_ok(), "{}: {:?}", t.id, g.err());
    }
}

#[test]
fn a_minimal_graph_is_valid_and_round_trips() {
    let input = json!({"nodes": [trig(),
        {"id": "c", "type": "condition", "config": {"expression": "trigger.x == 1"}, "position": {"x": 1, "y": 2}}],
        "edges": [{"from": "t", "to": "c"}]});
    let g = validate(&input, &open()).unwrap();
    assert_eq!(g.edges[0].port, "next");
    let again = validate(&g.to_json(), &open()).unwrap();
    assert_eq!(again, g);
}

#[test]
fn unknown_types_kinds_and_settings_name_their_node() {
    let ps = problems(json!({"nodes": [trig(),
        {"id": "x", "type": "teleport"},
        {"id": "a", "type": "action", "config": {"kind": "fax"}},
        {"id": "n", "type": "notification", "config": {"kind": "telegram", "message": "hi", "colour": "red"}}],
        "edges": [{"from": "t", "to": "a"}, {"from": "t", "to": "n"}]}));
    assert!(has(&ps, Some("x"), "unknown_type"), "{ps:?}");
    assert!(has(&ps, Some("a"), "unknown_kind"), "{ps:?}");
    let colour = ps.iter().find(|p| p.code == "unknown_config").unwrap();
    assert_eq!(
        (colour.node.as_deref(), colour.field.as_deref()),
        (Some("n"), Some("colour"))
    );
}

#[test]
fn missing_configuration_is_reported_per_field() {
    let ps = problems(json!({"nodes": [trig(),
        {"id": "ai", "type": "ai_task", "config": {"qa": "yes"}},
        {"id": "d", "type": "delay", "config": {"kind": "duration", "duration": "forever"}},
        {"id": "n", "type": "notification"}],
        "edges": [{"from": "t", "to": "ai"}, {"from": "ai", "to": "d"}, {"from": "d", "to": "n"}]}));
    let at = |node: &str, field: &str| {
        ps.iter()
            .find(|p| p.node.as_deref() == Some(node) && p.field.as_deref() == Some(field))
            .map(|p| p.code)
    };
    assert_eq!(at("ai", "user_template"), Some("missing_config"));
    assert_eq!(at("ai", "qa"), Some("invalid_config"));
    assert_eq!(at("d", "duration"), Some("invalid_config"));
    assert_eq!(at("n", "kind"), Some("missing_config"));
}

#[test]
fn unreachable_nodes_and_cycles_are_found() {
    let ps = problems(json!({"nodes": [trig(),
        {"id": "a", "type": "delay", "config": {"kind": "duration", "duration": "1m"}},
        {"id": "b", "type": "delay", "config": {"kind": "duration", "duration": "1m"}},
        {"id": "c", "type": "delay", "config": {"kind": "duration", "duration": "1m"}}],
        "edges": [{"from": "t", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "a"}, {"from": "b", "to": "c"}]}));
    assert!(
        has(&ps, Some("a"), "cycle") && has(&ps, Some("b"), "cycle"),
        "{ps:?}"
    );
    assert!(
        !has(&ps, Some("c"), "cycle"),
        "c is after the cycle, not on it: {ps:?}"
    );
    let ps = problems(json!({"nodes": [trig(),
        {"id": "lonely", "type": "delay", "config": {"kind": "duration", "duration": "1m"}}]}));
    assert!(has(&ps, Some("lonely"), "unreachable"), "{ps:?}");
}

#[test]
fn edges_must_join_nodes_through_their_ports() {
    let ps = problems(json!({"nodes": [trig(),
        {"id": "c", "type": "condition", "config": {"expression": "true"}},
        {"id": "d", "type": "delay", "config": {"kind": "duration", "duration": "1m"}}],
        "edges": [{"from": "t", "to": "c"}, {"from": "c", "to": "d", "port": "next"},
                  {"from": "c", "to": "ghost"}, {"from": "d", "to": "t"}, {"from": "d", "to": "d"}]}));
    assert!(has(&ps, Some("c"), "invalid_port"), "{ps:?}");
    assert!(has(&ps, Some("ghost"), "unknown_node"), "{ps:?}");
    assert!(has(&ps, Some("t"), "invalid_edge"), "{ps:?}");
    assert!(has(&ps, Some("d"), "cycle"), "{ps:?}");
    assert!(
        ps.iter().all(|p| p.edge.is_some() || p.node.is_some()),
        "{ps:?}"
    );
}

#[test]
fn exactly_one_trigger() {
    let ps = problems(json!({"nodes": []}));
    assert!(has(&ps, None, "trigger_count"));
    let ps = problems(
        json!({"nodes": [trig(), {"id": "t2", "type": "trigger", "config": {"kind": "webhook"}}]}),
    );
    assert!(has(&ps, Some("t2"), "trigger_count"), "{ps:?}");
}

#[test]
fn conditions_are_type_checked_against_what_runs_before_them() {
    let ps = problems(json!({"nodes": [trig(),
        {"id": "ai", "type": "ai_task", "config": {"user_template": "x"}},
        {"id": "c1", "type": "condition", "config": {"expression": "nodes.ai.score > \"high\""}},
        {"id": "c2", "type": "condition", "config": {"expression": "nodes.later.result"}},
        {"id": "later", "type": "condition", "config": {"expression": "nodes.ai.scroe > 1"}},
        {"id": "c3", "type": "condition", "config": {"expression": "nodes.ai.score >="}}],
        "edges": [{"from": "t", "to": "ai"}, {"from": "ai", "to": "c1"}, {"from": "ai", "to": "c2"},
                  {"from": "c2", "to": "later", "port": "true"}, {"from": "ai", "to": "c3"}]}));
    let msg = |node: &str| {
        ps.iter()
            .find(|p| p.node.as_deref() == Some(node))
            .map(|p| (p.code, p.message.clone()))
            .unwrap()
    };
    assert_eq!(msg("c1").0, "type_error");
    assert!(
        msg("c2").1.contains("does not run before"),
        "{:?}",
        msg("c2")
    );
    assert!(
        msg("later").1.contains("no output `scroe`"),
        "{:?}",
        msg("later")
    );
    assert!(
        msg("c3").1.contains("value was expected"),
        "{:?}",
        msg("c3")
    );
}

#[test]
fn templates_may_only_read_upstream_data() {
    let ps = problems(json!({"nodes": [trig(),
        {"id": "a", "type": "ai_task", "config": {"user_template": "{{nodes.b.text}} {{bogus.x}} {{trigger.x"}},
        {"id": "b", "type": "ai_task", "config": {"user_template": "{{nodes.a.text}} {{run.id}} {{workflow.version}}"}}],
        "edges": [{"from": "t", "to": "a"}, {"from": "a", "to": "b"}]}));
    assert!(has(&ps, Some("a"), "invalid_template"), "{ps:?}");
    assert!(!ps.iter().any(|p| p.node.as_deref() == Some("b")), "{ps:?}");
}

#[test]
fn http_actions_reach_allowed_origins_only() {
    let http = |url: &str| {
        json!({"nodes": [trig(), {"id": "h", "type": "action", "config": {"kind": "http", "url": url}}],
               "edges": [{"from": "t", "to": "h"}]})
    };
    assert!(validate(
        &http("https://hooks.example.com/in?e={{trigger.email}}"),
        &open()
    )
    .is_ok());
    assert!(validate(&http("https://HOOKS.example.com"), &open()).is_ok());
    let code = |url: &str| problems(http(url))[0].code;
    assert_eq!(code("https://evil.example.net/x"), "origin_not_allowed");
    assert_eq!(
        code("https://hooks.example.com.evil.net/x"),
        "origin_not_allowed"
    );
    assert_eq!(
        code("https://hooks.example.com{{trigger.host}}/x"),
        "invalid_config"
    );
    assert_eq!(code("{{trigger.url}}"), "invalid_config");
    assert_eq!(code("ftp://hooks.example.com/x"), "invalid_config");
    assert_eq!(code("https://user@hooks.example.com/x"), "invalid_config");
}

#[test]
fn integrations_need_the_operators_permission() {
    let closed = Policy {
        integrations: false,
        http_origins: vec![],
    };
    let g = json!({"nodes": [trig(),
        {"id": "n", "type": "notification", "config": {"kind": "telegram", "message": "hi"}},
        {"id": "j", "type": "action", "config": {"kind": "create_job", "brief": "x"}}],
        "edges": [{"from": "t", "to": "n"}, {"from": "t", "to": "j"}]});
    let ps = validate(&g, &closed).unwrap_err();
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert!(has(&ps, Some("n"), "integration_not_allowed"));
}

#[test]
fn the_policy_reads_its_variables() {
    use crate::adapters::native::MapConfig;
    let c = MapConfig::new(&[
        ("workflow_integration_tenants", "acme, beta"),
        (
            "workflow_http_allowed_origins",
            "https://A.io/, http://127.0.0.1:8080",
        ),
    ]);
    assert!(Policy::load(&c, "default").unwrap().integrations);
    assert!(Policy::load(&c, "beta").unwrap().integrations);
    let other = Policy::load(&c, "gamma").unwrap();
    assert!(!other.integrations);
    assert_eq!(
        other.http_origins,
        vec!["https://a.io", "http://127.0.0.1:8080"]
    );
    let star = MapConfig::new(&[("workflow_integration_tenants", "*")]);
    assert!(Policy::load(&star, "anyone").unwrap().integrations);
    let bad = MapConfig::new(&[("workflow_http_allowed_origins", "https://a.io/path")]);
    assert!(Policy::load(&bad, "default").is_err());
}

#[test]
fn malformed_shapes_are_refused_not_panicked_on() {
    for g in [
        json!(null),
        json!([]),
        json!({"nodes": "x"}),
        json!({"nodes": [1, {"id": ""}, {"id": "a/b", "type": "trigger"}]}),
        json!({"nodes": [trig()], "edges": [{"from": 1}], "extra": true}),
        json!({"nodes": [{"id": "t", "type": "trigger", "config": [], "position": {"x": "1"}}]}),
    ] {
        assert!(validate(&g, &open()).is_err(), "{g}");
    }
    let many: Vec<Value> = (0..=MAX_NODES)
        .map(|i| json!({"id": format!("n{i}"), "type": "delay"}))
        .collect();
    assert!(validate(&json!({"nodes": many}), &open()).is_err());
}
