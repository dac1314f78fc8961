//! Input screening: SQL injection, script injection and path traversal
//! patterns in places where such text never makes sense (identifiers, path
//! and query parameters, structured JSON fields). Free text, such as a brief
//! that asks for a SQL tutorial, is not screened: see [`FREE_TEXT_FIELDS`].

/// JSON fields whose values are free text (screening skips them, and
/// everything inside them).
pub const FREE_TEXT_FIELDS: &[&str] = &[
    "brief",
    "context",
    "title",
    "system_prompt",
    "user_template",
    "notes",
    "reason",
    "message",
    "msg",
    "description",
    "output",
    "content",
    "name",
    "password",
    // A workflow condition: the workflow language's own syntax (`a or b ==
    // "x"` reads like SQL to a pattern), parsed and type-checked by
    // `workflows::condition`, never spliced into SQL or HTML.
    "expression",
];

/// What kind of attack a value looks like.
pub fn classify(value: &str) -> Option<&'static str> {
    let lower: String = value
        .to_ascii_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    const TRAVERSAL: &[&str] = &[
        "../",
        "..\\",
        "%2e%2e",
        "..%2f",
        "..%5c",
        "/etc/passwd",
        "c:\\windows",
    ];
    const XSS: &[&str] = &[
        "<script",
        "javascript:",
        "onerror=",
        "onload=",
        "onmouseover=",
        "<iframe",
        "<svg",
        "<img",
        "vbscript:",
        "srcdoc=",
    ];
    const SQL: &[&str] = &[
        "' or ",
        "\" or ",
        "' and ",
        "or 1=1",
        "or '1'='1",
        "union select",
        "union all select",
        "; drop ",
        ";drop ",
        "'; ",
        "' --",
        "'--",
        "/*",
        "*/",
        "xp_cmdshell",
        "sleep(",
        "benchmark(",
        "waitfor delay",
        "information_schema",
        "pg_sleep",
    ];
    if TRAVERSAL.iter().any(|p| lower.contains(p)) {
        Some("path_traversal")
    } else if XSS.iter().any(|p| lower.contains(p)) {
        Some("script_injection")
    } else if SQL.iter().any(|p| lower.contains(p)) {
        Some("sql_injection")
    } else {
        None
    }
}

/// The first suspicious string in `value` outside free-text fields:
/// `(json path, class)`.
pub fn scan_json(value: &serde_json::Value, path: &str) -> Option<(String, &'static str)> {
    match value {
        serde_json::Value::String(s) => classify(s).map(|c| (path.to_string(), c)),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| scan_json(v, &format!("{path}[{i}]"))),
        serde_json::Value::Object(map) => map
            .iter()
            .filter(|(k, _)| !FREE_TEXT_FIELDS.contains(&k.as_str()))
            .find_map(|(k, v)| {
                classify(k)
                    .map(|c| (format!("{path}.{k}"), c))
                    .or_else(|| scan_json(v, &format!("{path}.{k}")))
            }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_payloads_are_caught() {
        for (v, class) in [
            ("1' OR '1'='1", "sql_injection"),
            ("x'; DROP TABLE jobs; --", "sql_injection"),
            ("1 UNION  SELECT password FROM users", "sql_injection"),
            ("<script>alert(1)</script>", "script_injection"),
            ("<img src=x onerror=alert(1)>", "script_injection"),
            ("JaVaScRiPt:alert(1)", "script_injection"),
            ("../../etc/passwd", "path_traversal"),
            ("%2e%2e%2fsecret", "path_traversal"),
        ] {
            assert_eq!(classify(v), Some(class), "{v}");
        }
    }

    #[test]
    fn ordinary_values_pass() {
        for v in [
            "job_01JD3Q8W2ZK6M5T9A0B1C2D3E4",
            "ann@example.com",
            "O'Brien",
            "report_gen",
            "Q3 summary - draft",
            "acme-co",
            "2026-11-22T10:00:00Z",
        ] {
            assert_eq!(classify(v), None, "{v}");
        }
    }

    #[test]
    fn free_text_is_not_screened_but_structure_is() {
        let ok = serde_json::json!({"brief": "Explain why `' OR 1=1 --` is dangerous", "type": "ai_task", "context": {"html": "<script>"}});
        assert_eq!(scan_json(&ok, "$"), None);
        let bad = serde_json::json!({"brief": "x", "email": "a@b.co' OR '1'='1"});
        assert_eq!(
            scan_json(&bad, "$"),
            Some(("$.email".into(), "sql_injection"))
        );
        let nested = serde_json::json!({"tags": ["fine", "<script>"]});
        assert_eq!(
            scan_json(&nested, "$"),
            Some(("$.tags[1]".into(), "script_injection"))
        );
    }
}
