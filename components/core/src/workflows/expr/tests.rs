//! The condition language: examples, and properties over arbitrary input
//! (no input makes any stage panic; printing and parsing agree).

use super::*;
use proptest::prelude::*;
use serde_json::{json, Value};

/// `trigger.*` is of any type; `nodes.draft` has `text`, `score`,
/// `passed`; `nodes.tags` has `list`; nothing else exists.
struct Shapes;

impl PathTypes for Shapes {
    fn type_of(&self, path: &Path) -> Result<Type, String> {
        let key = |i: usize| match path.segs.get(i) {
            Some(Seg::Key(k)) => Some(k.as_str()),
            _ => None,
        };
        match (key(0), key(1), key(2), path.segs.len()) {
            (Some("trigger"), ..) => Ok(Type::Any),
            (Some("nodes"), Some("draft"), Some("text"), 3) => Ok(Type::String),
            (Some("nodes"), Some("draft"), Some("score"), 3) => Ok(Type::Number),
            (Some("nodes"), Some("draft"), Some("passed"), 3) => Ok(Type::Bool),
            (Some("nodes"), Some("tags"), Some("list"), 3) => Ok(Type::List),
            (Some("nodes"), Some(n), ..) => Err(format!("no node `{n}` runs before this one")),
            _ => Err("paths start with trigger or nodes".into()),
        }
    }
}

fn data() -> Value {
    json!({
        "trigger": {"plan": "pro", "amount": 120, "email": "ann@acme.io", "tags": ["vip", "eu"],
                    "nested": {"list": [{"x": 1}]}, "flag": true},
        "nodes": {"draft": {"text": "Refund approved", "score": 86.5, "passed": true},
                  "tags": {"list": ["a", "b"]}}
    })
}

fn run(src: &str) -> Result<bool, String> {
    let e = compile(src, &Shapes)?;
    eval(&e, &data()).map_err(|e| e.to_string())
}

#[test]
fn conditions_route_both_ways() {
    for (src, want) in [
        ("nodes.draft.score >= 80", true),
        ("nodes.draft.score > 90", false),
        ("trigger.plan == \"pro\" and not nodes.draft.passed", false),
        ("trigger.plan == 'free' or trigger.amount > 100", true),
        ("trigger.email ends_with \"@acme.io\"", true),
        (
            "nodes.draft.text contains 'Refund' and nodes.draft.text starts_with 'Ref'",
            true,
        ),
        ("trigger.tags contains \"vip\"", true),
        ("trigger.plan in [\"pro\", \"team\"]", true),
        ("trigger.missing == null", true),
        ("trigger.missing != null and trigger.missing > 3", false),
        ("trigger.nested.list[0].x == 1.0", true),
        ("trigger[\"plan\"] != \"free\"", true),
        ("trigger.flag", true),
        ("nodes.tags.list contains 'b'", true),
        (
            "(trigger.amount < 100) or (trigger.amount >= 100 and trigger.plan == 'pro')",
            true,
        ),
    ] {
        assert_eq!(run(src), Ok(want), "{src}");
    }
}

#[test]
fn type_errors_are_found_at_save() {
    for (src, want) in [
        ("nodes.draft.score", "must be true or false"),
        (
            "nodes.draft.score > 'high'",
            "cannot compare a number with a string",
        ),
        ("nodes.draft.text == 3", "never equal"),
        ("not nodes.draft.text", "`not` takes true or false"),
        ("nodes.draft.passed and 1", "`and` takes true or false"),
        (
            "nodes.draft.score contains 'x'",
            "looks into a string or a list",
        ),
        ("nodes.draft.text contains 3", "a string contains strings"),
        (
            "nodes.draft.passed < true",
            "only numbers and strings are ordered",
        ),
        ("'a' in 'abc'", "the right of `in` is a list"),
        ("nodes.ghost.text == 'x'", "no node `ghost`"),
        ("run_id == 1", "paths start with"),
        ("nodes.draft.score >= 80 >= 1", "do not chain"),
    ] {
        let e = compile(src, &Shapes).unwrap_err();
        assert!(e.contains(want), "{src}: {e}");
    }
}

#[test]
fn runtime_type_mismatches_are_errors_not_silent_routes() {
    let e = compile("trigger.missing > 3", &Shapes).unwrap();
    let why = eval(&e, &data()).unwrap_err();
    assert!(
        why.message.contains("trigger.missing") && why.message.contains("null"),
        "{why}"
    );
    let e = compile("trigger.plan", &Shapes).unwrap();
    assert!(eval(&e, &data()).unwrap_err().message.contains("a string"));
}

#[test]
fn syntax_errors_say_where() {
    let e = parse("nodes.draft.score >= ").unwrap_err();
    assert!(e.message.contains("ends where a value"), "{e}");
    let e = parse("(a == 1").unwrap_err();
    assert_eq!(e.at, 0);
    assert!(parse("").is_err());
    assert!(parse("a b")
        .unwrap_err()
        .message
        .contains("after a complete expression"));
    assert!(parse("[a]").unwrap_err().message.contains("literal values"));
    assert!(parse("and").unwrap_err().message.contains("operator"));
}

#[test]
fn nesting_and_size_are_bounded() {
    let deep = format!(
        "{}true{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(parse(&deep).unwrap_err().message.contains("nests deeper"));
    let ok = format!("{}true{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(parse(&ok).is_ok());
    let nots = format!("{}true", "not ".repeat(MAX_DEPTH + 1));
    assert!(parse(&nots).is_err());
    // A long chain of `and` is flat, not deep: fine up to the token limit.
    let chain = vec!["true"; 150].join(" and ");
    assert!(parse(&chain).is_ok());
    let long = format!("trigger.x == \"{}\"", "y".repeat(MAX_STRING_CHARS + 1));
    assert!(parse(&long).is_err());
}

#[test]
fn printing_is_canonical_and_parses_back() {
    let e = parse("not a.b == 1 or c[\"d e\"][2] in [1, 'x', null] and true").unwrap();
    let printed = e.to_string();
    assert_eq!(
        printed,
        "(not (a.b == 1)) or ((c[\"d e\"][2] in [1, \"x\", null]) and true)"
    );
    assert_eq!(parse(&printed).unwrap().to_string(), printed);
}

fn arb_lit() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i32>().prop_map(|n| n.to_string()),
        (-1.0e6f64..1.0e6).prop_map(|n| format!("{n}")),
        "[a-z \\n]{0,12}".prop_map(|s| format!("{s:?}")),
        Just("true".to_string()),
        Just("false".to_string()),
        Just("null".to_string()),
    ]
}

fn arb_path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("trigger.plan".to_string()),
        Just("trigger.amount".to_string()),
        Just("trigger.tags".to_string()),
        Just("trigger.nested.list[0].x".to_string()),
        Just("nodes.draft.score".to_string()),
        Just("nodes.draft.text".to_string()),
        Just("nodes.draft.passed".to_string()),
        Just("nodes[\"tags\"].list".to_string()),
        Just("nodes.ghost.x".to_string()),
    ]
}

/// Expressions built from the grammar (valid syntax, arbitrary types).
fn arb_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![arb_lit(), arb_path()];
    leaf.prop_recursive(6, 48, 3, |inner| {
        let ops = prop_oneof![
            Just("=="),
            Just("!="),
            Just("<"),
            Just("<="),
            Just(">"),
            Just(">="),
            Just("contains"),
            Just("starts_with"),
            Just("ends_with"),
            Just("in"),
        ];
        prop_oneof![
            (inner.clone(), ops, inner.clone()).prop_map(|(a, op, b)| format!("({a}) {op} ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
            inner.clone().prop_map(|a| format!("not ({a})")),
            proptest::collection::vec(arb_lit(), 0..4).prop_map(|l| format!("[{}]", l.join(", "))),
        ]
    })
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1.0e9f64..1.0e9).prop_map(|n| json!(n)),
        ".{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("plan".to_string()),
                    Just("amount".to_string()),
                    Just("tags".to_string()),
                    Just("nested".to_string()),
                    Just("list".to_string()),
                    Just("x".to_string()),
                    Just("draft".to_string()),
                    Just("score".to_string()),
                    Just("text".to_string()),
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary text never makes the lexer, parser or checker panic.
    #[test]
    fn arbitrary_text_never_panics(src in ".{0,300}") {
        if let Ok(e) = parse(&src) {
            let _ = check(&e, &Shapes);
            let _ = eval(&e, &data());
        }
    }

    /// Arbitrary bytes of the language's own alphabet never panic either
    /// (more of them get past the lexer than random Unicode does).
    #[test]
    fn arbitrary_token_soup_never_panics(src in "[a-z0-9 .,()\\[\\]'\"=!<>_-]{0,200}") {
        if let Ok(e) = parse(&src) {
            let _ = check(&e, &Shapes);
            let _ = eval(&e, &data());
        }
    }

    /// Grammatical expressions over arbitrary data: evaluation always
    /// returns (true, false or an error), and the canonical text parses
    /// back to the same canonical text.
    #[test]
    fn grammatical_expressions_evaluate_or_fail_cleanly(src in arb_expr(), d in arb_json()) {
        if let Ok(e) = parse(&src) {
            let printed = e.to_string();
            let again = parse(&printed).expect("canonical text parses");
            prop_assert_eq!(again.to_string(), printed);
            let data = json!({"trigger": d.clone(), "nodes": {"draft": d}});
            let _ = check(&e, &Shapes);
            let _ = eval(&e, &data);
        }
    }

    /// Deep nesting is refused, never a stack overflow.
    #[test]
    fn any_nesting_depth_is_safe(n in 0usize..2000) {
        let src = format!("{}true{}", "(".repeat(n), ")".repeat(n));
        let parsed = parse(&src);
        prop_assert_eq!(parsed.is_ok(), n <= MAX_DEPTH);
    }
}
